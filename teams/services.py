"""Writes for teams, members and permission profiles."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from teams import access, signals
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
from teams.selectors import group_descendant_ids


@transaction.atomic
def team_create(*, name: str, owner: User, plan: str = Plan.BASIC, time_zone: str = "UTC") -> Team:
    """A team with its owner and the two standard profiles (routing adds its Default Rule
    when it hears of the new team)."""
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
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
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
        access.require_perm(actor, perms.MANAGE_TEAM, team_id=team.pk)
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
    return membership


@transaction.atomic
def membership_update(*, actor: Membership | None, membership: Membership, **fields) -> Membership:
    """Change role, profile or status; grants follow at once."""
    if actor is not None:
        access.require_perm(actor, perms.MANAGE_TEAM, team_id=membership.team_id)
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
    return membership


@transaction.atomic
def permission_profile_save(
    *, actor: Membership | None, profile: PermissionProfile
) -> PermissionProfile:
    """Save a profile; its members hold the new permissions at their next check."""
    if actor is not None:
        access.require_perm(actor, perms.MANAGE_TEAM, team_id=profile.team_id)
    profile.full_clean()
    profile.save()
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


# --- Team and people pages: members, groups, tags, profiles, plan ---------------------
#
# Every write below takes the acting member and checks "Manage Team" on their own team
# (ownership and the plan: the owner only). Objects of another team are refused, so a
# forged id never reaches a write.


def _clean_name(name: str, *, field: str = "name") -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({field: "Enter a name."})
    return name


def _team_groups_and_tags(
    *,
    team: Team,
    groups: list[Group] | None,
    tags: list[AgentTag] | None,
    new_tags: list[str] | tuple[str, ...],
) -> tuple[list[Group], list[AgentTag]]:
    """The member's groups and tags, all of `team`; `new_tags` are created as needed."""
    groups, tags = list(groups or ()), list(tags or ())
    if any(g.team_id != team.id for g in groups) or any(t.team_id != team.id for t in tags):
        raise ValidationError("Groups and tags must belong to the team.")
    for name in new_tags:
        name = " ".join(name.split())
        if name:
            existing = AgentTag.objects.filter(team=team, name__iexact=name).first()
            tags.append(existing or AgentTag.objects.create(team=team, name=name))
    return groups, tags


def _announce_password_link(*, membership: Membership) -> None:
    """Ask for the set-password email, inside the caller's transaction: notifications
    writes it to its outbox there, so it commits with the change and is sent (and
    retried while the mail server is down) after commit."""
    signals.password_link_requested.send(sender=Membership, membership=membership)


@transaction.atomic
def membership_invite(
    *,
    actor: Membership,
    username: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    role: str = Role.AGENT,
    profile: PermissionProfile | None = None,
    groups: list[Group] | None = None,
    tags: list[AgentTag] | None = None,
    new_tags: list[str] | tuple[str, ...] = (),
    password: str | None = None,
) -> Membership:
    """Create a user and make them a member of the actor's team.

    Two ways in, the manager chooses: with `password` (a temporary password the manager
    passes on) the user can sign in at once; without it the user gets no usable
    password and an email with a set-password link, written to the outbox with the
    member and sent after commit. That link is Django's password reset token (single
    use, expires after PASSWORD_RESET_TIMEOUT), opening the ordinary "Set a new
    password" page. Only new usernames are accepted:
    an existing account is never pulled into a team by someone who merely knows its name.
    """
    from django.contrib.auth.password_validation import validate_password

    team = actor.team
    access.require_perm(actor, perms.MANAGE_TEAM, team_id=team.id)
    if role not in (Role.ADMIN, Role.AGENT):
        raise ValidationError({"role": "Choose Admin or Agent; ownership is transferred."})
    username, email = (username or "").strip(), (email or "").strip()
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": "That username is taken."})
    if not password and not email:
        raise ValidationError(
            {"email": "Enter an email for the set-password link, or give a temporary password."}
        )
    groups, tags = _team_groups_and_tags(team=team, groups=groups, tags=tags, new_tags=new_tags)
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    membership = membership_add(team=team, user=user, role=role, actor=actor, profile=profile)
    membership.groups.set(groups)
    membership.tags.set(tags)
    if not password:
        _announce_password_link(membership=membership)
    return membership


def membership_send_password_link(*, actor: Membership, membership: Membership) -> None:
    """Email the member a fresh set-password link (lost or expired invitation)."""
    access.require_perm(actor, perms.MANAGE_TEAM, team_id=membership.team_id)
    if not membership.user.email:
        raise ValidationError("This member has no email address.")
    if not membership.is_active:
        raise ValidationError("Reactivate the member first.")
    _announce_password_link(membership=membership)


