"""Routing benchmark (`make bench`; needs DATABASE_URL pointing at PostgreSQL).

On a throwaway database (switchboard_bench_routing), in one run, it prints:

1. Bare single-row Contact inserts per second (the yardstick).
2. Backlog drain: BENCH_BACKLOG leads stored as intake stores them (each in its own
   transaction) while no worker runs, then drained by the default worker
   (`manage.py qcluster`, Q_WORKERS=2). Routed contacts per second are counted from
   the first routing batch's start to the moment every lead is assigned (the worker's
   boot is excluded and printed apart), and divided by (1): target >= 0.30.
3. SQL statements per routed contact on the single-contact path, flat from 1 to 500
   rules and 8 to 1,000 agents: the queue write (routing row, wake-up, task) plus the
   route task (claim, decide, write, and the notification enqueue): target <= 12. The
   route task's one BEGIN/COMMIT pair is printed beside them.
4. Milliseconds per route at 500 rules x 1,000 agents against 1 rule x 8 agents
   (contacts routed one at a time): target <= 3x.
5. The routing log at BENCH_LOG_ROWS (1M) rows: the logs page's first page filtered by
   rule, by agent and by outcome, in ms, with the index each query uses.
6. django-q2's own cost per task with Q_SAVE_LIMIT=1000 (a thousand successes kept and
   pruned by the monitor after every task) against -1 (none kept, the default).

Tasks are queued as in production (bench.settings); deliveries are not timed.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Processes,
    bench_env,
    database_urls,
    django_setup,
    drop_database,
    fresh_database,
    migrate,
)

BENCH_DB = "switchboard_bench_routing"
BARE = int(os.environ.get("BENCH_BARE", "1000"))
BACKLOG = int(os.environ.get("BENCH_BACKLOG", "1000"))
ROUTES = int(os.environ.get("BENCH_ROUTES", "40"))
LOG_ROWS = int(os.environ.get("BENCH_LOG_ROWS", "1000000"))
SHAPES = ((1, 8), (50, 8), (500, 8), (50, 200), (500, 1000))
QUEUE_WRITE = re.compile(
    r'INSERT INTO "routing_contactrouting"|UPDATE "routing_teamrouting" SET "wake_pending"'
    r'|INSERT INTO "django_q_ormq"'
)
TRANSACTION = {"BEGIN", "COMMIT"}


def bare_inserts_per_second(team) -> float:
    from contacts.models import Contact

    start = time.perf_counter()
    for i in range(BARE):
        Contact.objects.bulk_create([Contact(team=team, first_name=f"B{i}", source="Zillow")])
    return BARE / (time.perf_counter() - start)


def store_lead(team, i: int):
    """As intake stores a lead: one transaction; the router is woken after commit."""
    from django.db import transaction

    from contacts.services import contact_create

    with transaction.atomic():
        return contact_create(team=team, first_name=f"L{i}", email=f"l{i}@x.test", source="Zillow")


def backlog_drain(env: dict) -> tuple[float, float, int]:
    """(routed per second, seconds from worker start to the last assignment, tasks queued)."""
    from django.db.models import Min
    from django_q.models import OrmQ

    from bench.builders import bench_team
    from routing.models import ContactRouting, RoutingStatus

    team, _ = bench_team("backlog")
    for i in range(BACKLOG):
        store_lead(team, i)
    tasks = OrmQ.objects.count()
    rows = ContactRouting.objects.filter(team=team)
    procs = Processes(env | {"Q_WORKERS": "2"}, Path(tempfile.mkdtemp(prefix="bench-routing-")))
    try:
        started = time.perf_counter()
        procs.start("qcluster", [sys.executable, "manage.py", "qcluster"], signal.SIGINT)
        deadline = time.monotonic() + 300
        while rows.filter(status=RoutingStatus.ASSIGNED).count() < BACKLOG:
            if time.monotonic() > deadline:
                sys.exit(f"the backlog did not drain:\n{procs.tail('qcluster')}")
            time.sleep(0.02)
        done_at = time.time()  # the last batch committed (within one poll)
        wall = time.perf_counter() - started
    finally:
        procs.stop_all()
    # From the first batch's start (stamped by the router, same host clock) to the end.
    first = rows.aggregate(first=Min("started_at"))["first"].timestamp()
    return BACKLOG / (done_at - first), wall, tasks


def single_path_statements(team) -> tuple[float, float, float, list[str]]:
    """(queue-write statements, route-task statements, BEGIN/COMMIT) per contact, over 5.

    The queue write: the routing row (written with the contact), the wake-up flag and
    the route task; the route task: everything it runs, the notification task included.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_q.models import OrmQ

    from routing.route import team_drain

    queue, task, control, sample = [], [], [], []
    store_lead(team, 0)
    team_drain(team_id=team.pk)  # warm: the team's state is loaded and cached
    for i in range(1, 6):
        OrmQ.objects.all().delete()
        with CaptureQueriesContext(connection) as stored:
            store_lead(team, i)
        queue.append(sum(1 for q in stored.captured_queries if QUEUE_WRITE.search(q["sql"])))
        with CaptureQueriesContext(connection) as routed:
            team_drain(team_id=team.pk)
        sqls = [q["sql"] for q in routed.captured_queries]
        task.append(sum(1 for sql in sqls if sql not in TRANSACTION))
        control.append(sum(1 for sql in sqls if sql in TRANSACTION))
        sample = [sql[:110] for sql in sqls]
    return statistics.mean(queue), statistics.mean(task), statistics.mean(control), sample


