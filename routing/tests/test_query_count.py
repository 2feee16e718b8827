"""Routing one contact costs the same queries whatever the number of rules or agents."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from routing.services import contact_route
from routing.tests.helpers import rule
from teams.tests.factories import UserFactory, make_member, make_team


def _queries_to_route(n_rules: int, n_agents: int, name: str) -> int:
    team = make_team(name=name, owner=UserFactory(username=f"{name}-owner"))
    agents = [make_member(team) for _ in range(n_agents)]
    for i in range(n_rules - 1):
        rule(team, f"Miss {i}", agents[i % n_agents], sources=[f"Nowhere{i}"])
    rule(team, "Zillow", *agents, sources=["Zillow"])
    first, second = Contact.objects.bulk_create(
        [Contact(team=team, source="Zillow"), Contact(team=team, source="Zillow")]
    )
    contact_route(contact_id=first.pk)
    with CaptureQueriesContext(connection) as ctx:
        contact_route(contact_id=second.pk)
    return len(ctx)


def test_contact_route_query_count_independent_of_rules_and_agents(db):
    baseline = _queries_to_route(1, 2, "a")
    assert baseline <= 24  # routing + notification rows; what matters is that it is flat
    assert _queries_to_route(25, 2, "b") == baseline
    assert _queries_to_route(3, 30, "c") == baseline
