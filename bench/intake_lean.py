"""Lean intake benchmark: what one POST /api/v1/contacts costs, against a bare endpoint.

On a throwaway PostgreSQL database (switchboard_bench_intake_lean) beside DATABASE_URL's,
migrated, with gunicorn -w 2 on a free port serving bench.settings_lean (the product's
URLs plus the bench-only bare endpoint of bench/urls.py), it prints:

(a) SQL statements per intake request: a new lead, Bearer token, no Idempotency-Key, rate
    limits on (set high enough never to refuse). Counted by pg_stat_statements over
    BENCH_LEAN_STATEMENT_REQUESTS requests through gunicorn when the extension is loaded
    (shared_preload_libraries), else in this process by CaptureQueriesContext through
    Django's test Client. BEGIN/COMMIT/SAVEPOINT are shown apart; target <= 8. One request's
    statements are listed by name.
(b) requests/s of POST /api/v1/contacts and of the bare endpoint (JSON in, one INSERT,
    JSON out), under the same gunicorn from the same BENCH_LEAN_THREADS client threads,
    BENCH_LEAN_ROUNDS rounds of BENCH_LEAN_REQUESTS requests each, alternating which goes
    first; the ratio of the medians.

No routing worker runs: the bench measures the request. The routing rows it queues wait,
and the wake-up still runs on every request (with the team's flag already set it queues
no task, as when a router is busy).
Everything it started is stopped and the database dropped, whatever happens.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import statistics
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

BENCH_DB = "switchboard_bench_intake_lean"
REQUESTS = int(os.environ.get("BENCH_LEAN_REQUESTS", "400"))
THREADS = int(os.environ.get("BENCH_LEAN_THREADS", "4"))
ROUNDS = int(os.environ.get("BENCH_LEAN_ROUNDS", "5"))
STATEMENT_REQUESTS = int(os.environ.get("BENCH_LEAN_STATEMENT_REQUESTS", "200"))
STATEMENT_TARGET = 8
INTAKE_URL = "/api/v1/contacts"
BARE_URL = "/bench/bare"  # bench/urls.py
NEVER_REFUSED = "1000000000"  # the limits are counted, as in production, never reached

FK_CHECK = re.compile(r"^SELECT 1 FROM ONLY .* FOR KEY SHARE OF x$", re.DOTALL)
CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)\b", re.I)
NAMES = [  # the first pattern that matches names the statement
    ("API token", r'FROM "teams_apitoken"'),
    ("rate limits: IP and token, one upsert", r'INSERT INTO "contacts_ratelimitcounter".*\), \('),
    ("rate limit: one bucket", r'INSERT INTO "contacts_ratelimitcounter"'),
    ("dedup lock", r"pg_advisory_xact_lock"),
    ("price range constraint check (full_clean)", r'AS "_check"'),
    ("read back: contact and routing", r'LEFT OUTER JOIN "routing_contactrouting"'),
    ("read back: tags", r'"_prefetch_related_val_contact_id"'),
    ("read back: agent role", r'FROM "contacts_contactrole"'),
    ("dedup query", r'FROM "contacts_contact"'),
    ("INSERT contact", r'INSERT INTO "contacts_contact" \('),
    ("INSERT routing row (routing)", r'INSERT INTO "routing_contactrouting"'),
    ("INSERT timeline", r'INSERT INTO "contacts_timelineevent"'),
    ("wake-up UPDATE (routing, after commit)", r'UPDATE "routing_teamrouting"'),
    ("route task INSERT (router was idle)", r'INSERT INTO "django_q_ormq"'),
]


def statement_name(sql: str) -> str:
    control = CONTROL.match(sql)
    if control:
        return control.group(1).upper()
    for name, pattern in NAMES:
        if re.search(pattern, sql, re.DOTALL):
            return name
    return " ".join(sql.split())[:90]


def lead(i: int, team_id: int | None = None) -> dict:
    body = {
        "first_name": "Bench",
        "last_name": f"Lead {i}",
        "email": f"lean{i}@bench.example",
        "source": "Zillow",
        "city": "Austin",
    }
    return body if team_id is None else {"team": team_id, **body}


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


def seed(env: dict) -> tuple[int, str]:
    """A team with 8 agents behind one Round Robin rule: (team id, API token)."""
    django_setup(env)
    from bench.builders import bench_team
    from teams.tokens import api_token_create

    team, _ = bench_team("lean-realty")
    _, token = api_token_create(actor=None, team=team, name="bench")
    return team.pk, token


# --- (a) statements per request -----------------------------------------------------


def statements_in_process(token: str, first: int) -> tuple[float, float, list[str]]:
    """(statements, BEGIN/COMMIT) per request over STATEMENT_REQUESTS, and the names of
    the last request's statements: CaptureQueriesContext through Django's test Client."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    counted, control, names = [], [], []
    for i in range(first, first + STATEMENT_REQUESTS):
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(INTAKE_URL, data=lead(i), content_type="application/json")
        if response.status_code != 201:
            sys.exit(f"intake answered {response.status_code}: {response.content[:300]!r}")
        sqls = [q["sql"] for q in ctx.captured_queries]
        counted.append(sum(1 for sql in sqls if not CONTROL.match(sql)))
        control.append(sum(1 for sql in sqls if CONTROL.match(sql)))
        names = [statement_name(sql) for sql in sqls if not CONTROL.match(sql)]
    return statistics.mean(counted), statistics.mean(control), names


