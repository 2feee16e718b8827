"""Claim pages, the bell, push subscriptions and the service worker."""

import itertools
import json
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import signing
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse

from contacts.models import ContactRole
from notifications.models import Channel, Kind, OutboxMessage, PushSubscription
from notifications.tests.fixtures import claim_links, emails_to
from notifications.tokens import CLAIM_SALT, claim_token_make
from routing.models import OfferStatus
from routing.tests.helpers import agent_of, new_contact, rule
from teams.tests.factories import UserFactory, make_member

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def agents(team):
    return [
        make_member(team, user=UserFactory(username=f"agent{i}", first_name=f"Agent{i}"))
        for i in range(3)
    ]


@pytest.fixture
def blast(team, agents, capture):
    """A Blast Alert to the three agents; returns (contact, offer, {member: claim path})."""
    rule(team, "Blast", *agents, method="blast", claim_window_minutes=15)
    contact = new_contact(team, capture, first_name="Jane", last_name="Buyer", email="j@x.net")
    offer = contact.offers.get()
    paths = {}
    for agent in agents:
        [email] = emails_to(agent.user.email)
        [link] = claim_links([email])
        paths[agent] = urlsplit(link).path
    return contact, offer, paths


def login(client, member):
    client.force_login(member.user)
    return client


def assert_claim_headers(response):
    assert response["Referrer-Policy"] == "strict-origin"
    assert "no-store" in response["Cache-Control"]


def assert_unchanged(contact, offer):
    offer.refresh_from_db()
    assert offer.status == OfferStatus.OPEN
    assert not ContactRole.objects.filter(contact=contact).exists()


# --- claim by link: scanners -------------------------------------------------------------------


def test_claim_get_and_head_change_nothing_and_show_no_contact_to_anonymous(client, blast):
    contact, offer, paths = blast
    for path in paths.values():
        page = client.get(path)
        assert page.status_code == 200
        assert_claim_headers(page)
        assert b'<form method="post"' in page.content
        assert b"Jane" not in page.content
        head = client.head(path)
        assert head.status_code == 200
        assert_claim_headers(head)
    assert_unchanged(contact, offer)


def test_claim_page_has_no_script_that_submits_the_form(client, blast):
    _, _, paths = blast
    page = client.get(next(iter(paths.values()))).content.decode()
    assert ".submit()" not in page
    assert "http-equiv" not in page


def test_claim_post_anonymous_redirects_to_login_and_back(client, blast):
    contact, offer, paths = blast
    path = next(iter(paths.values()))
    response = client.post(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=/claim/")
    assert_claim_headers(response)
    assert_unchanged(contact, offer)


def test_claim_get_shows_the_contact_to_the_logged_in_recipient(client, blast, agents):
    _, _, paths = blast
    page = login(client, agents[1]).get(paths[agents[1]])
    assert page.status_code == 200
    assert "Jane Buyer" in page.content.decode()


def test_claim_post_by_the_recipient_claims_the_contact(client, blast, agents):
    contact, _offer, paths = blast
    response = login(client, agents[1]).post(paths[agents[1]])
    assert response.status_code == 200
    assert "The contact is yours" in response.content.decode()
    assert_claim_headers(response)
    assert agent_of(contact) == agents[1]


def test_claim_post_requires_the_csrf_token(blast, agents):
    contact, offer, paths = blast
    client = login(Client(enforce_csrf_checks=True), agents[0])
    refused = client.post(paths[agents[0]])
    assert refused.status_code == 403
    assert_claim_headers(refused)
    assert_unchanged(contact, offer)
    client.get(paths[agents[0]])
    token = client.cookies["csrftoken"].value
    assert client.post(paths[agents[0]], {"csrfmiddlewaretoken": token}).status_code == 200
    assert agent_of(contact) == agents[0]


# --- claim by link: abuse --------------------------------------------------------------------


def test_claim_by_another_member_is_refused(client, blast, agents, owner):
    contact, offer, paths = blast
    login(client, agents[0])
    for method in (client.get, client.post):
        response = method(paths[agents[1]])
        assert response.status_code == 403
        assert "This link was sent to someone else" in response.content.decode()
        assert_claim_headers(response)
    login(client, owner)
    assert client.post(paths[agents[1]]).status_code == 403
    assert_unchanged(contact, offer)


def test_claim_replayed_shows_already_claimed(client, blast, agents):
    contact, _offer, paths = blast
    login(client, agents[1]).post(paths[agents[1]])
    again = client.post(paths[agents[1]])
    assert again.status_code == 409
    assert "already claimed by you" in again.content.decode()
    other = login(Client(), agents[2]).post(paths[agents[2]])
    assert other.status_code == 409
    assert "already claimed by Agent1" in other.content.decode()
    assert agent_of(contact) == agents[1]


def test_claim_after_the_window_shows_expired_and_changes_nothing(client, team, agents, capture):
    rule(team, "Blast", *agents, method="blast", claim_window_minutes=10)
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, capture)
    offer = contact.offers.get()
    [path] = [urlsplit(link).path for link in claim_links(emails_to(agents[0].user.email))]
    login(client, agents[0])
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        for method in (client.get, client.head, client.post):
            response = method(path)
            assert response.status_code == 410
            assert_claim_headers(response)
        assert "This link has expired" in client.get(path).content.decode()
    offer.refresh_from_db()
    assert offer.status == OfferStatus.OPEN  # the sweeper moves it on, not a link
    assert agent_of(contact) is None