def ms_per_route(team) -> float:
    """Contacts stored then routed one at a time; the routing part timed, in ms."""
    from routing.route import team_drain

    store_lead(team, 10_000)
    team_drain(team_id=team.pk)
    times = []
    for i in range(ROUTES):
        store_lead(team, 10_001 + i)
        started = time.perf_counter()
        team_drain(team_id=team.pk)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def log_at_scale(team, agents) -> list[tuple[str, float, str]]:
    """(filter, ms for the first page, index used) over LOG_ROWS log rows of one team."""
    from django.db import connection
    from django.utils import timezone

    from routing.models import LogEvent, RoutingLog, RoutingRule
    from routing.selectors_pages import routing_logs_filtered
    from teams.models import Membership

    contact = store_lead(team, 99_999)
    rules = list(RoutingRule.objects.filter(team=team).values_list("pk", flat=True))
    members = [a.pk for a in agents]
    events = [e.value for e in LogEvent]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {RoutingLog._meta.db_table}
                (team_id, contact_id, event, rule_id, membership_id, source_name, reason,
                 steps, created_at)
            SELECT %s, %s, (%s::text[])[1 + i %% %s], (%s::bigint[])[1 + i %% %s],
                   (%s::bigint[])[1 + i %% %s], 'Zillow', 'assigned', '[]'::jsonb,
                   now() - (i || ' seconds')::interval
            FROM generate_series(1, %s) AS i""",
            [
                team.pk,
                contact.pk,
                events,
                len(events),
                rules,
                len(rules),
                members,
                len(members),
                LOG_ROWS,
            ],
        )
        cursor.execute(f"ANALYZE {RoutingLog._meta.db_table}")
    owner = Membership.objects.get(team=team, role="owner")
    cases = {
        "by rule": {"rule_id": rules[-1]},
        "by agent": {"member_id": members[3]},
        "by outcome": {"event": LogEvent.HELD},
        "rule + agent + outcome, 30 days": {
            "rule_id": rules[-1], "member_id": members[3], "event": LogEvent.ASSIGNED, "days": 30,
        },
    }  # fmt: skip
    found = []
    for label, filters in cases.items():
        page = routing_logs_filtered(membership=owner, now=timezone.now(), **filters)[:51]
        list(page.all())  # warm the cache of the database, not of the queryset
        started = time.perf_counter()
        rows = list(page.all())
        ms = (time.perf_counter() - started) * 1000
        plan = page.explain()
        used = sorted(set(re.findall(r"using (routing_log_\w+)", plan)))
        found.append((label, ms, f"{len(rows)} rows, {', '.join(used) or 'no log index!'}"))
    return found


def task_overhead(env: dict, save_limit: int, n: int = 400) -> float:
    """No-op tasks per second through a routing cluster with this save_limit."""
    from django.utils import timezone
    from django_q.models import OrmQ, Task
    from django_q.tasks import async_task

    OrmQ.objects.all().delete()  # what earlier sections queued (deliveries: no worker here)
    Task.objects.all().delete()
    if save_limit > 0:  # a site that has been running: the limit is reached
        now = timezone.now()
        Task.objects.bulk_create(
            [
                Task(id=f"{i:032x}", name=f"old-{i}", func="math.floor", started=now,
                     stopped=now, success=True)
                for i in range(save_limit)
            ]
        )  # fmt: skip
    procs = Processes(
        env | {"Q_WORKERS": "2", "Q_SAVE_LIMIT": str(save_limit)},
        Path(tempfile.mkdtemp(prefix="bench-tasks-")),
    )
    try:
        procs.start("qcluster", [sys.executable, "manage.py", "qcluster"], signal.SIGINT)
        time.sleep(4)  # booted
        started = time.perf_counter()
        for _ in range(n):
            async_task("math.floor", 1.5)
        while OrmQ.objects.exists():
            time.sleep(0.02)
        return n / (time.perf_counter() - started)
    finally:
        procs.stop_all()


def main() -> None:
    maintenance_url, bench_url = database_urls(BENCH_DB)
    fresh_database(maintenance_url, BENCH_DB)
    env = bench_env(bench_url)
    try:
        migrate(env)
        django_setup(env)
        from django.db import connection
        from django_q.models import OrmQ

        from bench.builders import bench_team

        if connection.vendor != "postgresql":
            sys.exit("make bench needs PostgreSQL: set DATABASE_URL=postgres://…")
        bare_team, _ = bench_team("bare")
        bare = bare_inserts_per_second(bare_team)
        routed, wall, tasks = backlog_drain(env)
        print(f"bare Contact inserts/s (single-row):   {bare:8.0f}")
        print(
            f"backlog of {BACKLOG} leads, default worker (2 processes): {routed:8.0f} routed/s "
            f"({tasks} route task{'s' if tasks != 1 else ''} queued; {wall:.1f} s from worker "
            "start to the last assignment)"
        )
        print(f"ratio routed / bare:                    {routed / bare:8.3f}   (target >= 0.30)")
        print("statements per routed contact, single-contact path (target <= 12):")
        timings = {}
        for n_rules, n_agents in SHAPES:
            team, _ = bench_team(f"s{n_rules}-{n_agents}", n_rules=n_rules, n_agents=n_agents)
            queue, task, control, sample = single_path_statements(team)
            print(
                f"  {n_rules:4d} rules, {n_agents:5d} agents: {queue + task:5.1f}"
                f"  (queue write {queue:.1f} + route task {task:.1f}; and BEGIN/COMMIT x"
                f"{control / 2:.0f})"
            )
            if (n_rules, n_agents) in ((1, 8), (500, 1000)):
                timings[(n_rules, n_agents)] = ms_per_route(team)
            OrmQ.objects.all().delete()
        print("  route task statements (the last one measured):")
        for sql in sample:
            print(f"    {sql}")
        small, large = timings[(1, 8)], timings[(500, 1000)]
        print(
            f"ms per route: {small:.2f} at 1 rule x 8 agents, {large:.2f} at 500 rules x "
            f"1,000 agents: {large / small:.2f}x   (target <= 3x)"
        )
        kept, none = task_overhead(env, 1000), task_overhead(env, -1)
        print(
            f"django-q2 no-op tasks/s: {kept:.0f} keeping 1,000 successes, {none:.0f} keeping "
            f"none (Q_SAVE_LIMIT=-1, the default): {none / kept:.2f}x"
        )
        log_team, log_agents = bench_team("logs", n_rules=20, n_agents=20)
        print(f"routing log at {LOG_ROWS:,} rows, first page of the logs page:")
        for label, ms, index in log_at_scale(log_team, log_agents):
            print(f"  {label:34s} {ms:7.1f} ms  ({index})")
    finally:
        drop_database(maintenance_url, BENCH_DB)


if __name__ == "__main__":
    main()
