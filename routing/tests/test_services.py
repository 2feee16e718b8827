from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from contacts.services import activity_log
from routing.manual import contact_assign_directly, contact_reroute
from routing.models import (
    ContactRouting,
    LogEvent,
    Offer,
    OfferStatus,
    Rotation,
    RoutingRule,
    RoutingStatus,
)
from routing.offers import offer_claim, offers_sweep
from routing.route import contact_route
from routing.rules import AssigneeSpec, rule_set_assignees, rule_update
from routing.sweeps import waiting_sweep
from routing.tests.helpers import agent_of, assigned_contact, log_lines, new_contact, rule
from routing.writer import routing_backoff
from teams.models import AgentTag
from teams.tests.factories import make_member

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def agents(team):
    return [make_member(team, is_online=True) for _ in range(3)]


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def routing_of(contact) -> ContactRouting:
    """The contact's routing row as it is now (refresh_from_db on the contact keeps it)."""
    return ContactRouting.objects.get(pk=contact.pk)


def counts_of(rule_) -> dict[int, int]:
    """The rule's turn counts as stored: member id -> turns since the last reset."""
    return Rotation.objects.get(pk=rule_.rotation_id).member_counts()


def test_contact_create_routes_on_commit_by_round_robin(team, agents, capture):
    rule(team, "Zillow", *agents, sources=["Zillow"])
    contact = new_contact(team, capture)
    assert routing_of(contact).status == RoutingStatus.ASSIGNED
    assert agent_of(contact) == agents[0]
    events = [e for e, _, _ in log_lines(contact)]
    assert events[0] == "rule_matched"
    assert events[-1] == LogEvent.ASSIGNED
    assert contact.timeline.filter(kind="assigned").exists()


def test_contact_route_is_idempotent(team, agents, capture):
    rule(team, "All", *agents)
    contact = new_contact(team, capture)
    logs = contact.routing_logs.count()
    assert contact_route(contact_id=contact.pk) == RoutingStatus.ASSIGNED
    assert contact.routing_logs.count() == logs
    assert contact.roles.filter(kind="agent").count() == 1


def test_round_robin_spreads_evenly_in_listed_order(team, agents, capture):
    rule(team, "All", *agents)
    owners = [agent_of(new_contact(team, capture)) for _ in range(9)]
    assert owners[:3] == agents
    assert Counter(m.pk for m in owners) == {a.pk: 3 for a in agents}


def test_round_robin_weights_share_by_percentage(team, agents, capture):
    rule(team, "Weighted", *agents, weights=[50, 30, 20])
    owners = Counter(agent_of(new_contact(team, capture)).pk for _ in range(10))
    assert owners == {agents[0].pk: 5, agents[1].pk: 3, agents[2].pk: 2}


def test_first_matching_rule_wins_and_log_says_why_rule_one_was_skipped(team, agents, capture):
    rule(team, "Facebook only", agents[0], sources=["Facebook"])
    rule(team, "Zillow", agents[1], sources=["Zillow"])
    rule(team, "Everything", agents[2])
    contact = new_contact(team, capture, source="Zillow")
    assert agent_of(contact) == agents[1]
    lines = log_lines(contact)
    assert lines[0][0] == "rule_not_matched"
    assert lines[0][1] == "Facebook only"
    assert "Zillow" in lines[0][2]
    assert lines[1][:2] == ("rule_matched", "Zillow")
    assert not any(name == "Everything" for _, name, _ in lines)


def test_paused_rule_is_skipped(team, agents, capture):
    first = rule(team, "First", agents[0])
    rule(team, "Second", agents[1])
    rule_update(actor=None, rule=first, is_paused=True)
    contact = new_contact(team, capture)
    assert agent_of(contact) == agents[1]
    assert log_lines(contact)[0][:2] == ("rule_skipped", "First")


