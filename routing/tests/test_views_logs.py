"""Routing logs: contact search, a contact's log in time order, the filtered team log."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from contacts.tests.factories import ContactFactory
from routing.models import LogEvent, RoutingLog
from routing.offers import offer_claim, offers_sweep
from routing.tests.helpers import new_contact, rule
from teams.services import permission_profile_save
from teams.tests.factories import UserFactory, make_member

LOGS = reverse("routing_pages:logs")
SEARCH = reverse("routing_pages:logs_search")
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def routed(team, agent, capture):
    """Rule 1 wants Facebook leads; a Zillow lead skips it and rule 2 takes it."""
    rule(team, "Facebook leads", agent, sources=["Facebook"])
    rule(team, "Zillow leads", agent, sources=["Zillow"])
    return new_contact(team, capture, first_name="Zoe", last_name="Zillow", email="zoe@example.com")


def contact_url(contact) -> str:
    return reverse("routing_pages:log_contact", args=[contact.pk])


def _log(team, contact, event=LogEvent.ASSIGNED, **fields) -> RoutingLog:
    return RoutingLog.objects.create(team=team, contact=contact, event=event, **fields)


# --- access ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", [LOGS, SEARCH, reverse("routing_pages:log_contact", args=[1])])
@pytest.mark.django_db
def test_logs_anonymous_redirects_to_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("persona", ["owner", "admin_member"])
def test_logs_allowed_with_view_routing_logs(client, request, persona, routed):
    client.force_login(request.getfixturevalue(persona).user)

    assert client.get(LOGS).status_code == 200
    assert client.get(contact_url(routed)).status_code == 200


def test_logs_forbidden_to_agent_without_view_routing_logs(client, agent, routed):
    client.force_login(agent.user)

    assert client.get(LOGS).status_code == 403
    assert client.get(SEARCH, {"q": "Zoe"}, **HTMX).status_code == 403
    assert client.get(contact_url(routed)).status_code == 403


def test_logs_agent_granted_view_routing_logs_may_read(client, agent, routed):
    profile = agent.permission_profile
    profile.view_routing_logs = True
    permission_profile_save(actor=None, profile=profile)
    client.force_login(agent.user)

    assert client.get(contact_url(routed)).status_code == 200


def test_logs_user_without_team_gets_404(client, db):
    client.force_login(UserFactory(username="loner"))

    assert client.get(LOGS).status_code == 404


def test_logs_other_team_contact_is_404(client, outsider, routed):
    client.force_login(outsider.user)

    assert client.get(contact_url(routed)).status_code == 404
    response = client.get(LOGS, {"q": "Zoe"})
    assert response.status_code == 200
    assert response.context["results"] == []
    assert list(response.context["page"].rows) == []


# --- search and a contact's log -------------------------------------------------------------


@pytest.mark.parametrize("q", ["zoe", "Zoe Zillow", "zoe@example", "ZILLOW"])
def test_logs_search_finds_contact_by_name_or_email(client, admin_member, routed, q):
    client.force_login(admin_member.user)

    response = client.get(LOGS, {"q": q})

    assert response.context["results"] == [routed]
    assert contact_url(routed) in response.content.decode()


def test_logs_search_by_phone(client, team, admin_member):
    contact = ContactFactory(team=team, phone="+1 512 555 0199")
    ContactFactory(team=team, phone="+1 512 555 0100")
    client.force_login(admin_member.user)

    response = client.get(LOGS, {"q": "0199"})

    assert response.context["results"] == [contact]


def test_logs_search_as_you_type_returns_results_only(client, admin_member, routed):
    client.force_login(admin_member.user)

    response = client.get(SEARCH, {"q": "zoe"}, **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="contact-results"')
    assert "Zoe Zillow" in body
    assert "HX-Request" in response["Vary"]
    assert (
        "No contact matches “nobody”"
        in client.get(SEARCH, {"q": "nobody"}, **HTMX).content.decode()
    )


def test_logs_search_without_htmx_goes_to_the_page(client, admin_member):
    client.force_login(admin_member.user)

    response = client.get(SEARCH, {"q": "zoe smith"})

    assert response.status_code == 302
    assert response.url == f"{LOGS}?q=zoe+smith"


def test_contact_log_explains_why_rule_one_was_skipped(client, admin_member, agent, routed):
    client.force_login(admin_member.user)

    response = client.get(contact_url(routed))

    lines = [line for entry in response.context["entries"] for line in entry.lines]
    assert [(line.code, line.source) for line in lines[:2]] == [
        ("rule_not_matched", "Facebook leads"),
        ("rule_matched", "Zillow leads"),
    ]
    assert lines[-1].code == LogEvent.ASSIGNED
    body = response.content.decode()
    assert "Rule did not match" in body
    assert "source &#x27;Zillow&#x27; is not one of: Facebook" in body
    assert '<span class="yn yn-no" aria-hidden="true">N</span>' in body
    assert '<span class="yn yn-yes" aria-hidden="true">Y</span>' in body
    assert response.context["agent_role"].membership == agent
    assert "Alan Agent" in body
    assert body.index("Facebook leads") < body.index("Rule matched")


def test_contact_log_shows_skips_offers_and_expiry_in_order(client, team, admin_member, capture):
    ann = make_member(team, user=UserFactory(username="a1", first_name="Ann", last_name="One"))
    ben = make_member(team, user=UserFactory(username="a2", first_name="Ben", last_name="Two"))
    ann.paused = True
    ann.save()
    rule(team, "Next up", ann, ben, method="next_up", claim_window_minutes=5)
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, capture)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        assert offers_sweep() == 1
    client.force_login(admin_member.user)

    response = client.get(contact_url(contact))

    events = [line.code for entry in response.context["entries"] for line in entry.lines]
    assert events[:4] == [
        "rule_matched",
        "candidate_skipped",
        LogEvent.OFFER_MADE,
        LogEvent.OFFER_EXPIRED,
    ]
    assert "fell_through" in events
    assert events[-1] == LogEvent.ASSIGNED
    body = response.content.decode()
    assert "Ann One: paused or on vacation" in body
    assert "Next Up offer to Ben Two" in body
    assert "Offer expired" in body
    assert "Fell through" in body
    assert "Olive Owner" in body  # nobody claimed: the Default Rule's owner fallback


def test_contact_log_shows_the_claim_and_final_assignee(client, team, admin_member, agent, capture):
    rule(team, "Blast", agent, method="blast")
    contact = new_contact(team, capture)
    offer_claim(offer_id=contact.offers.get().pk, membership=agent)
    client.force_login(admin_member.user)

    response = client.get(contact_url(contact))

    events = [e.event for e in response.context["entries"]]
    assert events[-2:] == [LogEvent.OFFER_CLAIMED, LogEvent.ASSIGNED]
    body = response.content.decode()
    assert "claimed by Alan Agent" in body
    assert 'class="final-assignee"' in body


# --- the team log: filters, pagination, budget -------------------------------------------------


def test_logs_list_filters_by_rule_agent_outcome_and_period(
    client, team, admin_member, agent, routed
):
    facebook = team.routing_rules.get(name="Facebook leads")
    zillow = team.routing_rules.get(name="Zillow leads")
    old = ContactFactory(team=team, first_name="Olga")
    with time_machine.travel(datetime.now(tz=UTC) - timedelta(days=10)):
        _log(team, old, LogEvent.FAILED, reason="engine exploded")
    client.force_login(admin_member.user)

    def events(**params):
        rows = client.get(LOGS, params).context["page"].rows
        return [(r.event, r.contact_id) for r in rows]

    # One entry per decision, under the rule that decided (rule 1's N is one of its lines).
    assert events(rule=zillow.pk) == [(LogEvent.ASSIGNED, routed.pk)]
    assert events(rule=facebook.pk) == []
    assert events(agent=agent.pk) == [(LogEvent.ASSIGNED, routed.pk)]
    assert events(outcome="assigned") == [(LogEvent.ASSIGNED, routed.pk)]
    assert events(outcome="failed") == []
    assert events(outcome="failed", days="30") == [(LogEvent.FAILED, old.pk)]
    assert events(outcome="failed", days="all") == [(LogEvent.FAILED, old.pk)]
    assert events() == events(days="7") == [(LogEvent.ASSIGNED, routed.pk)]
    assert events(days="all") == [(LogEvent.ASSIGNED, routed.pk), (LogEvent.FAILED, old.pk)]
    # A stale or tampered filter is dropped rather than failing the page.
    assert events(rule="999999", days="bogus") == [(LogEvent.ASSIGNED, routed.pk)]


def test_logs_list_htmx_filter_returns_rows_only(client, admin_member, routed):
    client.force_login(admin_member.user)

    response = client.get(LOGS, {"outcome": "assigned"}, **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="log-rows"')
    assert "Zoe Zillow" in body
    assert "HX-Request" in response["Vary"]


def test_logs_list_paginates_without_counting(client, team, admin_member):
    contact = ContactFactory(team=team)
    RoutingLog.objects.bulk_create(
        [
            RoutingLog(team=team, contact=contact, event=LogEvent.ASSIGNED, reason=f"row {i}")
            for i in range(55)
        ]
    )
    client.force_login(admin_member.user)

    first = client.get(LOGS)
    second = client.get(LOGS, {"page": "2", "outcome": "assigned"})

    assert len(first.context["page"].rows) == 50
    assert first.context["page"].has_next
    assert "?page=2" in first.content.decode()
    assert len(second.context["page"].rows) == 5
    assert not second.context["page"].has_next
    assert "?page=1&amp;outcome=assigned" in second.content.decode()
    assert client.get(LOGS, {"page": "x"}).context["page"].number == 1


def _logs_queries(client, member, django_assert_max_num_queries, **params) -> int:
    client.force_login(member.user)
    with django_assert_max_num_queries(15) as ctx:
        assert client.get(LOGS, params).status_code == 200
    return len(ctx.captured_queries)


def test_logs_list_query_budget_does_not_grow_with_rows(
    client, team, admin_member, agent, django_assert_max_num_queries
):
    contact = ContactFactory(team=team)
    _log(team, contact, membership=agent)
    few = _logs_queries(client, admin_member, django_assert_max_num_queries, q="zz")
    for _ in range(40):
        _log(team, ContactFactory(team=team), membership=agent, source_name="Zillow leads")

    many = _logs_queries(client, admin_member, django_assert_max_num_queries, q="zz")

    assert many == few


def test_contact_log_query_budget_does_not_grow_with_entries(
    client, team, admin_member, agent, routed, django_assert_max_num_queries
):
    client.force_login(admin_member.user)
    with django_assert_max_num_queries(15) as ctx:
        client.get(contact_url(routed))
    few = len(ctx.captured_queries)
    zillow = team.routing_rules.get(name="Zillow leads")
    for i in range(30):
        # Each entry renders its steps as lines: per rule, per member skipped.
        steps = [
            {
                "kind": "rule",
                "id": zillow.pk,
                "name": "Zillow leads",
                "outcome": "fell_through",
                "reason": "matched all criteria",
                "skipped": [[agent.pk, "Alan Agent", "paused"]],
                "note": f"skip {i}",
            }
        ]
        _log(team, routed, LogEvent.FAILED, membership=agent, rule=zillow, steps=steps)

    with django_assert_max_num_queries(15) as ctx:
        response = client.get(contact_url(routed))

    assert len(ctx.captured_queries) == few
    assert response.content.decode().count("Alan Agent: paused or on vacation") == 30


def test_contact_log_shows_a_hold_and_until_when(client, team, admin_member, agent, capture):
    agent.paused = True
    agent.save()
    rule(team, "Holding", agent, hold_when_unavailable=True, hold_max_minutes=30)
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, capture)
    client.force_login(admin_member.user)

    response = client.get(contact_url(contact))

    lines = [line for entry in response.context["entries"] for line in entry.lines]
    assert [(line.code, line.source, line.text) for line in lines] == [
        ("rule_matched", "Holding", "no criteria: matches every contact"),
        ("candidate_skipped", "Holding", "Alan Agent: paused or on vacation"),
        (LogEvent.HELD, "Holding", "held: the only agent is paused"),
    ]
    body = response.content.decode()
    assert (
        'Routing status</dt><dd>Held (until <time datetime="2026-03-02T15:30:00+00:00">'
        "Mar 2, 2026 15:30 UTC</time>)</dd>" in body
    )
    assert "<dt>Rule</dt><dd>Holding</dd>" in body
    assert '<strong class="event">Held</strong>: <span class="log-rule">Holding</span>' in body
