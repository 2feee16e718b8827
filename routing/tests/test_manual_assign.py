"""Assigning by hand keeps the lead pool: the rule a contact came through stays its rule,
and that rule's follow-up reminder is scheduled for the new owner."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from notifications.models import Channel, Kind, OutboxMessage
from routing.manual import contact_assign_directly
from routing.models import ContactRouting, OfferStatus, RoutingStatus
from routing.tests.helpers import agent_of, new_contact, rule
from teams.tests.factories import UserFactory, make_member

T0 = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def closer(team):
    return make_member(team, user=UserFactory(first_name="Cleo", last_name="Closer"))


def _reminders(contact, member):
    return OutboxMessage.objects.filter(
        contact=contact, membership=member, kind=Kind.FOLLOW_UP_REMINDER
    )


def test_assigned_by_hand_keeps_the_rule_and_its_reminder_goes_to_the_new_owner(
    team, agent, admin_member, closer, capture
):
    pool = rule(team, "Zillow pool", agent, sources=["Zillow"], follow_up_reminder_hours=24)
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, capture)
    assert (agent_of(contact), contact.routing.rule) == (agent, pool)
    assert _reminders(contact, agent).count() == 1

    later = T0 + timedelta(hours=2)
    with time_machine.travel(later, tick=False), capture(execute=True):
        contact_assign_directly(
            actor=admin_member, contact=contact, membership=closer, expected_agent_id=agent.pk
        )

    routing = ContactRouting.objects.get(pk=contact.pk)
    assert agent_of(contact) == closer
    assert (routing.status, routing.rule, routing.assigned_by) == (
        RoutingStatus.ASSIGNED,
        pool,
        admin_member,
    )
    assert team.contacts.filter(routing__rule=pool).get() == contact  # the pool still finds it
    [reminder] = _reminders(contact, closer)
    assert reminder.channel == Channel.EMAIL
    assert reminder.next_attempt_at == later + timedelta(hours=24)
    assert reminder.data == {"hours": 24, "assigned_at": later.isoformat()}
    timeline = contact.timeline.filter(kind="assigned").first()
    assert timeline.message.startswith("Reassigned from Alan Agent to Cleo Closer")
    assert timeline.actor == admin_member


def test_offered_contact_assigned_by_hand_keeps_the_rule(
    team, agent, admin_member, closer, capture
):
    pool = rule(team, "Next up pool", agent, method="next_up", follow_up_reminder_hours=4)
    contact = new_contact(team, capture)
    offer = contact.offers.get()
    assert contact.routing.status == RoutingStatus.OFFERED

    with capture(execute=True):
        contact_assign_directly(actor=admin_member, contact=contact, membership=closer)

    offer.refresh_from_db()
    assert offer.status == OfferStatus.CANCELLED
    routing = ContactRouting.objects.get(pk=contact.pk)
    assert (routing.status, routing.rule) == (RoutingStatus.ASSIGNED, pool)
    assert agent_of(contact) == closer
    assert _reminders(contact, closer).get().data["hours"] == 4
    assert not _reminders(contact, agent).exists()


def test_assign_by_hand_is_refused_when_the_agent_changed_meanwhile(
    team, agent, admin_member, closer, capture
):
    pool = rule(team, "Zillow pool", agent, follow_up_reminder_hours=24)
    contact = new_contact(team, capture)

    with pytest.raises(ValidationError):
        contact_assign_directly(
            actor=admin_member, contact=contact, membership=closer, expected_agent_id=closer.pk
        )

    assert agent_of(contact) == agent
    assert ContactRouting.objects.get(pk=contact.pk).rule == pool
    assert not _reminders(contact, closer).exists()


def test_two_admins_assigning_one_unassigned_lead_the_second_is_refused(
    team, agent, admin_member, closer, owner
):
    from contacts.tests.factories import ContactFactory
    from routing.reassignment import NO_AGENT

    contact = ContactFactory(team=team)  # waiting: nobody is its Agent yet
    contact_assign_directly(
        actor=admin_member, contact=contact, membership=agent, expected_agent_id=NO_AGENT
    )
    with pytest.raises(ValidationError, match="The Agent changed while you were looking"):
        contact_assign_directly(
            actor=owner, contact=contact, membership=closer, expected_agent_id=NO_AGENT
        )
    assert agent_of(contact) == agent
