"""Intake and speed-to-lead benchmark (`make bench`): the JSON API under gunicorn on
PostgreSQL, with the production processes (gunicorn -w 2, the routing and delivery
workers, the routing sweeper), on a throwaway database (switchboard_bench_intake).

It prints, each from the client's clock on this host:
- a BENCH_INTAKE_REQUESTS (400) lead burst from BENCH_INTAKE_THREADS threads: requests/s,
  p50/p99 latency, and intake → the agent's in-app notification row and → assigned,
  p50/p99 (target: notification p99 < 1 s on the ORM broker, < 0.5 s on Redis);
  and one lead every 0.25 s (BENCH_INTAKE_TRICKLE) for the everyday latency;
- the same burst with the SMTP server hanging (a local socket that accepts and never
  answers): routing p99 beside the one above, then, once a working SMTP server is back
  on that port, every welcome email delivered exactly once;
- BENCH_DUP_LEADS (2,000) leads from 16 concurrent clients, each posted twice (a client
  retry with the same Idempotency-Key): lost, duplicated, store → assigned p99 (< 5 s);
- offer expiry lateness over BENCH_OFFERS (120) Next Up offers, p99 (≤ 2 s);
- the 400-lead burst again with REDIS_URL set (django-q2 broker and cache on Redis).

Everything it started is stopped and the database dropped, whatever happens.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Processes,
    bench_env,
    database_urls,
    django_setup,
    drop_database,
    free_port,
    fresh_database,
    migrate,
    percentile,
)

BENCH_DB = "switchboard_bench_intake"
REQUESTS = int(os.environ.get("BENCH_INTAKE_REQUESTS", "400"))
THREADS = int(os.environ.get("BENCH_INTAKE_THREADS", "4"))
TRICKLE = int(os.environ.get("BENCH_INTAKE_TRICKLE", "20"))
# Sending stops after half of this; waiting for notifications after the rest.
MAX_SECONDS = float(os.environ.get("BENCH_INTAKE_MAX_SECONDS", "120"))
DUP_LEADS = int(os.environ.get("BENCH_DUP_LEADS", "2000"))
DUP_CLIENTS = 16
OFFERS = int(os.environ.get("BENCH_OFFERS", "120"))
REDIS_BENCH_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def wait_until_serving(port: int, procs: Processes) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/openapi.json")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"gunicorn did not start:\n{procs.tail('gunicorn')}")


def seed(env: dict) -> str:
    """A team with 8 agents behind one Round Robin rule; returns an API token."""
    django_setup(env)
    from bench.builders import bench_team
    from teams.tokens import api_token_create

    team, _ = bench_team("bench-realty")
    _, token = api_token_create(actor=None, team=team, name="bench")
    return token


def fire(
    port: int,
    token: str,
    count: int,
    offset: int,
    deadline: float = float("inf"),
    *,
    twice: bool = False,
) -> list[tuple[int, float, float, int]]:
    """POST up to `count` new leads over one keep-alive connection, stopping at the deadline:
    (status, sent, latency, contact id) each. `twice`: every lead is sent again at once
    with the same Idempotency-Key, as a client that timed out would."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    results = []
    for i in range(offset, offset + count):
        if time.perf_counter() > deadline:
            break
        body = json.dumps(
            {
                "first_name": "Bench",
                "last_name": f"Lead {i}",
                "email": f"lead{i}@bench.example",
                "source": "Zillow",
                "city": "Austin",
            }
        )
        for _ in range(2 if twice else 1):
            sent = time.time()
            started = time.perf_counter()
            conn.request(
                "POST",
                "/api/v1/contacts",
                body=body,
                headers={**headers, "Idempotency-Key": f"lead-{i}"} if twice else headers,
            )
            response = conn.getresponse()
            payload = response.read()
            latency = time.perf_counter() - started
            contact_id = json.loads(payload).get("id", 0) if response.status in (200, 201) else 0
            results.append((response.status, sent, latency, contact_id))
    conn.close()
    return results


def run_load(
    port: int,
    token: str,
    *,
    requests: int = REQUESTS,
    threads: int = THREADS,
    first: int = 1000,
    twice: bool = False,
    seconds: float = MAX_SECONDS / 2,
) -> tuple[list, float]:
    per_thread = [
        requests // threads + (1 if i < requests % threads else 0) for i in range(threads)
    ]
    offsets = [sum(per_thread[:i]) for i in range(threads)]
    results: list = [None] * threads

    deadline = time.perf_counter() + seconds

    def target(i):
        results[i] = fire(port, token, per_thread[i], first + offsets[i], deadline, twice=twice)

    clients = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(threads)]
    started = time.perf_counter()
    for t in clients:
        t.start()
    for t in clients:
        t.join(timeout=seconds * 2)
    elapsed = time.perf_counter() - started
    return [row for chunk in results if chunk for row in chunk], elapsed


