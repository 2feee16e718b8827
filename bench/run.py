"""Routing benchmark: `make bench` (needs DATABASE_URL pointing at PostgreSQL).

Prints, from one run on a throwaway database: bare Contact inserts/s, fully
routed contacts/s (Round Robin, with routing log rows), their ratio, and the
queries one routed contact costs with 1, 50 and 500 rules and 8 or 200 agents.
Tasks are queued as in production (bench.settings), so the figures count routing and
the enqueueing of its notifications, not their delivery.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
os.environ["DEBUG"] = "0"  # no query logging while timing

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

N = int(os.environ.get("BENCH_CONTACTS", "500"))


def build_team(n_rules: int, n_agents: int, name: str):
    from routing.tests.helpers import rule
    from teams.tests.factories import UserFactory, make_member, make_team

    team = make_team(name=name, owner=UserFactory(username=f"{name}-owner"))
    agents = [make_member(team, user=UserFactory(username=f"{name}-a{i}")) for i in range(n_agents)]
    for i in range(n_rules - 1):
        rule(team, f"Miss {i}", agents[i % n_agents], sources=[f"Nowhere{i}"])
    rule(team, "Zillow", *agents, sources=["Zillow"])
    return team


def unrouted(team, n):
    from contacts.models import Contact

    return Contact.objects.bulk_create(
        [
            Contact(team=team, first_name=f"L{i}", source="Zillow", email=f"l{i}@x.test")
            for i in range(n)
        ]
    )


def main() -> None:
    from contacts.models import Contact, RoutingStatus
    from routing.models import RoutingLog
    from routing.services import contact_route

    if connection.vendor != "postgresql":
        sys.exit("make bench needs PostgreSQL: set DATABASE_URL=postgres://…")
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = f"{old_name}_bench"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        team = build_team(1, 8, "bare")
        start = time.perf_counter()
        for i in range(N):
            Contact.objects.bulk_create([Contact(team=team, first_name=f"B{i}", source="Zillow")])
        bare = N / (time.perf_counter() - start)

        team = build_team(1, 8, "routed")
        contacts = unrouted(team, N)
        start = time.perf_counter()
        for contact in contacts:
            contact_route(contact_id=contact.pk)
        routed = N / (time.perf_counter() - start)
        assert Contact.objects.filter(team=team, routing_status=RoutingStatus.ASSIGNED).count() == N
        logs = RoutingLog.objects.filter(team=team).count()

        print(f"bare Contact inserts/s:          {bare:8.0f}")
        print(f"routed contacts/s (round robin): {routed:8.0f}   ({logs / N:.1f} log rows each)")
        print(f"ratio routed / bare:             {routed / bare:8.3f}")
        print("queries per routed contact:")
        for n_rules, n_agents in ((1, 8), (50, 8), (500, 8), (50, 200)):
            team = build_team(n_rules, n_agents, f"q{n_rules}-{n_agents}")
            sample = unrouted(team, 5)
            contact_route(contact_id=sample[0].pk)  # warm
            connection.queries_log.clear()
            with CaptureQueriesContext(connection) as ctx:
                for contact in sample[1:]:
                    contact_route(contact_id=contact.pk)
            print(f"  {n_rules:4d} rules, {n_agents:4d} agents: {len(ctx) / 4:5.1f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
