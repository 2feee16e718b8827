"""Builders for intake tests: tokens, lead sources and requests as integrations send them."""

import itertools
import json
import time

from contacts.intake import webhook_signature
from contacts.models import LeadSource
from teams.tokens import api_token_create

CONTACTS_URL = "/api/v1/contacts"
_names = itertools.count(1)

LEAD = {
    "first_name": "Lena",
    "last_name": "Lead",
    "email": "lena@example.net",
    "phone": "+1 (512) 555-0100",
    "source": "Website",
    "contact_type": "buyer",
    "city": "Austin",
    "state": "TX",
    "price_min": 300000,
    "price_max": 450000,
    "tags": ["hot"],
    "message": "Is the house on Elm St still available?",
}


def make_token(team, *, access="full") -> str:
    _, plain = api_token_create(actor=None, team=team, name=f"token {next(_names)}", access=access)
    return plain


def post_lead(client, data, *, token=None, url=CONTACTS_URL, key=None, **extra):
    headers = dict(extra)
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if key:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    body = data if isinstance(data, bytes | str) else json.dumps(data)
    headers.setdefault("content_type", "application/json")
    return client.post(url, data=body, **headers)


def make_source(team, *, name="Zillow", slug="zillow", secret="s3cret-shared", **fields):
    return LeadSource.objects.create(team=team, name=name, slug=slug, secret=secret, **fields)


def post_webhook(client, source, data, *, secret=None, signature=None, timestamp=None, **extra):
    """Signed as a source signs it, at `timestamp` (default: now); or with `signature`."""
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    if signature is None:
        timestamp = int(time.time()) if timestamp is None else timestamp
        signature = webhook_signature(
            secret=secret or source.secret, body=body, timestamp=timestamp
        )
    return client.post(
        f"/api/v1/webhooks/{source.slug}",
        data=body,
        content_type=extra.pop("content_type", "application/json"),
        HTTP_X_SWITCHBOARD_SIGNATURE=signature,
        **extra,
    )


def routing_scheduled(callbacks) -> list:
    """The on-commit callbacks that wake a router for queued contacts (not notifications,
    nor a look at held contacts)."""
    return [
        cb
        for cb in callbacks
        if getattr(getattr(cb, "func", None), "__module__", "") == "routing.queue"
        and "holds" not in cb.func.__name__
    ]
