from datetime import timedelta

import pytest
from django.utils import timezone

from routing import engine
from routing.models import Offer, Rotation, RotationSlot, RoutingLog
from routing.reports import rule_fairness
from routing.simulator import routing_simulate
from routing.tests.helpers import agent_of, new_contact, rule
from teams.tests.factories import make_member


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_simulate_names_rule_and_next_agent_without_changing_state(team, capture):
    a, b = make_member(team), make_member(team)
    rule(team, "Facebook", a, sources=["Facebook"])
    rule(team, "Zillow", a, b, sources=["Zillow"])
    new_contact(team, capture, source="Zillow")  # a took the first turn
    before = (
        list(RotationSlot.objects.values_list("id", "count")),
        list(Rotation.objects.values_list("id", "turns")),
        RoutingLog.objects.count(),
        Offer.objects.count(),
    )
    sim = routing_simulate(team=team, facts=engine.ContactFacts(source="zillow"))
    assert sim.rule.name == "Zillow"
    assert sim.next_up == (b.display_name,)
    assert [e.outcome for e in sim.evaluations] == ["not_matched", "matched"]
    assert {s.reason for s in sim.skipped} == {"not_turn"}
    after = (
        list(RotationSlot.objects.values_list("id", "count")),
        list(Rotation.objects.values_list("id", "turns")),
        RoutingLog.objects.count(),
        Offer.objects.count(),
    )
    assert after == before
    assert agent_of(new_contact(team, capture, source="Zillow")) == b


def test_simulate_blast_and_default(team, owner):
    a, b = make_member(team), make_member(team)
    rule(team, "Blast", a, b, method="blast", sources=["Website"])
    assert set(
        routing_simulate(team=team, facts=engine.ContactFacts(source="Website")).next_up
    ) == {
        a.display_name,
        b.display_name,
    }
    sim = routing_simulate(team=team, facts=engine.ContactFacts(source="Other"))
    assert sim.rule.is_default
    assert "falls through" in sim.outcome


def test_rule_fairness_target_vs_actual(team, capture):
    a, b = make_member(team), make_member(team)
    r = rule(team, "Weighted", a, b, weights=[75, 25])
    for _ in range(8):
        new_contact(team, capture)
    now = timezone.now()
    rows = {
        row.name: row
        for row in rule_fairness(
            rule=r, since=now - timedelta(days=1), until=now + timedelta(seconds=1)
        )
    }
    assert rows[a.display_name].target == 0.75
    assert rows[a.display_name].count == 6
    assert rows[b.display_name].actual == 0.25
    empty = rule_fairness(rule=r, since=now - timedelta(days=9), until=now - timedelta(days=8))
    assert all(row.count == 0 and row.actual == 0 for row in empty)
