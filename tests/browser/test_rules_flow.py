"""An owner builds three routing rules in the browser, drags the last one to the top, and a
new contact that matches all three follows the new order."""

import pytest
from playwright.sync_api import expect

from contacts.services import contact_create
from routing.models import RoutingRule
from routing.tests.helpers import agent_of, rule
from teams.models import Role
from teams.tests.factories import UserFactory, make_member

# live_server serves from another thread, so the data must be committed.
pytestmark = pytest.mark.usefixtures("transactional_db")

PHONE = {"width": 375, "height": 812}


@pytest.fixture
def closer(team):
    return make_member(
        team,
        role=Role.AGENT,
        user=UserFactory(username="cara", first_name="Cara", last_name="Closer"),
    )


def _names(team) -> list[str]:
    return list(
        RoutingRule.objects.filter(team=team, is_default=False)
        .order_by("position", "id")
        .values_list("name", flat=True)
    )


def _create_rule(page, live_server, name: str, fill_criteria, assignee: str, screenshot=None):
    page.goto(f"{live_server.url}/routing/rules/new/")
    page.get_by_label("Rule name").fill(name)
    fill_criteria(page)
    page.get_by_label("Assignment method").select_option("round_robin")
    page.get_by_label(assignee, exact=True).check()
    if screenshot:
        screenshot(page, "routing-rule-editor")
    with page.expect_navigation():
        page.get_by_role("button", name="Create rule").click()
    expect(page).to_have_url(f"{live_server.url}/routing/rules/")
    expect(page.get_by_role("status").filter(has_text=f"Rule “{name}” created")).to_be_visible()


def test_rules_flow_owner_reorders_and_new_contact_follows(
    page, live_server, team, owner, admin_member, agent, closer, login, screenshot
):
    login(page, live_server, owner.user.username)

    _create_rule(
        page,
        live_server,
        "Zillow leads",
        lambda p: p.get_by_label("Sources").fill("Zillow"),
        admin_member.display_name,
    )
    _create_rule(
        page,
        live_server,
        "Buyers",
        lambda p: p.get_by_label("Buyer", exact=True).check(),
        agent.display_name,
    )
    _create_rule(
        page,
        live_server,
        "Austin",
        lambda p: p.get_by_label("Cities").fill("Austin"),
        closer.display_name,
        screenshot=screenshot,
    )
    assert _names(team) == ["Zillow leads", "Buyers", "Austin"]

    rows = page.locator(".rule-list > .rule-row")
    expect(rows.locator(".rule-name a")).to_have_text(["Zillow leads", "Buyers", "Austin"])
    with page.expect_response(lambda r: r.url.endswith("/routing/rules/reorder/")) as answer:
        rows.nth(2).locator(".drag-handle").drag_to(rows.nth(0).locator(".drag-handle"))
    assert answer.value.status == 200
    expect(page.get_by_text("Order saved")).to_be_visible()
    expect(rows.locator(".rule-name a")).to_have_text(["Austin", "Zillow leads", "Buyers"])
    assert _names(team) == ["Austin", "Zillow leads", "Buyers"]
    screenshot(page, "routing-rules")

    page.reload()
    expect(rows.locator(".rule-name a")).to_have_text(["Austin", "Zillow leads", "Buyers"])
    page.set_viewport_size(PHONE)
    screenshot(page, "routing-rules-phone")

    # Routing runs on commit, synchronously in test settings.
    contact = contact_create(
        team=team, first_name="Pat", source="Zillow", contact_type="buyer", city="Austin"
    )
    contact.refresh_from_db()
    assert contact.routing.rule.name == "Austin"
    assert agent_of(contact) == closer

    page.goto(f"{live_server.url}/routing/simulator/")
    page.get_by_label("Source").fill("Zillow")
    page.get_by_label("Contact type").select_option("buyer")
    page.get_by_label("City").fill("Austin")
    page.get_by_role("button", name="Simulate").click()
    expect(page.locator(".simulation-outcome")).to_contain_text("“Austin” (Round Robin)")
    screenshot(page, "routing-simulator")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/routing/rules/")
    page.get_by_role("link", name="Fairness of rule “Austin”").click()
    expect(page.get_by_role("heading", name="Fairness: Austin")).to_be_visible()
    expect(page.locator("svg.fairness-chart")).to_be_visible()
    expect(page.get_by_role("cell", name="100%").first).to_be_visible()
    screenshot(page, "routing-fairness")


def test_rules_flow_pause_and_delete_with_htmx(
    page, live_server, team, owner, agent, login, screenshot
):
    rule(team, "Zillow leads", agent, sources=["Zillow"])
    rule(team, "Facebook leads", agent, sources=["Facebook"])
    login(page, live_server, owner.user.username)
    page.goto(f"{live_server.url}/routing/rules/")

    page.get_by_role("button", name="Pause rule “Zillow leads”").click()
    expect(page.get_by_role("button", name="Resume rule “Zillow leads”")).to_be_visible()
    assert RoutingRule.objects.get(name="Zillow leads").is_paused

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete rule “Facebook leads”").click()
    expect(page.get_by_text("Deleted “Facebook leads”.")).to_be_visible()
    assert _names(team) == ["Zillow leads"]
    screenshot(page, "routing-rules-after-delete")


def test_rules_flow_refused_order_shows_error_then_keyboard_move(
    page, live_server, team, owner, agent, login
):
    rule(team, "First", agent, sources=["A"])
    rule(team, "Second", agent, sources=["B"])
    login(page, live_server, owner.user.username)
    page.goto(f"{live_server.url}/routing/rules/")
    rule(team, "Added elsewhere", agent, sources=["C"])  # say, by an admin in another tab
    rows = page.locator(".rule-list > .rule-row")

    with page.expect_response(lambda r: r.url.endswith("/routing/rules/reorder/")) as answer:
        rows.nth(1).locator(".drag-handle").drag_to(rows.nth(0).locator(".drag-handle"))

    assert answer.value.status == 409
    expect(page.get_by_role("alert")).to_contain_text("reload and try again")
    expect(rows.locator(".rule-name a")).to_have_text(["First", "Second", "Added elsewhere"])
    assert _names(team) == ["First", "Second", "Added elsewhere"]

    # Move up/down: the keyboard (and no-JavaScript) way to reorder.
    page.get_by_role("button", name="Move up rule “Added elsewhere”").click()
    expect(rows.locator(".rule-name a")).to_have_text(["First", "Added elsewhere", "Second"])
    assert _names(team) == ["First", "Added elsewhere", "Second"]
    expect(page.get_by_role("button", name="Move up rule “Added elsewhere”")).to_be_focused()
