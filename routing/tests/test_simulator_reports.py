from datetime import timedelta

import pytest
from django.utils import timezone

from routing import engine
from routing.models import ContactRouting, Offer, Rotation, RoutingLog
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

    def snapshot():
        return (
            list(Rotation.objects.order_by("id").values_list("id", "counts", "turns")),
            list(ContactRouting.objects.order_by("pk").values()),
            RoutingLog.objects.count(),
            Offer.objects.count(),
        )

    before = snapshot()
    assert Rotation.objects.get(rule__name="Zillow").member_counts() == {a.pk: 1}
    sim = routing_simulate(team=team, facts=engine.ContactFacts(source="zillow"))
    assert sim.rule.name == "Zillow"
    assert sim.next_up == (b.display_name,)
    assert [e.outcome for e in sim.evaluations] == ["not_matched", "matched"]
    # Nobody was unavailable: both members could take it and the method chose b (members
    # whose turn it is not are counted as available, not listed as skipped).
    assert sim.skipped == ()
    assert sim.evaluations[-1].available == 2
    assert snapshot() == before
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
    # The Default Rule (assign directly, nobody chosen yet) is reached and falls through.
    default = sim.evaluations[-1]
    assert (default.name, default.outcome) == ("Default Rule", engine.FELL_THROUGH)
    assert sim.rule is None  # the team owner takes it
    assert sim.next_up == (owner.display_name,)
    assert sim.outcome == f"No rule can take it: falls back to the owner, {owner.display_name}."


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
