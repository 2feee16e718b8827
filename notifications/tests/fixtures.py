"""Fixtures shared by the notifications tests and the cross-app flows in tests/."""

import re

import pytest
from django.core import mail

from notifications import sms

CLAIM_LINK = re.compile(r"https?://[^\s\"<>]+/claim/[^\s\"<>/]+/")


@pytest.fixture
def sms_outbox(settings):
    """Texts kept in memory, as Django does for email in tests."""
    settings.SMS_BACKEND = "notifications.sms.backends.locmem.SmsBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def no_push_keys(settings):
    settings.VAPID_PUBLIC_KEY = ""
    settings.VAPID_PRIVATE_KEY = ""


@pytest.fixture
def push_keys(settings):
    settings.VAPID_PUBLIC_KEY = "BPublicKeyForTests"
    settings.VAPID_PRIVATE_KEY = "private-key-for-tests"
    settings.VAPID_SUBJECT = "mailto:ops@example.com"


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def claim_links(messages=None) -> list[str]:
    """Every Claim link in the emails sent so far (text parts)."""
    links = []
    for message in mail.outbox if messages is None else messages:
        links += CLAIM_LINK.findall(message.body)
    return links


def emails_to(address: str) -> list:
    return [m for m in mail.outbox if address in m.to]
