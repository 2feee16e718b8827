"""The one writer of routing decisions: roles, offers, routing state, log, timeline.

Offers expire at their deadlines by the routing sweeper's deadline loop (a database
deadline, no per-offer task), with the django-q2 sweep schedule as the backstop.

Every caller (routing batches, offer claims and expiry, reassignment, assigning by
hand, imports) hands it locked routing rows and the decisions for them, and it
writes each table with one statement for the whole batch, then announces the
assignments and offers (notifications write their outbox rows in the same
transaction). Turn counts are written by whoever holds the rotation locks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from contacts.models import ContactRole, RoleKind, TimelineEvent
from routing import engine, signals
from routing.log_lines import steps_data
from routing.models import (
    ContactRouting,
    LogEvent,
    Offer,
    OfferKind,
    OfferRecipient,
    RoutingLog,
    RoutingStatus,
    TeamRouting,
)
from routing.state import TeamState
from teams.models import Membership

ROUTING_FIELDS = [
    "status",
    "rule",
    "error",
    "attempts",
    "next_attempt_at",
    "started_at",
    "tried_rules",
    "lapsed_members",
    "held_since",
    "hold_until",
    "placed_in",
    "assigned_at",
    "assigned_by",
    "reassigning_to",
    "reassign_started_at",
    "reassign_started_by",
    "updated_at",
]
EVENTS = {
    engine.ASSIGN: LogEvent.ASSIGNED,
    engine.OFFER: LogEvent.OFFER_MADE,
    engine.HOLD: LogEvent.HELD,
    engine.WAIT: LogEvent.WAITING,
    engine.STAY: LogEvent.STAYED,
    engine.NOBODY: LogEvent.FAILED,
}
# Decisions that end a routing pass started by a placement in a bucket; an offer or a
# hold is still in it (a lapse, or the hold's end, goes on with the bucket's lead pools).
PASS_ENDS = frozenset({engine.ASSIGN, engine.WAIT, engine.STAY})


@dataclass
class Apply:
    """One contact's decision, with its locked routing row."""

    routing: ContactRouting
    decision: engine.Decision
    previous_id: int | None = None  # the contact's primary Agent before this decision
    events: list[RoutingLog] = field(default_factory=list)  # logged before the decision
    by_hand: bool = False  # a person assigned it: the lead pool (rule) is kept
    actor: Membership | None = None


def log_entry(
    routing: ContactRouting,
    event: str,
    reason: str,
    *,
    now: datetime,
    source: engine.Source | None = None,
    member_id: int | None = None,
    steps: list | None = None,
) -> RoutingLog:
    """A log row about the contact (unsaved: the writer inserts them together)."""
    return RoutingLog(
        team_id=routing.team_id,
        contact_id=routing.contact_id,
        event=event,
        rule_id=source.id if source is not None and source.kind == engine.RULE else None,
        group_id=source.id if source is not None and source.kind == engine.GROUP else None,
        source_name=source.log_name[:160] if source is not None else "",
        membership_id=member_id,
        reason=reason[:255],
        steps=steps or [],
        created_at=now,
    )


def decisions_apply(*, state: TeamState, items: list[Apply], now: datetime) -> None:
    """Write every decision in `items`, one statement per table. Inside a transaction."""
    if not items:
        return
    assert transaction.get_connection().in_atomic_block, "decisions are written atomically"
    roles, replaced, timeline, logs, rows = [], [], [], [], []
    offers: list[tuple[Offer, tuple[int, ...]]] = []
    assignments: list[signals.Assignment] = []
    failed: list[ContactRouting] = []
    waiting: list[signals.Waiting] = []
    holding = False
    for item in items:
        row, decision = item.routing, item.decision
        logs.extend(item.events)
        rows.append(row)
        row.updated_at = now
        source = decision.source
        event_member = decision.member_id
        if decision.action in PASS_ENDS:
            row.placed_in = None
        if decision.action == engine.ASSIGN:
            _assign(state, item, now, roles, replaced, timeline, assignments)
        elif decision.action == engine.OFFER:
            offer = Offer(
                contact_id=row.contact_id,
                rule_id=source.id if source.kind == engine.RULE else None,
                reassignment_group_id=source.id if source.kind == engine.GROUP else None,
                kind=OfferKind.BLAST if decision.offer_kind == engine.BLAST else OfferKind.NEXT_UP,
                deadline=decision.deadline,
                created_at=now,
            )
            offer.contact = row.contact
            offers.append((offer, decision.recipients))
            if source.kind == engine.RULE:
                row.status = RoutingStatus.OFFERED
                row.rule_id = source.id
            row.tried_rules = sorted(decision.tried)
            row.held_since = row.hold_until = None
            if decision.offer_kind == engine.BLAST:
                event_member = None
        elif decision.action == engine.HOLD:
            row.status = RoutingStatus.HELD
            row.rule_id = source.id
            row.held_since = decision.held_since
            row.hold_until = decision.hold_until
            row.tried_rules = sorted(decision.tried)
            holding = True
        elif decision.action == engine.WAIT:
            _wait(row, decision)
            waiting.append(signals.Waiting(row.contact, source.id, source.name))
        elif decision.action == engine.STAY:
            # Its lead pools could not take it: it is as it was before the placement.
            row.status = RoutingStatus.ASSIGNED
            row.error = ""
            row.attempts = 0
            row.tried_rules, row.lapsed_members = [], []
            row.held_since = row.hold_until = None
        else:
            row.status = RoutingStatus.FAILED
            row.error = decision.reason
            row.attempts += 1
            row.next_attempt_at = now + routing_backoff(row.attempts)
            failed.append(row)
        logs.append(
            log_entry(
                row,
                EVENTS[decision.action],
                decision.reason,
                now=now,
                source=source,
                member_id=event_member,
                steps=steps_data(decision.steps),
            )
        )
    if replaced:
        ContactRole.objects.filter(contact_id__in=replaced, kind=RoleKind.AGENT).delete()
    ContactRole.objects.bulk_create(roles)
    if offers:
        Offer.objects.bulk_create([offer for offer, _ in offers])
        OfferRecipient.objects.bulk_create(
            [
                OfferRecipient(offer=offer, membership_id=member_id)
                for offer, member_ids in offers
                for member_id in member_ids
            ]
        )
    # An upsert of rows that all exist: one statement of plain values (bulk_update would
    # build a CASE per field per row, which costs more than the routing itself).
    ContactRouting.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["contact"], update_fields=ROUTING_FIELDS
    )
    RoutingLog.objects.bulk_create(logs)
    TimelineEvent.objects.bulk_create(timeline)
    if holding:
        TeamRouting.objects.filter(team_id=state.team_id, has_held=False).update(has_held=True)
    if assignments:
        signals.contacts_assigned.send(sender=Apply, assignments=assignments)
    if offers:
        signals.offers_made.send(sender=Apply, offers=[(o, list(ids)) for o, ids in offers])
    if waiting:
        signals.leads_waiting.send(sender=Apply, team_id=state.team_id, waiting=waiting)
    failures_announce(rows=failed, now=now)


