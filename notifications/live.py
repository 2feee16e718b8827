"""Live updates: telling a signed-in member's open pages, within a second, that something
of theirs changed (a new notification, an offer claimed or lapsed), as server-sent events.

A stream says only "something changed for you", with the member's own counts (unread
notifications, open offers); the page then re-fetches what it shows through the views it
already has. Where the change comes from depends on the database:

- PostgreSQL: triggers (migration 0004_live_notify) NOTIFY the channel `CHANNEL` with a
  membership id when an in-app outbox row is written or read, when an offer stops being
  open, and when an offer recipient row goes. One LISTEN connection per process (the
  `Listener`, a thread) wakes the streams of that member; the routing path itself runs no
  extra statement. A stream holds no database connection while it waits.
- SQLite (the embedded default): each stream runs `snapshot` (one indexed query) every
  `POLL_SECONDS`.

Either way a stream compares snapshots, so a wake-up that changed nothing sends nothing.
A stream ends after about `STREAM_SECONDS` (the browser reconnects by itself) and sends a
keep-alive comment after `KEEPALIVE_SECONDS` of silence. Each event's id is the server's
clock when it was read: on reconnect the browser sends it back (Last-Event-ID) and the
first event says whether anything changed meanwhile.

The same stream runs under ASGI (uvicorn: `frames_async`, on the event loop, with the
queries in a worker thread) and under WSGI (`manage.py runserver`, the test live server:
`frames_sync`, in the request's thread). Django consumes an asynchronous iterator under
WSGI by collecting all of it first, which would hold every event back until the stream
ends, hence the two drivers over one `Stream`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asgiref.sync import sync_to_async
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Count, Exists, IntegerField, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifications.models import Channel, OutboxMessage
from routing.models import OfferRecipient, OfferStatus
from teams.models import Membership

logger = logging.getLogger(__name__)

CHANNEL = "switchboard_live"
STREAM_SECONDS = 300.0
KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 0.5
RETRY_MS = 1000
# How long a stream waits for the listener's first LISTEN before it polls instead.
READY_SECONDS = 3.0
# The LISTEN connection is closed once no stream has been left this long.
LINGER_SECONDS = 2.0
# Rows are stamped inside their transaction and seen at its commit: a catch-up after a
# reconnect looks this far behind the last event it had.
CATCH_UP_MARGIN = timedelta(seconds=5)
# A Last-Event-ID or ?since= older than this is treated as this old.
CATCH_UP_LIMIT = timedelta(days=1)


# --- what a member has ------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    latest: int | None  # the newest in-app notification
    unread: int
    offers: int  # open offers, claimable now
    newest_offer: int | None
    missed: bool = False  # anything new or closed since the reconnect's `since`

    @property
    def key(self) -> tuple:
        return (self.latest, self.unread, self.offers, self.newest_offer)

    def data(self, **extra) -> dict:
        return {"unread": self.unread, "offers": self.offers, **extra}


def _count(queryset) -> Coalesce:
    grouped = queryset.order_by().values("membership_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(grouped, output_field=IntegerField()), Value(0))


def snapshot(
    *, membership_id: int, since: datetime | None = None, now: datetime | None = None
) -> Snapshot | None:
    """The member's notification and offer state, in one query on their indexes; None when
    the membership is gone or inactive."""
    now = now or timezone.now()
    inbox = OutboxMessage.objects.filter(membership_id=membership_id, channel=Channel.IN_APP)
    offered = OfferRecipient.objects.filter(
        membership_id=membership_id, offer__status=OfferStatus.OPEN, offer__deadline__gt=now
    )
    # Named apart from Membership's own fields and relations (it has `offers`).
    fields = {
        "n_latest": Subquery(inbox.order_by("-created_at", "-id").values("pk")[:1]),
        "n_unread": _count(inbox.filter(read_at__isnull=True)),
        "n_offers": _count(offered),
        "n_newest_offer": Subquery(offered.order_by("-offer_id").values("offer_id")[:1]),
    }
    if since is not None:
        fields["n_new_rows"] = Exists(inbox.filter(created_at__gt=since))
        fields["n_closed_offers"] = Exists(
            OfferRecipient.objects.filter(membership_id=membership_id, offer__resolved_at__gt=since)
        )
    member = Membership.objects.filter(pk=membership_id, is_active=True).order_by("pk")
    row = member.values(**fields).first()
    if row is None:
        return None
    return Snapshot(
        latest=row["n_latest"],
        unread=row["n_unread"],
        offers=row["n_offers"],
        newest_offer=row["n_newest_offer"],
        missed=bool(row.get("n_new_rows") or row.get("n_closed_offers")),
    )


def since_from(
    *, last_event_id: str | None, query: str | None, now: datetime | None = None
) -> datetime | None:
    """Where a (re)connecting stream catches up from: the last event the browser had, or
    the page's render time (seconds since the epoch). Garbage reads as "nothing to catch
    up"."""
    now = now or timezone.now()
    for raw in (last_event_id, query):
        try:
            seconds = float(raw or "")
        except ValueError:
            continue
        if not math.isfinite(seconds):
            continue
        moment = datetime.fromtimestamp(max(seconds, 0), tz=UTC)
        return max(min(moment, now), now - CATCH_UP_LIMIT)
    return None


