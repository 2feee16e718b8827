"""Hold instead of falling through: a rule waits for someone to become available.

Off by default (a contact nobody can take moves on to the next rule, as it always
did); on, the contact waits in the rule's queue and goes, oldest first, to the first
member who becomes available: capacity frees, an agent comes online or back from a
pause, working hours begin. After the rule's longest wait it moves on.
"""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from contacts.models import ContactStatus
from contacts.services import contact_update
from routing.models import ContactRouting, LogEvent, RoutingLog, RoutingStatus, TeamRouting
from routing.sweeps import holds_sweep
from routing.tests.helpers import agent_of, assigned_contact, log_lines, new_contact, rule
from teams.services import membership_set_availability
from teams.tests.factories import make_member

pytestmark = pytest.mark.django_db

MON_10 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


def routing_of(contact) -> ContactRouting:
    return ContactRouting.objects.get(pk=contact.pk)


@pytest.fixture
def busy(team, capture):
    """Two agents with capacity 1, each holding one open contact already."""
    agents = [make_member(team, capacity=1) for _ in range(2)]
    for agent in agents:
        assigned_contact(team, agent)
    return agents


def held_rule(team, *members, **fields):
    fields.setdefault("sources", ["Zillow"])
    return rule(team, "Zillow", *members, hold_when_unavailable=True, hold_max_minutes=60, **fields)


def test_hold_is_off_by_default_the_contact_falls_through(team, owner, busy, capture):
    rule(team, "Zillow", *busy, sources=["Zillow"])
    contact = new_contact(team, capture)
    assert routing_of(contact).status == RoutingStatus.ASSIGNED
    assert agent_of(contact) == owner  # the Default Rule assigns to the owner
    assert ("fell_through", "Zillow", "nobody in this rule could take the contact") in log_lines(
        contact
    )


@time_machine.travel(MON_10, tick=False)
def test_all_agents_at_capacity_the_contact_is_held_with_the_reason(team, busy, capture):
    r = held_rule(team, *busy)
    contact = new_contact(team, capture)
    routing = routing_of(contact)
    assert routing.status == RoutingStatus.HELD
    assert routing.rule_id == r.pk
    assert routing.held_since == MON_10
    assert routing.hold_until == MON_10 + timedelta(minutes=60)
    assert agent_of(contact) is None
    entry = RoutingLog.objects.get(contact=contact)
    assert entry.event == LogEvent.HELD
    assert entry.reason == "held: all 2 agents at capacity"
    assert ("held", "Zillow", "held: all 2 agents at capacity") in log_lines(contact)
    assert TeamRouting.objects.get(team=team).has_held


def test_capacity_freeing_hands_the_held_contact_out(team, busy, capture, admin_member):
    held_rule(team, *busy)
    contact = new_contact(team, capture)
    other = busy[1].contact_roles.get().contact
    with capture(execute=True):
        contact_update(contact=other, actor=admin_member, status=ContactStatus.CLOSED)
    assert routing_of(contact).status == RoutingStatus.ASSIGNED
    assert agent_of(contact) == busy[1]
    assert log_lines(contact)[-1][0] == "assigned"


def test_held_contacts_go_first_in_first_out(team, busy, capture, admin_member):
    held_rule(team, *busy)
    with time_machine.travel(MON_10, tick=False):
        first = new_contact(team, capture, email="first@x.test")
    with time_machine.travel(MON_10 + timedelta(minutes=5), tick=False):
        second = new_contact(team, capture, email="second@x.test")
    freed = busy[0].contact_roles.get().contact
    with (
        time_machine.travel(MON_10 + timedelta(minutes=10), tick=False),
        capture(execute=True),
    ):
        contact_update(contact=freed, actor=admin_member, status=ContactStatus.CLOSED)
    assert agent_of(first) == busy[0]
    assert routing_of(second).status == RoutingStatus.HELD  # capacity is taken again