def test_claim_after_the_offer_moved_on_says_so(client, blast, agents):
    contact, _offer, paths = blast
    from routing.manual import contact_reroute

    contact_reroute(actor=None, contact=contact)
    response = login(client, agents[0]).post(paths[agents[0]])
    assert response.status_code == 410
    assert "This offer has moved on" in response.content.decode()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: p[:-2] + ("x/" if p[-2] != "x" else "y/"),
        lambda p: p.replace(
            p.split("/")[2].split(":")[0], "eyJvIjoxLCJtIjoxLCJlIjo5OTk5OTk5OTk5fQ"
        ),
        lambda p: "/claim/garbage/",
    ],
    ids=["signature", "payload", "garbage"],
)
def test_claim_with_a_tampered_token_is_a_bad_request(client, blast, agents, tamper):
    contact, offer, paths = blast
    path = tamper(paths[agents[0]])
    login(client, agents[0])
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code == 400
        assert "This link is not valid" in response.content.decode()
        assert_claim_headers(response)
    assert_unchanged(contact, offer)


@pytest.mark.parametrize("salt", ["", "switchboard.unsubscribe"])
def test_claim_with_a_token_signed_for_another_purpose_is_refused(client, blast, agents, salt):
    contact, offer, _ = blast
    payload = {"o": offer.pk, "m": agents[0].pk, "e": int(offer.deadline.timestamp())}
    path = reverse("notifications:claim", args=[signing.dumps(payload, salt=salt)])
    assert login(client, agents[0]).post(path).status_code == 400
    assert_unchanged(contact, offer)


def test_claim_with_a_genuine_token_for_a_member_not_offered_is_refused(client, blast, owner):
    contact, offer, _ = blast
    token = claim_token_make(offer_id=offer.pk, membership_id=owner.pk, deadline=offer.deadline)
    response = login(client, owner).post(reverse("notifications:claim", args=[token]))
    assert response.status_code == 410
    assert_unchanged(contact, offer)


def test_claim_tokens_never_reach_the_logs(client, blast, agents, caplog):
    _, offer, paths = blast
    caplog.set_level(logging.DEBUG)
    path = paths[agents[1]]
    token = path.split("/")[2]
    Client(enforce_csrf_checks=True).post(path)  # CSRF failure, logged by Django
    login(client, agents[0]).post(path)  # 403
    client.get(path[:-3] + "zz/")  # 400
    with time_machine.travel(offer.deadline + timedelta(seconds=1), tick=False):
        client.get(path)  # 410
    login(client, agents[1]).post(path)
    assert token not in caplog.text
    assert token[:20] not in caplog.text
    assert "/claim/[redacted]" in caplog.text  # the CSRF failure was logged, redacted