def listening() -> bool:
    return connections[DEFAULT_DB_ALIAS].vendor == "postgresql"


# --- waking streams -----------------------------------------------------------------------


class Waiter:
    """One stream's doorbell: rung from the listener's thread, waited on by the stream
    (a thread under WSGI, a coroutine under ASGI)."""

    def __init__(self, membership_id: int, *, loop: asyncio.AbstractEventLoop | None = None):
        self.membership_id = membership_id
        self.closed = False
        self._loop = loop
        self._flag: asyncio.Event | threading.Event = (
            asyncio.Event() if loop is not None else threading.Event()
        )

    def wake(self) -> None:
        if self._loop is None:
            self._flag.set()
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: its stream is gone too
            self._loop.call_soon_threadsafe(self._flag.set)

    def close(self) -> None:
        self.closed = True
        self.wake()

    # Clearing before the caller reads the database: a NOTIFY arriving afterwards rings
    # again, and one that came before is already committed and visible to that read.
    def wait(self, timeout: float) -> bool:
        rang = self._flag.wait(max(timeout, 0))
        self._flag.clear()
        return rang

    async def wait_async(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._flag.wait(), max(timeout, 0))
        except TimeoutError:
            return False
        self._flag.clear()
        return True


def _listen_params() -> dict:
    params = connections[DEFAULT_DB_ALIAS].get_connection_params()  # the pool is left out
    for key in ("cursor_factory", "context"):
        params.pop(key, None)
    return params


class _Run:
    """One life of the listener thread."""

    def __init__(self):
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.idle_since: float | None = None
        self.thread: threading.Thread | None = None


