"""Offers arrive live: an agent with a page open sees a new offer, its countdown, the bell
count and the title within a second of the offer being made; a Blast Alert claimed by
someone else leaves the other agent's page just as fast.

The page notes when each of these first showed (a MutationObserver, the browser's clock);
the offer's created_at is stamped by routing on this same machine's clock.
"""

import re

import pytest
from playwright.sync_api import expect

from contacts.services import contact_create
from notifications import live
from routing.offers import offer_claim
from routing.tests.helpers import rule
from teams.tests.factories import UserFactory, make_member

# live_server serves from another thread, so the data must be committed: routing then
# runs on commit, its tasks synchronously (settings_test).
pytestmark = pytest.mark.usefixtures("transactional_db")

OFFERS = 8
LIMIT_SECONDS = 1.0

# Notes, in window.__seen, when an offer row first showed ("offer-12"), when the bell first
# counted n ("bell-3"), when the title first started "(n) " ("title-3"), and when a row
# started to leave ("leaving-offer-12") and was gone ("gone-offer-12").
WATCH = """() => {
  const seen = (window.__seen = {});
  const rows = new Set();
  const mark = (key) => { if (!(key in seen)) seen[key] = Date.now(); };
  const look = () => {
    const now = new Set();
    for (const row of document.querySelectorAll("#offer-list li[data-offer]")) {
      now.add(row.id);
      mark(row.id);
      if (row.dataset.leaving) mark("leaving-" + row.id);
    }
    for (const id of rows) if (!now.has(id)) mark("gone-" + id);
    rows.clear();
    now.forEach((id) => rows.add(id));
    const count = document.querySelector("#notification-bell .bell-count");
    if (count) mark("bell-" + count.textContent.trim());
    const title = /^\\((\\d+)\\) /.exec(document.title);
    mark("title-" + (title ? title[1] : "0"));
  };
  look();
  new MutationObserver(look).observe(document.documentElement, {
    childList: true, subtree: true, characterData: true, attributes: true,
  });
}"""


@pytest.fixture(scope="session", autouse=True)
def _listener_closed(django_db_setup):
    """The live server's streams and LISTEN connection end before the test database goes."""
    yield
    live.shutdown()


@pytest.fixture(autouse=True)
def _streams_end():
    yield
    live.shutdown()


@pytest.fixture
def beth(team):
    return make_member(team, user=UserFactory(username="beth", first_name="Beth", last_name="Bee"))


def open_live(page, live_server, login, member, path="/routing/offers/"):
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    page.errors = errors
    login(page, live_server, member.user.username)
    page.goto(f"{live_server.url}{path}")
    expect(page.locator("body")).to_have_attribute("data-live", "up")
    page.evaluate(WATCH)
    return page


def seen_after(page, key: str, since_ms: float, timeout_ms: float = 5000) -> float:
    """Seconds from `since_ms` (epoch ms) to the page first noting `key`."""
    page.wait_for_function("key => key in window.__seen", arg=key, timeout=timeout_ms)
    return (page.evaluate("key => window.__seen[key]", key) - since_ms) / 1000


def made_at(offer) -> float:
    return offer.created_at.timestamp() * 1000


def test_new_offers_show_within_a_second_with_bell_and_title(
    page, live_server, team, agent, login, screenshot
):
    rule(team, "Next up", agent, method="next_up", claim_window_minutes=15)
    open_live(page, live_server, login, agent)
    expect(page).to_have_title("My offers · Switchboard")

    rows, bells, titles = [], [], []
    for i in range(1, OFFERS + 1):
        contact = contact_create(team=team, first_name="Lead", last_name=f"No{i}", source="Zillow")
        offer = contact.offers.get()
        rows.append(seen_after(page, f"offer-{offer.pk}", made_at(offer)))
        bells.append(seen_after(page, f"bell-{i}", made_at(offer)))
        titles.append(seen_after(page, f"title-{i}", made_at(offer)))
        row = page.locator(f"#offer-{offer.pk}")
        expect(row).to_contain_text(f"Lead No{i}")
        expect(row.locator("time[data-countdown]")).to_have_text(
            re.compile(r"^1[45] min \d\d s left$")
        )

    assert max(rows) < LIMIT_SECONDS, rows
    assert max(bells) < LIMIT_SECONDS, bells
    assert max(titles) < LIMIT_SECONDS, titles
    expect(page).to_have_title(f"({OFFERS}) My offers · Switchboard")
    expect(page.locator("#notification-bell .bell-count")).to_have_text(str(OFFERS))
    expect(page.locator("#offers-title")).to_contain_text(f"({OFFERS})")
    expect(page.locator("#offers-empty")).to_be_hidden()
    assert page.errors == []
    screenshot(page, "my-offers-live")