def test_an_agent_coming_online_takes_the_held_contact(team, capture):
    offline = make_member(team, is_online=False)
    held_rule(team, offline, only_online=True)
    contact = new_contact(team, capture)
    assert RoutingLog.objects.get(contact=contact).reason == "held: the only agent is offline"
    with capture(execute=True):
        membership_set_availability(membership=offline, is_online=True)
    assert agent_of(contact) == offline


def test_back_from_a_pause_takes_the_held_contact_at_the_next_sweep(team, capture):
    with time_machine.travel(MON_10, tick=False):
        paused = make_member(team)
        membership_set_availability(
            membership=paused, paused=True, paused_until=MON_10 + timedelta(minutes=30)
        )
        held_rule(team, paused)
        contact = new_contact(team, capture)
        assert routing_of(contact).status == RoutingStatus.HELD
    # Nobody saved anything: time alone ended the pause, and the sweeper notices.
    with (
        time_machine.travel(MON_10 + timedelta(minutes=31), tick=False),
        capture(execute=True),
    ):
        holds_sweep()
    assert agent_of(contact) == paused


def test_working_hours_beginning_hand_out_the_held_contact(team, capture):
    with time_machine.travel(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), tick=False):
        early = make_member(team, work_start=time(9), work_end=time(17), time_zone="UTC")
        held_rule(team, early)
        contact = new_contact(team, capture)
        entry = RoutingLog.objects.get(contact=contact)
        assert entry.reason == "held: the only agent is outside their hours"
    with time_machine.travel(datetime(2026, 3, 2, 8, 59, tzinfo=UTC), tick=False):
        holds_sweep()
        assert routing_of(contact).status == RoutingStatus.HELD
    with (
        time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False),
        capture(execute=True),
    ):
        holds_sweep()
    assert agent_of(contact) == early


def test_after_the_longest_wait_the_contact_falls_through(team, owner, busy, capture):
    held_rule(team, *busy)
    with time_machine.travel(MON_10, tick=False):
        contact = new_contact(team, capture)
    with time_machine.travel(MON_10 + timedelta(minutes=59), tick=False):
        holds_sweep()
        assert routing_of(contact).status == RoutingStatus.HELD
    with (
        time_machine.travel(MON_10 + timedelta(minutes=60), tick=False),
        capture(execute=True),
    ):
        holds_sweep()
    assert agent_of(contact) == owner
    assert (
        "fell_through",
        "Zillow",
        "held 60 min (the rule's longest wait): all 2 agents at capacity",
    ) in log_lines(contact)


def test_a_held_contact_is_logged_once_not_at_every_look(team, busy, capture):
    held_rule(team, *busy)
    contact = new_contact(team, capture)
    holds_sweep()
    holds_sweep()
    assert RoutingLog.objects.filter(contact=contact).count() == 1


def test_a_rule_outside_its_own_hours_falls_through_even_with_hold(team, owner, capture):
    agent = make_member(team)
    held_rule(team, agent, work_start=time(9), work_end=time(17), time_zone="UTC")
    with time_machine.travel(datetime(2026, 3, 2, 20, 0, tzinfo=UTC), tick=False):
        contact = new_contact(team, capture)
    assert agent_of(contact) == owner
    assert log_lines(contact)[0][0] == "rule_not_matched"


def test_a_deactivated_only_agent_is_not_waited_for(team, owner, capture):
    gone = make_member(team, is_active=False)
    held_rule(team, gone)
    contact = new_contact(team, capture)
    assert agent_of(contact) == owner


def test_a_new_lead_waits_behind_the_held_ones(team, busy, capture, admin_member):
    """Someone became available with nothing said (working hours, a pause ending): the
    next router looks at the holds first, so the contact that waited longest gets them."""
    later = make_member(team, capacity=1)
    with time_machine.travel(MON_10, tick=False):
        membership_set_availability(
            membership=later, paused=True, paused_until=MON_10 + timedelta(minutes=30)
        )
        held_rule(team, *busy, later)
        first = new_contact(team, capture, email="first@x.test")
    with time_machine.travel(MON_10 + timedelta(minutes=31), tick=False):
        second = new_contact(team, capture, email="second@x.test")
    assert agent_of(first) == later
    assert routing_of(second).status == RoutingStatus.HELD
