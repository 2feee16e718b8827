"""Agent pages: My offers (countdowns, Claim), My contacts and availability."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from contacts.models import ContactRole, ContactStatus, RoleKind
from contacts.tests.factories import ContactFactory
from routing.models import (
    ContactRouting,
    Offer,
    OfferKind,
    OfferRecipient,
    OfferStatus,
    RoutingStatus,
)
from routing.selectors_pages import countdown_text
from routing.tests.helpers import agent_of, new_contact, rule
from teams.models import Role
from teams.tests.factories import UserFactory, make_member

OFFERS = reverse("routing_pages:offers")
MY_CONTACTS = reverse("routing_pages:my_contacts")
ONLINE = reverse("routing_pages:availability_online")
PAUSE = reverse("routing_pages:availability_pause")
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def second(team):
    return make_member(
        team, role=Role.AGENT, user=UserFactory(username="beth", first_name="Beth", last_name="Bee")
    )


def claim_url(offer) -> str:
    return reverse("routing_pages:offer_claim", args=[offer.pk])


def _contact(team, routing_status, **fields):
    """A contact whose routing row is at `routing_status` (no routing run)."""
    contact = ContactFactory(team=team, **fields)
    ContactRouting.objects.update_or_create(
        contact=contact, defaults={"team": team, "status": routing_status}
    )
    return contact


def _offer(member, *, kind=OfferKind.NEXT_UP, minutes=15, others=()) -> Offer:
    """An open offer made straight in the database (many rows, no routing run)."""
    contact = _contact(member.team, RoutingStatus.OFFERED)
    offer = Offer.objects.create(
        contact=contact, kind=kind, deadline=timezone.now() + timedelta(minutes=minutes)
    )
    for recipient in (member, *others):
        OfferRecipient.objects.create(offer=offer, membership=recipient)
    return offer


def _give(member, n: int, **fields) -> list:
    contacts = []
    for _ in range(n):
        contact = _contact(member.team, RoutingStatus.ASSIGNED, **fields)
        ContactRole.objects.create(contact=contact, membership=member, kind=RoleKind.AGENT)
        contacts.append(contact)
    return contacts


# --- countdown text (no database) -------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "Claim window closed"),
        (-5, "Claim window closed"),
        (0.2, "1 s left"),
        (9, "9 s left"),
        (60, "1 min 00 s left"),
        (299.5, "5 min 00 s left"),
        (905, "15 min 05 s left"),
        (3600, "1 h 00 min left"),
        (3 * 3600 + 7 * 60 + 59, "3 h 07 min left"),
    ],
)
def test_countdown_text_formats_time_left(seconds, text):
    assert countdown_text(seconds) == text


# --- access -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [OFFERS, MY_CONTACTS])
@pytest.mark.django_db
def test_agent_pages_anonymous_redirects_to_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("url", [OFFERS, MY_CONTACTS])
def test_agent_pages_user_without_team_gets_404(client, db, url):
    client.force_login(UserFactory(username="loner"))

    assert client.get(url).status_code == 404


@pytest.mark.parametrize("persona", ["owner", "admin_member", "agent"])
@pytest.mark.parametrize("url", [OFFERS, MY_CONTACTS])
def test_agent_pages_open_to_every_member(client, request, persona, url):
    client.force_login(request.getfixturevalue(persona).user)

    response = client.get(url)

    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    assert 'id="availability"' in response.content.decode()


@pytest.mark.parametrize("url", [ONLINE, PAUSE, reverse("routing_pages:offer_claim", args=[1])])
def test_agent_mutations_answer_get_with_405(client, agent, url):
    client.force_login(agent.user)

    assert client.get(url).status_code == 405


# --- My offers ------------------------------------------------------------------------------


def test_offers_lists_next_up_and_blast_for_recipient_only(client, agent, second):
    next_up = _offer(agent)
    blast = _offer(agent, kind=OfferKind.BLAST, others=[second])
    theirs = _offer(second)
    client.force_login(agent.user)

    response = client.get(OFFERS)

    assert [o.pk for o in response.context["offers"]] == [next_up.pk, blast.pk]
    body = response.content.decode()
    assert next_up.contact.name in body
    assert blast.contact.name in body
    assert theirs.contact.name not in body
    assert "Next Up" in body
    assert "Blast Alert" in body
    assert body.count("data-countdown") == 2
    assert 'hx-trigger="every 20s, countdown-ended"' in body
    assert "js/countdown.js" in body


def test_offers_other_team_sees_none_of_ours(client, agent, outsider):
    offer = _offer(agent)
    client.force_login(outsider.user)

    response = client.get(OFFERS)

    assert response.context["offers"] == []
    assert offer.contact.name not in response.content.decode()


def test_offers_htmx_refresh_returns_the_list_only(client, agent):
    offer = _offer(agent)
    client.force_login(agent.user)

    response = client.get(OFFERS, **HTMX)

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="offer-list"')
    assert f'id="claim-{offer.pk}"' in body
    assert "<html" not in body
    assert "HX-Request" in response["Vary"]


def test_offers_countdown_is_rendered_by_the_server(client, team, agent, capture):
    rule(team, "Next up", agent, method="next_up", claim_window_minutes=10)
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, capture)
    client.force_login(agent.user)

    with time_machine.travel(T0 + timedelta(minutes=4, seconds=30), tick=False):
        response = client.get(OFFERS)

    offer = response.context["offers"][0]
    assert offer.contact == contact
    assert offer.countdown == "5 min 30 s left"
    body = response.content.decode()
    assert (
        '<time class="countdown" datetime="2026-03-02T15:10:00.000+00:00" data-countdown>' in body
    )
    assert "5 min 30 s left" in body
    assert 'data-server-now="2026-03-02T15:04:30.000+00:00"' in body


def test_offers_hides_offers_past_their_deadline(client, team, agent, capture):
    rule(team, "Next up", agent, method="next_up", claim_window_minutes=10)
    with time_machine.travel(T0, tick=False):
        new_contact(team, capture)
    client.force_login(agent.user)

    with time_machine.travel(T0 + timedelta(minutes=9, seconds=59), tick=False):
        assert len(client.get(OFFERS).context["offers"]) == 1
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        response = client.get(OFFERS)

    assert response.context["offers"] == []
    assert "No open offers right now" in response.content.decode()


def test_claim_next_up_from_offers_page(client, team, agent, capture):
    rule(team, "Next up", agent, method="next_up")
    contact = new_contact(team, capture)
    offer = contact.offers.get()
    client.force_login(agent.user)

    response = client.post(claim_url(offer), follow=True)

    assert response.redirect_chain == [(OFFERS, 302)]
    assert f"{contact.name}: The contact is yours." in response.content.decode()
    assert agent_of(contact) == agent
    contact.routing.refresh_from_db()
    assert contact.routing.status == RoutingStatus.ASSIGNED


def test_claim_with_htmx_swaps_the_row(client, team, agent, capture):
    rule(team, "Next up", agent, method="next_up")
    contact = new_contact(team, capture)
    offer = contact.offers.get()
    client.force_login(agent.user)

    response = client.post(claim_url(offer), **HTMX)

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(
        f'<li id="offer-{offer.pk}" class="offer offer-result offer-won">'
    )
    assert "The contact is yours." in body
    assert 'id="claim-status" hx-swap-oob="innerHTML"' in body
    assert reverse("routing_pages:my_contacts") in body
    assert reverse("contact_pages:profile", args=[contact.pk]) in body
    assert "HX-Request" in response["Vary"]


def test_claim_blast_second_agent_sees_already_claimed(client, team, agent, second, capture):
    rule(team, "Blast", agent, second, method="blast")
    contact = new_contact(team, capture)
    offer = contact.offers.get()
    assert set(offer.recipients.all()) == {agent, second}
    client.force_login(second.user)
    assert client.get(OFFERS).context["offers"][0].pk == offer.pk
    client.force_login(agent.user)
    assert "The contact is yours." in client.post(claim_url(offer), **HTMX).content.decode()

    client.force_login(second.user)
    response = client.post(claim_url(offer), **HTMX)

    body = response.content.decode()
    assert "This contact was already claimed by Alan Agent." in body
    assert "offer-lost" in body
    assert agent_of(contact) == agent
    assert client.get(OFFERS).context["offers"] == []


def test_claim_after_deadline_says_offer_moved_on(client, team, agent, second, capture):
    rule(team, "Next up", agent, second, method="next_up", claim_window_minutes=5)
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, capture)
    offer = contact.offers.get()
    client.force_login(agent.user)

    with time_machine.travel(T0 + timedelta(minutes=6), tick=False):
        response = client.post(claim_url(offer), follow=True)

    assert "This offer has moved on" in response.content.decode()
    offer.refresh_from_db()
    assert offer.status == OfferStatus.EXPIRED
    assert list(contact.offers.get(status=OfferStatus.OPEN).recipients.all()) == [second]


def test_claim_offer_of_someone_else_is_404(client, team, agent, second, outsider, capture):
    rule(team, "Next up", agent, method="next_up")
    offer = new_contact(team, capture).offers.get()

    for member in (second, outsider):
        client.force_login(member.user)
        assert client.post(claim_url(offer)).status_code == 404
    offer.refresh_from_db()
    assert offer.status == OfferStatus.OPEN


def test_claim_anonymous_redirects_to_login(client, agent):
    offer = _offer(agent)

    response = client.post(claim_url(offer))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def _offers_queries(client, member, django_assert_max_num_queries) -> int:
    client.force_login(member.user)
    with django_assert_max_num_queries(15) as ctx:
        assert client.get(OFFERS).status_code == 200
    return len(ctx.captured_queries)


def test_offers_query_budget_does_not_grow_with_rows(
    client, agent, second, django_assert_max_num_queries
):
    _offer(agent)
    few = _offers_queries(client, agent, django_assert_max_num_queries)
    for i in range(12):
        _offer(agent, kind=OfferKind.BLAST if i % 2 else OfferKind.NEXT_UP, others=[second])

    many = _offers_queries(client, agent, django_assert_max_num_queries)

    assert many == few


# --- My contacts ---------------------------------------------------------------------------


def test_my_contacts_open_first_with_last_contacted(client, agent, second):
    closed = _give(agent, 1, status=ContactStatus.CLOSED, first_name="Cleo")[0]
    contacted = _give(agent, 1, first_name="Carl")[0]
    contacted.last_contacted_at = datetime(2026, 2, 27, 9, 30, tzinfo=UTC)
    contacted.save()
    fresh = _give(agent, 1, status=ContactStatus.NURTURE, first_name="Nina")[0]
    theirs = _give(second, 1, first_name="Zed")[0]
    client.force_login(agent.user)

    response = client.get(MY_CONTACTS)

    rows = [role.contact for role in response.context["page"].object_list]
    assert rows[-1] == closed
    assert set(rows[:2]) == {contacted, fresh}
    body = response.content.decode()
    assert "Feb 27, 2026 09:30" in body
    assert "Never" in body
    assert theirs.name not in body


def test_my_contacts_other_team_sees_none_of_ours(client, agent, outsider):
    contact = _give(agent, 1)[0]
    client.force_login(outsider.user)

    response = client.get(MY_CONTACTS)

    assert list(response.context["page"].object_list) == []
    assert contact.name not in response.content.decode()


def test_my_contacts_shows_claimed_contact(client, team, agent, capture):
    rule(team, "Next up", agent, method="next_up")
    contact = new_contact(team, capture, last_name="Claimed")
    client.force_login(agent.user)
    client.post(claim_url(contact.offers.get()))

    response = client.get(MY_CONTACTS)

    assert [role.contact for role in response.context["page"].object_list] == [contact]


def _my_contacts_queries(client, member, django_assert_max_num_queries) -> int:
    client.force_login(member.user)
    with django_assert_max_num_queries(15) as ctx:
        assert client.get(MY_CONTACTS).status_code == 200
    return len(ctx.captured_queries)


def test_my_contacts_query_budget_does_not_grow_with_rows(
    client, agent, django_assert_max_num_queries
):
    _give(agent, 2)
    few = _my_contacts_queries(client, agent, django_assert_max_num_queries)
    _give(agent, 30)
    _give(agent, 5, status=ContactStatus.CLOSED)

    many = _my_contacts_queries(client, agent, django_assert_max_num_queries)

    assert many == few


# --- availability ----------------------------------------------------------------------------


def test_go_online_then_offline(client, agent):
    client.force_login(agent.user)

    response = client.post(ONLINE, {"online": "1", "next": MY_CONTACTS})

    assert response.status_code == 302
    assert response.url == MY_CONTACTS
    agent.refresh_from_db()
    assert agent.is_online
    client.post(ONLINE, {"online": "0"})
    agent.refresh_from_db()
    assert not agent.is_online


def test_availability_ignores_offsite_next(client, agent):
    client.force_login(agent.user)

    response = client.post(ONLINE, {"online": "1", "next": "https://evil.example/"})

    assert response.url == OFFERS


def test_go_online_with_htmx_swaps_the_panel(client, agent):
    client.force_login(agent.user)

    response = client.post(ONLINE, {"online": "1", "next": OFFERS}, **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="availability"')
    assert '<span class="status status-online">Online</span>' in body
    assert "Go offline" in body
    assert f'name="next" value="{OFFERS}"' in body


def test_pause_until_a_day_in_member_time_zone(client, agent):
    agent.time_zone = "America/New_York"
    agent.save()
    client.force_login(agent.user)

    with time_machine.travel(T0, tick=False):
        client.post(PAUSE, {"paused": "1", "until": "2026-03-10"})
        agent.refresh_from_db()
        page = client.get(OFFERS).content.decode()

    assert agent.paused
    # Midnight in New York (EDT from March 8) is 04:00 UTC.
    assert agent.paused_until == datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
    assert "Paused until Mar 10, 2026" in page
    assert "Resume" in page


def test_pause_without_a_day_lasts_until_resumed(client, agent):
    client.force_login(agent.user)

    client.post(PAUSE, {"paused": "1", "until": ""})
    agent.refresh_from_db()
    assert agent.paused
    assert agent.paused_until is None
    assert "Paused until you resume" in client.get(MY_CONTACTS).content.decode()

    client.post(PAUSE, {"paused": "0"})
    agent.refresh_from_db()
    assert not agent.paused


def test_pause_rejects_a_day_in_the_past(client, agent):
    client.force_login(agent.user)

    with time_machine.travel(T0, tick=False):
        response = client.post(PAUSE, {"paused": "1", "until": "2026-03-02"}, **HTMX)
        follow = client.post(PAUSE, {"paused": "1", "until": "2026-03-01"}, follow=True)

    assert "Choose a day after today." in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert "Choose a day after today." in follow.content.decode()
    agent.refresh_from_db()
    assert not agent.paused


def test_pause_date_input_is_labelled_with_today_as_minimum(client, agent):
    client.force_login(agent.user)

    with time_machine.travel(T0, tick=False):
        body = client.get(OFFERS).content.decode()

    assert '<label for="id_until">Pause until' in body
    assert f'min="{date(2026, 3, 2).isoformat()}"' in body
