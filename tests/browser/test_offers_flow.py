"""Agents on My offers: a ticking countdown, Claim, and "already claimed" for the slower one."""

import re

import pytest
from playwright.sync_api import expect

from contacts.services import contact_create
from routing.offers import offer_claim
from routing.tests.helpers import agent_of, rule
from teams.tests.factories import UserFactory, make_member

# live_server serves from another thread, so the data must be committed.
pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture
def beth(team):
    return make_member(team, user=UserFactory(username="beth", first_name="Beth", last_name="Bee"))


def test_agent_claims_next_up_offer_with_ticking_countdown(
    page, live_server, team, agent, login, screenshot
):
    rule(team, "Next up", agent, method="next_up", claim_window_minutes=15)
    contact = contact_create(team=team, first_name="Nora", last_name="Next", source="Zillow")
    offer = contact.offers.get()

    login(page, live_server, agent.user.username)
    page.goto(f"{live_server.url}/routing/offers/")
    row = page.locator(f"#offer-{offer.pk}")
    expect(row).to_contain_text("Nora Next")
    expect(row).to_contain_text("Next Up")
    countdown = row.locator("time[data-countdown]")
    expect(countdown).to_have_text(re.compile(r"^1[45] min \d\d s left$"))
    before = countdown.inner_text()
    expect(countdown).not_to_have_text(before, timeout=2500)
    screenshot(page, "my-offers-next-up")

    row.get_by_role("button", name="Claim Nora Next").click()

    expect(row).to_contain_text("The contact is yours.")
    expect(page.locator("#claim-status")).to_contain_text("Nora Next: The contact is yours.")
    assert agent_of(contact) == agent
    screenshot(page, "my-offers-claimed")
    page.get_by_role("link", name="See it in My contacts").click()
    expect(page.get_by_role("heading", name="My contacts")).to_be_visible()
    expect(page.locator("table.data-table")).to_contain_text("Nora Next")
    screenshot(page, "my-contacts")


def test_second_agent_sees_blast_already_claimed(
    page, live_server, team, agent, beth, login, screenshot
):
    rule(team, "Blast", agent, beth, method="blast", claim_window_minutes=10)
    contact = contact_create(team=team, first_name="Bea", last_name="Blast", source="Zillow")
    offer = contact.offers.get()

    page.set_viewport_size({"width": 375, "height": 812})
    login(page, live_server, beth.user.username)
    page.goto(f"{live_server.url}/routing/offers/")
    row = page.locator(f"#offer-{offer.pk}")
    expect(row).to_contain_text("Blast Alert")
    expect(row).to_contain_text("Bea Blast")
    screenshot(page, "my-offers-blast-phone")

    assert offer_claim(offer_id=offer.pk, membership=agent).claimed  # someone else is faster
    row.get_by_role("button", name="Claim Bea Blast").click()

    expect(row).to_contain_text("This contact was already claimed by Alan Agent.")
    expect(page.locator("#claim-status")).to_contain_text("already claimed by Alan Agent")
    screenshot(page, "my-offers-already-claimed-phone")
    assert agent_of(contact) == agent


def test_agent_goes_online_and_pauses_until_a_day(page, live_server, agent, login, screenshot):
    login(page, live_server, agent.user.username)
    page.goto(f"{live_server.url}/routing/my-contacts/")
    panel = page.locator("#availability")
    expect(panel).to_contain_text("Offline")

    panel.get_by_role("button", name="Go online").click()
    expect(panel).to_contain_text("Online")
    panel.get_by_text("Pause or go on vacation").click()
    panel.get_by_label("Pause until").fill("2099-01-15")
    panel.get_by_role("button", name="Pause", exact=True).click()

    expect(panel).to_contain_text("Paused until Jan 15, 2099")
    expect(page).to_have_url(f"{live_server.url}/routing/my-contacts/")  # swapped in place
    agent.refresh_from_db()
    assert agent.is_online
    assert agent.paused
    screenshot(page, "my-contacts-paused")
    panel.get_by_role("button", name="Resume").click()
    expect(panel).to_contain_text("Online")