def wait_for_notifications(sent_at: dict[int, float]) -> dict[int, float]:
    """When each contact's agent notification row was written: its created_at, stamped by
    routing in the transaction that commits it (same host, same clock as the client)."""
    from contacts.models import Contact
    from notifications.models import Channel, Kind, OutboxMessage

    written: dict[int, float] = {}
    deadline = time.monotonic() + MAX_SECONDS / 2
    while len(written) < len(sent_at) and time.monotonic() < deadline:
        rows = OutboxMessage.objects.filter(
            contact_id__in=set(sent_at) - set(written), channel=Channel.IN_APP, kind=Kind.ASSIGNED
        ).values_list("contact_id", "created_at")
        written.update((contact_id, at.timestamp()) for contact_id, at in rows)
        time.sleep(0.05)
    pending = set(sent_at) - set(written)
    if pending:
        stuck = Contact.objects.filter(pk__in=pending).values_list("routing__status", flat=True)
        print(f"  {len(pending)} contacts without a notification row: {sorted(set(stuck))}")
    return written


def assigned_delays(sent_at: dict[int, float]) -> list[float]:
    """Intake (the request leaving the client) → the contact's assignment, in ms."""
    from routing.models import ContactRouting

    rows = ContactRouting.objects.filter(
        pk__in=list(sent_at), assigned_at__isnull=False
    ).values_list("pk", "assigned_at")
    return [(at.timestamp() - sent_at[pk]) * 1000 for pk, at in rows]


def wait_for_empty_queue() -> None:
    """The burst leaves deliveries (email, text) queued behind the routing tasks."""
    from django_q.models import OrmQ

    deadline = time.monotonic() + MAX_SECONDS / 2
    while OrmQ.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def report_notifications(label: str, sent_at: dict[int, float], procs: Processes) -> float:
    """Print the delays; returns the notification p99 in ms."""
    seen = wait_for_notifications(sent_at)
    delays = [(seen[c] - sent_at[c]) * 1000 for c in seen]
    if not delays:
        sys.exit(f"no notification row appeared:\n{procs.tail('routing')}")
    assigned = assigned_delays(sent_at)
    print(f"  intake → agent's in-app notification, {label}:")
    print(
        f"    p50 {percentile(delays, 50):7.1f} ms   p99 {percentile(delays, 99):7.1f} ms"
        f"   max {max(delays):7.1f} ms"
    )
    print(f"  intake → assigned, {label}:")
    print(f"    p50 {percentile(assigned, 50):7.1f} ms   p99 {percentile(assigned, 99):7.1f} ms")
    return percentile(delays, 99)


def burst(port: int, token: str, procs: Processes, label: str, first: int) -> dict[int, float]:
    """The 400-lead burst; prints its figures and returns contact id → sent time."""
    rows, elapsed = run_load(port, token, first=first)
    ok = [r for r in rows if r[0] == 201]
    latencies = [r[2] * 1000 for r in ok]
    print(f"{label}: {len(rows)} POST /api/v1/contacts from {THREADS} threads, gunicorn -w 2")
    if len(ok) != len(rows):
        print(f"  {len(rows) - len(ok)} answers were not 201: {sorted({r[0] for r in rows})}")
    if not ok:
        sys.exit(f"no lead was accepted:\n{procs.tail('gunicorn')}")
    print(
        f"  requests/s {len(rows) / elapsed:7.1f}   latency p50 "
        f"{percentile(latencies, 50):6.1f} ms   p99 {percentile(latencies, 99):6.1f} ms"
    )
    sent_at = {r[3]: r[1] for r in ok}
    report_notifications("under the burst (includes the queue backlog)", sent_at, procs)
    return sent_at


def hanging_smtp(port: int, token: str, procs: Processes) -> None:
    """The burst while the mail server hangs, then every email once the server is back."""
    from bench.smtp import HangingServer, SinkServer
    from notifications.models import Kind, OutboxMessage, Status

    smtp_port = free_port()
    hanging = HangingServer(smtp_port)
    mail = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_TIMEOUT": "2",
        "NOTIFICATION_RETRY_BASE_SECONDS": "2",
    }
    procs.stop("delivery")
    procs.start_delivery(**mail)
    sent_at = burst(port, token, procs, "burst with the SMTP server hanging", first=500_000)
    hanging.close()
    sink = SinkServer(smtp_port)
    started = time.monotonic()
    welcome = OutboxMessage.objects.filter(contact_id__in=list(sent_at), kind=Kind.WELCOME_EMAIL)
    deadline = started + 240
    while welcome.exclude(status=Status.SENT).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    sent = welcome.filter(status=Status.SENT).count()
    twice = sum(1 for n in sink.received.values() if n > 1)
    print(
        f"  mail server back: {sent} of {len(sent_at)} welcome emails delivered "
        f"{time.monotonic() - started:.0f} s later, {twice} delivered twice"
    )
    sink.close()
    procs.stop("delivery")
    procs.start_delivery()


