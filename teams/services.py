"""Writes for teams, members and permission profiles."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify
from guardian.shortcuts import assign_perm, remove_perm

from teams import permissions as perms
from teams.models import (
    AgentTag,
    DistributionScope,
    Group,
    Membership,
    PermissionProfile,
    Plan,
    Role,
    Team,
)


def require_perm(*, actor: Membership, perm: str) -> None:
    """Raise PermissionDenied unless the acting member holds `perm` on their team."""
    if not perms.member_has_perm(actor, perm):
        raise PermissionDenied(f"You need the “{perm.replace('_', ' ')}” permission.")


def membership_sync_permissions(*, membership: Membership) -> None:
    """Mirror the member's effective permissions into django-guardian grants."""
    membership.__dict__.pop("_perm_checker", None)  # forget grants cached on this instance
    wanted = perms.effective_permissions(membership)
    for perm in perms.ALL_PERMISSIONS:
        if perm in wanted:
            assign_perm(perm, membership.user, membership.team)
        else:
            remove_perm(perm, membership.user, membership.team)


@transaction.atomic
def team_create(*, name: str, owner: User, plan: str = Plan.BASIC, time_zone: str = "UTC") -> Team:
    """A team with its owner, the two standard profiles and its Default Rule."""
    from routing.services import default_rule_ensure

    base = slugify(name) or "team"
    slug, n = base, 1
    while Team.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    team = Team.objects.create(name=name, slug=slug, plan=plan, time_zone=time_zone)
    PermissionProfile.objects.create(
        team=team,
        name="Admin",
        manage_routing_rules=True,
        manage_lead_distribution=True,
        distribution_scope=DistributionScope.COMPANY,
        view_routing_logs=True,
        trigger_reassignment=True,
        manage_team=True,
    )
    PermissionProfile.objects.create(team=team, name="Agent")
    owner_membership = Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    membership_sync_permissions(membership=owner_membership)
    default_rule_ensure(team=team)
    return team


@transaction.atomic
def membership_add(
    *,
    team: Team,
    user: User,
    role: str = Role.AGENT,
    actor: Membership | None = None,
    profile: PermissionProfile | None = None,
    **fields,
) -> Membership:
    """Add a user to the team; `actor` None means a trusted system path (seed, admin)."""
    if actor is not None:
        require_perm(actor=actor, perm=perms.MANAGE_TEAM)
    if role == Role.OWNER:
        raise ValidationError("A team has exactly one owner; transfer ownership instead.")
    if profile is None:
        profile = team.permission_profiles.filter(
            name="Admin" if role == Role.ADMIN else "Agent"
        ).first()
    if profile is not None and profile.team_id != team.id:
        raise ValidationError("That permission profile belongs to another team.")
    membership = Membership.objects.create(
        team=team, user=user, role=role, permission_profile=profile, **fields
    )
    membership_sync_permissions(membership=membership)
    return membership


@transaction.atomic
def membership_update(*, actor: Membership | None, membership: Membership, **fields) -> Membership:
    """Change role, profile or status; grants follow at once."""
    if actor is not None:
        require_perm(actor=actor, perm=perms.MANAGE_TEAM)
        if actor.team_id != membership.team_id:
            raise PermissionDenied("That member belongs to another team.")
    if fields.get("role") == Role.OWNER or (
        membership.role == Role.OWNER and fields.get("role", Role.OWNER) != Role.OWNER
    ):
        raise ValidationError("Ownership is transferred, not edited.")
    profile = fields.get("permission_profile")
    if profile is not None and profile.team_id != membership.team_id:
        raise ValidationError("That permission profile belongs to another team.")
    for name, value in fields.items():
        setattr(membership, name, value)
    membership.full_clean()
    membership.save()
    membership_sync_permissions(membership=membership)
    return membership


@transaction.atomic
def permission_profile_save(
    *, actor: Membership | None, profile: PermissionProfile
) -> PermissionProfile:
    """Save a profile and re-sync every member who holds it."""
    if actor is not None:
        require_perm(actor=actor, perm=perms.MANAGE_TEAM)
        if actor.team_id != profile.team_id:
            raise PermissionDenied("That profile belongs to another team.")
    profile.full_clean()
    profile.save()
    for member in profile.members.select_related("user", "team", "permission_profile"):
        membership_sync_permissions(membership=member)
    return profile


def membership_set_availability(
    *,
    membership: Membership,
    is_online: bool | None = None,
    paused: bool | None = None,
    paused_until=None,
) -> Membership:
    """A member going online/offline or pausing (vacation until a date)."""
    if is_online is not None:
        membership.is_online = is_online
    if paused is not None:
        membership.paused = paused
        membership.paused_until = paused_until if paused else None
    membership.save(update_fields=["is_online", "paused", "paused_until"])
    return membership


def group_create(*, team: Team, name: str, parent: Group | None = None) -> Group:
    if parent is not None and parent.team_id != team.id:
        raise ValidationError("The parent group belongs to another team.")
    return Group.objects.create(team=team, name=name, parent=parent)


def agent_tag_get_or_create(*, team: Team, name: str) -> AgentTag:
    tag, _ = AgentTag.objects.get_or_create(team=team, name=name.strip())
    return tag
