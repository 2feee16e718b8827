"""Claim tokens: bound to an offer and a member, signed for this purpose, dead after the window."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import signing

from notifications.tokens import (
    CLAIM_SALT,
    ClaimLinkExpired,
    ClaimLinkInvalid,
    claim_token_make,
    claim_token_read,
    redact,
)

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(minutes=15)


def make() -> str:
    with time_machine.travel(T0, tick=False):
        return claim_token_make(offer_id=7, membership_id=3, deadline=DEADLINE)


def test_claim_token_read_returns_offer_and_member():
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        ticket = claim_token_read(make(), now=T0 + timedelta(minutes=1))
    assert (ticket.offer_id, ticket.membership_id, ticket.expires_at) == (7, 3, DEADLINE)


def test_claim_token_read_expires_at_the_deadline():
    token = make()
    with time_machine.travel(DEADLINE, tick=False), pytest.raises(ClaimLinkExpired):
        claim_token_read(token, now=DEADLINE)


def test_claim_token_read_expires_after_max_age_whatever_the_payload_says():
    with time_machine.travel(T0, tick=False):
        token = claim_token_make(offer_id=7, membership_id=3, deadline=T0 + timedelta(days=30))
    with time_machine.travel(T0 + timedelta(days=8), tick=False), pytest.raises(ClaimLinkExpired):
        claim_token_read(token, now=T0 + timedelta(days=8))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t.replace(
            t.split(":")[0], signing.b64_encode(b'{"o":8,"m":3,"e":9999999999}').decode()
        ),
        lambda t: t[: len(t) // 2],
        lambda t: "",
        lambda t: "not-a-token",
    ],
    ids=["signature", "payload", "truncated", "empty", "garbage"],
)
def test_claim_token_read_refuses_tampered_tokens(tamper):
    token = tamper(make())
    with time_machine.travel(T0, tick=False), pytest.raises(ClaimLinkInvalid):
        claim_token_read(token, now=T0)


@pytest.mark.parametrize("salt", ["", "django.core.signing", "switchboard.unsubscribe"])
def test_claim_token_read_refuses_tokens_signed_for_another_purpose(salt):
    payload = {"o": 7, "m": 3, "e": int(DEADLINE.timestamp())}
    with time_machine.travel(T0, tick=False), pytest.raises(ClaimLinkInvalid):
        claim_token_read(signing.dumps(payload, salt=salt), now=T0)


@pytest.mark.parametrize("payload", [[7, 3], {"o": "7", "m": 3, "e": 1}, {"o": 7}])
def test_claim_token_read_refuses_a_payload_of_the_wrong_shape(payload):
    with time_machine.travel(T0, tick=False), pytest.raises(ClaimLinkInvalid):
        claim_token_read(signing.dumps(payload, salt=CLAIM_SALT), now=T0)


def test_redact_hides_claim_tokens_in_paths_and_encoded_next_urls():
    text = 'GET /claim/abc:def:ghi/ 400 and /accounts/login/?next=/claim/abc%3Adef/ "x"'
    assert redact(text) == (
        'GET /claim/[redacted]/ 400 and /accounts/login/?next=/claim/[redacted]/ "x"'
    )