# --- in-app claim (bell, web push) ------------------------------------------------------------


def test_offer_claim_in_app_get_shows_and_post_claims(client, blast, agents):
    contact, offer, _ = blast
    url = reverse("notifications:offer_claim", args=[offer.pk])
    login(client, agents[2])
    page = client.get(url)
    assert page.status_code == 200
    assert_claim_headers(page)
    assert_unchanged(contact, offer)
    assert "The contact is yours" in client.post(url).content.decode()
    assert agent_of(contact) == agents[2]


def test_offer_claim_in_app_is_404_for_other_teams_and_non_recipients(
    client, blast, owner, outsider
):
    contact, offer, _ = blast
    url = reverse("notifications:offer_claim", args=[offer.pk])
    for member in (owner, outsider):
        login(client, member)
        assert client.get(url).status_code == 404
        assert client.post(url).status_code == 404
    assert_unchanged(contact, offer)


def test_offer_claim_in_app_anonymous_goes_to_login(client, blast):
    _, offer, _ = blast
    response = client.get(reverse("notifications:offer_claim", args=[offer.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- the bell --------------------------------------------------------------------------------


_serial = itertools.count()


def _notes(member, n, **fields):
    return OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                team_id=member.team_id,
                key=f"test:{next(_serial)}",
                channel=Channel.IN_APP,
                kind=Kind.ASSIGNED,
                membership=member,
                title=f"Note {i}",
                status="sent",
                **fields,
            )
            for i in range(n)
        ]
    )


def test_bell_shows_unread_count_and_latest(client, agent):
    _notes(agent, 3)
    response = login(client, agent).get(reverse("notifications:bell"))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<span class="bell-count" aria-hidden="true">3</span>' in body
    assert "Note 2" in body
    assert response["Vary"].count("HX-Request") == 1


def test_bell_lists_only_the_members_own_notifications(client, agent, admin_member, outsider):
    _notes(admin_member, 2)
    _notes(outsider, 2)
    body = login(client, agent).get(reverse("notifications:bell")).content.decode()
    assert "No notifications yet." in body


