"""One-click unsubscribe links for contact-facing mail.

A signed token (its own salt) names the contact; the link's GET shows a confirmation
only (mail scanners fetch links), a POST unsubscribes, from the page's button or from
the mail client's one-click request (RFC 8058: `List-Unsubscribe-Post`).
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

UNSUBSCRIBE_SALT = "switchboard.unsubscribe"


class UnsubscribeLinkInvalid(Exception):
    """Tampered, truncated, or signed for another purpose."""


def unsubscribe_token_make(*, contact_id: int) -> str:
    return signing.dumps({"c": contact_id}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token_read(token: str) -> int:
    """The contact id the token was made for (links never expire: a contact may
    unsubscribe from an old email)."""
    try:
        payload = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature as exc:
        raise UnsubscribeLinkInvalid from exc
    if not (isinstance(payload, dict) and isinstance(payload.get("c"), int)):
        raise UnsubscribeLinkInvalid
    return payload["c"]


def unsubscribe_url(*, contact_id: int) -> str:
    path = reverse(
        "notifications:unsubscribe", args=[unsubscribe_token_make(contact_id=contact_id)]
    )
    return f"{settings.SITE_URL}{path}"


def unsubscribe_headers(*, contact_id: int) -> dict[str, str]:
    """The headers mail clients show an "Unsubscribe" button for, one click, no login."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(contact_id=contact_id)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
