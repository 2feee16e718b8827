"""'User's Group' scope narrows every place lead distribution reaches: the lead
dashboard, assigning directly (profile and dashboard), re-routing, removing leads,
retrying failed routing, imports assigned to a member, and the routing logs.
An 'Entire Company' admin keeps the whole team."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from contacts.tests.factories import ContactFactory
from routing.manual import contact_assign_directly, contact_reroute, failed_retry, lead_remove
from routing.models import RoutingLog
from routing.selectors import routing_logs_for
from routing.selectors_pages import dashboard_contacts, members_in_scope
from routing.tests.helpers import agent_of, assigned_contact
from teams.models import DistributionScope, Role
from teams.tests.factories import GroupFactory, PermissionProfileFactory, make_member


@pytest.fixture
def offices(team):
    north = GroupFactory(team=team, name="North")
    north_east = GroupFactory(team=team, name="North East", parent=north)
    south = GroupFactory(team=team, name="South")
    return north, north_east, south


@pytest.fixture
def group_lead(team, offices):
    """An admin who distributes leads and reads logs, but only for North (and below)."""
    profile = PermissionProfileFactory(
        team=team,
        name="Office lead",
        manage_lead_distribution=True,
        view_routing_logs=True,
        distribution_scope=DistributionScope.GROUP,
    )
    return make_member(team, role=Role.ADMIN, profile=profile, groups=[offices[0]])


@pytest.fixture
def north_agent(team, offices):
    return make_member(team, groups=[offices[1]])  # in a sub-group of North


@pytest.fixture
def south_agent(team, offices):
    return make_member(team, groups=[offices[2]])


def test_dashboard_lists_only_leads_held_in_the_members_groups(
    group_lead, admin_member, north_agent, south_agent
):
    mine = assigned_contact(group_lead.team, north_agent)
    theirs = assigned_contact(group_lead.team, south_agent)

    assert list(dashboard_contacts(membership=group_lead)) == [mine]
    assert set(dashboard_contacts(membership=admin_member)) == {mine, theirs}


def test_dashboard_member_picker_offers_only_members_in_scope(group_lead, north_agent, south_agent):
    reach = set(members_in_scope(membership=group_lead))

    assert north_agent in reach
    assert group_lead in reach
    assert south_agent not in reach


def test_assign_directly_refuses_members_and_leads_outside_the_group(
    group_lead, north_agent, south_agent, team
):
    other_north = make_member(team, groups=[north_agent.groups.first()])
    mine = assigned_contact(team, north_agent)
    theirs = assigned_contact(team, south_agent)

    with pytest.raises(PermissionDenied, match="User's Group"):
        contact_assign_directly(actor=group_lead, contact=mine, membership=south_agent)
    with pytest.raises(PermissionDenied, match="User's Group"):
        contact_assign_directly(actor=group_lead, contact=theirs, membership=north_agent)

    contact_assign_directly(actor=group_lead, contact=mine, membership=other_north)
    assert agent_of(mine) == other_north
    assert agent_of(theirs) == south_agent


def test_entire_company_admin_assigns_across_groups(admin_member, north_agent, south_agent):
    contact = assigned_contact(north_agent.team, north_agent)

    contact_assign_directly(actor=admin_member, contact=contact, membership=south_agent)

    assert agent_of(contact) == south_agent


def test_reroute_and_remove_refuse_leads_outside_the_group(group_lead, south_agent, team):
    theirs = assigned_contact(team, south_agent)

    with pytest.raises(PermissionDenied):
        contact_reroute(actor=group_lead, contact=theirs)
    with pytest.raises(PermissionDenied):
        lead_remove(actor=group_lead, contact=theirs)
    theirs.refresh_from_db()
    assert theirs.status != "archived"


def test_failed_retry_needs_entire_company(group_lead, admin_member):
    with pytest.raises(PermissionDenied, match="Entire Company"):
        failed_retry(actor=group_lead)
    assert failed_retry(actor=admin_member) == 0


def test_routing_logs_show_only_entries_about_the_groups_members(
    group_lead, admin_member, north_agent, south_agent, team
):
    mine = assigned_contact(team, north_agent)
    theirs = assigned_contact(team, south_agent)
    unrouted = ContactFactory(team=team)
    RoutingLog.objects.create(team=team, contact=unrouted, event="failed", reason="no rule")

    seen = {log.contact_id for log in routing_logs_for(membership=group_lead)}
    everything = {log.contact_id for log in routing_logs_for(membership=admin_member)}

    assert seen == {mine.pk}
    assert everything == {mine.pk, theirs.pk, unrouted.pk}


def test_dashboard_page_and_profile_assign_follow_the_scope(
    client, group_lead, north_agent, south_agent, team
):
    mine = assigned_contact(team, north_agent, first_name="Mine")
    theirs = assigned_contact(team, south_agent, first_name="Theirs")
    client.force_login(group_lead.user)

    page = client.get(reverse("routing_pages:dashboard")).content.decode()
    assert "Mine" in page
    assert "Theirs" not in page

    # A lead outside the scope is not on their dashboard at all: 404, nothing changes.
    url = reverse("routing_pages:lead_assign", args=[theirs.pk])
    response = client.post(url, {"membership": north_agent.pk})
    assert response.status_code == 404
    assert agent_of(theirs) == south_agent

    # From the profile (which they may open as an admin), refused with the reason.
    url = reverse("contact_pages:assign_directly", args=[theirs.pk])
    response = client.post(
        url, {"membership": north_agent.pk, "expected_agent": south_agent.pk}, follow=True
    )
    assert agent_of(theirs) == south_agent
    assert response.status_code == 403
    assert "scope you can only work with the leads of your group" in response.content.decode()
    assert agent_of(mine) == north_agent
