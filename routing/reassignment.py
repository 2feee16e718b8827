"""Reassignment groups: re-route contacts already in the system (seeds 001 and 002).

Triggered by hand on a contact's primary Agent role. Distribution reuses the
routing engine, offers, claims, timeouts and logs; what differs is that the
group's rotation is never reset when its members change, and that whoever is
left when nobody takes the contact is the group's default assignee.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from contacts.models import Contact, RoutingStatus
from contacts.services import timeline_add
from routing import engine
from routing.assignees import AssigneeSpec, assignees_write
from routing.models import (
    LogEvent,
    Method,
    OfferKind,
    OfferRecipient,
    ReassignmentAssignee,
    ReassignmentGroup,
    Rotation,
)
from routing.selectors import team_routing_load, with_rotation_state
from routing.services import Run, _assign, _finish, _log_skips, _offer, _take_turn
from teams.models import Membership, Team
from teams.permissions import member_has_perm
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
    if _scope(membership) == "company":
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


def _scope(membership: Membership) -> str:
    from teams.permissions import distribution_scope

    return distribution_scope(membership)


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
    if actor is None or _scope(actor) == "company":
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
    so everyone gets their fair share (seeds 001/002; the opposite of routing rules)."""
    _require_edit(actor, group)
    ReassignmentGroup.objects.select_for_update().get(pk=group.pk)
    group.assignees.all().delete()
    _write_assignees(group, assignees)


@transaction.atomic
def reassignment_group_delete(*, actor: Membership | None, group: ReassignmentGroup) -> None:
    _require_edit(actor, group)
    busy = Contact.objects.filter(reassigning_to=group).count()
    if busy:
        raise ValidationError(
            f"{busy} contact(s) are being reassigned through this group; wait until they finish."
        )
    rotation_id = group.rotation_id
    group.delete()
    Rotation.objects.filter(pk=rotation_id).delete()


# --- triggering and distributing ------------------------------------------------


def reassignment_start(
    *, actor: Membership, contact: Contact, group: ReassignmentGroup, now: datetime | None = None
) -> str:
    """Send a contact's primary Agent role to a reassignment group ("Are you sure?" → YES)."""
    now = now or timezone.now()
    if contact.team_id != actor.team_id or group.team_id != actor.team_id:
        raise PermissionDenied("That contact or group belongs to another team.")
    if not member_has_perm(actor, "trigger_reassignment"):
        raise PermissionDenied("You need the “Trigger Reassignment” permission.")
    if not groups_available_to(membership=actor).filter(pk=group.pk).exists():
        raise PermissionDenied("This reassignment group is not available to you.")
    with transaction.atomic():
        contact = Contact.objects.select_for_update().select_related("team").get(pk=contact.pk)
        if contact.reassign_in_progress:
            raise ValidationError("Re-Assign is already in progress for this contact.")
        if contact.routing_status != RoutingStatus.ASSIGNED:
            raise ValidationError(
                "This contact has no primary Agent yet: routing is still running."
            )
        contact.reassigning_to = group
        contact.reassignment_started_at = now
        Contact.objects.filter(pk=contact.pk).update(
            reassigning_to=group, reassignment_started_at=now
        )
        timeline_add(
            contact=contact,
            kind="reassign_started",
            actor=actor,
            message=f"{actor.display_name} sent the contact to reassignment group “{group.name}”.",
        )
        run = Run(
            contact=contact,
            state=team_routing_load(team=contact.team, now=now),
            now=now,
            group=group,
        )
        return group_distribute(run)


def reassignment_start_bulk(
    *, actor: Membership, contacts: list[Contact], group: ReassignmentGroup
) -> dict[int, str]:
    """Several contacts from the contacts list: each is distributed in turn.

    Returns contact id → outcome ("assigned", "offered") or the error message for
    that contact; one contact's error does not stop the others.
    """
    outcomes: dict[int, str] = {}
    for contact in contacts:
        try:
            outcomes[contact.pk] = reassignment_start(actor=actor, contact=contact, group=group)
        except (PermissionDenied, ValidationError) as exc:
            outcomes[contact.pk] = "; ".join(getattr(exc, "messages", [str(exc)]))
    return outcomes


def _group_rule(run: Run, group: ReassignmentGroup) -> engine.Rule:
    assignees = list(group.assignees.all())
    return engine.Rule(
        id=group.pk,
        name=group.name,
        position=0,
        method=group.method,
        candidates=run.state.candidates(assignees, now=run.now),
        only_online=group.only_online,
        skip_paused=group.skip_paused,
        respect_capacity=group.respect_capacity,
        claim_window=timedelta(minutes=group.claim_window_minutes),
    )


def group_distribute(run: Run, *, after_blast: bool = False) -> str:
    """Distribute by the group's method; nobody left → the group's default assignee."""
    group, contact = run.group, run.contact
    rule = _group_rule(run, group)
    # The contact is moving away from its current Agent: never offer it back to them.
    current = contact.roles.filter(kind="agent").values_list("membership_id", flat=True).first()
    offered = set(
        OfferRecipient.objects.filter(
            offer__contact=contact,
            offer__reassignment_group=group,
            offer__created_at__gte=contact.reassignment_started_at,
        ).values_list("membership_id", flat=True)
    )
    if not after_blast:
        Rotation.objects.filter(pk=group.rotation_id).update(turns=F("turns") + 1)
        rule = with_rotation_state(rule, rotation_id=group.rotation_id)
        if group.method == Method.BLAST and not offered:
            pick = engine.blast_recipients(rule, run.now)
            _log_skips(run, rule, pick)
            eligible = [c.membership_id for c in pick.eligible if c.membership_id != current]
            if eligible:
                outcome = _offer(run, rule, OfferKind.BLAST, eligible)
                _finish(run)
                return outcome
        elif group.method != Method.BLAST:
            exclude = offered | ({current} if current else set())
            pick = engine.pick_next(rule, run.now, exclude_ids=exclude)
            _log_skips(run, rule, pick)
            if pick.chosen is not None:
                _take_turn(group.rotation_id, pick.chosen.membership_id, pick.chosen_count)
                if group.method == Method.NEXT_UP:
                    outcome = _offer(run, rule, OfferKind.NEXT_UP, [pick.chosen.membership_id])
                    _finish(run)
                    return outcome
                run.how = f"{Method(group.method).label} via reassignment group “{group.name}”"
                outcome = _assign(run, pick.chosen.membership_id, rule=None)
                _finish(run)
                return outcome
    return _to_default_assignee(run)


def _to_default_assignee(run: Run) -> str:
    group = run.group
    fallback = run.state.members.get(group.default_assignee_id) or run.state.owner
    if fallback is None:
        raise ValidationError(
            "The reassignment group has no default assignee and the team no owner."
        )
    run.log(
        LogEvent.FELL_THROUGH,
        f"nobody in the group took the contact: default assignee {fallback.display_name}",
    )
    who = "default assignee" if group.default_assignee_id else "team owner (no default assignee)"
    run.how = f"{who} of reassignment group “{group.name}”"
    outcome = _assign(run, fallback.pk, rule=None)
    _finish(run)
    return outcome