def test_no_match_goes_to_default_rule_then_owner(team, owner, agents, capture):
    rule(team, "Facebook", agents[0], sources=["Facebook"])
    contact = new_contact(team, capture, source="Zillow")
    assert agent_of(contact) == owner
    default = RoutingRule.objects.get(team=team, is_default=True)
    rule_update(actor=None, rule=default, direct_assignee=agents[2])
    contact = new_contact(team, capture, source="Zillow")
    assert agent_of(contact) == agents[2]


def test_skipped_members_keep_their_turn(team, agents, capture):
    rule(team, "All", *agents, only_online=True)
    agents[0].is_online = False
    agents[0].save()
    owners = [agent_of(new_contact(team, capture)) for _ in range(2)]
    assert owners == [agents[1], agents[2]]
    contact = new_contact(team, capture)
    reasons = [r for e, _, r in log_lines(contact) if e == "candidate_skipped"]
    assert any("offline" in r for r in reasons)
    agents[0].is_online = True
    agents[0].save()
    assert agent_of(new_contact(team, capture)) == agents[0]


def test_paused_and_over_capacity_members_are_skipped(team, agents, capture):
    rule(team, "All", *agents)
    agents[0].paused = True
    agents[0].save()
    agents[1].capacity = 0
    agents[1].save()
    contact = new_contact(team, capture)
    assert agent_of(contact) == agents[2]
    reasons = " ".join(r for e, _, r in log_lines(contact) if e == "candidate_skipped")
    assert "paused" in reasons
    assert "capacity" in reasons


def test_least_open_contacts_picks_lightest_agent(team, agents, capture):
    rule(team, "Warmup", agents[0], agents[1], sources=["Warmup"])
    new_contact(team, capture, source="Warmup")
    new_contact(team, capture, source="Warmup")
    rule(team, "Least open", *agents, method="least_open")
    assert agent_of(new_contact(team, capture)) == agents[2]


def test_agent_tag_assignees_resolve_at_routing_time(team, agents, capture):
    tag = AgentTag.objects.create(team=team, name="Buyers")
    rule(team, "Buyers", tags=[tag])
    agents[1].tags.add(tag)
    assert agent_of(new_contact(team, capture)) == agents[1]


def test_next_up_offer_moves_on_when_window_lapses(team, agents, capture):
    rule(team, "Next up", *agents[:2], method="next_up", claim_window_minutes=10)
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, capture)
        offer = Offer.objects.get(contact=contact, status=OfferStatus.OPEN)
        assert list(offer.recipients.all()) == [agents[0]]
        assert routing_of(contact).status == RoutingStatus.OFFERED
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        assert offers_sweep() == 1
        assert offers_sweep() == 0
        second = Offer.objects.get(contact=contact, status=OfferStatus.OPEN)
        assert list(second.recipients.all()) == [agents[1]]
    with time_machine.travel(T0 + timedelta(minutes=20), tick=False):
        offers_sweep()
    contact.refresh_from_db()
    # Nobody in the rule claimed: the contact falls through to the Default Rule (owner).
    assert routing_of(contact).status == RoutingStatus.ASSIGNED
    assert agent_of(contact).role == "owner"
    assert "fell_through" in [e for e, _, _ in log_lines(contact)]


@pytest.mark.parametrize("kind", ["call", "text", "email", "note"])
def test_next_up_claimed_by_contacting(team, agents, capture, kind):
    rule(team, "Next up", *agents, method="next_up")
    contact = new_contact(team, capture)
    activity_log(contact=contact, membership=agents[0], kind=kind)
    contact.refresh_from_db()
    assert routing_of(contact).status == RoutingStatus.ASSIGNED
    assert agent_of(contact) == agents[0]
    assert contact.last_contacted_at is not None


def test_last_contacted_counts_only_the_assigned_owners_activity(team, agents, owner):
    contact = assigned_contact(team, agents[0])

    activity_log(contact=contact, membership=owner, kind="note", body="Called the office")
    contact.refresh_from_db()
    assert contact.last_contacted_at is None  # the owner's note is on the timeline only
    assert contact.timeline.filter(kind="activity_note").exists()

    activity_log(contact=contact, membership=agents[0], kind="call")
    contact.refresh_from_db()
    assert contact.last_contacted_at is not None


