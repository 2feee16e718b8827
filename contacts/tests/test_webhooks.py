"""Lead-source webhooks: HMAC over the raw body, dedup on the source's own lead id."""

import json
from datetime import UTC, datetime

import pytest
import time_machine

from contacts.intake import webhook_signature, webhook_signature_valid
from contacts.models import Contact, ExternalLead, LeadSource, RejectedPayload
from contacts.tests.intake_helpers import make_source, post_webhook
from routing.models import LogEvent

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
LEAD = {"lead_id": "z-1001", "first_name": "Wes", "email": "wes@example.net", "zpid": 123}


@pytest.fixture
def source(team):
    return make_source(team)


def test_webhook_signed_lead_creates_contact_from_source(client, source, team):
    response = post_webhook(client, source, LEAD)

    assert response.status_code == 201
    contact = Contact.objects.get(pk=response.json()["id"])
    assert (contact.team, contact.source, contact.email) == (team, "Zillow", "wes@example.net")
    assert ExternalLead.objects.get().contact == contact


def test_webhook_same_lead_id_is_deduplicated(client, source):
    first = post_webhook(client, source, LEAD).json()

    again = post_webhook(client, source, {**LEAD, "email": "wes.new@example.net"})

    assert again.status_code == 200
    body = again.json()
    assert (body["id"], body["deduplicated"], body["matched_by"]) == (
        first["id"],
        True,
        "source lead id",
    )
    assert Contact.objects.count() == 1
    assert ExternalLead.objects.count() == 1
    contact = Contact.objects.get()
    assert contact.routing_logs.filter(event=LogEvent.DEDUPLICATED).count() == 1


def test_webhook_new_lead_id_matching_email_links_the_id(client, source):
    first = post_webhook(client, source, LEAD).json()

    again = post_webhook(client, source, {**LEAD, "lead_id": "z-2002"})

    assert again.json()["matched_by"] == "email"
    assert again.json()["id"] == first["id"]
    assert set(ExternalLead.objects.values_list("external_id", flat=True)) == {"z-1001", "z-2002"}


def test_webhook_same_lead_id_from_another_source_is_its_own(client, source, team):
    other = make_source(team, name="Facebook", slug="facebook", secret="other")

    post_webhook(client, source, LEAD)
    response = post_webhook(client, other, {**LEAD, "email": "someone@example.net"})

    assert response.status_code == 201


@pytest.mark.parametrize(
    "signature",
    ["", "sha256=deadbeef", "md5=00", "sha256=" + "0" * 64],
)
def test_webhook_bad_signature_is_401_and_kept(client, source, team, signature):
    response = post_webhook(client, source, LEAD, signature=signature)

    assert response.status_code == 401
    assert not Contact.objects.exists()
    rejected = RejectedPayload.objects.get()
    assert (rejected.status, rejected.team, rejected.source) == (401, team, source)
    assert '"z-1001"' in rejected.body


def test_webhook_unsigned_flood_is_429_unstored_and_spares_the_source(client, source, settings):
    settings.INTAKE_RATE_LIMIT_PER_IP = 2
    settings.INTAKE_RATE_LIMIT_PER_TOKEN = 1  # per lead source
    with time_machine.travel(T0, tick=False):
        unsigned = [post_webhook(client, source, LEAD, signature="sha256=00") for _ in range(3)]
        signed = post_webhook(client, source, LEAD, REMOTE_ADDR="10.0.0.9")
        again = post_webhook(client, source, {**LEAD, "lead_id": "z-2"}, REMOTE_ADDR="10.0.0.8")

    assert [r.status_code for r in unsigned] == [401, 401, 429]
    assert RejectedPayload.objects.count() == 2  # the 429 was not stored
    # Unsigned requests never count against the source: its one lead a window gets in.
    assert signed.status_code == 201
    assert again.status_code == 429
    assert again.json()["detail"].startswith("Too many requests from this lead source")


def test_webhook_signed_with_another_secret_is_401(client, source):
    assert post_webhook(client, source, LEAD, secret="guess").status_code == 401


def test_webhook_signature_covers_the_raw_body(client, source):
    body = json.dumps(LEAD).encode()
    signature = webhook_signature(secret=source.secret, body=body)
    # Same JSON, one more space: another body, so another signature.
    response = client.post(
        f"/api/v1/webhooks/{source.slug}",
        data=body.replace(b": ", b":  "),
        content_type="application/json",
        HTTP_X_SWITCHBOARD_SIGNATURE=signature,
    )

    assert response.status_code == 401


def test_webhook_signature_valid_compares_whole_header(source):
    body = b"{}"
    good = webhook_signature(secret=source.secret, body=body)

    assert webhook_signature_valid(source=source, body=body, header=good)
    assert webhook_signature_valid(source=source, body=body, header=f" {good} ")
    assert not webhook_signature_valid(source=source, body=body, header=good[len("sha256=") :])
    assert not webhook_signature_valid(source=source, body=body, header=good.upper())


@pytest.mark.parametrize("slug", ["nope", "zillow-off"])
def test_webhook_unknown_or_inactive_source_is_404(client, source, team, slug):
    LeadSource.objects.create(team=team, name="Off", slug="zillow-off", secret="x", is_active=False)
    fake = LeadSource(slug=slug, secret="x")

    response = post_webhook(client, fake, LEAD)

    assert response.status_code == 404
    assert RejectedPayload.objects.get().status == 404


def test_webhook_invalid_lead_is_400_and_kept_with_team(client, source, team):
    response = post_webhook(client, source, {"first_name": "No id", "email": "bad"})

    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"lead_id", "email"}
    rejected = RejectedPayload.objects.get()
    assert (rejected.team, rejected.source) == (team, source)


def test_webhook_wrong_content_type_is_415(client, source):
    response = post_webhook(client, source, LEAD, content_type="text/plain")

    assert response.status_code == 415


def test_webhook_replays_with_idempotency_key(client, source):
    first = post_webhook(client, source, LEAD, HTTP_IDEMPOTENCY_KEY="delivery-7")
    again = post_webhook(client, source, LEAD, HTTP_IDEMPOTENCY_KEY="delivery-7")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"


def test_webhook_body_too_large_is_413(client, source, settings):
    settings.INTAKE_MAX_BODY_BYTES = 20

    response = post_webhook(client, source, LEAD)

    assert response.status_code == 413
    assert RejectedPayload.objects.get().source == source
