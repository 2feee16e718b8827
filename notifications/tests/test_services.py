"""The outbox: rows written with the routing event, delivered once after commit."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact
from contacts.services import activity_log
from notifications import services
from notifications.models import Channel, DigestCursor, Kind, OutboxMessage, Status
from notifications.tests.factories import AutoMessageTemplateFactory, PushSubscriptionFactory
from notifications.tests.fixtures import claim_links, emails_to
from routing.manual import contact_assign_directly, contact_reroute
from routing.models import Offer, OfferStatus
from routing.offers import offer_claim
from routing.route import contact_route
from routing.signals import Assignment
from routing.tests.helpers import agent_of, new_contact, rule
from teams.tests.factories import UserFactory, make_member

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def agents(team):
    return [
        make_member(team, user=UserFactory(username=f"agent{i}", first_name=f"Agent{i}"))
        for i in range(3)
    ]


def assigned_to(contact, member) -> Assignment:
    """What routing announces when it gives a new contact to `member` (no rule, no reminder)."""
    return Assignment(
        contact=contact,
        membership_id=member.pk,
        member_name=member.display_name,
        previous_id=None,
        previous_name="",
        assigned_at=timezone.now(),
        follow_up_hours=None,
    )


def rows(**filters):
    return OutboxMessage.objects.filter(**filters)


class BrokenEmailBackend(BaseEmailBackend):
    calls = 0

    def send_messages(self, messages):
        BrokenEmailBackend.calls += 1
        raise ConnectionRefusedError("smtp down for http://x/claim/secret-token/")


# --- offers ---------------------------------------------------------------------------------


def test_offer_made_writes_in_app_email_and_push_for_every_blast_recipient(team, agents, capture):
    PushSubscriptionFactory(membership=agents[1])
    rule(team, "Blast", *agents, method="blast")
    contact = new_contact(team, capture, first_name="Jane", last_name="Buyer")
    offer = Offer.objects.get(contact=contact)
    for agent in agents:
        assert rows(offer=offer, membership=agent, channel=Channel.IN_APP).get().status == "sent"
        assert rows(offer=offer, membership=agent, channel=Channel.EMAIL).get().status == "sent"
    push = rows(offer=offer, channel=Channel.PUSH).get()
    assert push.membership == agents[1]
    assert push.status == Status.SKIPPED
    assert "VAPID" in push.last_error
    assert {m.to[0] for m in mail.outbox if "Blast Alert" in m.subject} == {
        a.user.email for a in agents
    }
    assert len(claim_links()) == 3


def test_offer_made_next_up_tells_only_the_member_whose_turn_it_is(team, agents, capture):
    rule(team, "Next up", *agents, method="next_up")
    contact = new_contact(team, capture, first_name="Jane")
    assert [m.to for m in mail.outbox] == [[agents[0].user.email]]
    assert mail.outbox[0].subject == "Next Up: Jane is yours to claim"
    assert rows(contact=contact, channel=Channel.IN_APP).get().membership == agents[0]


def test_offer_made_query_count_stays_flat_for_a_50_person_blast(
    team, django_assert_max_num_queries
):
    members = [make_member(team) for _ in range(50)]
    PushSubscriptionFactory.create_batch(3, membership=members[0])
    contact = Contact.objects.create(team=team, first_name="Big")
    offer = Offer.objects.create(
        contact=contact, kind="blast", deadline=timezone.now() + timedelta(minutes=5)
    )
    # One read of push subscriptions and one insert (batched by SQLite's parameter limit).
    with django_assert_max_num_queries(5):
        services.offers_notify(offers=[(offer, [m.pk for m in members])])
    assert rows(offer=offer).count() == 50 * 2 + 3


def test_offer_made_twice_writes_each_message_once(team, agents):
    contact = Contact.objects.create(team=team, first_name="Twice")
    offer = Offer.objects.create(
        contact=contact, kind="blast", deadline=timezone.now() + timedelta(minutes=5)
    )
    ids = [a.pk for a in agents]
    services.offers_notify(offers=[(offer, ids)])
    services.offers_notify(offers=[(offer, ids)])
    assert rows(offer=offer).count() == 6


def test_offer_email_skipped_when_offer_resolved_before_delivery(team, agents):
    contact = Contact.objects.create(team=team, first_name="Gone")
    offer = Offer.objects.create(
        contact=contact, kind="next_up", deadline=timezone.now() + timedelta(minutes=5)
    )
    services.offers_notify(offers=[(offer, [agents[0].pk])])
    Offer.objects.filter(pk=offer.pk).update(status=OfferStatus.CANCELLED)
    email = rows(offer=offer, channel=Channel.EMAIL).get()
    assert services.message_deliver(message_id=email.pk) == Status.SKIPPED
    email.refresh_from_db()
    assert "moved on" in email.last_error
    assert mail.outbox == []


# --- delivery ---------------------------------------------------------------------------------


def _pending_email(team, agent) -> OutboxMessage:
    contact = Contact.objects.create(team=team, first_name="Pat")
    services.assignments_notify(assignments=[assigned_to(contact, agent)])
    contact.email = "pat@example.net"
    contact.save()
    return rows(contact=contact, kind=Kind.WELCOME_EMAIL).get()


def test_message_deliver_twice_sends_one_email(team, agent):
    message = _pending_email(team, agent)
    assert services.message_deliver(message_id=message.pk) == Status.SENT
    assert services.message_deliver(message_id=message.pk) == "not due"
    from notifications.tasks import deliver

    assert deliver(message.pk) == "not due"
    assert len(mail.outbox) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, message.to) == (Status.SENT, 1, "pat@example.net")
    assert message.sent_at is not None


def test_message_deliver_skips_a_row_another_worker_is_sending(team, agent):
    message = _pending_email(team, agent)
    rows(pk=message.pk).update(status=Status.SENDING)
    assert services.message_deliver(message_id=message.pk) == "not due"
    assert mail.outbox == []


def test_message_deliver_retries_with_backoff_then_gives_up(team, agent, settings, caplog):
    settings.EMAIL_BACKEND = f"{__name__}.BrokenEmailBackend"
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    message = _pending_email(team, agent)
    now = timezone.now()
    assert services.message_deliver(message_id=message.pk, now=now) == "retry"
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.PENDING, 1)
    assert message.next_attempt_at == now + timedelta(minutes=1)
    assert "ConnectionRefusedError" in message.last_error
    assert "secret-token" not in message.last_error
    # Not due yet: nothing happens.
    assert services.message_deliver(message_id=message.pk, now=now) == "not due"
    assert services.message_deliver(message_id=message.pk, now=now + timedelta(minutes=1)) == (
        "retry"
    )
    later = now + timedelta(minutes=3)
    assert services.message_deliver(message_id=message.pk, now=later) == Status.FAILED
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.FAILED, 3)
    assert services.message_deliver(message_id=message.pk, now=later + timedelta(hours=1)) == (
        "not due"
    )
    assert "secret-token" not in caplog.text


def test_outbox_sweep_enqueues_due_rows_and_retries_stuck_sends(team, agent, capture):
    """A send interrupted mid-way (a crash, a timeout) goes back to pending with a backoff,
    and goes out at the next sweep after it: never silently to failed."""
    message = _pending_email(team, agent)
    stuck = rows(contact=message.contact, kind=Kind.WELCOME_EMAIL).get()
    other = rows(contact=message.contact, kind=Kind.WELCOME_TEXT).get()
    now = timezone.now()
    rows(pk=stuck.pk).update(status=Status.SENDING, attempts=1, updated_at=now - timedelta(hours=1))
    rows(pk=other.pk).update(status=Status.SENDING, attempts=5, updated_at=now - timedelta(hours=1))
    with capture(execute=True):
        result = services.outbox_sweep(now=now)
    assert result == {"enqueued": 0, "interrupted": 1, "given_up": 1, "released": 0}
    stuck.refresh_from_db()
    other.refresh_from_db()
    assert stuck.status == Status.PENDING
    assert stuck.next_attempt_at == now + timedelta(minutes=1)
    assert "retried" in stuck.last_error
    assert other.status == Status.FAILED  # interrupted at every one of its 5 attempts
    assert "given up" in other.last_error
    later = now + timedelta(minutes=1)
    with time_machine.travel(later, tick=False), capture(execute=True):
        assert services.outbox_sweep(now=later) == {
            "enqueued": 1,
            "interrupted": 0,
            "given_up": 0,
            "released": 0,
        }
    stuck.refresh_from_db()
    assert (stuck.status, stuck.attempts) == (Status.SENT, 2)
    quiet = {"enqueued": 0, "interrupted": 0, "given_up": 0, "released": 0}
    assert services.outbox_sweep(now=later) == quiet


def test_messages_retry_requeues_failed_rows(team, agent, settings, capture):
    message = _pending_email(team, agent)
    rows(pk=message.pk).update(status=Status.FAILED, attempts=5)
    with capture(execute=True):
        assert services.messages_retry(message_ids=[message.pk]) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SENT, 1)


def test_rolled_back_routing_writes_and_sends_nothing(team, agents, capture, sms_outbox):
    rule(team, "Blast", *agents, method="blast")
    contact = Contact.objects.create(team=team, first_name="Ghost", email="g@example.net")

    def route_then_fail():
        with transaction.atomic():
            contact_route(contact_id=contact.pk)
            assert rows(contact=contact).count() == 6
            raise RuntimeError("boom")

    with capture(execute=True) as callbacks, pytest.raises(RuntimeError, match="boom"):
        route_then_fail()
    assert callbacks == []
    assert not OutboxMessage.objects.exists()
    assert mail.outbox == []
    assert sms_outbox == []


# --- assignment, reassignment and auto messages ---------------------------------------------


def test_contact_assigned_notifies_in_app_at_once_and_email_waits_for_the_digest(
    team, agents, capture
):
    rule(team, "Round robin", *agents)
    contact = new_contact(team, capture, first_name="Ann")
    note = rows(contact=contact, channel=Channel.IN_APP).get()
    assert note.membership == agents[0]
    assert note.kind == Kind.ASSIGNED
    assert "Ann" in note.title
    assert emails_to(agents[0].user.email) == []


def test_welcome_messages_held_while_offered_then_sent_once_as_the_agent(
    team, agents, capture, sms_outbox
):
    agents[1].user.first_name, agents[1].user.last_name = "Bea", "Broker"
    agents[1].user.save()
    rule(team, "Next up", *agents[1:], method="next_up")
    contact = new_contact(team, capture, first_name="Cal", email="cal@example.net", phone="+1555")
    assert emails_to("cal@example.net") == []
    assert sms_outbox == []
    assert not rows(contact=contact, kind__in=[Kind.WELCOME_EMAIL, Kind.WELCOME_TEXT]).exists()

    with capture(execute=True):
        offer_claim(offer_id=contact.offers.get().pk, membership=agents[1])
    [welcome] = emails_to("cal@example.net")
    assert welcome.from_email == "Bea Broker <switchboard@localhost>"
    assert welcome.reply_to == [agents[1].user.email]
    assert welcome.subject == "Welcome from Bea Broker at Acme Realty"
    assert "Hi Cal," in welcome.body
    assert [(t.to, t.from_name) for t in sms_outbox] == [("+1555", "Bea Broker")]
    assert "Bea Broker" in sms_outbox[0].body


def test_welcome_messages_not_sent_again_on_reroute_or_reassignment(
    team, agents, capture, sms_outbox
):
    rule(team, "Round robin", *agents)
    contact = new_contact(team, capture, first_name="Dee", email="dee@example.net", phone="+1")
    with capture(execute=True):
        contact_reroute(actor=None, contact=contact)
    with capture(execute=True):
        contact_assign_directly(actor=None, contact=contact, membership=agents[2])
    assert agent_of(contact) == agents[2]
    assert len(emails_to("dee@example.net")) == 1
    assert len(sms_outbox) == 1
    assert rows(contact=contact, kind=Kind.WELCOME_EMAIL).count() == 1


def test_welcome_uses_the_team_template_and_a_disabled_one_sends_nothing(
    team, agent, capture, sms_outbox
):
    AutoMessageTemplateFactory(
        team=team,
        subject="{{ team_name }}: hello {{ contact_first_name }}",
        body="{{ agent_first_name }} ({{ agent_email }}) will call you.",
    )
    AutoMessageTemplateFactory(team=team, kind="welcome_text", body="x", enabled=False)
    rule(team, "Agent", agent)
    contact = new_contact(team, capture, first_name="Eve", email="eve@example.net", phone="+1")
    [welcome] = emails_to("eve@example.net")
    assert welcome.subject == "Acme Realty: hello Eve"
    # The wording, then the one-click unsubscribe footer every contact-facing email has.
    assert welcome.body.startswith("Alan (agent@example.com) will call you.\n\n--\nUnsubscribe: ")
    assert sms_outbox == []
    text = rows(contact=contact, kind=Kind.WELCOME_TEXT).get()
    assert (text.status, text.last_error) == (Status.SKIPPED, "the team turned this message off")


def test_welcome_skipped_when_the_contact_has_no_address(team, agent, capture, sms_outbox):
    rule(team, "Agent", agent)
    contact = new_contact(team, capture, first_name="Nobody", email="", phone="")
    skipped = rows(contact=contact, kind__in=[Kind.WELCOME_EMAIL, Kind.WELCOME_TEXT])
    assert sorted(skipped.values_list("status", "last_error")) == [
        (Status.SKIPPED, "the contact has no email address"),
        (Status.SKIPPED, "the contact has no phone number"),
    ]
    assert sms_outbox == []


def test_reassignment_emails_and_notifies_both_members(team, agents, capture):
    rule(team, "Round robin", agents[0])
    contact = new_contact(team, capture, first_name="Fay")
    mail.outbox.clear()
    with capture(execute=True):
        contact_assign_directly(actor=None, contact=contact, membership=agents[1])
    [to_new] = emails_to(agents[1].user.email)
    [to_old] = emails_to(agents[0].user.email)
    assert to_new.subject == "Fay was reassigned to you"
    assert "from Agent0" in to_new.body
    assert to_old.subject == f"Fay was reassigned to {agents[1].display_name}"
    in_app = dict(
        rows(contact=contact, channel=Channel.IN_APP, kind__startswith="reassigned").values_list(
            "membership_id", "kind"
        )
    )
    assert in_app == {agents[1].pk: Kind.REASSIGNED_TO, agents[0].pk: Kind.REASSIGNED_FROM}


# --- follow-up reminders ---------------------------------------------------------------------


def test_follow_up_reminder_fires_after_n_hours_when_not_contacted(team, agent, capture):
    rule(team, "Remind", agent, follow_up_reminder_hours=2)
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, capture, first_name="Gus")
    reminder = rows(contact=contact, kind=Kind.FOLLOW_UP_REMINDER, channel=Channel.EMAIL).get()
    assert reminder.next_attempt_at == T0 + timedelta(hours=2)
    almost = T0 + timedelta(hours=1, minutes=59)
    with time_machine.travel(almost, tick=False), capture(execute=True):
        assert services.outbox_sweep()["enqueued"] == 0
    assert emails_to(agent.user.email) == []
    with time_machine.travel(T0 + timedelta(hours=2), tick=False), capture(execute=True):
        assert services.outbox_sweep()["enqueued"] == 1
    [email] = emails_to(agent.user.email)
    assert email.subject == "Reminder: follow up with Gus"
    assert rows(contact=contact, kind=Kind.FOLLOW_UP_REMINDER, channel=Channel.IN_APP).exists()


def test_follow_up_reminder_skipped_when_the_agent_made_contact(team, agent, capture):
    rule(team, "Remind", agent, follow_up_reminder_hours=1)
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, capture, first_name="Hal")
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        activity_log(contact=contact, membership=agent, kind="call")
    with time_machine.travel(T0 + timedelta(hours=1), tick=False), capture(execute=True):
        services.outbox_sweep()
    reminder = rows(contact=contact, kind=Kind.FOLLOW_UP_REMINDER).get()
    assert (reminder.status, reminder.last_error) == (
        Status.SKIPPED,
        "the contact was contacted in time",
    )
    assert emails_to(agent.user.email) == []


def test_follow_up_reminder_skipped_once_the_contact_moved_to_someone_else(team, agents, capture):
    rule(team, "Remind", agents[0], follow_up_reminder_hours=1)
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, capture, first_name="Ivy")
        with capture(execute=True):
            contact_assign_directly(actor=None, contact=contact, membership=agents[1])
    with time_machine.travel(T0 + timedelta(hours=1), tick=False), capture(execute=True):
        services.outbox_sweep()
    # The reminder for the member who had it is dropped; assigning by hand keeps the lead
    # pool, so the new Agent gets the pool's reminder of their own.
    reminder = rows(
        contact=contact, kind=Kind.FOLLOW_UP_REMINDER, channel=Channel.EMAIL, membership=agents[0]
    ).get()
    assert reminder.status == Status.SKIPPED
    assert "no longer assigned" in reminder.last_error
    assert not [m for m in emails_to(agents[0].user.email) if m.subject.startswith("Reminder")]
    theirs = rows(
        contact=contact, kind=Kind.FOLLOW_UP_REMINDER, channel=Channel.EMAIL, membership=agents[1]
    ).get()
    assert theirs.next_attempt_at == T0 + timedelta(hours=1)


def test_no_follow_up_reminder_when_the_rule_has_none(team, agent, capture):
    rule(team, "Plain", agent)
    contact = new_contact(team, capture)
    assert not rows(contact=contact, kind=Kind.FOLLOW_UP_REMINDER).exists()


# --- hourly digests ---------------------------------------------------------------------------


def _digests(member) -> list:
    return [m for m in emails_to(member.user.email) if " new contact" in m.subject]


def test_digests_send_hourly_without_duplicates(team, agents, capture):
    rule(team, "Agent 0", agents[0])
    with time_machine.travel(T0, tick=False):
        first = new_contact(team, capture, first_name="One")
        second = new_contact(team, capture, first_name="Two")
    with time_machine.travel(T0 + timedelta(hours=1), tick=False), capture(execute=True):
        assert services.digests_send() == 1
        assert services.digests_send() == 0
    [digest] = _digests(agents[0])
    assert digest.subject == "2 new contacts assigned to you"
    assert first.first_name in digest.body
    assert second.first_name in digest.body
    with time_machine.travel(T0 + timedelta(hours=1, minutes=30), tick=False):
        third = new_contact(team, capture, first_name="Three")
    with time_machine.travel(T0 + timedelta(hours=2), tick=False), capture(execute=True):
        assert services.digests_send() == 1
    latest = _digests(agents[0])[-1]
    assert latest.subject == "1 new contact assigned to you"
    assert third.first_name in latest.body
    assert "One" not in latest.body
    assert _digests(agents[1]) == []


def test_digests_send_nothing_when_nothing_is_new(team, agents, capture):
    rule(team, "Agent 0", agents[0])
    with time_machine.travel(T0, tick=False):
        new_contact(team, capture)
    for hour in (1, 2, 3):
        with time_machine.travel(T0 + timedelta(hours=hour), tick=False), capture(execute=True):
            services.digests_send()
    assert len(_digests(agents[0])) == 1
    assert rows(kind=Kind.DIGEST).count() == 1


def test_digests_after_downtime_send_one_digest_not_one_per_missed_hour(team, agents, capture):
    rule(team, "Agent 0", agents[0])
    with time_machine.travel(T0, tick=False):
        new_contact(team, capture, first_name="Before")
    with time_machine.travel(T0 + timedelta(hours=1), tick=False), capture(execute=True):
        services.digests_send()
    for minutes in (70, 130, 250):
        with time_machine.travel(T0 + timedelta(minutes=minutes), tick=False):
            new_contact(team, capture, first_name=f"During{minutes}")
    # The worker was down for five hours; the first run after it covers them all at once.
    with time_machine.travel(T0 + timedelta(hours=6), tick=False), capture(execute=True):
        assert services.digests_send() == 1
    digests = _digests(agents[0])
    assert len(digests) == 2
    assert digests[1].subject == "3 new contacts assigned to you"
    cursor = DigestCursor.objects.get(membership=agents[0])
    assert cursor.sent_through == T0 + timedelta(hours=6) - timedelta(seconds=60)


def test_digests_leave_an_assignment_still_settling_for_the_next_run(team, agent, capture):
    rule(team, "Agent", agent)
    with time_machine.travel(T0, tick=False):
        new_contact(team, capture, first_name="Late")
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        assert services.digests_send() == 0
    with time_machine.travel(T0 + timedelta(hours=1), tick=False), capture(execute=True):
        assert services.digests_send() == 1
    assert "Late" in _digests(agent)[0].body


def test_digests_leave_out_contacts_moved_away_or_already_emailed(team, agents, capture):
    rule(team, "Agent 0", agents[0])
    with time_machine.travel(T0, tick=False):
        moved = new_contact(team, capture, first_name="Moved")
        kept = new_contact(team, capture, first_name="Kept")
        with capture(execute=True):
            contact_assign_directly(actor=None, contact=moved, membership=agents[1])
    with time_machine.travel(T0 + timedelta(hours=1), tick=False), capture(execute=True):
        assert services.digests_send() == 1
    [digest] = _digests(agents[0])
    assert kept.first_name in digest.body
    assert "Moved" not in digest.body
    # agents[1] got the reassignment email already, so no digest repeats it.
    assert _digests(agents[1]) == []


# --- web push ---------------------------------------------------------------------------------


def test_push_skipped_without_vapid_keys_while_in_app_still_works(team, agents, capture):
    PushSubscriptionFactory(membership=agents[0])
    rule(team, "Blast", *agents, method="blast")
    with mock.patch("pywebpush.webpush") as webpush:
        contact = new_contact(team, capture)
    webpush.assert_not_called()
    assert rows(contact=contact, channel=Channel.PUSH).get().status == Status.SKIPPED
    assert rows(contact=contact, channel=Channel.IN_APP).count() == 3


def test_push_sent_with_vapid_keys(team, agents, capture, push_keys):
    subscription = PushSubscriptionFactory(membership=agents[0])
    rule(team, "Blast", *agents, method="blast")
    with mock.patch("pywebpush.webpush") as webpush:
        contact = new_contact(team, capture, first_name="Kim", source="Zillow")
    webpush.assert_called_once()
    kwargs = webpush.call_args.kwargs
    assert kwargs["subscription_info"]["endpoint"] == subscription.endpoint
    assert kwargs["subscription_info"]["keys"]["auth"] == subscription.auth
    assert kwargs["vapid_private_key"] == "private-key-for-tests"
    assert kwargs["vapid_claims"] == {"sub": "mailto:ops@example.com"}
    assert 0 < kwargs["ttl"] <= 15 * 60
    import json

    payload = json.loads(kwargs["data"])
    assert payload["title"] == "Blast Alert: new contact to claim"
    assert payload["body"].startswith("Kim (Zillow)")
    assert "/claim/" in payload["url"]
    push = rows(contact=contact, channel=Channel.PUSH).get()
    assert (push.status, push.to) == (Status.SENT, "push.example.com")


def test_push_to_a_gone_subscription_deletes_it(team, agents, capture, push_keys):
    from pywebpush import WebPushException

    subscription = PushSubscriptionFactory(membership=agents[0])
    rule(team, "Blast", *agents, method="blast")
    gone = WebPushException("gone", response=mock.Mock(status_code=410, text="gone"))
    with mock.patch("pywebpush.webpush", side_effect=gone):
        contact = new_contact(team, capture)
    push = rows(contact=contact, channel=Channel.PUSH).get()
    assert push.status == Status.SKIPPED
    assert "unsubscribed" in push.last_error
    assert not type(subscription).objects.filter(pk=subscription.pk).exists()


def test_push_service_error_is_retried(team, agents, capture, push_keys):
    from pywebpush import WebPushException

    PushSubscriptionFactory(membership=agents[0])
    rule(team, "Blast", *agents, method="blast")
    error = WebPushException("boom", response=mock.Mock(status_code=503, text="secret body"))
    with mock.patch("pywebpush.webpush", side_effect=error):
        contact = new_contact(team, capture)
    push = rows(contact=contact, channel=Channel.PUSH).get()
    assert (push.status, push.attempts) == (Status.PENDING, 1)
    assert push.last_error == "RuntimeError: push service answered 503"


def test_push_subscription_save_moves_an_endpoint_to_its_new_member(team, agents):
    first = services.push_subscription_save(
        membership=agents[0], endpoint="https://push.example.com/a", p256dh="k", auth="a"
    )
    again = services.push_subscription_save(
        membership=agents[1], endpoint="https://push.example.com/a", p256dh="k2", auth="a2"
    )
    assert first.pk == again.pk
    assert again.membership == agents[1]
    assert services.push_subscription_delete(membership=agents[0], endpoint=again.endpoint) == 0
    assert services.push_subscription_delete(membership=agents[1], endpoint=again.endpoint) == 1


def test_push_subscription_save_refuses_a_non_https_endpoint(agent):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.push_subscription_save(
            membership=agent, endpoint="http://evil.example/", p256dh="k", auth="a"
        )


def test_member_messages_skipped_once_the_member_is_deactivated(team, agents, capture):
    rule(team, "Agent 0", agents[0], follow_up_reminder_hours=1)
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, capture)
    agents[0].is_active = False
    agents[0].save()
    with time_machine.travel(T0 + timedelta(hours=1), tick=False), capture(execute=True):
        services.outbox_sweep()
        assert services.digests_send() == 0
    reminder = rows(contact=contact, kind=Kind.FOLLOW_UP_REMINDER).get()
    assert (reminder.status, reminder.last_error) == (
        Status.SKIPPED,
        "the member is no longer active",
    )
