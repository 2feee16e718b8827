"""Next Up stays in its rule: a lapsed offer goes to the next person in the same rule,
even if the rules were reordered, edited or paused meanwhile; only when everyone in
it let the contact lapse (or nobody is eligible) does it move on, and whoever let it
lapse is never offered it again through another rule."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from routing.models import ContactRouting, Offer, OfferStatus, RoutingStatus
from routing.offers import offer_expire
from routing.rules import AssigneeSpec, rule_reorder, rule_set_assignees, rule_set_paused
from routing.tests.helpers import agent_of, log_lines, new_contact, rule
from teams.tests.factories import make_member

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def agents(team):
    return [make_member(team) for _ in range(3)]


def open_offer(contact) -> Offer:
    return Offer.objects.get(contact=contact, status=OfferStatus.OPEN)


def lapse(contact, capture, minutes=16):
    offer = open_offer(contact)
    with capture(execute=True):
        assert offer_expire(offer_id=offer.pk, now=offer.deadline + timedelta(seconds=1))
    return offer


def offered_to(contact):
    return open_offer(contact).recipients.get()


@time_machine.travel(START, tick=False)
def test_after_a_reorder_the_next_offer_stays_in_the_rule(team, agents, capture):
    a1, a2, a3 = agents
    next_up = rule(team, "Next up", a1, a2, a3, method="next_up", sources=["Zillow"])
    # A later rule that also matches, with the first agent in it.
    other = rule(team, "Everyone", a1, sources=["Zillow"])
    contact = new_contact(team, capture)
    assert offered_to(contact) == a1
    rule_reorder(actor=None, team=team, rule_ids=[other.pk, next_up.pk])  # during the window
    lapse(contact, capture)
    assert offered_to(contact) == a2  # the same rule, the next person: not "Everyone"
    assert ("rule_matched", "Next up", "Next Up offer lapsed: the next person in this rule") in (
        log_lines(contact)
    )
    assert open_offer(contact).rule_id == next_up.pk


@time_machine.travel(START, tick=False)
def test_a_paused_rule_still_finishes_its_offers(team, agents, capture):
    a1, a2, _ = agents
    next_up = rule(team, "Next up", a1, a2, method="next_up", sources=["Zillow"])
    contact = new_contact(team, capture)
    rule_set_paused(actor=None, rule=next_up, paused=True)
    lapse(contact, capture)
    assert offered_to(contact) == a2


@time_machine.travel(START, tick=False)
def test_an_edited_rule_goes_to_whoever_is_next_in_it_now(team, agents, capture):
    a1, a2, a3 = agents
    next_up = rule(team, "Next up", a1, a2, a3, method="next_up", sources=["Zillow"])
    contact = new_contact(team, capture)
    assert offered_to(contact) == a1
    rule_set_assignees(
        actor=None,
        rule=next_up,
        assignees=[AssigneeSpec(membership=a1), AssigneeSpec(membership=a3)],
    )
    lapse(contact, capture)
    assert offered_to(contact) == a3


@time_machine.travel(START, tick=False)
def test_when_everyone_lapsed_it_moves_on_and_never_back_to_them(team, owner, agents, capture):
    a1, a2, a3 = agents
    rule(team, "Next up", a1, a2, method="next_up", sources=["Zillow"])
    rule(team, "Backup", a1, a2, a3, sources=["Zillow"])
    contact = new_contact(team, capture)
    lapse(contact, capture)
    assert offered_to(contact) == a2
    lapse(contact, capture)
    # Both Next Up members let it lapse: the next rule, without them.
    assert agent_of(contact) == a3
    routing = ContactRouting.objects.get(pk=contact.pk)
    assert routing.status == RoutingStatus.ASSIGNED
    lines = log_lines(contact)
    assert ("fell_through", "Next up", "nobody in this rule could take the contact") in lines
    assert (
        "candidate_skipped",
        "Backup",
        f"{a1.display_name}: already offered this contact and let it expire",
    ) in lines


@time_machine.travel(START, tick=False)
def test_a_deleted_rule_sends_the_contact_through_the_rules_again(team, agents, capture):
    a1, a2, a3 = agents
    from routing.rules import rule_delete

    next_up = rule(team, "Next up", a1, a2, method="next_up", sources=["Zillow"])
    rule(team, "Backup", a1, a3, sources=["Zillow"])
    contact = new_contact(team, capture)
    rule_delete(actor=None, rule=next_up)
    lapse(contact, capture)
    assert agent_of(contact) == a3  # a1 let it lapse: never offered or given it again
