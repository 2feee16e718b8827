"""An owner runs the team pages in the browser: a tag, a new agent, a sub-group, a profile
change the agent feels at once (their navigation gains "Routing logs")."""

import pytest
from playwright.sync_api import expect

from teams.models import Group, Membership

# live_server serves from another thread, so the data must be committed.
pytestmark = pytest.mark.usefixtures("transactional_db")

PHONE = {"width": 375, "height": 812}
NINA_PASSWORD = "Quiet-Meadow-58"


def fits_phone(page) -> bool:
    """Nothing wider than the phone: no sideways scrolling."""
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def main_nav(page):
    return page.get_by_role("navigation", name="Main")


def test_owner_builds_the_team_and_agent_sees_routing_logs(
    page, new_context, live_server, owner, login, screenshot
):
    login(page, live_server, owner.user.username)
    page.goto(f"{live_server.url}/team/")
    expect(page.get_by_role("heading", name="Acme Realty", level=1)).to_be_visible()
    expect(page.get_by_test_id("team-plan")).to_have_text("Premier")
    expect(page.get_by_role("link", name="API tokens").first).to_be_visible()
    screenshot(page, "team-overview")

    # An agent tag.
    page.get_by_role("navigation", name="Team").get_by_role("link", name="Agent tags").click()
    page.get_by_label("Name").fill("Spanish")
    page.get_by_role("button", name="Create tag").click()
    expect(page.locator("#tags")).to_contain_text("Spanish")
    screenshot(page, "team-tags")

    # An agent with that tag, through the form.
    page.get_by_role("navigation", name="Team").get_by_role("link", name="Members").click()
    page.get_by_role("link", name="Add member").click()
    page.get_by_label("Username").fill("nina")
    page.get_by_label("First name").fill("Nina")
    page.get_by_label("Last name").fill("Navarro")
    page.get_by_label("Email").fill("nina@example.com")
    page.get_by_label("Role").select_option(label="Agent")
    page.get_by_label("Permission profile").select_option(label="Agent")
    page.get_by_role("group", name="Agent tags").get_by_label("Spanish").check()
    page.get_by_label("Temporary password").fill(NINA_PASSWORD)
    screenshot(page, "team-member-new")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status")).to_contain_text("Added Nina Navarro")
    nina_row = page.locator("#members tr", has_text="Nina Navarro")
    expect(nina_row).to_contain_text("Agent")
    expect(nina_row).to_contain_text("Spanish")
    screenshot(page, "team-members")
    nina = Membership.objects.get(user__username="nina")
    assert [t.name for t in nina.tags.all()] == ["Spanish"]

    # A group, then a sub-group inside it.
    page.get_by_role("navigation", name="Team").get_by_role("link", name="Groups").click()
    page.get_by_label("Name").fill("Austin")
    page.get_by_role("button", name="Create group").click()
    page.get_by_label("Name").fill("Downtown")
    page.get_by_label("Inside group").select_option(label="Austin")
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_role("list", name="Inside Austin")).to_contain_text("Downtown")
    screenshot(page, "team-groups")
    assert Group.objects.get(name="Downtown").parent.name == "Austin"

    # Nina cannot read routing logs yet.
    nina_page = new_context().new_page()
    login(nina_page, live_server, "nina", NINA_PASSWORD)
    expect(main_nav(nina_page).get_by_role("link", name="My offers")).to_be_visible()
    expect(main_nav(nina_page).get_by_role("link", name="Routing logs")).to_have_count(0)

    # The Agent profile gains "View Routing Logs".
    page.get_by_role("navigation", name="Team").get_by_role(
        "link", name="Permission profiles"
    ).click()
    page.get_by_role("link", name="Edit Agent").click()
    expect(page.get_by_text("Agents never get")).to_be_visible()
    page.get_by_label("View Routing Logs").check()
    screenshot(page, "team-profile-edit")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the profile Agent")
    expect(page.locator("#profiles tr", has_text="Agent").first).to_contain_text("Yes")
    screenshot(page, "team-profiles")

    # Nina, signed in afresh in her own browser, now sees "Routing logs".
    nina_page = new_context().new_page()
    login(nina_page, live_server, "nina", NINA_PASSWORD)
    logs = main_nav(nina_page).get_by_role("link", name="Routing logs")
    expect(logs).to_be_visible()
    logs.click()
    expect(nina_page.get_by_role("heading", name="Routing logs")).to_be_visible()
    screenshot(nina_page, "team-agent-gains-routing-logs")


def test_team_pages_fit_a_phone(page, live_server, owner, agent, login, screenshot):
    Group.objects.create(
        team=owner.team,
        name="Downtown",
        parent=Group.objects.create(team=owner.team, name="Austin"),
    )
    page.set_viewport_size(PHONE)
    login(page, live_server, owner.user.username)
    for path, name in [
        ("", "team-overview-phone"),
        ("members/", "team-members-phone"),
        (f"members/{agent.pk}/", "team-member-edit-phone"),
        ("groups/", "team-groups-phone"),
        ("tags/", "team-tags-phone"),
        ("profiles/", "team-profiles-phone"),
    ]:
        page.goto(f"{live_server.url}/team/{path}")
        expect(page.locator("h1")).to_be_visible()
        screenshot(page, name)
        assert fits_phone(page), f"/team/{path} scrolls sideways at 375px"
