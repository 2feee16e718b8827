"""Ten identical posts at once make one contact: with an Idempotency-Key, and without one
(dedup serialised per team and email); ten copies of one signed webhook request, one
delivery. PostgreSQL, real threads, real commits."""

import json
import threading
import time

import pytest
from django.db import connections
from django.test import Client

from contacts.intake import webhook_signature
from contacts.models import Contact, IdempotencyKey, RejectedPayload, WebhookDelivery
from contacts.tests.intake_helpers import LEAD, make_source, make_token, post_lead, post_webhook
from routing.models import LogEvent, RoutingLog, RoutingStatus
from routing.tests.helpers import rule
from teams.tests.factories import UserFactory, make_member, make_team

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

N = 10


def _post_at_once(token: str, **kwargs) -> list:
    return _at_once(lambda client: post_lead(client, LEAD, token=token, **kwargs))


def _at_once(send) -> list:
    barrier = threading.Barrier(N)
    responses, errors = [None] * N, []

    def target(i):
        try:
            client = Client()
            barrier.wait()
            responses[i] = send(client)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return responses


@pytest.fixture
def setup():
    team = make_team(owner=UserFactory())
    agent = make_member(team)
    rule(team, "Everyone", agent)
    return team, make_token(team)


def test_ten_identical_posts_same_idempotency_key_make_one_contact(setup):
    team, token = setup

    responses = _post_at_once(token, key="form-submission-42")

    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {201, 409}, codes
    created = [r.json() for r in responses if r.status_code == 201]
    assert created
    assert len({body["id"] for body in created}) == 1
    contact = Contact.objects.get(team=team)
    assert contact.routing.status == RoutingStatus.ASSIGNED
    assert IdempotencyKey.objects.get().response_status == 201
    # A late retry replays the answer.
    late = post_lead(Client(), LEAD, token=token, key="form-submission-42")
    assert (late.status_code, late.json()["id"]) == (201, contact.pk)


def test_ten_identical_posts_without_key_dedup_to_one_contact(setup):
    team, token = setup

    responses = _post_at_once(token)

    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * (N - 1) + [201], codes
    assert len({r.json()["id"] for r in responses}) == 1
    contact = Contact.objects.get(team=team)
    assert contact.routing.status == RoutingStatus.ASSIGNED
    assert RoutingLog.objects.filter(contact=contact, event=LogEvent.ASSIGNED).count() == 1
    assert RoutingLog.objects.filter(contact=contact, event=LogEvent.DEDUPLICATED).count() == N - 1
    assert contact.timeline.filter(kind="inquiry").count() == N  # the first one's, plus nine


def test_ten_copies_of_one_signed_webhook_request_make_one_delivery(setup):
    team, _ = setup
    source = make_source(team)
    body = json.dumps({"lead_id": "z-7", "email": "copy@example.net"}).encode()
    signature = webhook_signature(secret=source.secret, body=body, timestamp=int(time.time()))

    responses = _at_once(lambda client: post_webhook(client, source, body, signature=signature))

    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [401] * (N - 1), codes
    assert Contact.objects.filter(team=team).count() == 1
    assert WebhookDelivery.objects.get().source == source
    assert RejectedPayload.objects.filter(status=401).count() == N - 1