def duplicates(port: int, token: str, procs: Processes) -> None:
    """DUP_LEADS leads from 16 clients, each sent twice with the same Idempotency-Key."""
    from django.db.models import Count

    from contacts.models import Contact
    from routing.models import ContactRouting, RoutingStatus

    first = 1_000_000
    rows, elapsed = run_load(
        port, token, requests=DUP_LEADS, threads=DUP_CLIENTS, first=first, twice=True, seconds=600
    )
    emails = [f"lead{i}@bench.example" for i in range(first, first + DUP_LEADS)]
    contacts = Contact.objects.filter(email__in=emails)
    answered = {  # leads the API accepted (201, or 200 for the replayed retry)
        contact_id for status, _, _, contact_id in rows if status in (200, 201) and contact_id
    }
    deadline = time.monotonic() + 120
    routing = ContactRouting.objects.filter(contact__in=contacts)
    while (
        routing.filter(status=RoutingStatus.ASSIGNED).count() < DUP_LEADS
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    per_email = contacts.values("email").annotate(n=Count("pk"))
    doubled = sum(1 for row in per_email if row["n"] > 1)
    lost = len(answered - set(contacts.values_list("pk", flat=True)))
    store_to_assigned = [
        (at.timestamp() - contact.created_at.timestamp()) * 1000
        for contact, at in (
            (r.contact, r.assigned_at) for r in routing.select_related("contact") if r.assigned_at
        )
    ]
    print(
        f"{DUP_LEADS} leads from {DUP_CLIENTS} clients, each sent twice "
        f"({len(rows)} requests, {len(rows) / elapsed:.0f}/s): {len(answered)} accepted, "
        f"{lost} lost, {doubled} duplicated, "
        f"{routing.filter(status=RoutingStatus.ASSIGNED).count()} assigned"
    )
    print(
        f"  store → assigned: p50 {percentile(store_to_assigned, 50):7.1f} ms   "
        f"p99 {percentile(store_to_assigned, 99):7.1f} ms   (target p99 < 5,000 ms)"
    )


def expiry(port: int, procs: Processes) -> None:
    """OFFERS Next Up offers whose deadlines come due over a few seconds: how late each
    one was expired (by the routing sweeper's deadline loop)."""
    from datetime import timedelta

    from django.utils import timezone

    from bench.builders import bench_team
    from contacts.services import contact_create
    from routing.models import Offer, OfferStatus
    from routing.rules import rule_update

    team, _ = bench_team("bench-expiry", n_agents=3)
    zillow = team.routing_rules.get(name="Zillow")
    rule_update(actor=None, rule=zillow, method="next_up", claim_window_minutes=30)
    for i in range(OFFERS):
        contact_create(team=team, first_name=f"Offer {i}", source="Zillow")
    offers = Offer.objects.filter(contact__team=team, status=OfferStatus.OPEN)
    deadline = time.monotonic() + 60
    while offers.count() < OFFERS and time.monotonic() < deadline:
        time.sleep(0.2)
    ids = list(offers.values_list("pk", flat=True))
    soon = timezone.now() + timedelta(seconds=3)
    for i, offer_id in enumerate(ids):  # due one after another over the next 9 seconds
        Offer.objects.filter(pk=offer_id).update(deadline=soon + timedelta(milliseconds=50 * i))
    lapsed = Offer.objects.filter(pk__in=ids)
    deadline = time.monotonic() + 60
    while lapsed.filter(status=OfferStatus.OPEN).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    late = [(o.resolved_at - o.deadline).total_seconds() for o in lapsed if o.resolved_at]
    print(
        f"offer expiry lateness over {len(late)} offers: p50 {percentile(late, 50):.2f} s, "
        f"p99 {percentile(late, 99):.2f} s, max {max(late):.2f} s   (target p99 <= 2 s)"
    )


def main() -> None:
    maintenance_url, bench_url = database_urls(BENCH_DB)
    fresh_database(maintenance_url, BENCH_DB)
    # One client address and one token send everything: no limits while measuring.
    env = bench_env(bench_url, INTAKE_RATE_LIMIT_PER_IP="0", INTAKE_RATE_LIMIT_PER_TOKEN="0")
    log_dir = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    procs = Processes(env, log_dir)
    try:
        migrate(env)
        token = seed(env)
        port = free_port()
        procs.start_stack(port)
        wait_until_serving(port, procs)
        fire(port, token, 20, 0)  # warm both workers' connections and code paths
        burst(port, token, procs, "burst, ORM broker", first=1000)
        # One lead at a time, the queue empty: the latency an agent sees on a normal day.
        wait_for_empty_queue()
        trickle = []
        for i in range(TRICKLE):
            trickle += fire(port, token, 1, 100_000 + i)
            time.sleep(0.25)
        sent_at = {r[3]: r[1] for r in trickle if r[0] == 201}
        report_notifications(f"one lead every 0.25 s ({len(sent_at)} leads)", sent_at, procs)
        hanging_smtp(port, token, procs)
        wait_for_empty_queue()
        duplicates(port, token, procs)
        expiry(port, procs)
        procs.stop_all()

        import redis

        redis.Redis.from_url(REDIS_BENCH_URL).flushdb()
        procs.start_stack(port, REDIS_URL=REDIS_BENCH_URL)
        wait_until_serving(port, procs)
        fire(port, token, 20, 2_000_000)
        burst(port, token, procs, "burst, Redis broker", first=3_000_000)
    finally:
        procs.stop_all()
        drop_database(maintenance_url, BENCH_DB)


if __name__ == "__main__":
    main()