def test_new_offer_shows_in_bell_and_title_on_any_page(
    page, live_server, team, agent, login, screenshot
):
    rule(team, "Next up", agent, method="next_up", claim_window_minutes=15)
    open_live(page, live_server, login, agent, path="/routing/my-contacts/")

    offer = contact_create(team=team, first_name="Nora", source="Zillow").offers.get()

    assert seen_after(page, "bell-1", made_at(offer)) < LIMIT_SECONDS
    assert seen_after(page, "title-1", made_at(offer)) < LIMIT_SECONDS
    expect(page).to_have_title("(1) My contacts · Switchboard")
    page.locator("#notification-bell summary").click()
    expect(page.locator("#notification-bell .bell-panel")).to_contain_text("Next Up: claim Nora")
    screenshot(page, "bell-live")


def test_blast_claimed_by_another_leaves_the_other_agents_page(
    page, new_context, live_server, team, agent, beth, login, screenshot
):
    rule(team, "Blast", agent, beth, method="blast", claim_window_minutes=10)
    alan = open_live(page, live_server, login, agent)
    bea = open_live(new_context().new_page(), live_server, login, beth)

    offer = contact_create(team=team, first_name="Bea", last_name="Blast").offers.get()
    key = f"offer-{offer.pk}"
    assert seen_after(alan, key, made_at(offer)) < LIMIT_SECONDS
    assert seen_after(bea, key, made_at(offer)) < LIMIT_SECONDS
    expect(bea).to_have_title("(1) My offers · Switchboard")
    expect(bea.locator(f"#{key}")).to_contain_text("Blast Alert")

    result = offer_claim(offer_id=offer.pk, membership=agent)  # Alan, from his email link
    offer.refresh_from_db()
    claimed = offer.resolved_at.timestamp() * 1000

    assert result.claimed
    assert seen_after(bea, f"leaving-{key}", claimed) < LIMIT_SECONDS
    screenshot(bea, "my-offers-blast-leaving")
    assert seen_after(bea, f"gone-{key}", claimed) < LIMIT_SECONDS + 2
    assert seen_after(bea, "title-0", claimed) < LIMIT_SECONDS
    expect(bea).to_have_title("My offers · Switchboard")
    expect(bea.locator("#offers-empty")).to_be_visible()
    expect(bea.locator("#notification-bell .bell-count")).to_have_text("1")  # the alert
    expect(alan.locator(f"#{key}")).to_have_count(0)
    assert alan.errors == bea.errors == []
    screenshot(bea, "my-offers-blast-gone")


def test_claim_on_a_leaving_row_still_answers(page, live_server, team, agent, beth, login):
    """A row fades before it goes: Beth's Claim, clicked just as Alan claims, is answered."""
    rule(team, "Blast", agent, beth, method="blast", claim_window_minutes=10)
    offer = contact_create(team=team, first_name="Bea", last_name="Blast").offers.get()
    bea = open_live(page, live_server, login, beth)
    row = bea.locator(f"#offer-{offer.pk}")

    assert offer_claim(offer_id=offer.pk, membership=agent).claimed
    expect(row).to_have_attribute("data-leaving", "1")
    row.get_by_role("button", name="Claim Bea Blast").click()

    expect(row).to_contain_text("This contact was already claimed by Alan Agent.")
    bea.wait_for_timeout(2500)  # past the fade: the answer stays
    expect(row).to_contain_text("This contact was already claimed by Alan Agent.")


def test_the_list_polls_as_before_when_the_stream_is_refused(page, live_server, team, agent, login):
    rule(team, "Next up", agent, method="next_up", claim_window_minutes=15)
    page.clock.install()
    page.route("**/notifications/live/**", lambda route: route.fulfill(status=503, body=""))
    login(page, live_server, agent.user.username)
    page.goto(f"{live_server.url}/routing/offers/")
    expect(page.locator("body")).to_have_attribute("data-live", "down")

    offer = contact_create(team=team, first_name="Nora", source="Zillow").offers.get()
    page.clock.fast_forward("00:21")  # the list's own polling: every 20 s

    expect(page.locator(f"#offer-{offer.pk}")).to_be_visible()


def test_polling_slows_down_while_the_stream_is_up(page, live_server, agent, login):
    page.clock.install()
    open_live(page, live_server, login, agent)
    polls = []
    page.on("request", lambda r: polls.append(r.url) if "/routing/offers/" in r.url else None)

    page.clock.fast_forward("01:41")  # five 20-second polls of the list, none sent
    page.wait_for_timeout(300)
    assert polls == []

    page.clock.fast_forward("00:40")  # past two minutes: one goes, as a safety net
    page.wait_for_timeout(500)
    assert len(polls) == 1
