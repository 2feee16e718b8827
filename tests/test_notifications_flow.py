"""Notifications across routing, mail and the claim pages, as a team lives them."""

import threading
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.db import connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contacts.models import ContactRole
from notifications import services
from notifications.models import Channel, Kind, OutboxMessage, Status
from notifications.tests import fixtures
from notifications.tests.fixtures import claim_links, emails_to
from routing.manual import contact_assign_directly, contact_reroute
from routing.models import OfferStatus
from routing.route import contact_route
from routing.signals import Assignment
from routing.tests.helpers import agent_of, new_contact, rule
from teams.tests.factories import UserFactory, make_member

capture = fixtures.capture
sms_outbox = fixtures.sms_outbox
no_push_keys = fixtures.no_push_keys


@pytest.fixture(autouse=True)
def _texts_in_memory(sms_outbox, no_push_keys):
    """No test here prints texts or reaches a push service."""


@pytest.fixture
def agents(team):
    return [
        make_member(
            team,
            user=UserFactory(username=f"agent{i}", first_name=f"Agent{i}", last_name="Smith"),
        )
        for i in range(3)
    ]


def _scan(path: str, status: int = 200) -> None:
    """What Outlook Safe Links, Proofpoint and Gmail do: fetch the link, no cookies."""
    scanner = Client()
    assert scanner.head(path).status_code == status
    assert scanner.get(path).status_code == status
    assert scanner.get(path, follow=True).status_code == status


def test_blast_links_survive_scanners_then_the_human_claims_after_logging_in(
    team,
    agents,
    capture,
    sms_outbox,
):
    rule(team, "Blast", *agents, method="blast")
    contact = new_contact(
        team, capture, first_name="Jane", email="jane@example.net", phone="+15550100"
    )
    paths = {a: urlsplit(claim_links(emails_to(a.user.email))[0]).path for a in agents}

    for path in paths.values():
        _scan(path)
    offer = contact.offers.get()
    assert offer.status == OfferStatus.OPEN
    assert not ContactRole.objects.filter(contact=contact).exists()
    assert emails_to("jane@example.net") == []
    assert sms_outbox == []

    human = Client(enforce_csrf_checks=True)
    path = paths[agents[1]]
    to_login = human.get(path)
    csrf = human.cookies["csrftoken"].value
    login_url = human.post(path, {"csrfmiddlewaretoken": csrf})["Location"]
    assert login_url.startswith(reverse("login"))
    login_page = human.get(login_url)
    assert to_login.status_code == login_page.status_code == 200
    back = human.post(
        reverse("login"),
        {
            "username": "agent1",
            "password": "pw",
            "next": path,
            "csrfmiddlewaretoken": human.cookies["csrftoken"].value,
        },
    )
    assert back["Location"] == path
    assert human.get(path).status_code == 200
    with capture(execute=True):
        claimed = human.post(path, {"csrfmiddlewaretoken": human.cookies["csrftoken"].value})
    assert "The contact is yours" in claimed.content.decode()
    assert agent_of(contact) == agents[1]

    [welcome] = emails_to("jane@example.net")
    assert welcome.from_email.startswith("Agent1 Smith <")
    assert welcome.reply_to == [agents[1].user.email]
    assert len(sms_outbox) == 1

    late = Client()
    late.force_login(agents[2].user)
    answer = late.post(paths[agents[2]])
    assert answer.status_code == 409
    assert "already claimed by Agent1 Smith" in answer.content.decode()
    for path in paths.values():
        _scan(path, status=409)
    assert agent_of(contact) == agents[1]
    assert len(emails_to("jane@example.net")) == 1


def test_next_up_welcome_goes_out_once_after_the_claim_whatever_happens_next(
    team,
    agents,
    capture,
    sms_outbox,
):
    rule(team, "Next up", *agents, method="next_up")
    contact = new_contact(team, capture, first_name="Ned", email="ned@example.net", phone="+1")
    [link] = claim_links(emails_to(agents[0].user.email))
    assert emails_to("ned@example.net") == []

    client = Client()
    client.force_login(agents[0].user)
    with capture(execute=True):
        assert client.post(urlsplit(link).path).status_code == 200
    with capture(execute=True):
        contact_reroute(actor=None, contact=contact)
    with capture(execute=True):
        contact_assign_directly(actor=None, contact=contact, membership=agents[2])
    assert len(emails_to("ned@example.net")) == 1
    assert len(sms_outbox) == 1
    assert emails_to("ned@example.net")[0].reply_to == [agents[0].user.email]


def test_rolled_back_contact_intake_sends_nothing(team, agents, capture, sms_outbox):
    from contacts.services import contact_create

    rule(team, "Blast", *agents, method="blast")

    def intake_then_fail():
        with transaction.atomic():
            contact = contact_create(team=team, first_name="Nope", email="n@example.net")
            contact_route(contact_id=contact.pk)
            raise RuntimeError("intake failed after routing")

    with capture(execute=True), pytest.raises(RuntimeError, match="intake failed"):
        intake_then_fail()
    assert not OutboxMessage.objects.exists()
    assert mail.outbox == []
    assert sms_outbox == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_message_deliver_from_many_workers_at_once_sends_one_email(team, agent):
    from contacts.models import Contact

    # bulk_create: no signal, so routing stays out of it.
    [contact] = Contact.objects.bulk_create(
        [Contact(team=team, first_name="Race", email="race@example.net")]
    )
    # Leave delivery to the racing workers below, not to the after-commit task.
    with mock.patch.object(services, "_enqueue_keys"):
        services.assignments_notify(
            assignments=[
                Assignment(
                    contact=contact,
                    membership_id=agent.pk,
                    member_name=agent.display_name,
                    previous_id=None,
                    previous_name="",
                    assigned_at=timezone.now(),
                    follow_up_hours=None,
                )
            ]
        )
    message = OutboxMessage.objects.get(kind=Kind.WELCOME_EMAIL, channel=Channel.EMAIL)
    barrier = threading.Barrier(6)
    results = []

    def worker():
        try:
            barrier.wait()
            results.append(services.message_deliver(message_id=message.pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["not due"] * 5 + [Status.SENT]
    assert len(emails_to("race@example.net")) == 1
