"""Reassignment from the contact profile (seeds 001/002), in a real browser.

An admin sends a contact's primary Agent role to a Next Up reassignment group:
choose the group → "Are you sure?" YES → the role shows "Re-Assign in progress".
The offered agent claims; the profile then shows the new Agent and the timeline
record of who got it, how, and from whom.
"""

import re

import pytest
from playwright.sync_api import expect

from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from routing.groups import GroupAssignee, reassignment_group_create
from routing.manual import contact_assign_directly
from routing.models import Offer, OfferStatus
from routing.offers import offer_claim
from teams.models import Group
from teams.tests.factories import UserFactory, make_member

# live_server serves from another thread, so the data must be committed.
pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture
def setup(team, owner, admin_member):
    isa = make_member(team, user=UserFactory(username="isa", first_name="Ivy", last_name="Isa"))
    cleo = make_member(
        team, user=UserFactory(username="cleo", first_name="Cleo", last_name="Closer")
    )
    carl = make_member(
        team, user=UserFactory(username="carl", first_name="Carl", last_name="Closer")
    )
    austin = Group.objects.create(team=team, name="Austin")
    Group.objects.create(team=team, name="Downtown", parent=austin)
    Group.objects.create(team=team, name="Dallas")
    contact = ContactFactory(
        team=team, first_name="Rita", last_name="Lead", email="rita@example.net"
    )
    contact_assign_directly(actor=None, contact=contact, membership=isa)
    for i in range(3):
        other = ContactFactory(team=team, first_name=f"Other{i}", last_name="Lead")
        contact_assign_directly(actor=None, contact=other, membership=cleo)
    next_up = reassignment_group_create(
        actor=None,
        team=team,
        name="Closers Next Up",
        method="next_up",
        claim_window_minutes=15,
        default_assignee=carl,
        assignees=[GroupAssignee(membership=cleo), GroupAssignee(membership=carl, weight=2)],
        available_to=[austin],
    )
    reassignment_group_create(
        actor=None,
        team=team,
        name="Closers Round Robin",
        method="round_robin",
        assignees=[GroupAssignee(membership=cleo), GroupAssignee(membership=carl)],
    )
    return {"contact": contact, "isa": isa, "group": next_up}


def test_reassign_from_profile_shows_in_progress_then_timeline(
    page, live_server, admin_member, setup, login, screenshot
):
    contact = setup["contact"]
    admin_member.groups.add(Group.objects.get(name="Austin"))
    login(page, live_server, admin_member.user.username)

    page.goto(f"{live_server.url}/contacts/")
    expect(page.get_by_role("heading", name="Contacts")).to_be_visible()
    expect(page.get_by_role("link", name="Rita Lead")).to_be_visible()
    screenshot(page, "contacts-list")

    # Search narrows the list in place (htmx) and keeps the URL shareable.
    page.get_by_label("Search").fill("rita")
    expect(page.get_by_role("link", name="Other0 Lead")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"q=rita"))
    expect(page.get_by_role("link", name="Rita Lead")).to_be_visible()

    page.get_by_role("link", name="Rita Lead").click()
    expect(page.get_by_role("heading", name="Rita Lead", level=1)).to_be_visible()
    agent_role = page.locator("#role-agent")
    expect(agent_role).to_contain_text("Ivy Isa")
    screenshot(page, "contact-profile")

    agent_role.get_by_role("link", name=re.compile("Reassign")).click()
    expect(page.get_by_role("heading", name="Reassign the primary Agent")).to_be_visible()
    page.get_by_role("radio", name=re.compile("Closers Next Up")).check()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Are you sure?")).to_be_visible()
    expect(page.locator("#reassign-panel")).to_contain_text("Closers Next Up")
    screenshot(page, "reassign-confirm")
    page.get_by_role("button", name="YES").click()

    expect(page.locator(".messages")).to_contain_text("Re-Assign in progress")
    expect(agent_role).to_contain_text("Re-Assign in progress")
    expect(agent_role.get_by_role("link", name=re.compile("Reassign"))).to_have_count(0)
    expect(agent_role.get_by_text("Assign directly")).to_have_count(0)
    screenshot(page, "reassign-in-progress")

    # The offered closer claims the Next Up offer (from their email or My offers).
    offer = Offer.objects.get(contact=contact, status=OfferStatus.OPEN)
    winner = offer.recipients.select_related("user").get()
    assert offer_claim(offer_id=offer.pk, membership=winner).claimed

    page.reload()
    expect(agent_role).to_contain_text(winner.display_name)
    expect(agent_role).not_to_contain_text("Re-Assign in progress")
    record = f"Reassigned from Ivy Isa to {winner.display_name}"
    expect(page.locator("#timeline")).to_contain_text(record)
    expect(page.locator("#timeline .cx-event").first).to_contain_text(record)
    expect(page.locator("#timeline")).to_contain_text("Closers Next Up")
    screenshot(page, "reassign-timeline")
    contact.routing.refresh_from_db()
    assert not contact.routing.reassign_in_progress


def test_groups_pages_and_phone_width(page, live_server, owner, setup, login, screenshot):
    login(page, live_server, owner.user.username)
    page.goto(f"{live_server.url}/routing/groups/")
    expect(page.get_by_role("heading", name="Reassignment groups")).to_be_visible()
    expect(page.get_by_role("link", name="Closers Next Up", exact=True)).to_be_visible()
    screenshot(page, "groups-list")

    page.get_by_role("link", name="Edit Closers Next Up").click()
    expect(page.get_by_role("heading", name=re.compile("Edit"))).to_be_visible()
    expect(page.get_by_text("Adding or removing users continues the current round")).to_be_visible()
    expect(page.get_by_label("Available To")).to_be_visible()
    expect(page.get_by_label("Include Cleo Closer")).to_be_checked()
    expect(page.get_by_label("Weight for Carl Closer")).to_have_value("2")
    screenshot(page, "groups-editor")

    # The editor saves through the real form.
    page.get_by_label("Claim window (minutes)").fill("20")
    page.get_by_role("button", name="Save group").click()
    expect(page.locator(".messages")).to_contain_text("saved")
    setup["group"].refresh_from_db()
    assert setup["group"].claim_window_minutes == 20

    # Phone width: the profile and the list stay usable at 375px.
    page.set_viewport_size({"width": 375, "height": 812})
    contact = Contact.objects.get(first_name="Rita")
    page.goto(f"{live_server.url}/contacts/{contact.pk}/")
    expect(page.locator("#role-agent")).to_contain_text("Ivy Isa")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    screenshot(page, "contact-profile-phone")
    page.goto(f"{live_server.url}/contacts/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "contacts-list-phone")