def test_next_up_activity_by_someone_else_does_not_claim(team, agents, capture):
    rule(team, "Next up", *agents, method="next_up")
    contact = new_contact(team, capture)
    activity_log(contact=contact, membership=agents[1], kind="note")
    contact.refresh_from_db()
    assert routing_of(contact).status == RoutingStatus.OFFERED


def test_blast_first_claim_wins(team, agents, capture):
    rule(team, "Blast", *agents, method="blast")
    contact = new_contact(team, capture)
    offer = Offer.objects.get(contact=contact)
    assert set(offer.recipients.all()) == set(agents)
    first = offer_claim(offer_id=offer.pk, membership=agents[2])
    second = offer_claim(offer_id=offer.pk, membership=agents[0])
    assert first.claimed
    assert not second.claimed
    assert agents[2].display_name in second.message
    assert agent_of(contact) == agents[2]


def test_blast_claim_by_non_recipient_is_refused(team, agents, owner, capture):
    rule(team, "Blast", *agents[:2], method="blast")
    contact = new_contact(team, capture)
    with pytest.raises(PermissionDenied):
        offer_claim(offer_id=contact.offers.get().pk, membership=agents[2])


def test_blast_unclaimed_moves_to_next_rule(team, agents, capture):
    rule(team, "Blast", *agents[:2], method="blast", claim_window_minutes=5)
    rule(team, "Backup", agents[2])
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, capture)
    with time_machine.travel(T0 + timedelta(minutes=4), tick=False):
        assert offers_sweep() == 0
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        assert offers_sweep() == 1
    assert agent_of(contact) == agents[2]


def test_late_claim_moves_offer_on(team, agents, capture):
    rule(team, "Next up", *agents[:2], method="next_up", claim_window_minutes=5)
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, capture)
    offer = contact.offers.get()
    with time_machine.travel(T0 + timedelta(minutes=6), tick=False):
        result = offer_claim(offer_id=offer.pk, membership=agents[0])
    assert not result.claimed
    assert "moved on" in result.message
    assert list(contact.offers.get(status=OfferStatus.OPEN).recipients.all()) == [agents[1]]


def test_default_rule_next_up_only_offers_members_not_in_earlier_rules(team, agents, capture):
    rule(team, "Facebook", agents[0], sources=["Facebook"])
    default = RoutingRule.objects.get(team=team, is_default=True)
    rule_update(actor=None, rule=default, method="next_up")
    rule_set_assignees(
        actor=None, rule=default, assignees=[AssigneeSpec(membership=a) for a in agents]
    )
    contact = new_contact(team, capture, source="Zillow")
    assert list(contact.offers.get().recipients.all()) == [agents[1]]


def test_changing_assignees_resets_order_but_weights_alone_do_not(team, agents, capture):
    r = rule(team, "All", *agents[:2])
    new_contact(team, capture)
    assert counts_of(r) == {agents[0].pk: 1}
    reset = rule_set_assignees(
        actor=None, rule=r, assignees=[AssigneeSpec(membership=a, weight=2) for a in agents[:2]]
    )
    assert reset is False
    assert counts_of(r) == {agents[0].pk: 1}
    reset = rule_set_assignees(
        actor=None, rule=r, assignees=[AssigneeSpec(membership=a) for a in agents]
    )
    assert reset is True
    assert counts_of(r) == {}
    assert agent_of(new_contact(team, capture)) == agents[0]


def test_rolled_back_routing_takes_no_turn(team, agents, capture):
    r = rule(team, "All", *agents)
    contact = new_contact(team, capture, source="x", first_name="Held")
    contact_reroute(actor=None, contact=contact)  # routed again: agents[1]

    def route_then_fail():
        with transaction.atomic():
            assert agent_of(new_contact(team, capture)) == agents[2]
            assert counts_of(r) == {a.pk: 1 for a in agents}
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        route_then_fail()
    assert counts_of(r) == {agents[0].pk: 1, agents[1].pk: 1}
    assert agent_of(new_contact(team, capture)) == agents[2]


