"""Lead-source webhooks: HMAC over a timestamp and the raw body, replays refused, dedup
on the source's own lead id."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from contacts.intake import (
    SignatureRefused,
    VerifiedSignature,
    intake_prune,
    webhook_signature,
    webhook_signature_verify,
)
from contacts.models import Contact, ExternalLead, LeadSource, RejectedPayload, WebhookDelivery
from contacts.tests.intake_helpers import make_source, post_webhook
from routing.models import LogEvent

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
T0_UNIX = int(T0.timestamp())
LEAD = {"lead_id": "z-1001", "first_name": "Wes", "email": "wes@example.net", "zpid": 123}
BODY = json.dumps(LEAD).encode()


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
    [
        "",
        "sha256=deadbeef",
        "md5=00",
        f"t={T0_UNIX}",
        "v1=" + "0" * 64,
        f"t={T0_UNIX},v1=" + "0" * 64,
    ],
)
def test_webhook_bad_signature_is_401_and_kept(client, source, team, signature):
    with time_machine.travel(T0, tick=False):
        response = post_webhook(client, source, LEAD, signature=signature)

    assert response.status_code == 401
    assert not Contact.objects.exists()
    assert not WebhookDelivery.objects.exists()
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
    signature = webhook_signature(secret=source.secret, body=BODY, timestamp=T0_UNIX)
    # Same JSON, one more space: another body, so another signature.
    with time_machine.travel(T0, tick=False):
        response = post_webhook(client, source, BODY.replace(b": ", b":  "), signature=signature)

    assert response.status_code == 401
    assert response.json()["detail"].startswith("Bad signature")


def test_webhook_signature_covers_the_timestamp(client, source):
    signed = webhook_signature(secret=source.secret, body=BODY, timestamp=T0_UNIX - 3600)
    # A captured request sent an hour later under a fresh timestamp.
    moved = signed.replace(f"t={T0_UNIX - 3600}", f"t={T0_UNIX}")

    with time_machine.travel(T0, tick=False):
        response = post_webhook(client, source, BODY, signature=moved)

    assert response.status_code == 401
    assert response.json()["detail"].startswith("Bad signature")


def test_webhook_replayed_request_is_refused_and_kept(client, source, team):
    with time_machine.travel(T0, tick=False):
        first = post_webhook(client, source, LEAD)
    with time_machine.travel(T0 + timedelta(seconds=200), tick=False):
        replay = post_webhook(client, source, LEAD, timestamp=T0_UNIX)
        # The same lead signed afresh is a new delivery (deduplicated on its lead_id).
        resent = post_webhook(client, source, LEAD)

    assert first.status_code == 201
    assert replay.status_code == 401
    assert replay.json() == {
        "detail": "This signed request was received before: sign each delivery, retries "
        "included, with a fresh timestamp.",
        "errors": [],
    }
    assert resent.status_code == 200
    assert Contact.objects.count() == 1
    assert RejectedPayload.objects.get().status == 401
    assert WebhookDelivery.objects.filter(source=source).count() == 2


def test_webhook_replays_do_not_use_up_the_source_rate_limit(client, source, settings):
    settings.INTAKE_RATE_LIMIT_PER_TOKEN = 2  # per lead source
    with time_machine.travel(T0, tick=False):
        first = post_webhook(client, source, LEAD)
        replays = [post_webhook(client, source, LEAD) for _ in range(3)]
        other = post_webhook(client, source, {**LEAD, "lead_id": "z-2", "email": "b@example.net"})

    assert first.status_code == 201
    assert [r.status_code for r in replays] == [401] * 3
    assert other.status_code == 201


@pytest.mark.parametrize(
    ("signed_at", "accepted"),
    [
        (T0 - timedelta(seconds=300), True),
        (T0 + timedelta(seconds=300), True),
        (T0 - timedelta(seconds=301), False),
        (T0 + timedelta(seconds=301), False),
        (T0 - timedelta(days=1), False),
    ],
)
def test_webhook_timestamp_must_be_within_tolerance(client, source, signed_at, accepted):
    with time_machine.travel(T0, tick=False):
        response = post_webhook(client, source, LEAD, timestamp=int(signed_at.timestamp()))

    if accepted:
        assert response.status_code == 201
    else:
        assert response.status_code == 401
        assert response.json()["detail"].startswith(
            "The signature timestamp is outside the 300-second tolerance"
        )
        assert not Contact.objects.exists()


def test_webhook_tolerance_follows_the_setting(client, source, settings):
    settings.WEBHOOK_TOLERANCE_SECONDS = 60
    with time_machine.travel(T0, tick=False):
        late = post_webhook(client, source, LEAD, timestamp=T0_UNIX - 61)
        in_time = post_webhook(client, source, LEAD, timestamp=T0_UNIX - 60)

    assert late.status_code == 401
    assert "60-second tolerance" in late.json()["detail"]
    assert in_time.status_code == 201


def test_webhook_old_signature_format_is_refused_with_the_new_one(client, source):
    old = "sha256=" + webhook_signature(secret=source.secret, body=BODY, timestamp=0)[-64:]

    response = post_webhook(client, source, BODY, signature=old)

    assert response.status_code == 401
    detail = response.json()["detail"]
    assert "no longer accepted" in detail
    assert "t=<unix seconds>,v1=<hex HMAC-SHA256" in detail


def test_webhook_accepts_any_of_several_v1_signatures(client, source):
    # A sender moving to a new secret signs with both until the source is updated.
    old = webhook_signature(secret="old-secret", body=BODY, timestamp=T0_UNIX)
    new = webhook_signature(secret=source.secret, body=BODY, timestamp=T0_UNIX)
    header = f"{old},{new.split(',')[1]},v0=ignored"

    with time_machine.travel(T0, tick=False):
        response = post_webhook(client, source, BODY, signature=header)

    assert response.status_code == 201


def test_webhook_deliveries_pruned_once_outside_the_window(client, source):
    with time_machine.travel(T0, tick=False):
        post_webhook(client, source, LEAD)

    assert intake_prune(now=T0 + timedelta(seconds=300))["webhook_deliveries"] == 0
    assert intake_prune(now=T0 + timedelta(seconds=361))["webhook_deliveries"] == 1
    assert not WebhookDelivery.objects.exists()
    # Pruned, the old request still cannot come back: its timestamp is refused.
    with time_machine.travel(T0 + timedelta(seconds=361), tick=False):
        assert post_webhook(client, source, LEAD, timestamp=T0_UNIX).status_code == 401


SECRET = "s3cret-shared"


def _signed(timestamp: int = T0_UNIX, body: bytes = BODY) -> str:
    return webhook_signature(secret=SECRET, body=body, timestamp=timestamp)


@pytest.mark.parametrize(
    ("header", "refusal"),
    [
        (None, "Missing X-Switchboard-Signature"),
        ("  ", "Missing X-Switchboard-Signature"),
        ("sha256=" + "0" * 64, "sha256=… (no timestamp) is no longer accepted"),
        (_signed().split(",")[1], "needs one timestamp"),
        (f"t=abc,{_signed().split(',')[1]}", "needs one timestamp"),
        (f"t=-{T0_UNIX}," + _signed().split(",")[1], "needs one timestamp"),
        (f"t={T0_UNIX},t={T0_UNIX},{_signed().split(',')[1]}", "needs one timestamp"),
        (f"t={T0_UNIX}", "has no v1= signature"),
        (_signed().upper(), "needs one timestamp"),
        (_signed().replace("v1=", "V1="), "has no v1= signature"),
        (_signed()[:-1], "Bad signature"),
        (_signed(body=b"{}"), "Bad signature"),
        (_signed(T0_UNIX + 1).replace(f"t={T0_UNIX + 1}", f"t={T0_UNIX}"), "Bad signature"),
        (f"t={T0_UNIX},v1=é" + "0" * 63, "Bad signature"),
        (_signed(T0_UNIX - 301).replace(f"t={T0_UNIX - 301}", f"t={T0_UNIX}"), "Bad signature"),
        (_signed(T0_UNIX - 301), "outside the 300-second tolerance"),
        (_signed(T0_UNIX + 301), "outside the 300-second tolerance"),
        (_signed(10**12 - 1), "outside the 300-second tolerance"),
    ],
)
def test_webhook_signature_verify_refusals(header, refusal):
    with pytest.raises(SignatureRefused, match=re.escape(refusal)):
        webhook_signature_verify(source=LeadSource(secret=SECRET), body=BODY, header=header, now=T0)


@pytest.mark.parametrize(
    "header",
    [
        _signed(),
        f"  {_signed()}  ",
        " , ".join(reversed(_signed().split(","))),
        f"{_signed()},v1={'0' * 64}",
        f"v0=legacy,{_signed()},x=y",
        _signed(T0_UNIX - 300),
    ],
)
def test_webhook_signature_verify_accepts(header):
    verified = webhook_signature_verify(
        source=LeadSource(secret=SECRET), body=BODY, header=header, now=T0
    )

    stamp = int(header.split("t=")[1].split(",")[0])
    assert verified == VerifiedSignature(timestamp=stamp, digest=_signed(stamp)[-64:])


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
    # A retry is signed afresh (a new timestamp); the key replays the first answer.
    with time_machine.travel(T0, tick=False):
        first = post_webhook(client, source, LEAD, HTTP_IDEMPOTENCY_KEY="delivery-7")
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        again = post_webhook(client, source, LEAD, HTTP_IDEMPOTENCY_KEY="delivery-7")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"


def test_webhook_body_too_large_is_413(client, source, settings):
    settings.INTAKE_MAX_BODY_BYTES = 20

    response = post_webhook(client, source, LEAD)

    assert response.status_code == 413
    assert RejectedPayload.objects.get().source == source


def test_tokens_page_explains_the_webhook_signature(client, owner, source, settings):
    settings.WEBHOOK_TOLERANCE_SECONDS = 120
    client.force_login(owner.user)

    text = client.get(reverse("api_tokens")).content.decode()

    assert f"/api/v1/webhooks/{source.slug}" in text
    assert "X-Switchboard-Signature: t=&lt;unix seconds&gt;,v1=" in text
    assert "more than 120 seconds from our clock" in text
