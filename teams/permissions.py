"""Which team permissions a member has, from their role and permission profile.

Computed on every check from the membership and its profile (loaded with the
membership), so there is one source of truth and nothing to keep in step: a
changed profile counts on the next check. Owners hold every permission; admins
and agents hold what their profile grants, except that agents never manage
routing or the team (only owners and admins add or edit contact routing rules).
"""

from __future__ import annotations

from teams.models import DistributionScope, Membership, Role

VIEW_CONTACTS = "view_team_contacts"
MANAGE_ROUTING_RULES = "manage_routing_rules"
MANAGE_LEAD_DISTRIBUTION = "manage_lead_distribution"
VIEW_ROUTING_LOGS = "view_routing_logs"
TRIGGER_REASSIGNMENT = "trigger_reassignment"
MANAGE_TEAM = "manage_team"

LABELS = {
    VIEW_CONTACTS: "View the team's contacts",
    MANAGE_ROUTING_RULES: "Contact Routing Rule Management",
    MANAGE_LEAD_DISTRIBUTION: "Manage Lead Distribution",
    VIEW_ROUTING_LOGS: "View Routing Logs",
    TRIGGER_REASSIGNMENT: "Trigger Reassignment",
    MANAGE_TEAM: "Manage Team",
}

# The permission profile's boolean fields carry these names.
PROFILE_PERMISSIONS = (
    MANAGE_ROUTING_RULES,
    MANAGE_LEAD_DISTRIBUTION,
    VIEW_ROUTING_LOGS,
    TRIGGER_REASSIGNMENT,
    MANAGE_TEAM,
)
ALL_PERMISSIONS = (VIEW_CONTACTS, *PROFILE_PERMISSIONS)
ADMIN_ONLY = frozenset({MANAGE_ROUTING_RULES, MANAGE_LEAD_DISTRIBUTION, MANAGE_TEAM})


def effective_permissions(membership: Membership) -> frozenset[str]:
    if not membership.is_active:
        return frozenset()
    if membership.role == Role.OWNER:
        return frozenset(ALL_PERMISSIONS)
    profile = membership.permission_profile
    granted = {perm for perm in PROFILE_PERMISSIONS if profile and getattr(profile, perm)}
    if membership.role == Role.AGENT:
        granted -= ADMIN_ONLY
    return frozenset({VIEW_CONTACTS, *granted})


def distribution_scope(membership: Membership) -> str:
    """How far a member's lead-distribution powers reach: the whole team or their groups."""
    if membership.role == Role.OWNER:
        return DistributionScope.COMPANY
    profile = membership.permission_profile
    return profile.distribution_scope if profile else DistributionScope.GROUP