def _wait(row: ContactRouting, decision: engine.Decision) -> None:
    """A Manual lead pool keeps it, unassigned, until an admin assigns it (an Agent it
    already had keeps it meanwhile)."""
    row.status = RoutingStatus.WAITING
    row.rule_id = decision.source.id
    row.error = ""
    row.attempts = 0
    row.tried_rules, row.lapsed_members = [], []
    row.held_since = decision.held_since
    row.hold_until = None


def _assign(
    state: TeamState,
    item: Apply,
    now: datetime,
    roles: list,
    replaced: list,
    timeline: list,
    assignments: list,
) -> None:
    row, decision = item.routing, item.decision
    source, member_id = decision.source, decision.member_id
    previous_id = item.previous_id if item.previous_id != member_id else None
    if item.previous_id is not None:
        replaced.append(row.contact_id)
    roles.append(
        ContactRole(
            contact_id=row.contact_id, membership_id=member_id, kind=RoleKind.AGENT, assigned_at=now
        )
    )
    routed_by = None
    if not item.by_hand and source is not None and source.kind == engine.RULE:
        row.rule_id = routed_by = source.id
    elif not item.by_hand and source is None:
        row.rule_id = None  # the owner fallback: no rule took it
    elif item.by_hand and row.status == RoutingStatus.WAITING:
        routed_by = row.rule_id  # assigned from the lead pool it waited in
    reassigned = source is not None and source.kind == engine.GROUP
    row.status = RoutingStatus.ASSIGNED
    row.error = ""
    row.attempts = 0
    row.assigned_at = now
    if item.by_hand:
        row.assigned_by = item.actor
    elif not reassigned:
        row.assigned_by = None  # routing did it (a reassignment keeps who set it going)
    row.tried_rules, row.lapsed_members = [], []
    row.held_since = row.hold_until = None
    row.reassigning_to = None
    row.reassign_started_at = None
    row.reassign_started_by = None
    name = state.name(member_id)
    previous = state.name(previous_id) if previous_id is not None else ""
    timeline.append(
        TimelineEvent(
            contact_id=row.contact_id,
            kind="reassigned" if reassigned else "assigned",
            actor=item.actor if item.by_hand else None,
            message=(
                f"Reassigned from {previous} to {name} — {decision.how}."
                if previous_id is not None
                else f"Assigned to {name} — {decision.how}."
            ),
            data={
                "assignee": member_id,
                "previous": previous_id,
                "rule": source.name if source is not None and source.kind == engine.RULE else "",
                "group": source.name if reassigned else "",
            },
            created_at=now,
        )
    )
    pool = state.rule(row.rule_id)
    assignments.append(
        signals.Assignment(
            contact=row.contact,
            membership_id=member_id,
            member_name=name,
            previous_id=previous_id,
            previous_name=previous,
            assigned_at=now,
            follow_up_hours=pool.follow_up_hours if pool is not None else None,
            rule_id=routed_by,
        )
    )


def routing_backoff(attempts: int) -> timedelta:
    """Before routing a failed contact again: 5 s, doubling, at most 6 min. With the default
    12 attempts that rides out about 35 minutes of trouble."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 360))


def failures_announce(*, rows: list[ContactRouting], now: datetime) -> None:
    """Rows whose last attempt just failed: routing gives up on them, and says so."""
    gave_up = [r for r in rows if r.attempts >= settings.ROUTING_MAX_ATTEMPTS]
    by_team: dict[int, list[signals.Failure]] = {}
    for row in gave_up:
        failure = signals.Failure(row.contact, row.error, row.attempts, now)
        by_team.setdefault(row.team_id, []).append(failure)
    for team_id, failures in by_team.items():
        signals.routing_gave_up.send(sender=Apply, team_id=team_id, failures=failures)
