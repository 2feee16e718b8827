"""The contacts list: visibility, search, filters, pagination, budget and bulk reassign."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, ContactRole
from contacts.tests.factories import ContactFactory
from routing.models import ContactRouting, OfferStatus, RoutingStatus
from routing.reassignment import reassignment_start
from routing.tests.helpers import agent_of, assigned_contact, reassignment_group
from teams.models import Group
from teams.tests.factories import UserFactory, make_member

LIST = reverse("contact_pages:list")
BULK = reverse("contact_pages:bulk_reassign")


@pytest.fixture
def isa(team):
    return make_member(team)


@pytest.fixture
def closers(team):
    return [make_member(team) for _ in range(3)]


def login(client, membership):
    client.force_login(membership.user)
    return client


# --- access and visibility --------------------------------------------------------------


def test_list_anonymous_redirects_to_login(client, db):
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("persona", ["owner", "admin_member"])
def test_list_owner_and_admin_see_every_team_contact(client, request, team, isa, persona):
    assigned_contact(team, isa, first_name="Mine")
    ContactFactory(team=team, first_name="Unrouted")
    response = login(client, request.getfixturevalue(persona)).get(LIST)
    assert response.status_code == 200
    assert "Mine" in response.text
    assert "Unrouted" in response.text
    assert "HX-Request" in response["Vary"]


def test_list_agent_sees_only_contacts_they_hold_or_are_offered(client, team, owner, agent, isa):
    assigned_contact(team, agent, first_name="Primary")
    lender = assigned_contact(team, isa, first_name="Lending")
    ContactRole.objects.create(contact=lender, membership=agent, kind="lender")
    offered = assigned_contact(team, isa, first_name="Offered")
    reassignment_start(
        actor=owner, contact=offered, group=reassignment_group(team, agent, method="next_up")
    )
    assigned_contact(team, isa, first_name="Hidden")
    text = login(client, agent).get(LIST).text
    assert "Primary" in text
    assert "Lending" in text
    assert "Offered" in text
    assert "Hidden" not in text


def test_list_other_team_sees_none_of_ours(client, team, isa, outsider):
    assigned_contact(team, isa, first_name="Ours")
    response = login(client, outsider).get(LIST)
    assert response.status_code == 200
    assert "Ours" not in response.text
    assert "No contacts match." in response.text


def test_list_member_without_team_is_not_found(client, db):
    client.force_login(UserFactory(username="loner"))
    assert client.get(LIST).status_code == 404


# --- search, filters, pagination --------------------------------------------------------


def test_list_search_by_name_email_and_phone(client, team, owner, isa):
    assigned_contact(team, isa, first_name="Maria", last_name="Lopez", email="ml@example.org")
    assigned_contact(team, isa, first_name="Tom", last_name="Baker", phone="+15550001234")
    login(client, owner)
    assert "Lopez" in client.get(LIST, {"q": "maria lop"}).text
    assert "Baker" not in client.get(LIST, {"q": "maria lop"}).text
    assert "Lopez" in client.get(LIST, {"q": "ml@example"}).text
    assert "Baker" in client.get(LIST, {"q": "0001234"}).text
    assert "Lopez" not in client.get(LIST, {"q": "0001234"}).text


def test_list_filters(client, team, owner, isa, closers):
    assigned_contact(team, isa, first_name="Assigned", status="active")
    ContactFactory(team=team, first_name="Received")
    held = ContactFactory(team=team, first_name="Heldback")
    ContactRouting.objects.filter(contact=held).update(status=RoutingStatus.HELD)
    moving = assigned_contact(team, closers[0], first_name="Moving")
    reassignment_start(
        actor=owner, contact=moving, group=reassignment_group(team, isa, method="next_up")
    )
    login(client, owner)
    everyone = {"Assigned", "Received", "Heldback", "Moving"}

    def names(**params):
        text = client.get(LIST, params).text
        return {n for n in everyone if f">{n} " in text}

    assert names(routing_status="received") == {"Received"}
    assert names(routing_status="held") == {"Heldback"}
    assert names(routing_status="assigned") == {"Assigned", "Moving"}
    assert names(routing_status="reassigning") == {"Moving"}
    assert names(status="active") == {"Assigned"}
    assert names(agent=isa.pk) == {"Assigned"}
    assert names(agent=closers[0].pk) == {"Moving"}
    assert names(routing_status="bogus") == everyone


def test_list_shows_primary_agent_and_reassign_in_progress(client, team, owner, isa, closers):
    moving = assigned_contact(team, isa, first_name="Moving")
    reassignment_start(
        actor=owner, contact=moving, group=reassignment_group(team, *closers, method="blast")
    )
    text = login(client, owner).get(LIST).text
    assert "Re-Assign in progress" in text
    assert isa.display_name in text


def test_list_paginates_newest_first(client, team, owner):
    now = timezone.now()
    Contact.objects.bulk_create(
        Contact(team=team, first_name=f"Lead{i:03d}", created_at=now - timedelta(minutes=i))
        for i in range(120)
    )
    login(client, owner)
    first = client.get(LIST).text
    assert "Lead000" in first
    assert "Lead049" in first
    assert "Lead050" not in first
    assert "50 of 120 contacts" in first
    third = client.get(LIST, {"page": 3}).text
    assert "Lead100" in third
    assert "Lead119" in third
    assert "Lead099" not in third


def test_list_htmx_returns_results_fragment(client, team, owner, isa):
    assigned_contact(team, isa, first_name="Frag")
    response = login(client, owner).get(LIST, {"q": "Frag"}, headers={"HX-Request": "true"})
    assert "<html" not in response.text
    assert 'id="contact-results"' in response.text
    assert "Frag" in response.text
    assert "HX-Request" in response["Vary"]


# --- query budget ------------------------------------------------------------------------


def _list_queries(client, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(LIST, params)
    assert response.status_code == 200
    return len(ctx)


@pytest.mark.parametrize("persona", ["owner", "agent"])
def test_list_query_budget_does_not_grow(
    client, request, team, owner, closers, persona, django_assert_max_num_queries
):
    member = request.getfixturevalue(persona)
    reassignment_group(team, *closers, name="A")
    reassignment_group(team, *closers, name="B")
    for _ in range(3):
        assigned_contact(team, member)
    login(client, member)
    few = _list_queries(client)
    for i in range(60):
        assigned_contact(team, member if i % 2 else closers[i % 3])
        if i % 2:
            ContactRole.objects.create(
                contact=Contact.objects.latest("id"), membership=closers[0], kind="lender"
            )
    with django_assert_max_num_queries(15):
        many = _list_queries(client)
    assert many == few
    with django_assert_max_num_queries(15):
        _list_queries(client, q="a", status="new", agent=member.pk)


# --- bulk reassign -----------------------------------------------------------------------


def test_bulk_reassign_answers_get_with_405(client, owner):
    assert login(client, owner).get(BULK).status_code == 405


def test_bulk_reassign_anonymous_redirects(client, db):
    response = client.post(BULK)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_bulk_reassign_forbidden_without_trigger_permission(client, team, agent, closers):
    contact = assigned_contact(team, agent)
    group = reassignment_group(team, *closers)
    response = login(client, agent).post(BULK, {"contacts": [contact.pk], "group": group.pk})
    assert response.status_code == 403
    assert "Reassign selected" not in client.get(LIST).text


def test_bulk_reassign_confirm_then_outcomes(client, team, owner, isa, closers):
    contacts = [assigned_contact(team, isa, first_name=f"Bulk{i}") for i in range(3)]
    group = reassignment_group(team, *closers, name="Closers")
    login(client, owner)
    assert "Reassign selected" in client.get(LIST).text
    data = {"contacts": [c.pk for c in contacts], "group": group.pk}
    confirm = client.post(BULK, data)
    assert confirm.status_code == 200
    assert "Are you sure?" in confirm.text
    assert "Send 3 contacts" in confirm.text
    assert {agent_of(c) for c in contacts} == {isa}
    done = client.post(BULK, {**data, "confirm": "yes"})
    assert done.status_code == 200
    assert done.text.count(">Reassigned<") == 3
    # each in turn, in the list's order (newest first): one contact per closer
    assert [agent_of(c) for c in reversed(contacts)] == closers
    for closer in closers:
        assert closer.display_name in done.text


def test_bulk_reassign_reports_per_contact_outcomes(client, team, owner, isa, closers):
    busy = assigned_contact(team, isa, first_name="Busy")
    reassignment_start(
        actor=owner, contact=busy, group=reassignment_group(team, *closers, method="next_up")
    )
    fresh = assigned_contact(team, isa, first_name="Fresh")
    unrouted = ContactFactory(team=team, first_name="Unrouted")
    offer_group = reassignment_group(team, *closers, method="next_up", name="Offers")
    data = {"contacts": [busy.pk, fresh.pk, unrouted.pk], "group": offer_group.pk}
    text = login(client, owner).post(BULK, {**data, "confirm": "yes"}).text
    assert "Not reassigned: Re-Assign in progress: already being reassigned by Olive Owner" in text
    assert "Not reassigned: This contact has no primary Agent yet" in text
    assert text.count("Re-Assign in progress</span>") == 1  # fresh: offered, in progress
    assert ContactRouting.objects.get(contact=fresh).reassign_in_progress
    assert fresh.offers.get().status == OfferStatus.OPEN


def test_bulk_reassign_refuses_other_team_contacts_and_hidden_groups(
    client, team, admin_member, isa, closers, outsider
):
    theirs = ContactFactory(team=outsider.team)
    ours = assigned_contact(team, isa)
    dallas = Group.objects.create(team=team, name="Dallas")
    hidden = reassignment_group(team, *closers, available_to=[dallas], name="Hidden")
    visible = reassignment_group(team, *closers, name="Visible")
    login(client, admin_member)
    data = {"contacts": [ours.pk, theirs.pk], "group": visible.pk, "confirm": "yes"}
    response = client.post(BULK, data, follow=True)
    assert "Select a valid choice" in response.text
    response = client.post(BULK, {"contacts": [ours.pk], "group": hidden.pk, "confirm": "yes"})
    assert response.status_code == 302
    assert agent_of(ours) == isa
    response = client.post(BULK, {"group": visible.pk}, follow=True)
    assert "Select at least one contact." in response.text