def test_bell_anonymous_goes_to_login(client):
    response = client.get(reverse("notifications:bell"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_bell_query_count_does_not_grow_with_notifications(
    client, agent, django_assert_num_queries
):
    login(client, agent)
    _notes(agent, 2)
    client.get(reverse("notifications:bell"))
    counts = []
    for n in (2, 30):
        _notes(agent, n, read_at=None)
        # session, user, membership; then the unread count and the latest few
        with django_assert_num_queries(5) as captured:
            client.get(reverse("notifications:bell"))
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_mark_read_marks_one_and_answers_htmx_with_the_panel(client, agent):
    first, second = _notes(agent, 2)
    login(client, agent)
    url = reverse("notifications:mark_read", args=[first.pk])
    response = client.post(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert '<details class="bell-menu" open>' in response.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None
    assert client.post(url)["Location"] == reverse("notifications:index")


def test_mark_read_of_another_members_notification_is_404(client, agent, admin_member, outsider):
    [theirs] = _notes(admin_member, 1)
    [other_team] = _notes(outsider, 1)
    login(client, agent)
    for note in (theirs, other_team):
        assert client.post(reverse("notifications:mark_read", args=[note.pk])).status_code == 404
        note.refresh_from_db()
        assert note.read_at is None


def test_mark_read_of_an_email_row_is_404(client, agent):
    email = OutboxMessage.objects.create(
        team_id=agent.team_id, key="e", channel=Channel.EMAIL, kind=Kind.DIGEST, membership=agent
    )
    login(client, agent)
    assert client.post(reverse("notifications:mark_read", args=[email.pk])).status_code == 404


def test_mark_all_read_marks_only_the_members_own(client, agent, outsider):
    _notes(agent, 3)
    _notes(outsider, 2)
    login(client, agent).post(reverse("notifications:mark_all_read"))
    assert not OutboxMessage.objects.filter(membership=agent, read_at__isnull=True).exists()
    assert OutboxMessage.objects.filter(membership=outsider, read_at__isnull=True).count() == 2


@pytest.mark.parametrize(
    "name", ["mark_all_read", "mark_read", "push_subscribe", "push_unsubscribe"]
)
def test_mutations_answer_get_with_405(client, agent, name):
    args = [1] if name == "mark_read" else []
    login(client, agent)
    assert client.get(reverse(f"notifications:{name}", args=args)).status_code == 405


@pytest.mark.parametrize("name", ["mark_all_read", "mark_read", "push_subscribe", "index"])
def test_member_pages_send_anonymous_to_login(client, name):
    args = [1] if name == "mark_read" else []
    method = client.get if name == "index" else client.post
    response = method(reverse(f"notifications:{name}", args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_notifications_page_lists_the_members_notifications(client, agent, outsider):
    _notes(agent, 2)
    _notes(outsider, 1)
    body = login(client, agent).get(reverse("notifications:index")).content.decode()
    assert body.count('class="bell-item unread"') == 2


def test_bell_include_renders_a_self_refreshing_shell_for_members(agent):
    request = RequestFactory().get("/")
    request.user = agent.user
    html = render_to_string(
        "notifications/bell.html", {"user": agent.user, "membership": agent}, request=request
    )
    assert 'hx-get="/notifications/bell/"' in html
    assert "every 30s" in html
    assert "bell-menu" not in html  # the panel itself comes from the bell view
    assert render_to_string("notifications/bell.html", {"membership": None}).strip() == ""


def test_bell_offer_notification_links_to_the_in_app_claim_page(client, blast, agents):
    _, offer, _ = blast
    body = login(client, agents[0]).get(reverse("notifications:bell")).content.decode()
    assert reverse("notifications:offer_claim", args=[offer.pk]) in body
    assert 'href="/claim/' not in body


# --- web push --------------------------------------------------------------------------------


def test_push_subscribe_saves_the_browser_for_the_member(client, agent):
    login(client, agent)
    subscription = {
        "endpoint": "https://push.example.com/abc",
        "keys": {"p256dh": "BKey", "auth": "secret"},
    }
    response = client.post(
        reverse("notifications:push_subscribe"),
        json.dumps(subscription),
        content_type="application/json",
    )
    assert response.status_code == 201
    saved = PushSubscription.objects.get()
    assert (saved.membership, saved.p256dh, saved.auth) == (agent, "BKey", "secret")
    response = client.post(
        reverse("notifications:push_unsubscribe"),
        json.dumps({"endpoint": subscription["endpoint"]}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    "body",
    ["not json", "[]", json.dumps({"endpoint": "http://x/", "keys": {"p256dh": "k", "auth": "a"}})],
)
def test_push_subscribe_refuses_bad_input(client, agent, body):
    login(client, agent)
    response = client.post(
        reverse("notifications:push_subscribe"), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert not PushSubscription.objects.exists()


def test_push_button_shows_only_with_vapid_keys(agent, settings):
    request = RequestFactory().get("/")
    context = {"user": agent.user, "membership": agent}
    assert "push-toggle" not in render_to_string(
        "notifications/push_button.html", context, request=request
    )
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = "BPub", "priv"
    html = render_to_string("notifications/push_button.html", context, request=request)
    assert 'data-vapid-key="BPub"' in html
    assert 'data-worker-url="/sw.js"' in html


def test_service_worker_is_served_from_the_root(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert b"showNotification" in response.content
    assert client.post("/sw.js").status_code == 405


def test_claim_salt_is_specific_to_claims():
    assert CLAIM_SALT == "switchboard.claim"
