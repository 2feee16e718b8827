"""Texts, sent through a pluggable backend chosen by settings.SMS_BACKEND.

The same shape as django.core.mail: `get_connection()` returns a backend whose
`send_messages()` takes a list of `SmsMessage` and returns how many it sent.
Backends: console (default), file, locmem (tests: fills `outbox` below) and
webhook (POSTs JSON to SMS_WEBHOOK_URL, for any SMS gateway or a small relay).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

# The locmem backend appends every sent message here, as Django's mail.outbox.
outbox: list[SmsMessage] = []


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    from_name: str = ""


def get_connection(backend: str | None = None, *, fail_silently: bool = False, **kwargs):
    klass = import_string(backend or settings.SMS_BACKEND)
    return klass(fail_silently=fail_silently, **kwargs)


def send_sms(to: str, body: str, *, from_name: str = "", fail_silently: bool = False) -> int:
    connection = get_connection(fail_silently=fail_silently)
    return connection.send_messages([SmsMessage(to=to, body=body, from_name=from_name)])
