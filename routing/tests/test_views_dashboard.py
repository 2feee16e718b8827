"""Lead routing dashboard (seed 004): routed leads, filters, assign, reassign, remove."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from contacts.models import ContactRole, ContactStatus, RoleKind
from contacts.tests.factories import ContactFactory
from routing.models import (
    ContactRouting,
    Offer,
    OfferStatus,
    ReassignmentGroup,
    Rotation,
    RoutingStatus,
)
from routing.tests.helpers import agent_of, new_contact, rule
from teams.tests.factories import UserFactory, make_member

DASHBOARD = reverse("routing_pages:dashboard")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def second(team):
    return make_member(team, user=UserFactory(username="beth", first_name="Beth", last_name="Bee"))


def assign_url(contact) -> str:
    return reverse("routing_pages:lead_assign", args=[contact.pk])


def remove_url(contact) -> str:
    return reverse("routing_pages:lead_remove", args=[contact.pk])


def _lead(team, member=None, rule=None, routing_status=None, **fields):
    """A lead with its routing row: assigned to `member`, else failed (or `routing_status`)."""
    contact = ContactFactory(team=team, **fields)
    ContactRouting.objects.update_or_create(
        contact=contact,
        defaults={
            "team": team,
            "rule": rule,
            "status": routing_status
            or (RoutingStatus.ASSIGNED if member else RoutingStatus.FAILED),
            "assigned_at": datetime(2026, 3, 1, 10, 0, tzinfo=UTC) if member else None,
        },
    )
    if member:
        ContactRole.objects.create(contact=contact, membership=member, kind=RoleKind.AGENT)
    return contact


# --- access ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_dashboard_anonymous_redirects_to_login(client):
    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={DASHBOARD}"


@pytest.mark.parametrize("persona", ["owner", "admin_member"])
def test_dashboard_allowed_with_manage_lead_distribution(client, request, persona):
    client.force_login(request.getfixturevalue(persona).user)

    response = client.get(DASHBOARD)

    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]


def test_dashboard_forbidden_to_agent(client, team, agent):
    contact = _lead(team, agent)
    client.force_login(agent.user)

    assert client.get(DASHBOARD).status_code == 403
    assert client.post(assign_url(contact), {"membership": agent.pk}).status_code == 403
    assert client.post(remove_url(contact)).status_code == 403
    contact.refresh_from_db()
    assert contact.status != ContactStatus.ARCHIVED


def test_dashboard_user_without_team_gets_404(client, db):
    client.force_login(UserFactory(username="loner"))

    assert client.get(DASHBOARD).status_code == 404


def test_dashboard_other_team_sees_none_of_ours_and_gets_404(client, team, agent, outsider):
    contact = _lead(team, agent)
    client.force_login(outsider.user)

    response = client.get(DASHBOARD)
    assert list(response.context["page"].object_list) == []
    assert contact.name not in response.content.decode()
    assert client.post(assign_url(contact), {"membership": outsider.pk}).status_code == 404
    assert client.post(remove_url(contact)).status_code == 404
    assert agent_of(contact) == agent


@pytest.mark.parametrize("url_for", [assign_url, remove_url])
def test_dashboard_mutations_answer_get_with_405(client, team, admin_member, url_for):
    client.force_login(admin_member.user)

    assert client.get(url_for(_lead(team))).status_code == 405


# --- the list and its filters ---------------------------------------------------------------


def test_dashboard_shows_rule_assignee_assigned_and_last_contacted(
    client, team, admin_member, agent
):
    pool = rule(team, "Zillow pool", agent, sources=["Zillow"])
    contact = _lead(team, agent, pool, first_name="Zara")
    contact.last_contacted_at = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    contact.save()
    client.force_login(admin_member.user)

    response = client.get(DASHBOARD)

    body = response.content.decode()
    row = body[body.index(f'id="lead-{contact.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Zara" in row
    assert "Zillow pool" in row
    assert "Alan Agent" in row
    assert "Mar 1, 2026 10:00" in row
    assert "Mar 2, 2026 09:15" in row
    assert "Reassign" in row
    assert reverse("contact_pages:profile", args=[contact.pk]) in row
    assert f'<label class="visually-hidden" for="assign-{contact.pk}">' in row


def test_dashboard_routed_contact_shows_its_rule(client, team, admin_member, agent, capture):
    rule(team, "Facebook", agent, sources=["Facebook"])
    contact = new_contact(team, capture, source="Facebook")
    client.force_login(admin_member.user)

    response = client.get(DASHBOARD)

    [shown] = response.context["page"].object_list
    assert shown == contact
    assert shown.routing.rule.name == "Facebook"
    assert shown.agent_roles[0].membership == agent


def test_dashboard_filters_by_rule_and_assignment(client, team, admin_member, agent, second):
    pool = rule(team, "Pool A", agent)
    other = rule(team, "Pool B", second)
    a = _lead(team, agent, pool)
    b = _lead(team, second, other)
    unassigned = _lead(team, None, pool)
    removed = _lead(team, agent, pool, status=ContactStatus.ARCHIVED)
    client.force_login(admin_member.user)

    def shown(**params):
        return {c.pk for c in client.get(DASHBOARD, params).context["page"].object_list}

    assert shown() == {a.pk, b.pk, unassigned.pk}
    assert removed.pk not in shown()
    assert shown(rule=pool.pk) == {a.pk, unassigned.pk}
    assert shown(assignment="assigned") == {a.pk, b.pk}
    assert shown(assignment="unassigned") == {unassigned.pk}
    assert shown(assignment=str(second.pk)) == {b.pk}
    assert shown(rule=pool.pk, assignment=str(second.pk)) == set()
    assert shown(rule="999999", assignment="bogus") == {a.pk, b.pk, unassigned.pk}


def test_dashboard_held_filter_shows_only_held_leads(client, team, admin_member, agent):
    pool = rule(team, "Pool", agent)
    assigned = _lead(team, agent, pool)
    failed = _lead(team, None, pool)
    held = _lead(team, None, pool, routing_status=RoutingStatus.HELD, first_name="Hugo")
    client.force_login(admin_member.user)

    response = client.get(DASHBOARD, {"assignment": "held"})

    assert [c.pk for c in response.context["page"].object_list] == [held.pk]
    assert response.context["form"].filters()["assignment"] == "held"
    body = response.content.decode()
    assert "1 lead" in body
    assert "Hugo" in body
    assert assigned.name not in body
    assert failed.name not in body


def test_dashboard_held_row_shows_badge_and_until(client, team, admin_member, agent):
    pool = rule(team, "Pool", agent)
    contact = _lead(team, None, pool, routing_status=RoutingStatus.HELD)
    ContactRouting.objects.filter(contact=contact).update(
        held_since=datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
        hold_until=datetime(2026, 3, 1, 11, 0, tzinfo=UTC),
    )
    client.force_login(admin_member.user)

    body = client.get(DASHBOARD).content.decode()

    row = body[body.index(f'id="lead-{contact.pk}"') :]
    row = row[: row.index("</tr>")]
    assert '<span class="badge badge-held">Held</span>' in row
    assert "waiting for someone available, until" in row
    assert "Mar 1, 11:00" in row
    assert "Unassigned" not in row


def response_held(client) -> tuple[int, bool]:
    response = client.get(DASHBOARD)
    return response.context["held"], "Show held contacts" in response.content.decode()


def test_dashboard_held_banner_counts_held_leads_and_links_the_filter(
    client, team, admin_member, agent, outsider
):
    _lead(team, agent)
    _lead(team)
    client.force_login(admin_member.user)
    assert response_held(client) == (0, False)

    for _ in range(2):
        _lead(team, routing_status=RoutingStatus.HELD)
    _lead(outsider.team, routing_status=RoutingStatus.HELD)  # another team's: not counted

    count, banner = response_held(client)
    assert count == 2
    assert banner
    body = client.get(DASHBOARD).content.decode()
    assert "<strong>2 contacts held</strong>, waiting in their rule" in body
    assert f'href="{DASHBOARD}?assignment=held"' in body


def test_dashboard_held_banner_singular(client, team, admin_member):
    _lead(team, routing_status=RoutingStatus.HELD)
    client.force_login(admin_member.user)

    body = client.get(DASHBOARD).content.decode()

    assert "<strong>1 contact held</strong>, waiting in its rule" in body


def test_dashboard_contact_held_by_routing_is_listed_as_held(
    client, team, admin_member, agent, capture
):
    agent.paused = True
    agent.save()
    pool = rule(team, "Holding pool", agent, hold_when_unavailable=True, hold_max_minutes=30)
    contact = new_contact(team, capture, first_name="Wendy")
    assert ContactRouting.objects.get(contact=contact).status == RoutingStatus.HELD
    client.force_login(admin_member.user)

    response = client.get(DASHBOARD, {"assignment": "held"})

    assert [c.pk for c in response.context["page"].object_list] == [contact.pk]
    assert response.context["held"] == 1
    row = response.content.decode()
    row = row[row.index(f'id="lead-{contact.pk}"') :]
    assert pool.name in row[: row.index("</tr>")]
    assert "badge-held" in row[: row.index("</tr>")]
    assert agent_of(contact) is None


def test_dashboard_htmx_filter_returns_rows_only(client, team, admin_member, agent):
    _lead(team, agent, first_name="Hana")
    client.force_login(admin_member.user)

    response = client.get(DASHBOARD, {"assignment": "assigned"}, **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="lead-rows"')
    assert "Hana" in body
    assert "1 lead" in body


def test_dashboard_paginates_25_a_page_keeping_filters(client, team, admin_member, agent):
    for _ in range(30):
        _lead(team, agent)
    client.force_login(admin_member.user)

    first = client.get(DASHBOARD, {"assignment": "assigned"})
    second = client.get(DASHBOARD, {"assignment": "assigned", "page": "2"})

    assert len(first.context["page"].object_list) == 25
    assert "?assignment=assigned&amp;page=2" in first.content.decode()
    assert len(second.context["page"].object_list) == 5
    assert "30 leads" in second.content.decode()


def _dashboard_queries(client, member, django_assert_max_num_queries, **params) -> int:
    client.force_login(member.user)
    with django_assert_max_num_queries(15) as ctx:
        assert client.get(DASHBOARD, params).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "params",
    [{}, {"assignment": "assigned"}, {"assignment": "unassigned"}, {"assignment": "held"}],
)
def test_dashboard_query_budget_does_not_grow_with_rows(
    client, team, admin_member, agent, second, django_assert_max_num_queries, params
):
    pool = rule(team, "Pool", agent, second)
    _lead(team, agent, pool)
    _lead(team)
    _lead(team, None, pool, routing_status=RoutingStatus.HELD)
    few = _dashboard_queries(client, admin_member, django_assert_max_num_queries, **params)
    for i in range(30):
        _lead(team, (agent, second, None)[i % 3], pool)
        _lead(team, None, pool, routing_status=RoutingStatus.HELD)
    for _ in range(5):
        make_member(team)

    many = _dashboard_queries(client, admin_member, django_assert_max_num_queries, **params)

    assert many == few


# --- assign, reassign, remove -------------------------------------------------------------------


def test_assign_unassigned_lead(client, team, admin_member, agent):
    contact = _lead(team)
    client.force_login(admin_member.user)

    response = client.post(
        assign_url(contact), {"membership": agent.pk, "next": f"{DASHBOARD}?assignment=unassigned"}
    )

    assert response.status_code == 302
    assert response.url == f"{DASHBOARD}?assignment=unassigned"
    assert agent_of(contact) == agent
    routing = ContactRouting.objects.get(contact=contact)
    assert routing.status == RoutingStatus.ASSIGNED
    assert routing.assigned_at is not None
    assert "assigned directly by Ada Admin" in contact.timeline.get(kind="assigned").message


def test_reassign_with_htmx_swaps_the_row(client, team, admin_member, agent, second):
    contact = _lead(team, agent)
    client.force_login(admin_member.user)

    response = client.post(assign_url(contact), {"membership": second.pk}, **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="lead-{contact.pk}" class="lead">')
    assert f"{contact.name} is now assigned to Beth Bee." in body
    assert "row-notice-ok" in body
    assert agent_of(contact) == second
    event = contact.timeline.exclude(kind="bucket_placed").first()
    assert "Reassigned from Alan Agent to Beth Bee" in event.message


def test_dashboard_assign_forms_post_the_agent_shown(client, team, admin_member, agent):
    assigned = _lead(team, agent)
    unassigned = _lead(team)
    client.force_login(admin_member.user)

    body = client.get(DASHBOARD).content.decode()

    def row(contact):
        part = body[body.index(f'id="lead-{contact.pk}"') :]
        return part[: part.index("</tr>")]

    assert f'<input type="hidden" name="expected_agent" value="{agent.pk}">' in row(assigned)
    assert '<input type="hidden" name="expected_agent" value="none">' in row(unassigned)


def test_reassign_with_the_agent_shown_succeeds(client, team, admin_member, agent, second):
    contact = _lead(team, agent)
    client.force_login(admin_member.user)

    response = client.post(
        assign_url(contact), {"membership": second.pk, "expected_agent": agent.pk}, **HTMX
    )

    assert "row-notice-ok" in response.content.decode()
    assert agent_of(contact) == second


@pytest.mark.parametrize("htmx", [True, False])
def test_reassign_refused_when_the_agent_changed_meanwhile(
    client, team, admin_member, owner, agent, second, htmx
):
    contact = _lead(team, agent)
    # The page showed Alan; meanwhile the owner gave the lead to Beth.
    client.force_login(owner.user)
    client.post(assign_url(contact), {"membership": second.pk, "expected_agent": agent.pk})
    assert agent_of(contact) == second
    before = ContactRouting.objects.get(contact=contact)
    timeline = list(contact.timeline.values_list("pk", flat=True))
    client.force_login(admin_member.user)

    data = {"membership": admin_member.pk, "expected_agent": agent.pk, "next": DASHBOARD}
    if htmx:
        response = client.post(assign_url(contact), data, **HTMX)
    else:
        response = client.post(assign_url(contact), data, follow=True)

    body = response.content.decode()
    assert "The Agent changed while you were looking: Beth Bee holds the contact now" in body
    assert "(by Olive Owner)" in body
    if htmx:
        assert body.lstrip().startswith(f'<tr id="lead-{contact.pk}" class="lead">')
        assert "row-notice-error" in body
        # The row shows who has it now, and its form posts that Agent next time.
        assert "Beth Bee" in body
        assert f'<input type="hidden" name="expected_agent" value="{second.pk}">' in body
    else:
        assert response.redirect_chain == [(DASHBOARD, 302)]
    assert agent_of(contact) == second
    after = ContactRouting.objects.get(contact=contact)
    assert (after.assigned_at, after.assigned_by_id) == (before.assigned_at, owner.pk)
    assert list(contact.timeline.values_list("pk", flat=True)) == timeline


def test_assign_closes_an_open_offer(client, team, admin_member, agent, second, capture):
    rule(team, "Next up", agent, method="next_up")
    contact = new_contact(team, capture)
    offer = contact.offers.get()
    client.force_login(admin_member.user)

    client.post(assign_url(contact), {"membership": second.pk})

    offer.refresh_from_db()
    assert offer.status == OfferStatus.CANCELLED
    assert agent_of(contact) == second


def test_assign_refuses_member_of_another_team(client, team, admin_member, agent, outsider):
    contact = _lead(team, agent)
    client.force_login(admin_member.user)

    response = client.post(assign_url(contact), {"membership": outsider.pk}, **HTMX)

    assert "Choose an agent." in response.content.decode()
    assert agent_of(contact) == agent


def test_assign_during_reassignment_shows_the_lock(client, team, admin_member, agent, second):
    group = ReassignmentGroup.objects.create(
        team=team, name="Pool", rotation=Rotation.objects.create()
    )
    contact = _lead(team, agent)
    ContactRouting.objects.filter(contact=contact).update(reassigning_to=group)
    client.force_login(admin_member.user)

    response = client.post(assign_url(contact), {"membership": second.pk}, follow=True)

    assert "Re-Assign in progress" in response.content.decode()
    assert agent_of(contact) == agent


def test_remove_lead_archives_and_cancels_offer(client, team, admin_member, agent, capture):
    rule(team, "Next up", agent, method="next_up")
    contact = new_contact(team, capture, first_name="Rita")
    client.force_login(admin_member.user)

    response = client.post(remove_url(contact), {"next": DASHBOARD}, follow=True)

    assert "Rita" in response.content.decode()
    assert "was removed from lead routing" in response.content.decode()
    contact.refresh_from_db()
    assert contact.status == ContactStatus.ARCHIVED
    assert Offer.objects.get(contact=contact).status == OfferStatus.CANCELLED
    assert contact not in response.context["page"].object_list
    assert contact.timeline.filter(kind="removed").exists()


def test_remove_with_htmx_replaces_the_row(client, team, admin_member, agent):
    contact = _lead(team, agent)
    client.force_login(admin_member.user)

    response = client.post(remove_url(contact), **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="lead-{contact.pk}" class="lead lead-removed">')
    assert f"{contact.name} was removed from lead routing." in body
    assert "HX-Request" in response["Vary"]