class Listener:
    """The process's streams and, on PostgreSQL, its one LISTEN connection.

    The thread starts with the first stream that listens and ends (closing its
    connection) once no stream has been left for `LINGER_SECONDS`. Whenever it
    (re)connects it wakes every stream, which reads again and so catches up on whatever
    was said while nobody listened; while it is down the streams poll.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._waiters: dict[int, set[Waiter]] = {}
        self._run: _Run | None = None
        self._pid = os.getpid()

    @property
    def ready(self) -> bool:
        run = self._run
        return run is not None and run.ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        run = self._run
        return run is not None and run.ready.wait(timeout)

    def add(self, waiter: Waiter, *, listen: bool) -> None:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's thread is not ours
                self._waiters, self._run, self._pid = {}, None, os.getpid()
            self._waiters.setdefault(waiter.membership_id, set()).add(waiter)
            if listen and (self._run is None or self._run.stop.is_set()):
                run = self._run = _Run()
                run.thread = threading.Thread(
                    target=self._listen, args=(run,), name="live-listener", daemon=True
                )
                run.thread.start()

    def remove(self, waiter: Waiter) -> None:
        with self._lock:
            waiters = self._waiters.get(waiter.membership_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[waiter.membership_id]

    def shutdown(self) -> None:
        """End every stream of this process and close the LISTEN connection (tests do,
        before the test database is dropped)."""
        with self._lock:
            waiters = [w for ws in self._waiters.values() for w in ws]
            run, self._run = self._run, None
            if run is not None:
                run.stop.set()
        for waiter in waiters:
            waiter.close()
        if run is not None and run.thread is not None:
            run.thread.join(timeout=5)

    def _wake(self, membership_ids: set[int] | None = None) -> None:
        with self._lock:
            if membership_ids is None:
                waiters = [w for ws in self._waiters.values() for w in ws]
            else:
                waiters = [w for m in membership_ids for w in self._waiters.get(m, ())]
        for waiter in waiters:
            waiter.wake()

    def _idle(self, run: _Run) -> bool:
        """True (and the run is over) once no stream has been left for LINGER_SECONDS."""
        now = time.monotonic()
        with self._lock:
            if self._waiters:
                run.idle_since = None
            elif run.idle_since is None:
                run.idle_since = now
            elif now - run.idle_since >= LINGER_SECONDS:
                run.stop.set()
            return run.stop.is_set()

    def _listen(self, run: _Run) -> None:
        import psycopg

        backoff = 0.5
        while not run.stop.is_set():
            try:
                with psycopg.connect(**_listen_params(), autocommit=True) as conn:
                    conn.execute(f'LISTEN "{CHANNEL}"')
                    run.ready.set()
                    backoff = 0.5
                    self._wake()
                    checked = time.monotonic()
                    while not self._idle(run):
                        # Each as it comes (the generator itself only ends on the timeout).
                        for note in conn.notifies(timeout=0.5):
                            if note.payload.isdigit():
                                self._wake({int(note.payload)})
                        if time.monotonic() - checked > 30:  # notice a silently dead socket
                            conn.execute("SELECT 1")
                            checked = time.monotonic()
            except Exception:
                logger.warning("live: the LISTEN connection failed; streams poll", exc_info=True)
            finally:
                if run.ready.is_set():
                    run.ready.clear()
                    self._wake()  # they poll until it is back
            run.stop.wait(backoff)
            backoff = min(backoff * 2, 30)


LISTENER = Listener()


def shutdown() -> None:
    LISTENER.shutdown()


# --- one stream ---------------------------------------------------------------------------


def _frame(event: str, snap: Snapshot, **extra) -> str:
    stamp = f"{time.time():.6f}"
    return f"id: {stamp}\nevent: {event}\ndata: {json.dumps(snap.data(**extra))}\n\n"


KEEPALIVE = ": keep-alive\n\n"


class Stream:
    """What one member's stream says and when, whoever drives it (`frames_sync`,
    `frames_async`). `open` and `step` may read the database; call them in a thread
    that may."""

    def __init__(self, *, membership_id: int, since: datetime | None, listen: bool):
        self.membership_id = membership_id
        self.since = since
        self.listen = listen
        self.last: Snapshot | None = None
        now = time.monotonic()
        # Spread out the reconnects of pages opened together.
        self.ends_at = now + STREAM_SECONDS * random.uniform(0.9, 1.0)
        self.quiet_since = now
        self.over = False

    @property
    def live(self) -> bool:
        return self.listen and LISTENER.ready

    def _read(self, since: datetime | None = None) -> Snapshot | None:
        try:
            return snapshot(membership_id=self.membership_id, since=since)
        finally:
            if self.listen:
                _release_connection()

    def open(self) -> str | None:
        since = self.since - CATCH_UP_MARGIN if self.since is not None else None
        snap = self._read(since)
        if snap is None:
            self.over = True
            return None
        self.last = snap
        self.quiet_since = time.monotonic()
        return f"retry: {RETRY_MS}\n" + _frame("hello", snap, changed=snap.missed)

    def timeout(self) -> float | None:
        """How long to wait for the doorbell; None when the stream is over."""
        now = time.monotonic()
        if self.over or now >= self.ends_at:
            return None
        if not self.live:
            return min(POLL_SECONDS, self.ends_at - now)
        return min(self.ends_at, self.quiet_since + KEEPALIVE_SECONDS) - now

    def needs_read(self, rang: bool) -> bool:
        return rang or not self.live

    def step(self, rang: bool) -> str | None:
        """After a wait: an event if something changed, else a keep-alive when it is due."""
        if self.needs_read(rang):
            snap = self._read()
            if snap is None:
                self.over = True
                return None
            if snap.key != self.last.key:
                self.last = snap
                self.quiet_since = time.monotonic()
                return _frame("changed", snap)
        if time.monotonic() - self.quiet_since >= KEEPALIVE_SECONDS:
            self.quiet_since = time.monotonic()
            return KEEPALIVE
        return None


def _release_connection() -> None:
    """A listening stream may wait minutes: it gives its connection back (to the pool, or
    closes it) after each read, unless it is inside a transaction (tests)."""
    connection = connections[DEFAULT_DB_ALIAS]
    if not connection.in_atomic_block:
        connection.close()


def frames_sync(stream: Stream) -> Iterator[str]:
    """The stream under WSGI, in the request's thread."""
    waiter = Waiter(stream.membership_id)
    LISTENER.add(waiter, listen=stream.listen)
    try:
        if stream.listen:
            LISTENER.wait_ready(READY_SECONDS)
        first = stream.open()
        if first is None:
            return
        yield first
        while (timeout := stream.timeout()) is not None:
            rang = waiter.wait(timeout)
            if waiter.closed:
                return
            frame = stream.step(rang)
            if frame:
                yield frame
    finally:
        LISTENER.remove(waiter)


async def frames_async(stream: Stream) -> AsyncIterator[str]:
    """The stream under ASGI, on the event loop; the reads run in the request's thread."""
    waiter = Waiter(stream.membership_id, loop=asyncio.get_running_loop())
    LISTENER.add(waiter, listen=stream.listen)
    try:
        if stream.listen:
            await sync_to_async(LISTENER.wait_ready, thread_sensitive=False)(READY_SECONDS)
        first = await sync_to_async(stream.open)()
        if first is None:
            return
        yield first
        while (timeout := stream.timeout()) is not None:
            rang = await waiter.wait_async(timeout)
            if waiter.closed:
                return
            if stream.needs_read(rang):
                frame = await sync_to_async(stream.step)(rang)
            else:
                frame = stream.step(rang)
            if frame:
                yield frame
    finally:
        LISTENER.remove(waiter)
