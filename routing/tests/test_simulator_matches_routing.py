"""The simulator answers with the decision routing then makes: same rule, same people."""

import pytest

from contacts.models import Contact
from routing import engine
from routing.assignees import AssigneeSpec
from routing.models import ContactRouting, Offer, OfferStatus, RoutingStatus
from routing.rules import rule_set_assignees, rule_update
from routing.simulator import routing_simulate
from routing.state import contact_facts
from routing.tests.helpers import agent_of, new_contact, rule
from teams.services import membership_set_availability
from teams.tests.factories import make_member

pytestmark = pytest.mark.django_db


def _outcome(contact) -> tuple:
    routing = ContactRouting.objects.select_related("rule").get(pk=contact.pk)
    offer = Offer.objects.filter(contact=contact, status=OfferStatus.OPEN).first()
    if routing.status == RoutingStatus.OFFERED:
        return ("offer", routing.rule_id, tuple(sorted(m.pk for m in offer.recipients.all())))
    if routing.status == RoutingStatus.HELD:
        return ("hold", routing.rule_id, ())
    agent = agent_of(contact)
    return ("assign", routing.rule_id, (agent.pk,) if agent else ())


def _predicted(sim) -> tuple:
    decision = sim.decision
    rule_id = decision.source.id if decision.source is not None else None
    if decision.action == engine.OFFER:
        return ("offer", rule_id, tuple(sorted(decision.recipients)))
    if decision.action == engine.HOLD:
        return ("hold", rule_id, ())
    return ("assign", rule_id, (decision.member_id,))


def _scenario(name, team):
    a, b, c = (make_member(team) for _ in range(3))
    if name == "round robin after two":
        rule(team, "RR", a, b, c, sources=["Zillow"])
        return {"source": "Zillow"}, 2
    if name == "weighted":
        rule(team, "RR", a, b, weights=[3, 1], sources=["Zillow"])
        return {"source": "Zillow"}, 3
    if name == "next up":
        rule(team, "NU", a, b, method="next_up", sources=["Zillow"])
        return {"source": "Zillow"}, 1
    if name == "blast":
        rule(team, "Blast", a, b, c, method="blast", sources=["Zillow"])
        membership_set_availability(membership=c, paused=True)
        return {"source": "Zillow"}, 0
    if name == "least open":
        rule(team, "LO", a, b, method="least_open", sources=["Zillow"])
        return {"source": "Zillow"}, 3
    if name == "fall through to the default pool":
        for member in (a, b):
            membership_set_availability(membership=member, paused=True)
        rule(team, "Paused agents", a, b, sources=["Zillow"])
        default = team.routing_rules.get(is_default=True)
        rule_update(actor=None, rule=default, method="next_up")
        rule_set_assignees(
            actor=None,
            rule=default,
            # a is in an earlier rule: the Default Rule offers it to c alone.
            assignees=[AssigneeSpec(membership=m) for m in (a, c)],
        )
        return {"source": "Zillow"}, 0
    if name == "owner fallback":
        rule(team, "Other", a, sources=["Facebook"])
        return {"source": "Zillow"}, 0
    if name == "hold":
        membership_set_availability(membership=a, paused=True)
        rule(team, "Hold", a, sources=["Zillow"], hold_when_unavailable=True)
        return {"source": "Zillow"}, 0
    raise AssertionError(name)


@pytest.mark.parametrize(
    "name",
    [
        "round robin after two",
        "weighted",
        "next up",
        "blast",
        "least open",
        "fall through to the default pool",
        "owner fallback",
        "hold",
    ],
)
def test_simulator_answer_equals_what_routing_does(team, capture, name):
    fields, before = _scenario(name, team)
    for i in range(before):  # turns already taken, open contacts already held
        new_contact(team, capture, email=f"before{i}@x.test", **fields)
    sample = Contact(team=team, first_name="Sim", **fields)
    sim = routing_simulate(team=team, facts=contact_facts(sample))
    contact = new_contact(team, capture, email="routed@x.test", **fields)
    assert _outcome(contact) == _predicted(sim), sim.outcome
