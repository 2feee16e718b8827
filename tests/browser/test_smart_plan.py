"""An admin builds a Smart Plan in the browser and attaches it to a Next Up rule; a lead
routed by that rule is claimed by the agent, and the plan's first email goes out from
the agent, on the contact's profile card."""

import pytest
from django.core import mail
from playwright.sync_api import expect

from contacts.services import contact_create
from notifications.models import OutboxMessage, Status
from notifications.tests import fixtures
from plans.models import Plan, PlanRun, RunStatus
from routing.tests.helpers import agent_of, rule

# live_server serves from another thread, so the data must be committed: routing and the
# deliveries run on commit, tasks synchronously (settings_test).
pytestmark = pytest.mark.usefixtures("transactional_db", "sms_outbox", "no_push_keys")

sms_outbox = fixtures.sms_outbox
no_push_keys = fixtures.no_push_keys


def _plan_email(address: str) -> list:
    return [m for m in mail.outbox if address in m.to and m.subject.startswith("Welcome aboard")]


def test_admin_builds_a_plan_and_its_first_email_goes_out_after_the_claim(
    page, new_context, live_server, team, admin_member, agent, login, screenshot
):
    rule(team, "Zillow Next Up", agent, method="next_up", sources=["Zillow"])

    login(page, live_server, admin_member.user.username)
    page.get_by_role("link", name="Smart Plans").click()
    page.get_by_role("link", name="New library plan").click()
    page.get_by_label("Name").fill("Buyer nurture")
    with page.expect_navigation():
        page.get_by_role("button", name="Create plan").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Buyer nurture")

    page.get_by_role("link", name="Add a step").click()
    page.get_by_label("Step:", exact=True).select_option("email")
    page.get_by_label("Wait").fill("0")
    page.get_by_label("Subject (emails) or title (tasks)").fill(
        "Welcome aboard, {{ contact_first_name }}"
    )
    page.get_by_label("Message").fill("Hi {{ contact_first_name }}!\n\n{{ agent_signature }}")
    with page.expect_navigation():
        page.get_by_role("button", name="Add step").click()
    expect(page.locator("#steps")).to_contain_text("Email, at once")

    page.get_by_label("Start this plan when a contact is assigned by rule").select_option(
        label="Zillow Next Up"
    )
    with page.expect_navigation():
        page.get_by_role("button", name="Add rule").click()
    expect(page.locator("#triggers")).to_contain_text(
        "When a contact is assigned by the rule “Zillow Next Up”"
    )
    screenshot(page, "smart-plan-built")
    plan = Plan.objects.get(name="Buyer nurture", team=team)
    assert plan.in_library

    # The lead arrives, routed as Next Up: offered to the agent, nothing sent yet.
    contact = contact_create(
        team=team, first_name="Cora", last_name="Claim", source="Zillow", email="cora@example.net"
    )
    offer = contact.offers.get()
    assert _plan_email("cora@example.net") == []
    assert not PlanRun.objects.filter(contact=contact).exists()

    agent_page = new_context().new_page()
    login(agent_page, live_server, agent.user.username)
    agent_page.goto(f"{live_server.url}/routing/offers/")
    row = agent_page.locator(f"#offer-{offer.pk}")
    row.get_by_role("button", name="Claim Cora Claim").click()
    expect(row).to_contain_text("The contact is yours.")
    assert agent_of(contact) == agent

    run = PlanRun.objects.get(contact=contact, plan=plan)
    [message] = OutboxMessage.objects.filter(key__startswith=run.key_prefix())
    assert (message.status, message.membership_id) == (Status.SENT, agent.pk)
    [email] = _plan_email("cora@example.net")
    assert email.subject == "Welcome aboard, Cora"
    assert email.from_email.startswith("Alan Agent <")
    assert email.reply_to == [agent.user.email]
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED

    # The agent sees it on the contact's profile: the card and the timeline.
    agent_page.goto(f"{live_server.url}/contacts/{contact.pk}/")
    card = agent_page.locator("#smart-plans")
    expect(card).to_contain_text("Buyer nurture")
    expect(card).to_contain_text("Step 1: email — sent")
    expect(card).to_contain_text("from Alan Agent")
    expect(agent_page.locator("#timeline")).to_contain_text(
        "Smart Plan “Buyer nurture”, step 1: email sent by Alan Agent"
    )
    screenshot(agent_page, "smart-plan-profile-card")
