"""Reassignment groups: who may see and edit them, and editing them.

A group re-routes contacts already in the system (triggered by hand, see
routing.reassignment). Unlike a routing rule, its rotation is never reset when its
members change: the current round completes, so everyone gets their fair share.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404

from routing import engine
from routing.assignees import AssigneeSpec, assignees_write
from routing.models import (
    ContactRouting,
    Method,
    ReassignmentAssignee,
    ReassignmentGroup,
    Rotation,
)
from teams import access
from teams import permissions as perms
from teams.models import Membership, Team
from teams.selectors import group_ancestor_ids, group_descendant_ids

GROUP_FIELDS = {
    "name", "method", "claim_window_minutes", "default_assignee", "only_online", "skip_paused",
    "respect_capacity",
}  # fmt: skip


GroupAssignee = AssigneeSpec  # the same shape as a routing rule's assignees


# --- who may see and edit -------------------------------------------------------


def groups_available_to(*, membership: Membership) -> QuerySet[ReassignmentGroup]:
    """Groups this member may send contacts to: "Available To" one of their groups
    (or a group above theirs), or to everyone. Owners see every group."""
    qs = ReassignmentGroup.objects.filter(team_id=membership.team_id)
    if access.is_owner(membership):
        return qs
    mine = set(membership.groups.values_list("id", flat=True))
    visible = group_ancestor_ids(group_ids=mine, team=membership.team)
    return qs.filter(Q(available_to__isnull=True) | Q(available_to__in=visible)).distinct()


def groups_editable_by(*, membership: Membership) -> QuerySet[ReassignmentGroup]:
    """Entire Company edits all; User's Group only groups available to their group/sub-groups."""
    if not can_edit_groups(membership):
        return ReassignmentGroup.objects.none()
    qs = ReassignmentGroup.objects.filter(team_id=membership.team_id)
    if access.sees_whole_company(membership):
        return qs
    own = set(membership.groups.values_list("id", flat=True))
    reach = group_descendant_ids(group_ids=own, team=membership.team)
    outside = ReassignmentGroup.available_to.through.objects.exclude(group_id__in=reach)
    return (
        qs.filter(available_to__isnull=False)
        .exclude(pk__in=outside.values("reassignmentgroup_id"))
        .distinct()
    )


# Either permission edits reassignment groups.
EDIT_GROUPS = (perms.MANAGE_ROUTING_RULES, perms.MANAGE_LEAD_DISTRIBUTION)


def can_edit_groups(membership: Membership | None) -> bool:
    return access.has_any_perm(membership, *EDIT_GROUPS)


def groups_visible_to(membership: Membership) -> QuerySet[ReassignmentGroup]:
    """Groups the member may edit, and (read-only) those they may send contacts to."""
    available = (
        groups_available_to(membership=membership)
        if access.has_perm(membership, perms.TRIGGER_REASSIGNMENT)
        else ReassignmentGroup.objects.none()
    )
    editable = groups_editable_by(membership=membership)
    return ReassignmentGroup.objects.filter(team_id=membership.team_id).filter(
        Q(pk__in=editable.values("pk")) | Q(pk__in=available.values("pk"))
    )


def group_for_member(
    member: Membership,
    pk: int,
    *,
    editable: bool = False,
    queryset: QuerySet[ReassignmentGroup] | None = None,
) -> ReassignmentGroup:
    """A group the member may see (from `queryset`, to load it with what a page shows),
    or 404 (another team's, or one not available to them); 403 if `editable` and the
    member may only look at it."""
    qs = ReassignmentGroup.objects.all() if queryset is None else queryset
    group = qs.filter(pk=pk, pk__in=groups_visible_to(member).values("pk")).first()
    if group is None:
        raise Http404("No such reassignment group.")
    if editable and not groups_editable_by(membership=member).filter(pk=pk).exists():
        raise PermissionDenied("You can look at this reassignment group but not edit it.")
    return group


