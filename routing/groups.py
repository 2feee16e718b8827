"""Reassignment groups: who may see and edit them, and editing them.

A group re-routes contacts already in the system (triggered by hand, see
routing.reassignment). Unlike a routing rule, its rotation is never reset when its
members change: the current round completes, so everyone gets their fair share.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet

from routing import engine
from routing.assignees import AssigneeSpec, assignees_write
from routing.models import (
    ContactRouting,
    Method,
    ReassignmentAssignee,
    ReassignmentGroup,
    Rotation,
)
from teams.models import Membership, Team
from teams.permissions import distribution_scope, member_has_perm
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
    if membership.role == "owner":
        return qs
    mine = set(membership.groups.values_list("id", flat=True))
    visible = group_ancestor_ids(group_ids=mine, team=membership.team)
    return qs.filter(Q(available_to__isnull=True) | Q(available_to__in=visible)).distinct()


def groups_editable_by(*, membership: Membership) -> QuerySet[ReassignmentGroup]:
    """Entire Company edits all; User's Group only groups available to their group/sub-groups."""
    if not _can_manage(membership):
        return ReassignmentGroup.objects.none()
    qs = ReassignmentGroup.objects.filter(team_id=membership.team_id)
    if distribution_scope(membership) == "company":
        return qs
    own = set(membership.groups.values_list("id", flat=True))
    reach = group_descendant_ids(group_ids=own, team=membership.team)
    outside = ReassignmentGroup.available_to.through.objects.exclude(group_id__in=reach)
    return (
        qs.filter(available_to__isnull=False)
        .exclude(pk__in=outside.values("reassignmentgroup_id"))
        .distinct()
    )


def _can_manage(membership: Membership) -> bool:
    return member_has_perm(membership, "manage_routing_rules") or member_has_perm(
        membership, "manage_lead_distribution"
    )


def _require_edit(actor: Membership | None, group: ReassignmentGroup) -> None:
    if actor is None:
        return
    if (
        group.team_id != actor.team_id
        or not groups_editable_by(membership=actor).filter(pk=group.pk).exists()
    ):
        raise PermissionDenied("You cannot edit this reassignment group.")


def _check_available_to(actor: Membership | None, team: Team, available_to) -> None:
    if any(g.team_id != team.pk for g in available_to):
        raise ValidationError("“Available To” lists a group of another team.")
    if actor is None or distribution_scope(actor) == "company":
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
    if group.method == Method.ASSIGN_DIRECTLY:
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
    if actor is not None and (actor.team_id != team.pk or not _can_manage(actor)):
        raise PermissionDenied("You need the routing management permission.")
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
