"""Throttles on password reset requests (per address, per client IP) and on broken claim
links (per client IP)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from notifications.tokens import claim_token_make
from teams.tests.factories import UserFactory

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a window boundary (hourly windows)
CSRF = re.compile(r"[A-Za-z0-9]{64}")


@pytest.fixture(autouse=True)
def limits(settings):
    settings.PASSWORD_RESET_RATE_LIMIT_WINDOW_SECONDS = 3600
    settings.PASSWORD_RESET_RATE_LIMIT_PER_EMAIL = 2
    settings.PASSWORD_RESET_RATE_LIMIT_PER_IP = 5
    settings.CLAIM_LINK_FAILURE_WINDOW_SECONDS = 600
    settings.CLAIM_LINK_FAILURE_LIMIT_PER_IP = 2


@pytest.fixture
def member_user(db):
    return UserFactory(username="nina", email="nina@example.com")


def ask_reset(client, email, **extra):
    return client.post(reverse("password_reset"), {"email": email}, **extra)


# --- password reset ------------------------------------------------------------------


def test_password_reset_throttled_per_address(client, member_user, capture):
    with time_machine.travel(T0, tick=False), capture(execute=True):
        codes = [ask_reset(client, email).status_code for email in ("nina@example.com",) * 2]
        refused = ask_reset(client, "  NINA@Example.com ")  # the same address to the form
        other = ask_reset(client, "someone@example.com")

    assert codes == [302, 302]
    assert refused.status_code == 429
    page = refused.content.decode()
    assert "Too many reset requests" in page
    assert "No email was sent this time: try again in 60 minutes." in page
    assert refused["Retry-After"] == "3600"
    assert other.status_code == 302
    assert [m.to for m in mail.outbox] == [["nina@example.com"]] * 2


def test_password_reset_throttled_per_ip(client, db):
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        codes = [ask_reset(client, f"person{i}@example.com").status_code for i in range(6)]
        elsewhere = ask_reset(client, "person9@example.com", REMOTE_ADDR="10.0.0.9")

    assert codes == [302] * 5 + [429]
    assert elsewhere.status_code == 302


def test_password_reset_throttle_says_nothing_about_the_address(client, member_user):
    with time_machine.travel(T0, tick=False):
        known = [ask_reset(client, "nina@example.com", REMOTE_ADDR="10.0.0.7") for _ in range(3)]
        unknown = [
            ask_reset(client, "nobody@example.com", REMOTE_ADDR="10.0.0.8") for _ in range(3)
        ]

    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [302, 302, 429]
    assert known[0]["Location"] == unknown[0]["Location"]
    # The same page, but for the CSRF token every page carries.
    assert CSRF.sub("", known[2].content.decode()) == CSRF.sub("", unknown[2].content.decode())


def test_password_reset_throttle_ends_with_its_window(client, member_user):
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            ask_reset(client, "nina@example.com")
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        assert ask_reset(client, "nina@example.com").status_code == 302


def test_password_reset_page_views_are_not_counted(client, db, settings):
    settings.PASSWORD_RESET_RATE_LIMIT_PER_IP = 1
    with time_machine.travel(T0, tick=False):
        pages = {client.get(reverse("password_reset")).status_code for _ in range(3)}
        asked = ask_reset(client, "nina@example.com")

    assert pages == {200}
    assert asked.status_code == 302


# --- claim links ---------------------------------------------------------------------


def test_claim_bad_links_flood_is_429(client, db):
    with time_machine.travel(T0, tick=False):
        codes = [client.get("/claim/garbage/").status_code for _ in range(2)]
        refused = client.get("/claim/still-garbage/")
        elsewhere = client.get("/claim/garbage/", REMOTE_ADDR="10.0.0.9")
        genuine = client.get(
            reverse(
                "notifications:claim",
                args=[
                    claim_token_make(
                        offer_id=999, membership_id=999, deadline=T0 + timedelta(hours=1)
                    )
                ],
            )
        )

    assert codes == [400, 400]
    assert refused.status_code == 429
    assert "Too many broken links" in refused.content.decode()
    assert refused["Retry-After"] == "600"
    assert "no-store" in refused["Cache-Control"]
    assert elsewhere.status_code == 400
    assert genuine.status_code == 410  # a signed link is still read: it names no offer


def test_claim_bad_links_limit_zero_turns_it_off(client, db, settings):
    settings.CLAIM_LINK_FAILURE_LIMIT_PER_IP = 0
    with time_machine.travel(T0, tick=False):
        codes = {client.get("/claim/garbage/").status_code for _ in range(4)}

    assert codes == {400}