def pg_stat_statements_reset(bench_url: str) -> bool:
    """True when pg_stat_statements is loaded (and now reset) for the bench database."""
    import psycopg

    try:
        with psycopg.connect(bench_url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT pg_stat_statements_reset()")
        return True
    except psycopg.Error:
        return False


def pg_stat_statements_read(bench_url: str) -> list[tuple[str, int]]:
    import psycopg

    with psycopg.connect(bench_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT query, calls FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchall()
    return [(query, calls) for query, calls in rows if "pg_stat_statements" not in query]


def statements_through_gunicorn(
    bench_url: str, port: int, token: str, first: int
) -> tuple[float, float, list[tuple[float, str]]] | None:
    """(statements, BEGIN/COMMIT) per request from pg_stat_statements, and each
    statement's calls per request; None without the extension."""
    if not pg_stat_statements_reset(bench_url):
        return None
    statuses, _ = run_load(port, INTAKE_URL, token, None, STATEMENT_REQUESTS, first)
    if statuses.count(201) != STATEMENT_REQUESTS:
        sys.exit(f"intake answered {sorted(set(statuses))} while counting statements")
    # PostgreSQL's own foreign-key checks (run by its triggers, never sent by Django)
    # are listed by pg_stat_statements like statements: they are not counted.
    rows = [(q, calls) for q, calls in pg_stat_statements_read(bench_url) if not FK_CHECK.match(q)]
    counted = sum(calls for query, calls in rows if not CONTROL.match(query))
    control = sum(calls for query, calls in rows if CONTROL.match(query))
    by_name: dict[str, int] = {}
    for query, calls in rows:
        by_name[statement_name(query)] = by_name.get(statement_name(query), 0) + calls
    each = sorted(
        ((calls / STATEMENT_REQUESTS, name) for name, calls in by_name.items()), reverse=True
    )
    return counted / STATEMENT_REQUESTS, control / STATEMENT_REQUESTS, each


# --- (b) requests per second --------------------------------------------------------


def fire(
    port: int, path: str, token: str, team_id: int | None, count: int, offset: int
) -> tuple[list[int], list[float]]:
    """POST `count` new leads over one keep-alive connection: statuses and latencies."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    statuses, latencies = [], []
    for i in range(offset, offset + count):
        started = time.perf_counter()
        conn.request("POST", path, body=json.dumps(lead(i, team_id)), headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        statuses.append(response.status)
    conn.close()
    return statuses, latencies


def run_load(
    port: int, path: str, token: str, team_id: int | None, requests: int, first: int
) -> tuple[list[int], list[float]]:
    """`requests` POSTs of new leads from THREADS threads: (statuses, latencies)."""
    per_thread = [
        requests // THREADS + (1 if i < requests % THREADS else 0) for i in range(THREADS)
    ]
    offsets = [first + sum(per_thread[:i]) for i in range(THREADS)]
    results: list = [None] * THREADS

    def target(i):
        results[i] = fire(port, path, token, team_id, per_thread[i], offsets[i])

    clients = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(THREADS)]
    for t in clients:
        t.start()
    for t in clients:
        t.join(timeout=300)
    statuses = [s for chunk in results if chunk for s in chunk[0]]
    latencies = [lat for chunk in results if chunk for lat in chunk[1]]
    return statuses, latencies


def timed_load(
    port: int, path: str, token: str, team_id: int | None, first: int
) -> tuple[float, float]:
    """(requests/s, p50 latency in ms) of REQUESTS POSTs; every answer must be a 201."""
    started = time.perf_counter()
    statuses, latencies = run_load(port, path, token, team_id, REQUESTS, first)
    elapsed = time.perf_counter() - started
    if statuses.count(201) != REQUESTS:
        sys.exit(f"POST {path} answered {sorted(set(statuses))}, not only 201")
    return REQUESTS / elapsed, percentile([lat * 1000 for lat in latencies], 50)


def main() -> None:
    maintenance_url, bench_url = database_urls(BENCH_DB)
    fresh_database(maintenance_url, BENCH_DB)
    env = bench_env(
        bench_url,
        DJANGO_SETTINGS_MODULE="bench.settings_lean",
        INTAKE_RATE_LIMIT_PER_IP=NEVER_REFUSED,
        INTAKE_RATE_LIMIT_PER_TOKEN=NEVER_REFUSED,
    )
    env.pop("REDIS_URL", None)  # rate limits in the database: the statements counted below
    procs = Processes(env, Path(tempfile.mkdtemp(prefix="bench-intake-lean-")))
    try:
        migrate(env)
        team_id, token = seed(env)
        port = free_port()
        gunicorn = [PYTHON, "-m", "gunicorn", "config.wsgi:application", "--workers", "2"]
        gunicorn += ["--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
        procs.start("gunicorn", gunicorn, signal.SIGTERM)
        wait_until_serving(port, procs)
        # Warm both workers (connections, code paths) and the team's wake flag.
        for path, team in ((INTAKE_URL, None), (BARE_URL, team_id)):
            statuses, _ = run_load(port, path, token if team is None else "", team, 40, 0)
            if set(statuses) != {201}:
                sys.exit(f"POST {path} answered {sorted(set(statuses))}:\n{procs.tail('gunicorn')}")

        print(f"intake, lean: a new lead per POST {INTAKE_URL}, gunicorn -w 2, PostgreSQL")
        per_request, control, names = statements_in_process(token, 100_000)
        gunicorn_counts = statements_through_gunicorn(bench_url, port, token, 200_000)
        each: list[tuple[float, str]] = []
        if gunicorn_counts is not None:
            source = f"pg_stat_statements, {STATEMENT_REQUESTS} requests through gunicorn"
            per_request, control, each = gunicorn_counts
        else:
            source = (
                f"CaptureQueriesContext, {STATEMENT_REQUESTS} requests in-process through "
                "the test Client (pg_stat_statements is not loaded)"
            )
        print(f"(a) SQL statements per request: {per_request:5.2f}  (target <= {STATEMENT_TARGET})")
        print(f"    and BEGIN/COMMIT/SAVEPOINT: {control:5.2f}   counted by {source}")
        print("    one request's statements:")
        for i, name in enumerate(names, 1):
            print(f"      {i}. {name}")
        if each:
            print("    pg_stat_statements, calls per request:")
            for calls, name in each:
                print(f"      {calls:5.2f}  {name}")

        rates: dict[str, list[float]] = {INTAKE_URL: [], BARE_URL: []}
        p50s: dict[str, list[float]] = {INTAKE_URL: [], BARE_URL: []}
        first = 1_000_000
        for round_no in range(ROUNDS):
            order = (BARE_URL, INTAKE_URL) if round_no % 2 == 0 else (INTAKE_URL, BARE_URL)
            for path in order:
                bare = path == BARE_URL
                rps, p50 = timed_load(
                    port, path, "" if bare else token, team_id if bare else None, first
                )
                first += REQUESTS
                rates[path].append(rps)
                p50s[path].append(p50)
        intake_rps, bare_rps = (statistics.median(rates[p]) for p in (INTAKE_URL, BARE_URL))
        print(
            f"(b) requests/s, {ROUNDS} rounds of {REQUESTS} POSTs from {THREADS} client threads "
            "(median; p50 latency):"
        )
        print(
            f"    POST {INTAKE_URL:18s} {intake_rps:8.1f}/s  "
            f"{statistics.median(p50s[INTAKE_URL]):6.1f} ms   rounds: "
            + ", ".join(f"{r:.0f}" for r in rates[INTAKE_URL])
        )
        print(
            f"    POST {BARE_URL + ' (bare)':18s} {bare_rps:8.1f}/s  "
            f"{statistics.median(p50s[BARE_URL]):6.1f} ms   rounds: "
            + ", ".join(f"{r:.0f}" for r in rates[BARE_URL])
        )
        print(f"    ratio intake / bare:   {intake_rps / bare_rps:8.2f}")
    finally:
        procs.stop_all()
        drop_database(maintenance_url, BENCH_DB)


if __name__ == "__main__":
    main()
