"""Reassignment: send a contact's primary Agent role to a reassignment group.

Triggered by hand ("Are you sure?" → YES). The contact keeps its Agent, shown as
"Re-Assign in progress" and locked against edits, until the group's method gives it
to someone else (never back to its current Agent) or, when nobody takes it, to the
group's default assignee. Two triggers at the same moment, or a trigger and an
"assign directly": the routing row lock orders them, and the later one is refused
because the Agent it saw is no longer the Agent.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact, TimelineEvent
from routing import engine
from routing.groups import groups_available_to
from routing.models import ContactRouting, ReassignmentGroup, RoutingStatus
from routing.queue import agents_of, routing_lock
from routing.rotations import rotations_lock, rotations_save, rotations_sources
from routing.state import TeamState, group_source, live_load, needs_load, team_state
from routing.writer import Apply, decisions_apply
from teams import access
from teams import permissions as perms
from teams.models import Membership

# The `expected_agent_id` of a page that showed no primary Agent at all.
NO_AGENT = 0


def agent_changed_message(*, row: ContactRouting, state: TeamState, current: int | None) -> str:
    """Why a change based on an Agent the member no longer sees is refused."""
    by = state.name(row.assigned_by_id) if row.assigned_by_id else "routing"
    now_held = state.name(current) if current is not None else "nobody"
    return (
        f"The Agent changed while you were looking: {now_held} holds the contact now "
        f"(by {by}). Reload the profile to see it, then try again."
    )


def reassign_refusal(
    *, row: ContactRouting, state: TeamState, current: int | None, expected: int | None
) -> str | None:
    """The reason the primary Agent cannot be changed now, or None. `expected`: the Agent
    the member saw (NO_AGENT: nobody), None when the caller does not say."""
    if row.reassign_in_progress:
        who = state.name(row.reassign_started_by_id) if row.reassign_started_by_id else "staff"
        group = row.reassigning_to.name if row.reassigning_to else "a reassignment group"
        return (
            f"Re-Assign in progress: already being reassigned by {who} through “{group}”; "
            "the Agent cannot be changed until it finishes."
        )
    if expected is not None and (current if current is not None else NO_AGENT) != expected:
        return agent_changed_message(row=row, state=state, current=current)
    return None


def reassignment_start(
    *,
    actor: Membership,
    contact: Contact,
    group: ReassignmentGroup,
    expected_agent_id: int | None = None,
    now: datetime | None = None,
) -> str:
    """Send a contact's primary Agent role to a reassignment group ("Are you sure?" → YES).

    `expected_agent_id`: the Agent the member saw when they chose; refused if it changed.
    Returns "assigned" or "offered".
    """
    now = now or timezone.now()
    access.require_same_team(actor, group.team_id)
    access.require_perm(actor, perms.TRIGGER_REASSIGNMENT, team_id=contact.team_id)
    if not groups_available_to(membership=actor).filter(pk=group.pk).exists():
        raise PermissionDenied("This reassignment group is not available to you.")
    with transaction.atomic():
        row = routing_lock(contact_id=contact.pk)
        state = team_state(team=row.team, version=row.version)
        current = agents_of([row]).get(row.contact_id)
        refusal = reassign_refusal(
            row=row, state=state, current=current, expected=expected_agent_id
        )
        if refusal:
            raise ValidationError(refusal)
        if row.status != RoutingStatus.ASSIGNED or current is None:
            raise ValidationError(
                "This contact has no primary Agent yet: routing is still running."
            )
        row.reassigning_to = group
        row.reassign_started_at = now
        row.reassign_started_by = actor
        row.lapsed_members = []
        # At `now`, like the outcome the writer records next: the timeline keeps their order.
        TimelineEvent.objects.create(
            contact=row.contact,
            kind="reassign_started",
            actor=actor,
            message=f"{actor.display_name} sent the contact to reassignment group “{group.name}”.",
            created_at=now,
        )
        decision = group_distribute(
            state=state, row=row, group=group_source(state=state, group=group), now=now
        )
    return RoutingStatus.ASSIGNED if decision.action == engine.ASSIGN else RoutingStatus.OFFERED


def reassignment_start_bulk(
    *,
    actor: Membership,
    contacts: list[Contact],
    group: ReassignmentGroup,
    expected: dict[int, int] | None = None,
) -> dict[int, str]:
    """Several contacts from the contacts list: each is distributed in turn.

    Returns contact id → outcome ("assigned", "offered") or the error message for
    that contact; one contact's error does not stop the others.
    """
    outcomes: dict[int, str] = {}
    for contact in contacts:
        try:
            outcomes[contact.pk] = reassignment_start(
                actor=actor,
                contact=contact,
                group=group,
                expected_agent_id=(expected or {}).get(contact.pk),
            )
        except (PermissionDenied, ValidationError) as exc:
            outcomes[contact.pk] = "; ".join(getattr(exc, "messages", [str(exc)]))
    return outcomes


def group_distribute(
    *,
    state: TeamState,
    row: ContactRouting,
    group: engine.Source | None,
    now: datetime,
    blast_done: bool = False,
    events: list | None = None,
) -> engine.Decision:
    """The group's next step for the contact: its method, else its default assignee (a
    group deleted meanwhile: the team owner). Inside the transaction holding `row`."""
    current = agents_of([row]).get(row.contact_id)
    live = engine.Live()
    locked: dict = {}
    if group is None:
        how = "team owner: the reassignment group was deleted"
        decision = engine.Decision(
            engine.ASSIGN,
            member_id=state.owner_id,
            how=how,
            reason=f"assigned to {state.name(state.owner_id)}: {how}",
        )
        if state.owner_id is None:
            raise ValidationError("The reassignment group is gone and the team has no owner.")
    else:
        locked = rotations_lock(live, rotations_sources([group]))
        live_load(live, needs_load(state, [group]))
        decision = engine.reassign(
            state.rules,
            group,
            now,
            live,
            current=current,
            lapsed=set(row.lapsed_members),
            blast_done=blast_done,
        )
        if decision.action == engine.NOBODY:
            raise ValidationError(decision.reason[:1].upper() + decision.reason[1:] + ".")
        engine.advance(live, decision, now)
    if decision.action == engine.ASSIGN:
        row.assigned_by = row.reassign_started_by  # who set this reassignment going
    item = Apply(row, decision, previous_id=current, events=events or [])
    decisions_apply(state=state, items=[item], now=now)
    rotations_save(locked, live, [decision])
    return decision
