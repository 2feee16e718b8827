"""Which team permissions a member has, from their role and permission profile.

Owners hold every permission. Admins and agents hold what their profile
grants, except that agents never manage routing (seed 000: only team owners
and admins add or edit contact routing rules).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from teams.models import Membership

VIEW_CONTACTS = "view_team_contacts"
MANAGE_ROUTING_RULES = "manage_routing_rules"
MANAGE_LEAD_DISTRIBUTION = "manage_lead_distribution"
VIEW_ROUTING_LOGS = "view_routing_logs"
TRIGGER_REASSIGNMENT = "trigger_reassignment"
MANAGE_TEAM = "manage_team"

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
    if membership.role == "owner":
        return frozenset(ALL_PERMISSIONS)
    profile = membership.permission_profile
    granted = {perm for perm in PROFILE_PERMISSIONS if profile and getattr(profile, perm)}
    if membership.role == "agent":
        granted -= ADMIN_ONLY
    return frozenset({VIEW_CONTACTS, *granted})


def member_has_perm(membership: Membership | None, perm: str) -> bool:
    """Does the member hold `perm` on their team (django-guardian object grant)?

    One guardian checker is kept on the membership instance, so a request asks
    the database once however many checks it makes. Grants changed later are
    seen by a freshly loaded membership (every request loads its own).
    """
    if membership is None or not membership.is_active:
        return False
    from guardian.core import ObjectPermissionChecker

    checker = getattr(membership, "_perm_checker", None)
    if checker is None:
        checker = membership._perm_checker = ObjectPermissionChecker(membership.user)
    return checker.has_perm(f"teams.{perm}", membership.team)


def distribution_scope(membership: Membership) -> str:
    """'company' or 'group': how far a member's lead-distribution edits reach."""
    if membership.role == "owner":
        return "company"
    profile = membership.permission_profile
    return profile.distribution_scope if profile else "group"
