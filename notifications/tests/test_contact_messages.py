"""Messages other apps schedule for a contact (plan steps, property alerts): held until
routing is complete, sent as the Agent of the moment, honouring unsubscribe and STOP."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contacts.tests.factories import ContactFactory
from notifications import signals
from notifications.contact_messages import (
    agent_task_schedule,
    contact_email_schedule,
    contact_messages_cancel,
    contact_messages_status,
    contact_template_validate,
    contact_text_schedule,
)
from notifications.models import Channel, Kind, OutboxMessage, Status
from notifications.services import message_deliver, outbox_sweep
from notifications.tests.fixtures import sms_outbox  # noqa: F401 (a fixture)
from notifications.unsubscribe import unsubscribe_token_make
from routing.manual import contact_assign_directly
from routing.tests.helpers import assigned_contact

SUBJECT = "Homes for {{ contact_first_name|default:'you' }}"
BODY = "Hi {{ contact_first_name }},\n\n{{ listings }}\n\n{{ agent_signature }}"


@pytest.fixture
def done(db):
    """What contact_message_done announced."""
    seen = []

    def listener(sender, **kwargs):
        seen.append(kwargs)

    signals.contact_message_done.connect(listener, dispatch_uid="test_contact_messages")
    yield seen
    signals.contact_message_done.disconnect(dispatch_uid="test_contact_messages")


def _schedule(contact, key="alert:1", due=None, **overrides):
    fields = {
        "contact": contact,
        "key": key,
        "subject": SUBJECT,
        "body": BODY,
        "due_at": due or timezone.now(),
        "origin": "alert",
        "ref": "search:1",
        "label": "Property alert “Austin condos”: 1 listing",
        "values": {"listings": "12 Oak St — $350,000"},
        **overrides,
    }
    return contact_email_schedule(**fields)


def _deliver(key: str) -> str:
    return message_deliver(message_id=OutboxMessage.objects.get(key=key).pk)


def test_email_is_sent_as_the_agent_with_one_click_unsubscribe(agent, capture, done):
    agent.email_signature = "Alan Agent · Acme Realty"
    agent.save()
    contact = assigned_contact(agent.team, agent, first_name="Jane", email="jane@example.com")
    mail.outbox.clear()

    with capture(execute=True):
        assert _schedule(contact)

    [email] = mail.outbox
    assert email.subject == "Homes for Jane"
    assert email.to == ["jane@example.com"]
    assert email.from_email.startswith('"Alan Agent" <') or email.from_email.startswith("Alan")
    assert email.reply_to == [agent.user.email]
    assert "12 Oak St — $350,000" in email.body
    assert "Alan Agent · Acme Realty" in email.body
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/unsubscribe/" in email.extra_headers["List-Unsubscribe"]
    row = OutboxMessage.objects.get(key="alert:1")
    assert (row.status, row.membership_id) == (Status.SENT, agent.pk)
    assert contact.timeline.filter(kind="alert_sent", message__contains="Austin condos").exists()
    assert [(d["status"], d["ref"], d["agent"]) for d in done] == [("sent", "search:1", agent)]


def test_the_same_key_is_scheduled_once(agent):
    contact = assigned_contact(agent.team, agent, email="jane@example.com")
    assert _schedule(contact)
    assert not _schedule(contact, subject="Another")
    assert OutboxMessage.objects.filter(key="alert:1").count() == 1


def test_held_until_routing_is_complete_then_sent_by_the_new_agent(team, agent, capture):
    contact = ContactFactory(team=team, email="jane@example.com")  # not routed yet
    with capture(execute=True):
        _schedule(contact)

    row = OutboxMessage.objects.get(key="alert:1")
    assert (row.status, row.held, row.attempts) == (Status.PENDING, True, 0)
    assert "held until routing is complete" in row.last_error
    assert contact_messages_status(keys=["alert:1"])["alert:1"].status == "held"
    assert not mail.outbox

    with capture(execute=True):
        contact_assign_directly(actor=None, contact=contact, membership=agent)

    row.refresh_from_db()
    assert (row.status, row.held, row.membership_id) == (Status.SENT, False, agent.pk)
    assert any(m.to == ["jane@example.com"] and m.subject.startswith("Homes") for m in mail.outbox)


def test_the_sweep_releases_held_messages_it_finds_assigned(team, agent, capture):
    contact = ContactFactory(team=team, email="jane@example.com")
    with capture(execute=True):
        _schedule(contact)
    contact_assign_directly(actor=None, contact=contact, membership=agent)  # no delivery ran

    with capture(execute=True):
        assert outbox_sweep()["released"] == 1

    assert OutboxMessage.objects.get(key="alert:1").status == Status.SENT


def test_later_messages_go_out_from_the_new_agent(team, agent, admin_member, capture):
    contact = assigned_contact(team, agent, email="jane@example.com")
    later = timezone.now() + timedelta(days=2)
    with capture(execute=True):
        _schedule(contact, key="plan:1:step:1")
        _schedule(contact, key="plan:1:step:2", due=later)
    contact_assign_directly(actor=None, contact=contact, membership=admin_member)

    with time_machine.travel(later + timedelta(minutes=1)), capture(execute=True):
        outbox_sweep()

    first, second = (OutboxMessage.objects.get(key=f"plan:1:step:{n}") for n in (1, 2))
    assert (first.membership_id, second.membership_id) == (agent.pk, admin_member.pk)
    assert mail.outbox[-1].from_email.startswith(f'"{admin_member.display_name}"') or (
        admin_member.display_name in mail.outbox[-1].from_email
    )


def test_unsubscribed_contacts_are_skipped_with_the_reason(agent, capture, done):
    contact = assigned_contact(agent.team, agent, email="jane@example.com")
    contact.unsubscribed_at = timezone.now()
    contact.save()
    mail.outbox.clear()

    with capture(execute=True):
        _schedule(contact)

    row = OutboxMessage.objects.get(key="alert:1")
    assert (row.status, row.last_error) == (Status.SKIPPED, "the contact unsubscribed")
    assert not mail.outbox
    assert done[0]["status"] == "skipped"
    assert contact.timeline.filter(kind="alert_skipped").exists()


def test_cancel_skips_only_pending_messages_of_the_prefix(agent):
    contact = assigned_contact(agent.team, agent, email="jane@example.com")
    later = timezone.now() + timedelta(days=1)
    _schedule(contact, key="plan:7:step:1", due=later)
    _schedule(contact, key="plan:7:step:2", due=later)
    _schedule(contact, key="plan:8:step:1", due=later)

    assert contact_messages_cancel(key_prefix="plan:7:", reason="plan stopped") == 2

    states = contact_messages_status(keys=["plan:7:step:1", "plan:8:step:1"])
    assert states["plan:7:step:1"].status == "skipped"
    assert states["plan:7:step:1"].reason == "plan stopped"
    assert states["plan:8:step:1"].status == "pending"


def test_a_refused_template_fails_the_message_without_retries(agent, capture):
    contact = assigned_contact(agent.team, agent, email="jane@example.com")
    with capture(execute=True):
        _schedule(contact, body="{% for x in 'abc' %}{{ x }}{% endfor %}")

    row = OutboxMessage.objects.get(key="alert:1")
    assert row.status == Status.FAILED
    assert "not allowed" in row.last_error


def test_contact_template_validate_names_unknown_placeholders():
    contact_template_validate("Hi {{ contact_first_name }} from {{ agent_name }}")
    contact_template_validate("{{ listings }}", extra={"listings": "12 Oak St"})
    with pytest.raises(ValidationError, match="listings"):
        contact_template_validate("{{ listings }}")


def test_texts_are_sent_as_the_agent_and_stop_is_honoured(agent, capture, sms_outbox):  # noqa: F811
    contact = assigned_contact(agent.team, agent, phone="+1 512 555 0100")
    with capture(execute=True):
        contact_text_schedule(
            contact=contact,
            key="plan:1:step:1",
            body="Hi, it's {{ agent_first_name }}.",
            due_at=timezone.now(),
            origin="plan",
            ref="run:1:step:1",
            label="Smart Plan “Nurture”, step 1: text",
        )
    assert sms_outbox[-1].body.startswith(f"Hi, it's {agent.user.first_name}.")
    assert "STOP" in sms_outbox[-1].body

    client = Client()
    url = reverse("notifications:sms_inbound")
    assert (
        client.post(url, {"from": "5125550100", "text": "STOP"}, "application/json").status_code
        == 401
    )


def test_sms_inbound_stop_and_start(settings, agent, capture, sms_outbox):  # noqa: F811
    settings.SMS_INBOUND_TOKEN = "inbound-secret"
    contact = assigned_contact(agent.team, agent, phone="(512) 555-0100")
    client = Client(headers={"Authorization": "Bearer inbound-secret"})
    url = reverse("notifications:sms_inbound")

    answer = client.post(url, {"from": "+15125550100", "text": " Stop "}, "application/json")
    assert answer.json() == {"outcome": "stopped", "contacts": 1}
    contact.refresh_from_db()
    assert contact.texts_stopped_at is not None
    sent_before = len(sms_outbox)
    with capture(execute=True):
        contact_text_schedule(
            contact=contact, key="t:1", body="Hi", due_at=timezone.now(),
            origin="plan", ref="r", label="Step",
        )  # fmt: skip
    assert len(sms_outbox) == sent_before
    assert OutboxMessage.objects.get(key="t:1").last_error == "the contact texted STOP"

    answer = client.post(url, {"from": "+15125550100", "text": "START"}, "application/json")
    assert answer.json() == {"outcome": "started", "contacts": 1}
    contact.refresh_from_db()
    assert contact.texts_stopped_at is None


def test_agent_task_reaches_the_agent_by_email_and_in_app(agent, capture):
    contact = assigned_contact(agent.team, agent, first_name="Jane")
    mail.outbox.clear()
    with capture(execute=True):
        agent_task_schedule(
            contact=contact,
            key="plan:1:step:3",
            title="Call Jane about the open house",
            body="Ask about Saturday.",
            due_at=timezone.now(),
            origin="plan",
            ref="run:1:step:3",
            label="Smart Plan “Nurture”, step 3",
        )

    [email] = mail.outbox
    assert email.to == [agent.user.email]
    assert "Call Jane about the open house" in email.subject
    assert "Ask about Saturday." in email.body
    assert OutboxMessage.objects.filter(
        kind=Kind.AGENT_TASK, channel=Channel.IN_APP, membership=agent
    ).exists()


# --- the unsubscribe link -------------------------------------------------------------


def test_unsubscribe_get_only_asks_and_post_unsubscribes_once_logged_out(agent):
    contact = assigned_contact(agent.team, agent, email="jane@example.com")
    url = reverse("notifications:unsubscribe", args=[unsubscribe_token_make(contact_id=contact.pk)])
    client = Client(enforce_csrf_checks=True)  # mail clients send no CSRF token

    page = client.get(url)
    assert page.status_code == 200
    assert "Unsubscribe from Acme Realty" in page.content.decode()
    assert page["Cache-Control"] == "no-store"
    contact.refresh_from_db()
    assert contact.unsubscribed_at is None  # a scanner's GET changes nothing

    one_click = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert "You are unsubscribed" in one_click.content.decode()
    contact.refresh_from_db()
    assert contact.unsubscribed_at is not None
    assert contact.timeline.filter(kind="unsubscribed").count() == 1

    again = client.post(url)
    assert "already unsubscribed" in again.content.decode()
    assert contact.timeline.filter(kind="unsubscribed").count() == 1


def test_unsubscribe_refuses_a_tampered_link(db):
    response = Client().get(reverse("notifications:unsubscribe", args=["not-a-real-token"]))
    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()


def test_welcome_email_carries_the_unsubscribe_headers_and_honours_it(team, agent, capture):
    contact = ContactFactory(team=team, email="jane@example.com")
    mail.outbox.clear()
    with capture(execute=True):
        contact_assign_directly(actor=None, contact=contact, membership=agent)
    welcome = [m for m in mail.outbox if m.to == ["jane@example.com"]]
    assert welcome
    assert "List-Unsubscribe" in welcome[0].extra_headers

    other = ContactFactory(team=team, email="joe@example.com", unsubscribed_at=timezone.now())
    mail.outbox.clear()
    with capture(execute=True):
        contact_assign_directly(actor=None, contact=other, membership=agent)
    assert not [m for m in mail.outbox if m.to == ["joe@example.com"]]


def test_an_inbound_text_is_the_contacts_reply_on_the_timeline(settings, agent, done):
    from contacts import signals as contact_signals

    settings.SMS_INBOUND_TOKEN = "inbound-secret"
    contact = assigned_contact(agent.team, agent, phone="512-555-0100")
    heard = []
    contact_signals.contact_replied.connect(
        lambda sender, **kw: heard.append(kw), dispatch_uid="test_replied", weak=False
    )
    try:
        answer = Client(headers={"Authorization": "Bearer inbound-secret"}).post(
            reverse("notifications:sms_inbound"),
            {"from": "+1 512 555 0100", "text": "Yes, Saturday works"},
            "application/json",
        )
    finally:
        contact_signals.contact_replied.disconnect(dispatch_uid="test_replied")

    assert answer.json() == {"outcome": "replied", "contacts": 1}
    event = contact.timeline.get(kind="replied_text")
    assert event.data["body"] == "Yes, Saturday works"
    assert [(kw["contact"], kw["channel"]) for kw in heard] == [(contact, "text")]
    contact.refresh_from_db()
    assert contact.texts_stopped_at is None