@transaction.atomic
def membership_edit(
    *,
    actor: Membership,
    membership: Membership,
    groups: list[Group] | None = None,
    tags: list[AgentTag] | None = None,
    new_tags: list[str] | tuple[str, ...] = (),
    paused: bool | None = None,
    paused_until=None,
    **fields,
) -> Membership:
    """The member editor: fields as membership_update, plus groups, tags and a pause."""
    access.require_perm(actor, perms.MANAGE_TEAM, team_id=membership.team_id)
    groups, tags = _team_groups_and_tags(
        team=membership.team, groups=groups, tags=tags, new_tags=new_tags
    )
    membership_update(actor=actor, membership=membership, **fields)
    membership.groups.set(groups)
    membership.tags.set(tags)
    if paused is not None:
        membership_set_availability(membership=membership, paused=paused, paused_until=paused_until)
    return membership


def membership_deactivate(*, actor: Membership, membership: Membership) -> Membership:
    """Switch a member off: no sign-in to the team, no permissions, skipped by routing.

    Their contacts stay theirs (reassign them from the lead dashboard); the owner
    cannot be deactivated (transfer ownership first) and nobody deactivates themselves.
    """
    access.require_perm(actor, perms.MANAGE_TEAM, team_id=membership.team_id)
    if membership.role == Role.OWNER:
        raise ValidationError("The owner cannot be deactivated: transfer ownership first.")
    if membership.pk == actor.pk:
        raise ValidationError("You cannot deactivate yourself.")
    return membership_update(actor=actor, membership=membership, is_active=False, is_online=False)


def membership_reactivate(*, actor: Membership, membership: Membership) -> Membership:
    access.require_perm(actor, perms.MANAGE_TEAM, team_id=membership.team_id)
    return membership_update(actor=actor, membership=membership, is_active=True)


@transaction.atomic
def ownership_transfer(*, actor: Membership, to: Membership) -> Membership:
    """Make `to` the owner; the old owner stays on as an admin with the Admin profile."""
    access.require_owner(actor, "transfer ownership")
    access.require_same_team(actor, to.team_id)
    # Lock the owner row: two transfers at once must not both pass the checks.
    current = Membership.objects.select_for_update().get(pk=actor.pk)
    access.require_owner(current, "transfer ownership")
    to.refresh_from_db()
    if to.pk == current.pk:
        raise ValidationError("You already own the team.")
    if not to.is_active:
        raise ValidationError("Reactivate the member before giving them the team.")
    team = actor.team
    admin_profile = team.permission_profiles.filter(name="Admin").first()
    if admin_profile is None:
        admin_profile = PermissionProfile.objects.create(
            team=team,
            name="Admin",
            distribution_scope=DistributionScope.COMPANY,
            **dict.fromkeys(perms.PROFILE_PERMISSIONS, True),
        )
    # Demote first: one owner per team is a database constraint. Saved (not updated) so
    # whoever listens to membership changes hears of both.
    current = Membership.objects.get(pk=current.pk)
    current.role, current.permission_profile = Role.ADMIN, admin_profile
    current.save(update_fields=["role", "permission_profile"])
    to.role = Role.OWNER
    to.save(update_fields=["role"])
    for member in (actor, to):
        member.refresh_from_db()
    return to


def _check_sibling_name(*, group: Group, name: str, parent: Group | None) -> None:
    # The unique constraint cannot see top-level clashes (NULL parents differ in SQL).
    siblings = Group.objects.filter(team_id=group.team_id, parent=parent, name__iexact=name)
    if siblings.exclude(pk=group.pk).exists():
        where = f"under {parent.name}" if parent else "at the top level"
        raise ValidationError({"name": f"There is already a group called {name} {where}."})


def group_add(*, actor: Membership, name: str, parent: Group | None = None) -> Group:
    """Create a group in the actor's team (checked; group_create is the trusted path)."""
    team = actor.team
    access.require_perm(actor, perms.MANAGE_TEAM, team_id=team.id)
    name = _clean_name(name)
    if parent is not None and parent.team_id != team.id:
        raise ValidationError({"parent": "The parent group belongs to another team."})
    _check_sibling_name(group=Group(team=team), name=name, parent=parent)
    return group_create(team=team, name=name, parent=parent)


@transaction.atomic
def group_update(*, actor: Membership, group: Group, name: str, parent: Group | None) -> Group:
    """Rename and/or move a group; never under itself or one of its sub-groups."""
    access.require_perm(actor, perms.MANAGE_TEAM, team_id=group.team_id)
    name = _clean_name(name)
    if parent is not None:
        if parent.team_id != group.team_id:
            raise ValidationError({"parent": "The parent group belongs to another team."})
        if parent.pk in group_descendant_ids(group_ids={group.pk}, team=group.team):
            raise ValidationError(
                {"parent": "A group cannot be moved under itself or one of its sub-groups."}
            )
    _check_sibling_name(group=group, name=name, parent=parent)
    group.name, group.parent = name, parent
    group.save(update_fields=["name", "parent"])
    return group


