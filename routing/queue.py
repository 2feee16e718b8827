"""The routing queue: routing rows waiting to be routed, and waking a router for them.

A new contact's routing row is written in the transaction that stores the contact;
after commit the team's router is woken. Waking sets the team's `wake_pending` flag
and queues one route task only when the flag was clear, so a burst of two thousand
leads queues a handful of tasks, each of which routes everything waiting. A task
clears the flag before it claims rows, so a lead committed after that wakes a new
task: no wake-up is lost, whatever the order. A flag left set by a task that never
ran counts as clear after WAKE_STALE, and the sweeper routes anything left waiting.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django_q.tasks import async_task

from contacts.models import Contact, ContactRole, ContactStatus, RoleKind
from routing.models import ContactRouting, RoutingStatus, TeamRouting

WAKE_STALE = timedelta(seconds=30)
WAITING = (RoutingStatus.RECEIVED, RoutingStatus.FAILED)


def contacts_enqueue(*, contacts: list[Contact], now: datetime | None = None) -> None:
    """Queue new contacts for routing (one insert) and wake their teams' routers after commit."""
    now = now or timezone.now()
    ContactRouting.objects.bulk_create(
        [
            ContactRouting(
                contact=c, team_id=c.team_id, queued_at=now, next_attempt_at=now, updated_at=now
            )
            for c in contacts
        ],
        ignore_conflicts=True,
    )
    for team_id in sorted({c.team_id for c in contacts}):
        team_wake(team_id=team_id)


def team_wake(*, team_id: int) -> None:
    """After the current transaction commits, make sure a router looks at the team."""
    transaction.on_commit(partial(team_wake_now, team_id=team_id))


def team_wake_now(*, team_id: int) -> bool:
    """Queue a route task for the team unless one is queued already. True if queued."""
    now = timezone.now()
    flipped = (
        TeamRouting.objects.filter(team_id=team_id)
        .filter(Q(wake_pending=False) | Q(woken_at__lt=now - WAKE_STALE))
        .update(wake_pending=True, woken_at=now)
    )
    if flipped:
        async_task("routing.tasks.route_team", team_id, task_name=f"route-team-{team_id}")
    return bool(flipped)


def wake_clear(*, team_id: int) -> bool:
    """A router starts: a lead committed from now on wakes another. Returns whether the
    team may have held contacts (one statement: the flag and the answer together)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TeamRouting._meta.db_table} SET wake_pending = %s "
            "WHERE team_id = %s RETURNING has_held",
            [False, team_id],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def team_wake_holds(*, team_id: int) -> None:
    """Someone may have become available: after commit, a router looks at the team's
    held contacts (if it may have any)."""
    transaction.on_commit(partial(team_wake_holds_now, team_id=team_id))


def team_wake_holds_now(*, team_id: int) -> bool:
    if not TeamRouting.objects.filter(team_id=team_id, has_held=True).exists():
        return False
    async_task("routing.tasks.route_team", team_id, True, task_name=f"route-holds-{team_id}")
    return True


REQUEUE_FIELDS = [
    "status", "attempts", "error", "queued_at", "next_attempt_at", "updated_at", "started_at",
    "tried_rules", "lapsed_members", "held_since", "hold_until", "placed_in",
]  # fmt: skip


def rows_requeue(
    *, rows: Iterable[ContactRouting], now: datetime, placed_in: int | None = None
) -> None:
    """Put rows back in the queue for a new routing pass (saved by the caller), woken
    after commit. `placed_in`: the pass is for the lead pools of this bucket only;
    otherwise it starts from rule 1."""
    teams = set()
    for row in rows:
        row.status = RoutingStatus.RECEIVED
        row.attempts, row.error = 0, ""
        row.queued_at = row.next_attempt_at = row.updated_at = now
        row.started_at = None
        row.tried_rules, row.lapsed_members = [], []
        row.held_since = row.hold_until = None
        row.placed_in = placed_in
        teams.add(row.team_id)
    for team_id in sorted(teams):
        team_wake(team_id=team_id)


def _with_version(qs):
    """Rows with their team's routing version."""
    version = TeamRouting.objects.filter(team_id=OuterRef("team_id")).values("version")[:1]
    return qs.select_related("contact", "team").annotate(version=Subquery(version))


def claim(
    *,
    team_id: int,
    now: datetime,
    limit: int,
    statuses=WAITING,
    contact_ids: list[int] | None = None,
) -> list[ContactRouting]:
    """Lock up to `limit` routable rows of the team, oldest first, skipping rows another
    router holds (FOR UPDATE SKIP LOCKED: routers never wait on each other here)."""
    qs = ContactRouting.objects.filter(team_id=team_id, status__in=statuses).exclude(
        contact__status=ContactStatus.ARCHIVED
    )
    if RoutingStatus.HELD in statuses:
        order = ("held_since", "queued_at", "contact_id")
    else:
        qs = qs.filter(next_attempt_at__lte=now, attempts__lt=settings.ROUTING_MAX_ATTEMPTS)
        order = ("queued_at", "contact_id")
    if contact_ids is not None:
        qs = qs.filter(contact_id__in=contact_ids)
    return list(
        _with_version(qs.select_for_update(skip_locked=True, of=("self",))).order_by(*order)[:limit]
    )


def routing_lock(*, contact_id: int) -> ContactRouting:
    """Lock one contact's routing row, waiting for whoever holds it (every path that
    changes a contact's routing goes through here, then offers, then rotations)."""
    qs = ContactRouting.objects.filter(contact_id=contact_id)
    row = _with_version(qs.select_for_update(of=("self",))).first()
    if row is not None:
        return row
    contact = Contact.objects.get(pk=contact_id)
    ContactRouting.objects.bulk_create(
        [ContactRouting(contact=contact, team_id=contact.team_id)], ignore_conflicts=True
    )
    return _with_version(qs.select_for_update(of=("self",))).get()


def agents_of(rows: list[ContactRouting]) -> dict[int, int]:
    """The current primary Agent of each contact that has been assigned before (one query,
    none for new contacts)."""
    ids = [r.contact_id for r in rows if r.assigned_at is not None]
    if not ids:
        return {}
    return dict(
        ContactRole.objects.filter(contact_id__in=ids, kind=RoleKind.AGENT).values_list(
            "contact_id", "membership_id"
        )
    )
