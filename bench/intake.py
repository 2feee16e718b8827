"""Intake benchmark (`make bench`): the JSON API under gunicorn on PostgreSQL.

Creates a throwaway database (switchboard_bench_intake) beside DATABASE_URL's,
migrates it, starts gunicorn (2 workers, 127.0.0.1, a free port) and the
django-q2 worker (`manage.py qcluster`, which routes), posts BENCH_INTAKE_REQUESTS
new leads from BENCH_INTAKE_THREADS threads over loopback, and prints:

- intake requests/s, and p50/p99 latency of POST /api/v1/contacts (201 each);
- time from intake (the request leaving the client) to the assigned agent's
  in-app notification row (notifications.OutboxMessage, channel in_app, kind
  assigned) being written: store, commit, enqueue, worker pick-up (poll 0.2 s),
  routing, notification write (the row's created_at, stamped in the routing
  transaction on this same host). Once for the burst (a backlog builds when intake
  outruns routing) and once for BENCH_INTAKE_TRICKLE leads sent one at a time.

Everything it started is stopped and the database dropped, whatever happens.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PYTHON,
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
    port: int, token: str, count: int, offset: int, deadline: float = float("inf")
) -> list[tuple[int, float, float, int]]:
    """POST up to `count` new leads over one keep-alive connection, stopping at the deadline:
    (status, sent, latency, contact id) each."""
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
        sent = time.time()
        started = time.perf_counter()
        conn.request("POST", "/api/v1/contacts", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        latency = time.perf_counter() - started
        contact_id = json.loads(payload).get("id", 0) if response.status in (200, 201) else 0
        results.append((response.status, sent, latency, contact_id))
    conn.close()
    return results


def run_load(port: int, token: str) -> tuple[list, float]:
    per_thread = [
        REQUESTS // THREADS + (1 if i < REQUESTS % THREADS else 0) for i in range(THREADS)
    ]
    offsets = [sum(per_thread[:i]) for i in range(THREADS)]
    results: list = [None] * THREADS

    deadline = time.perf_counter() + MAX_SECONDS / 2

    def target(i):
        results[i] = fire(port, token, per_thread[i], 1000 + offsets[i], deadline)

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=MAX_SECONDS)
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


def report_notifications(label: str, sent_at: dict[int, float], procs: Processes) -> None:
    seen = wait_for_notifications(sent_at)
    delays = [(seen[c] - sent_at[c]) * 1000 for c in seen]
    if not delays:
        sys.exit(f"no notification row appeared:\n{procs.tail('qcluster')}")
    print(f"intake → agent's in-app notification row, {label}:")
    print(f"  p50:                 {percentile(delays, 50):8.1f} ms")
    print(f"  p99:                 {percentile(delays, 99):8.1f} ms")
    print(f"  max:                 {max(delays):8.1f} ms")
    assigned = assigned_delays(sent_at)
    print(f"intake → assigned, {label}:")
    print(f"  p50:                 {percentile(assigned, 50):8.1f} ms")
    print(f"  p99:                 {percentile(assigned, 99):8.1f} ms")


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
        procs.start(
            "gunicorn",
            [
                PYTHON,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            signal.SIGTERM,
        )
        procs.start("qcluster", [PYTHON, "manage.py", "qcluster"], signal.SIGINT)
        wait_until_serving(port, procs)
        fire(port, token, 20, 0)  # warm both workers' connections and code paths

        rows, elapsed = run_load(port, token)
        ok = [r for r in rows if r[0] == 201]
        latencies = [r[2] * 1000 for r in ok]
        print(f"intake: {len(rows)} POST /api/v1/contacts from {THREADS} threads, gunicorn -w 2")
        if len(ok) != len(rows):
            codes = sorted({r[0] for r in rows})
            print(f"  {len(rows) - len(ok)} answers were not 201: {codes}")
        if not ok:
            sys.exit(f"no lead was accepted:\n{procs.tail('gunicorn')}")
        print(f"  requests/s:          {len(rows) / elapsed:8.1f}")
        print(f"  latency p50:         {percentile(latencies, 50):8.1f} ms")
        print(f"  latency p99:         {percentile(latencies, 99):8.1f} ms")

        sent_at = {r[3]: r[1] for r in ok}
        report_notifications("under the burst above (includes the queue backlog)", sent_at, procs)
        # One lead at a time, the queue empty: the latency an agent sees on a normal day.
        wait_for_empty_queue()
        trickle = []
        for i in range(TRICKLE):
            trickle += fire(port, token, 1, 100_000 + i)
            time.sleep(0.25)
        sent_at = {r[3]: r[1] for r in trickle if r[0] == 201}
        report_notifications(f"one lead every 0.25 s ({len(sent_at)} leads)", sent_at, procs)
    finally:
        procs.stop_all()
        drop_database(maintenance_url, BENCH_DB)


if __name__ == "__main__":
    main()