def _require_edit(actor: Membership | None, group: ReassignmentGroup) -> None:
    if actor is None:
        return
    access.require_same_team(actor, group.team_id)
    if not groups_editable_by(membership=actor).filter(pk=group.pk).exists():
        raise PermissionDenied("You cannot edit this reassignment group.")


def _check_available_to(actor: Membership | None, team: Team, available_to) -> None:
    if any(g.team_id != team.pk for g in available_to):
        raise ValidationError("“Available To” lists a group of another team.")
    if actor is None or access.sees_whole_company(actor):
        return
    own = set(actor.groups.values_list("id", flat=True))
    reach = group_descendant_ids(group_ids=own, team=team)
    if not available_to or any(g.pk not in reach for g in available_to):
        raise PermissionDenied(
            "With “User's Group” scope a reassignment group must be available "
            "only to your group or its sub-groups."
        )


# --- editing --------------------------------------------------------------------


def reassignment_group_validate(group: ReassignmentGroup) -> None:
    if group.method in (Method.ASSIGN_DIRECTLY, Method.MANUAL):
        raise ValidationError({"method": "Choose Round Robin, Next Up, Blast Alert or least open."})
    if not engine.method_allowed(group.team.plan, group.method):
        label, plan = Method(group.method).label, group.team.get_plan_display()
        raise ValidationError({"method": f"{label} is not in the {plan} plan."})
    if group.default_assignee_id and group.default_assignee.team_id != group.team_id:
        raise ValidationError({"default_assignee": "That member belongs to another team."})
    group.full_clean(exclude=["rotation"])


@transaction.atomic
def reassignment_group_create(
    *,
    actor: Membership | None,
    team: Team,
    name: str,
    assignees: list[GroupAssignee] = (),
    available_to=(),
    **fields,
) -> ReassignmentGroup:
    if actor is not None:
        access.require_perm(actor, *EDIT_GROUPS, team_id=team.pk)
    if set(fields) - GROUP_FIELDS:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(set(fields) - GROUP_FIELDS))}")
    available_to = list(available_to)
    _check_available_to(actor, team, available_to)
    group = ReassignmentGroup(team=team, name=name, rotation=Rotation.objects.create(), **fields)
    reassignment_group_validate(group)
    group.save()
    group.available_to.set(available_to)
    _write_assignees(group, assignees)
    return group


@transaction.atomic
def reassignment_group_update(
    *, actor: Membership | None, group: ReassignmentGroup, available_to=None, **fields
) -> ReassignmentGroup:
    _require_edit(actor, group)
    if set(fields) - GROUP_FIELDS:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(set(fields) - GROUP_FIELDS))}")
    for name, value in fields.items():
        setattr(group, name, value)
    reassignment_group_validate(group)
    group.save()
    if available_to is not None:
        available_to = list(available_to)
        _check_available_to(actor, group.team, available_to)
        group.available_to.set(available_to)
    return group


def _write_assignees(group: ReassignmentGroup, assignees: list[GroupAssignee]) -> None:
    assignees_write(owner=group, owner_field="group", model=ReassignmentAssignee, specs=assignees)


@transaction.atomic
def reassignment_group_set_assignees(
    *, actor: Membership | None, group: ReassignmentGroup, assignees: list[GroupAssignee]
) -> None:
    """Replace the assignees WITHOUT resetting the rotation: the current round completes
    so everyone gets their fair share (the opposite of routing rules)."""
    _require_edit(actor, group)
    ReassignmentGroup.objects.select_for_update().get(pk=group.pk)
    group.assignees.all().delete()
    _write_assignees(group, assignees)


@transaction.atomic
def reassignment_group_delete(*, actor: Membership | None, group: ReassignmentGroup) -> None:
    _require_edit(actor, group)
    busy = ContactRouting.objects.filter(reassigning_to=group).count()
    if busy:
        raise ValidationError(
            f"{busy} contact(s) are being reassigned through this group; wait until they finish."
        )
    rotation_id = group.rotation_id
    group.delete()
    Rotation.objects.filter(pk=rotation_id).delete()
