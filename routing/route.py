"""Routing contacts in batches: claim, decide in memory, write once.

A router claims up to ROUTING_BATCH_SIZE waiting contacts of one team (FOR UPDATE SKIP
LOCKED, oldest first), reads the turn counts of every rule they could reach, decides
each contact in turn against the same live counts, so the rotation advances exactly
as if they were routed one by one, writes the counts back only if no other router
took a turn meanwhile (else decides again under locks, routing.rotations), and hands
the decisions to the writer: one statement per table for the whole batch. A trickle
of single leads takes the same path with batches of one. Held contacts are looked at
first, oldest first, whenever the team may have some.

A batch that fails is rolled back whole (no turn taken, nothing logged) and its
contacts are routed one by one, so one contact that cannot be routed is marked
failed (and retried with backoff) without holding up the others.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from contacts.models import Contact, ContactStatus
from routing import engine
from routing.models import ContactRouting, LogEvent, RoutingLog, RoutingStatus, TeamRouting
from routing.queue import agents_of, claim, routing_lock, wake_clear
from routing.rotations import (
    rotations_lock,
    rotations_read,
    rotations_save,
    rotations_sources,
    rotations_used,
)
from routing.state import (
    TeamState,
    contact_buckets,
    contact_facts,
    contact_tags,
    live_load,
    needs_load,
    team_state,
)
from routing.writer import Apply, decisions_apply, failures_announce, routing_backoff

logger = logging.getLogger(__name__)

HELD_BATCH = 500


@dataclass(frozen=True)
class Resume:
    """Where a contact continues: the rule of its lapsed offer or of its hold."""

    rule_id: int | None
    reason: str
    held_since: datetime | None = None


def _resume(row: ContactRouting) -> Resume | None:
    if row.status != RoutingStatus.HELD:
        return None
    return Resume(
        row.rule_id, "held in this rule's queue until someone can take it", row.held_since
    )


def rows_decide(
    *,
    state: TeamState,
    rows: list[ContactRouting],
    now: datetime,
    resumes: dict[int, Resume] | None = None,
    lock: bool = False,
) -> tuple[list[Apply], engine.Live, dict]:
    """Decide every row in order against the turn counts of every rotation they could
    reach, as last seen (`lock`: locked and read afresh).

    `resumes`: contact id → the rule it continues in (default: a held row's rule).
    """
    resumes = resumes or {}
    ids = [r.contact_id for r in rows]
    tags = contact_tags(ids) if state.uses_tags else {}
    buckets = contact_buckets(ids) if state.uses_buckets else {}
    facts = {
        r.contact_id: contact_facts(
            r.contact, tags.get(r.contact_id, ()), buckets.get(r.contact_id, ())
        )
        for r in rows
    }
    plans = {r.contact_id: resumes.get(r.contact_id) or _resume(r) for r in rows}
    reach = []
    for row in rows:
        plan = plans[row.contact_id]
        reach += engine.reachable(
            state.rules,
            facts[row.contact_id],
            now,
            tried=set(row.tried_rules),
            resume=plan.rule_id if plan else None,
        )
    live = engine.Live()
    read = rotations_lock if lock else rotations_read
    seen = read(live, rotations_sources(reach))
    live_load(live, needs_load(state, reach))
    previous = agents_of(rows)
    items = []
    for row in rows:
        plan = plans[row.contact_id]
        row.started_at = row.started_at or now  # this routing pass began now
        decision = engine.route(
            state.rules,
            facts[row.contact_id],
            now,
            live,
            tried=set(row.tried_rules),
            lapsed=set(row.lapsed_members),
            resume=plan.rule_id if plan else None,
            resume_reason=plan.reason if plan else "",
            held_since=plan.held_since if plan else None,
            placed_in=row.placed_in,
            current=previous.get(row.contact_id),
        )
        engine.advance(live, decision, now)
        unchanged_hold = (
            row.status == RoutingStatus.HELD
            and decision.action == engine.HOLD
            and decision.source.id == row.rule_id
        )
        if unchanged_hold:
            continue  # still waiting where it was: nothing new to write or log
        items.append(Apply(row, decision, previous_id=previous.get(row.contact_id)))
    return items, live, seen


def rows_route(
    *,
    rows: list[ContactRouting],
    now: datetime,
    resumes: dict[int, Resume] | None = None,
    events: dict[int, list[RoutingLog]] | None = None,
) -> list[Apply]:
    """Decide and write locked rows of one team. Inside the locking transaction.

    `events`: contact id → log rows of what happened just before (an offer expired).
    """
    team = rows[0].team
    state = team_state(team=team, version=rows[0].version)
    items, live, seen = rows_decide(state=state, rows=rows, now=now, resumes=resumes)
    decisions = [i.decision for i in items]
    # Optimistic when one rotation takes turns (a single conditional UPDATE either writes
    # or not); decided again under locks when another router got there first, or when
    # several rotations would have to be written together.
    if len(rotations_used(decisions)) > 1 or not rotations_save(seen, live, decisions):
        items, live, seen = rows_decide(state=state, rows=rows, now=now, resumes=resumes, lock=True)
        decisions = [i.decision for i in items]
        if not rotations_save(seen, live, decisions):
            raise RuntimeError("a locked rotation changed under its lock")
    for item in items:
        item.events = (events or {}).get(item.routing.contact_id, [])
    decisions_apply(state=state, items=items, now=now)
    return items


def team_route(
    *,
    team_id: int,
    now: datetime | None = None,
    limit: int | None = None,
    held: bool = False,
    contact_ids: list[int] | None = None,
) -> int:
    """Route one batch of the team's waiting contacts (with `held`: its held ones, oldest
    first). Returns how many rows it claimed. A failed batch is retried contact by contact.
    """
    now = now or timezone.now()
    limit = limit or (HELD_BATCH if held else settings.ROUTING_BATCH_SIZE)
    statuses = (RoutingStatus.HELD,) if held else (RoutingStatus.RECEIVED, RoutingStatus.FAILED)
    try:
        with transaction.atomic():
            rows = claim(
                team_id=team_id, now=now, limit=limit, statuses=statuses, contact_ids=contact_ids
            )
            if rows:
                rows_route(rows=rows, now=now)
            if held and len(rows) < limit:
                _holds_settle(team_id)
            return len(rows)
    except Exception:
        if contact_ids is not None and len(contact_ids) == 1:
            raise
        logger.exception(
            "Routing a batch of team %s failed; routing its contacts one by one", team_id
        )
    ids = [
        r.contact_id
        for r in ContactRouting.objects.filter(team_id=team_id, status__in=statuses)
        .filter(**({"contact_id__in": contact_ids} if contact_ids is not None else {}))
        .order_by("queued_at", "contact_id")[:limit]
    ]
    for contact_id in ids:
        contact_route_one(contact_id=contact_id, team_id=team_id, now=now, statuses=statuses)
    return len(ids)


def _holds_settle(team_id: int) -> None:
    """No held contact left to look at: routers stop looking until one is held again."""
    if not ContactRouting.objects.filter(team_id=team_id, status=RoutingStatus.HELD).exists():
        TeamRouting.objects.filter(team_id=team_id).update(has_held=False)


def contact_route_one(*, contact_id: int, team_id: int, now: datetime, statuses=None) -> str:
    """Route one contact in its own transaction; a failure is recorded on the contact."""
    statuses = statuses or (RoutingStatus.RECEIVED, RoutingStatus.FAILED)
    try:
        with transaction.atomic():
            rows = claim(
                team_id=team_id, now=now, limit=1, statuses=statuses, contact_ids=[contact_id]
            )
            if not rows:
                return ""
            rows_route(rows=rows, now=now)
            return rows[0].status
    except Exception as exc:
        logger.exception("Routing contact %s failed", contact_id)
        routing_failed(contact_id=contact_id, error=exc, now=now)
        return RoutingStatus.FAILED


def routing_failed(*, contact_id: int, error: Exception, now: datetime) -> None:
    """Record the failure on the contact: failed, with the error, retried after a backoff;
    after the last attempt, owners and admins are told."""
    text = f"{type(error).__name__}: {error}"
    with transaction.atomic():
        row = (
            ContactRouting.objects.select_for_update(of=("self",))
            .select_related("contact")
            .filter(contact_id=contact_id)
            .exclude(status=RoutingStatus.ASSIGNED)
            .first()
        )
        if row is None:
            return
        row.status = RoutingStatus.FAILED
        row.error = text[:2000]
        row.attempts += 1
        row.next_attempt_at = now + routing_backoff(row.attempts)
        row.updated_at = now
        row.save(update_fields=["status", "error", "attempts", "next_attempt_at", "updated_at"])
        RoutingLog.objects.create(
            team_id=row.team_id,
            contact_id=contact_id,
            event=LogEvent.FAILED,
            reason=text[:255],
            created_at=now,
        )
        failures_announce(rows=[row], now=now)


def team_drain(*, team_id: int, held: bool = False, budget_seconds: float | None = None) -> int:
    """The route task: held contacts first when the team may have some (so whoever became
    available takes the one that waited longest), then waiting contacts, batch after
    batch until a batch comes back short or the time budget is spent (then a successor
    is queued). `held`: it was woken for the holds alone (someone became available)."""
    budget = settings.ROUTING_TASK_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    started = time.monotonic()
    may_hold = wake_clear(team_id=team_id)
    routed = team_route(team_id=team_id, held=True) if (held or may_hold) else 0
    while True:
        claimed = team_route(team_id=team_id)
        routed += claimed
        if claimed < settings.ROUTING_BATCH_SIZE:
            return routed
        if time.monotonic() - started > budget:
            async_task("routing.tasks.route_team", team_id, task_name=f"route-team-{team_id}")
            return routed


def contact_route(*, contact_id: int, now: datetime | None = None) -> str:
    """Route one contact now (tests, staff, sweeps); returns its routing status after.

    Idempotent: a contact already offered, held or assigned is left as it is.
    """
    now = now or timezone.now()
    with transaction.atomic():
        try:
            row = routing_lock(contact_id=contact_id)
        except Contact.DoesNotExist:
            return "gone"  # deleted meanwhile: nothing to route
    if row.status not in (RoutingStatus.RECEIVED, RoutingStatus.FAILED):
        return row.status
    if row.contact.status == ContactStatus.ARCHIVED:
        return "archived"
    status = contact_route_one(contact_id=contact_id, team_id=row.team_id, now=now)
    return status or ContactRouting.objects.get(pk=contact_id).status