def test_routing_failure_marks_contact_failed_and_sweeper_retries(
    team, agents, capture, monkeypatch
):
    rule(team, "All", *agents)

    def broken(*args, **kwargs):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr("routing.route.engine.route", broken)
    with time_machine.travel(T0, tick=False):
        new_contact(team, capture)  # the route task records the failure; nothing is raised
    contact = team.contacts.get()
    row = routing_of(contact)
    assert row.status == RoutingStatus.FAILED
    assert "engine exploded" in row.error
    assert row.attempts == 1
    assert row.next_attempt_at == T0 + routing_backoff(1)
    failed = contact.routing_logs.get(event=LogEvent.FAILED)
    assert "engine exploded" in failed.reason
    assert agent_of(contact) is None
    monkeypatch.undo()
    # Not lost, and not retried before its backoff is over.
    assert waiting_sweep(now=T0 + routing_backoff(1) - timedelta(seconds=1)) == 0
    assert routing_of(contact).status == RoutingStatus.FAILED
    with time_machine.travel(T0 + routing_backoff(1), tick=False):
        assert waiting_sweep() == 1
    row = routing_of(contact)
    assert row.status == RoutingStatus.ASSIGNED
    assert row.error == ""
    assert row.attempts == 0
    assert agent_of(contact) == agents[0]


def test_assign_directly_needs_lead_distribution_permission(
    team, agents, agent, admin_member, capture
):
    contact = new_contact(team, capture)
    with pytest.raises(PermissionDenied):
        contact_assign_directly(actor=agent, contact=contact, membership=agents[0])
    contact_assign_directly(actor=admin_member, contact=contact, membership=agents[0])
    assert agent_of(contact) == agents[0]
    assert "Ada Admin" in contact.timeline.filter(kind="assigned").first().message


def test_assign_directly_refuses_other_team_member(team, outsider, capture):
    contact = new_contact(team, capture)
    with pytest.raises(Http404):
        contact_assign_directly(actor=None, contact=contact, membership=outsider)


def test_rule_methods_are_gated_by_plan(team, agents):
    team.plan = "basic"
    team.save()
    with pytest.raises(ValidationError):
        rule(team, "Blast", *agents, method="blast")
    with pytest.raises(ValidationError):
        rule(team, "Next", *agents, method="next_up")
    assert rule(team, "RR", *agents).method == "round_robin"


def test_plan_downgrade_skips_rule_with_unavailable_method(team, agents, capture):
    rule(team, "Blast", *agents[:2], method="blast")
    rule(team, "RR", agents[2])
    team.plan = "basic"
    team.save()
    contact = new_contact(team, capture)
    assert agent_of(contact) == agents[2]
    assert log_lines(contact)[0][0] == "rule_skipped"


def test_contact_route_for_deleted_contact_is_a_no_op(team):
    assert contact_route(contact_id=987654) == "gone"


def test_archived_contact_is_never_routed_again(team, agents, capture, monkeypatch):
    rule(team, "All", *agents)

    def broken(*args, **kwargs):
        raise RuntimeError("down")

    monkeypatch.setattr("routing.route.engine.route", broken)
    new_contact(team, capture)  # the route task records the failure; nothing is raised
    monkeypatch.undo()
    contact = team.contacts.get()
    assert routing_of(contact).status == RoutingStatus.FAILED
    contact.status = "archived"
    contact.save()
    later = timezone.now() + timedelta(minutes=5)
    assert waiting_sweep(now=later) == 0
    assert contact_route(contact_id=contact.pk) == "archived"
    assert agent_of(contact) is None
    assert routing_of(contact).status == RoutingStatus.FAILED
