"""Claim from a Blast Alert email: scanners fetch the links first, the humans log in and claim.

The links come from the emails routing actually sent (Django's locmem outbox);
only their host is swapped for the live server's, as SITE_URL names the real site.
"""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from playwright.sync_api import expect

from contacts.models import ContactRole
from contacts.services import contact_create
from notifications.tests import fixtures
from notifications.tests.fixtures import claim_links, emails_to
from routing.models import OfferStatus
from routing.tests.helpers import agent_of, rule
from teams.tests.factories import UserFactory, make_member

# live_server serves from another thread, so the data must be committed: routing and
# the offer emails then run on commit, tasks synchronously (settings_test).
pytestmark = pytest.mark.usefixtures("transactional_db", "sms_outbox", "no_push_keys")

sms_outbox = fixtures.sms_outbox
no_push_keys = fixtures.no_push_keys


# Referrer policies under which no Referer ever carries the token's path off the site.
TOKEN_SAFE_POLICIES = {"strict-origin"}


@pytest.fixture
def beth(team):
    return make_member(team, user=UserFactory(username="beth", first_name="Beth", last_name="Bee"))


def _link(live_server, member) -> str:
    [link] = claim_links(emails_to(member.user.email))
    return live_server.url + urlsplit(link).path


def _still_open(offer, contact) -> None:
    offer.refresh_from_db()
    assert offer.status == OfferStatus.OPEN
    assert offer.claimed_by_id is None
    assert not ContactRole.objects.filter(contact=contact).exists()


def _scan(playwright, url: str, status: int) -> None:
    """Outlook Safe Links and friends: HEAD and GET without cookies, before the human."""
    scanner = playwright.request.new_context()
    try:
        assert scanner.head(url).status == status
        answer = scanner.get(url)
        assert answer.status == status
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"] in TOKEN_SAFE_POLICIES
        assert "Cora Claim" not in answer.text()  # nothing about the contact without a login
    finally:
        scanner.dispose()


def _click_claim(page) -> None:
    """Click Claim; the browser's POST must pass the CSRF check and leak no token."""
    with page.expect_request(lambda r: r.method == "POST" and "/claim/" in r.url) as posted:
        page.get_by_role("button", name="Claim").click()
    assert "/claim/" not in (posted.value.headers.get("referer") or "")
    expect(page.get_by_role("heading", name="Forbidden (403)")).to_have_count(0)


def _log_in_from_claim(page, username: str) -> None:
    """Claim while logged out: the login form, then back on the same claim page."""
    claim_url = page.url
    _click_claim(page)
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=(/|%2F)claim(/|%2F)"))
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill("pw")
    page.locator("form [type=submit]").first.click()
    expect(page).to_have_url(claim_url)


# The claim page sends `Referrer-Policy: strict-origin`, not `no-referrer`: under
# `no-referrer` browsers send `Origin: null` with the Claim POST, which Django's CSRF
# check rejects, so every real click would answer 403. This test clicks for real.
def test_agents_claim_blast_alert_from_email_after_scanners(
    page, new_context, live_server, playwright, team, agent, beth, screenshot
):
    rule(team, "Blast", agent, beth, method="blast", claim_window_minutes=10)
    contact = contact_create(
        team=team,
        first_name="Cora",
        last_name="Claim",
        source="Zillow",
        email="cora@example.net",
    )
    offer = contact.offers.get()
    alan_link, beth_link = _link(live_server, agent), _link(live_server, beth)
    assert alan_link != beth_link

    for url in (alan_link, beth_link):
        _scan(playwright, url, status=200)
    _still_open(offer, contact)
    assert len(mail.outbox) == 2  # the two alerts; the welcome email waits for a claim
    assert emails_to("cora@example.net") == []

    # Alan opens his link logged out: a page with a Claim button, nothing claimed yet.
    response = page.goto(alan_link)
    assert response.headers["referrer-policy"] in TOKEN_SAFE_POLICIES
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Blast Alert: a contact to claim")
    expect(page.locator(".claim")).to_contain_text("A new contact is waiting to be claimed.")
    expect(page.locator(".claim")).to_contain_text("You will be asked to log in first.")
    screenshot(page, "claim-email-confirm")
    _still_open(offer, contact)

    _log_in_from_claim(page, agent.user.username)
    expect(heading).to_have_text("Blast Alert: a contact to claim")
    expect(page.locator(".claim .facts")).to_contain_text("Cora Claim")
    _still_open(offer, contact)  # logging in is not claiming: the POST asked first

    # Beth, on her phone, gets as far as the Claim button too.
    beth_page = new_context(viewport={"width": 375, "height": 812}).new_page()
    beth_page.goto(beth_link)
    _log_in_from_claim(beth_page, beth.user.username)
    expect(beth_page.locator(".claim .facts")).to_contain_text("Cora Claim")
    screenshot(beth_page, "claim-email-confirm-logged-in-phone")

    _click_claim(page)
    expect(heading).to_have_text("The contact is yours")
    expect(page.get_by_role("status")).to_contain_text("Cora Claim is now assigned to you.")
    screenshot(page, "claim-email-won")
    assert agent_of(contact) == agent
    [welcome] = emails_to("cora@example.net")
    assert welcome.from_email.startswith("Alan Agent <")

    page.get_by_role("link", name="My contacts").click()
    expect(page.locator("table.data-table")).to_contain_text("Cora Claim")

    _click_claim(beth_page)
    expect(beth_page.get_by_role("heading", level=1)).to_have_text("Already claimed")
    expect(beth_page.locator(".claim")).to_contain_text(
        "This contact was already claimed by Alan Agent."
    )
    screenshot(beth_page, "claim-email-already-claimed-phone")

    # A late scanner or a second click changes nothing either.
    beth_page.goto(beth_link)
    expect(beth_page.locator(".claim")).to_contain_text("already claimed by Alan Agent")
    for url in (alan_link, beth_link):
        _scan(playwright, url, status=409)
    offer.refresh_from_db()
    assert offer.status == OfferStatus.CLAIMED
    assert offer.claimed_by == agent
    assert agent_of(contact) == agent
    assert len(emails_to("cora@example.net")) == 1
