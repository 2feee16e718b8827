"""An admin reads, in the browser, why a contact skipped rule 1 of the routing rules."""

import pytest
from playwright.sync_api import expect

from contacts.services import contact_create
from contacts.tests.factories import ContactFactory
from routing.models import RoutingStatus
from routing.tests.helpers import agent_of, rule

# live_server serves from another thread, so the data must be committed.
pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture
def zoe(team, agent):
    """Rule 1 takes Facebook leads only; Zoe comes from Zillow, so rule 2 takes her."""
    rule(team, "Facebook leads", agent, sources=["Facebook"])
    rule(team, "Zillow leads", agent, sources=["Zillow"])
    contact = contact_create(
        team=team, first_name="Zoe", last_name="Zillow", email="zoe@example.com", source="Zillow"
    )
    contact.refresh_from_db()
    assert contact.routing.status == RoutingStatus.ASSIGNED
    return contact


def test_admin_reads_why_contact_skipped_rule_one(
    page, live_server, admin_member, zoe, login, screenshot
):
    login(page, live_server, admin_member.user.username)
    page.goto(f"{live_server.url}/routing/logs/")
    expect(page.get_by_role("heading", name="Routing logs")).to_be_visible()

    page.get_by_label("Find a contact by name, email or phone").fill("zoe")
    result = page.locator("#contact-results").get_by_role("link", name="Zoe Zillow")
    expect(result).to_be_visible()  # search as you type (htmx)
    result.click()

    expect(page.get_by_role("heading", name="Routing log: Zoe Zillow")).to_be_visible()
    entries = page.locator("ol.log-timeline > li")
    rule_one = entries.nth(0)
    expect(rule_one).to_contain_text("Rule did not match")
    expect(rule_one).to_contain_text("Facebook leads")
    expect(rule_one).to_contain_text("source 'Zillow' is not one of: Facebook")
    rule_two = entries.nth(1)
    expect(rule_two).to_contain_text("Rule matched")
    expect(rule_two).to_contain_text("Zillow leads")
    expect(entries.last).to_contain_text("assigned to Alan Agent")
    expect(page.locator(".final-assignee")).to_contain_text("Alan Agent")
    screenshot(page, "routing-logs-contact")

    page.set_viewport_size({"width": 375, "height": 812})
    expect(rule_one).to_be_visible()
    screenshot(page, "routing-logs-contact-phone")


def test_admin_filters_team_log_without_javascript_reload(
    page, live_server, admin_member, zoe, login, screenshot
):
    login(page, live_server, admin_member.user.username)
    page.goto(f"{live_server.url}/routing/logs/")
    rows = page.locator("#log-rows tbody tr")
    expect(rows.first).to_be_visible()

    page.get_by_label("Outcome").select_option(label="Assigned")

    # One row per decision: Zoe's assignment, by the rule that took her.
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Zillow leads")
    expect(page).to_have_url(
        f"{live_server.url}/routing/logs/?rule=&agent=&outcome=assigned&days=7"
    )
    screenshot(page, "routing-logs-list")
    page.set_viewport_size({"width": 375, "height": 812})
    expect(rows.first).to_contain_text("assigned to Alan Agent")
    screenshot(page, "routing-logs-list-phone")
    # The decision's steps, rule 1's "no" first, are on the contact's log.
    rows.first.get_by_role("link", name="Zoe Zillow").click()
    expect(page.locator(".log-timeline")).to_contain_text("source 'Zillow' is not one of: Facebook")


def test_admin_reassigns_and_removes_leads_on_dashboard(
    page, live_server, team, admin_member, agent, zoe, login, screenshot
):
    other = ContactFactory(
        team=team, first_name="Otto", last_name="Other", email="otto@example.com"
    )
    login(page, live_server, admin_member.user.username)
    page.goto(f"{live_server.url}/routing/dashboard/")
    row = page.locator(f"#lead-{zoe.pk}")
    expect(row).to_contain_text("Zillow leads")
    expect(row).to_contain_text("Alan Agent")
    screenshot(page, "lead-routing-dashboard")

    row.get_by_label("Reassign Zoe Zillow to").select_option(label="Ada Admin")
    row.get_by_role("button", name="Reassign Zoe Zillow").click()
    expect(row).to_contain_text("Zoe Zillow is now assigned to Ada Admin.")
    assert agent_of(zoe) == admin_member

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#lead-{other.pk}").get_by_role("button", name="Remove Otto Other").click()
    expect(page.locator(f"#lead-{other.pk}")).to_contain_text("Otto Other was removed")
    other.refresh_from_db()
    assert other.status == "archived"

    page.get_by_label("Assignment").select_option(label="Unassigned")
    expect(page.locator("#lead-rows")).to_contain_text("No leads match these filters.")
    page.set_viewport_size({"width": 375, "height": 812})
    page.get_by_label("Assignment").select_option(label="Everyone")
    expect(page.locator(f"#lead-{zoe.pk}")).to_contain_text("Ada Admin")
    screenshot(page, "lead-routing-dashboard-phone")