@transaction.atomic
def group_delete(*, actor: Membership, group: Group) -> int:
    """Delete a group with its sub-groups; members stay, they only lose the groups.

    Refused while something still points at any of them (a reassignment group
    "Available To" one: dropping the last such group would make it available to
    everyone). Returns the groups deleted.
    """
    access.require_perm(actor, perms.MANAGE_TEAM, team_id=group.team_id)
    ids = group_descendant_ids(group_ids={group.pk}, team=group.team)
    used_by = _answers(signals.groups_in_use, team=group.team, group_ids=ids)
    if used_by:
        raise ValidationError(
            f"In use by {', '.join(used_by)}, which point at this group or its "
            "sub-groups. Change them first."
        )
    Group.objects.filter(pk__in=ids).delete()
    return len(ids)


def _check_tag_name(*, team_id: int, name: str, tag: AgentTag | None = None) -> str:
    name = _clean_name(name)
    clash = AgentTag.objects.filter(team_id=team_id, name__iexact=name)
    if tag is not None:
        clash = clash.exclude(pk=tag.pk)
    if clash.exists():
        raise ValidationError({"name": f"There is already a tag called {name}."})
    return name


def agent_tag_create(*, actor: Membership, name: str) -> AgentTag:
    access.require_perm(actor, perms.MANAGE_TEAM, team_id=actor.team_id)
    name = _check_tag_name(team_id=actor.team_id, name=name)
    return AgentTag.objects.create(team_id=actor.team_id, name=name)


def agent_tag_rename(*, actor: Membership, tag: AgentTag, name: str) -> AgentTag:
    access.require_perm(actor, perms.MANAGE_TEAM, team_id=tag.team_id)
    tag.name = _check_tag_name(team_id=tag.team_id, name=name, tag=tag)
    tag.save(update_fields=["name"])
    return tag


def _answers(signal, **kwargs) -> list:
    """Every receiver's list of answers to one of teams.signals' questions, in one list."""
    return [item for _, found in signal.send(sender=Team, **kwargs) for item in found]


def agent_tag_uses(*, tag: AgentTag) -> list[str]:
    """What distributes by this tag (rules and reassignment groups)."""
    return _answers(signals.agent_tag_in_use, tag=tag)


@transaction.atomic
def agent_tag_delete(*, actor: Membership, tag: AgentTag) -> None:
    """Delete a tag (members lose it). Refused while a rule or reassignment group
    assigns by it: deleting would silently change who they route to."""
    access.require_perm(actor, perms.MANAGE_TEAM, team_id=tag.team_id)
    uses = agent_tag_uses(tag=tag)
    if uses:
        raise ValidationError(
            f"The tag {tag.name} is used by {', '.join(uses)}. Remove it from them first."
        )
    tag.delete()


def permission_profile_create(*, actor: Membership, name: str, **flags) -> PermissionProfile:
    """A new profile in the actor's team; `flags` are the permission fields and scope."""
    profile = PermissionProfile(team_id=actor.team_id, name=_clean_name(name), **flags)
    profile.team = actor.team
    return permission_profile_save(actor=actor, profile=profile)


@transaction.atomic
def permission_profile_delete(*, actor: Membership, profile: PermissionProfile) -> None:
    """Delete a profile nobody holds (deactivated members count: they may come back)."""
    access.require_perm(actor, perms.MANAGE_TEAM, team_id=profile.team_id)
    held = profile.members.count()
    if held:
        raise ValidationError(
            f"{held} member{'s' if held != 1 else ''} "
            f"{'hold' if held != 1 else 'holds'} the profile {profile.name}: "
            "give them another profile first."
        )
    profile.delete()


def plan_unavailable_methods(*, team: Team) -> tuple[list, list]:
    """Rules (Default Rule included) and reassignment groups whose method the team's
    plan lacks: routing skips such rules, and such groups cannot be triggered."""
    rules, groups = [], []
    for _, found in signals.plan_lacks.send(sender=Team, team=team):
        rules += found.get("rules", [])
        groups += found.get("groups", [])
    return rules, groups


@transaction.atomic
def team_set_plan(*, actor: Membership, plan: str) -> tuple[list, list]:
    """Change the plan (owner only) and record it in the team's admin history.

    A downgrade deletes nothing: rules keep their method and routing skips those the
    new plan lacks. Returns those rules and reassignment groups, for a warning.
    """
    from django.contrib.admin.models import CHANGE, LogEntry

    access.require_owner(actor, "change the plan")
    if plan not in Plan.values:
        raise ValidationError({"plan": "Choose Basic, Pro or Premier."})
    team = Team.objects.select_for_update().get(pk=actor.team_id)
    old = team.plan
    if old != plan:
        team.plan = plan
        team.save(update_fields=["plan"])
        LogEntry.objects.log_actions(
            user_id=actor.user_id,
            queryset=[team],
            action_flag=CHANGE,
            change_message=f"Plan changed from {Plan(old).label} to {Plan(plan).label}.",
            single_object=True,
        )
    actor.team.plan = plan
    return plan_unavailable_methods(team=team)
