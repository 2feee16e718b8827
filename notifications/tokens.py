"""Claim links: a signed token bound to one offer and one recipient, good until the deadline.

The token is signed with its own salt, so no other signed value of the site
(sessions, password resets, other links) can pass for one, and it can only
ever name the offer and member it was made for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

CLAIM_SALT = "switchboard.claim"
# The deadline in the token is what expires a link; this only bounds a token's age
# in case a rule's claim window were ever set absurdly long.
MAX_AGE = timedelta(days=7)

CLAIM_PATH_RE = re.compile(r"/claim/[^/\s?&#\"']+")
# Unsubscribe links carry a signed contact id: out of logs too.
UNSUBSCRIBE_PATH_RE = re.compile(r"/unsubscribe/[^/\s?&#\"']+")


class ClaimLinkInvalid(Exception):
    """Tampered, truncated, or signed for another purpose."""


class ClaimLinkExpired(Exception):
    """Genuine, but its claim window has closed."""


@dataclass(frozen=True)
class ClaimTicket:
    offer_id: int
    membership_id: int
    expires_at: datetime


def claim_token_make(*, offer_id: int, membership_id: int, deadline: datetime) -> str:
    payload = {"o": offer_id, "m": membership_id, "e": int(deadline.timestamp())}
    return signing.dumps(payload, salt=CLAIM_SALT)


def claim_token_read(token: str, *, now: datetime) -> ClaimTicket:
    try:
        payload = signing.loads(token, salt=CLAIM_SALT, max_age=MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ClaimLinkExpired from exc
    except signing.BadSignature as exc:
        raise ClaimLinkInvalid from exc
    if not (
        isinstance(payload, dict) and all(isinstance(payload.get(k), int) for k in ("o", "m", "e"))
    ):
        raise ClaimLinkInvalid
    ticket = ClaimTicket(
        offer_id=payload["o"],
        membership_id=payload["m"],
        expires_at=datetime.fromtimestamp(payload["e"], tz=UTC),
    )
    if now >= ticket.expires_at:
        raise ClaimLinkExpired
    return ticket


def claim_url(*, offer_id: int, membership_id: int, deadline: datetime) -> str:
    token = claim_token_make(offer_id=offer_id, membership_id=membership_id, deadline=deadline)
    return settings.SITE_URL + reverse("notifications:claim", args=[token])


def carries_token(text: str) -> bool:
    return bool(CLAIM_PATH_RE.search(text) or UNSUBSCRIBE_PATH_RE.search(text))


def redact(text: str) -> str:
    """Claim and unsubscribe tokens out of anything bound for a log or an error column."""
    text = CLAIM_PATH_RE.sub("/claim/[redacted]", text)
    return UNSUBSCRIBE_PATH_RE.sub("/unsubscribe/[redacted]", text)
