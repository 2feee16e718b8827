"""Who sees which contacts, and the list's search and filters."""

import pytest
from django.utils import timezone

from contacts.models import ContactRole
from contacts.selectors import contact_list, contacts_visible_to, sees_all_contacts
from contacts.tests.factories import ContactFactory
from routing.models import Offer, OfferRecipient, OfferStatus
from teams.services import membership_update
from teams.tests.factories import make_member


@pytest.fixture
def other(team):
    return make_member(team)


def with_role(team, member, kind="agent", **fields):
    contact = ContactFactory(team=team, **fields)
    ContactRole.objects.create(
        contact=contact, membership=member, kind=kind, custom_name="X" if kind == "custom" else ""
    )
    return contact


def with_offer(team, member, status=OfferStatus.OPEN):
    contact = ContactFactory(team=team)
    offer = Offer.objects.create(
        contact=contact, kind="next_up", status=status, deadline=timezone.now()
    )
    OfferRecipient.objects.create(offer=offer, membership=member)
    return contact


def test_owner_and_admin_see_every_contact_of_their_team_only(team, owner, admin_member, outsider):
    ours = {ContactFactory(team=team), ContactFactory(team=team)}
    theirs = ContactFactory(team=outsider.team)
    assert set(contacts_visible_to(owner)) == ours
    assert set(contacts_visible_to(admin_member)) == ours
    assert set(contacts_visible_to(outsider)) == {theirs}
    assert sees_all_contacts(owner)
    assert sees_all_contacts(admin_member)


def test_agent_sees_contacts_with_a_role_or_an_open_offer(team, agent, other):
    primary = with_role(team, agent)
    lender = with_role(team, agent, kind="lender")
    custom = with_role(team, agent, kind="custom")
    offered = with_offer(team, agent)
    with_role(team, other)
    with_offer(team, agent, status=OfferStatus.EXPIRED)
    with_offer(team, other)
    assert set(contacts_visible_to(agent)) == {primary, lender, custom, offered}
    assert not sees_all_contacts(agent)


def test_agent_promoted_to_admin_sees_all(team, agent, other):
    with_role(team, other)
    assert contacts_visible_to(agent).count() == 0
    membership_update(actor=None, membership=agent, role="admin")
    agent.refresh_from_db()
    assert contacts_visible_to(agent).count() == 1


def test_inactive_member_sees_nothing(team, admin_member):
    ContactFactory(team=team)
    admin_member.is_active = False
    assert contacts_visible_to(admin_member).count() == 0


def test_contact_list_search_terms_all_match(team, owner):
    maria = ContactFactory(team=team, first_name="Maria", last_name="Lopez", email="m@x.org")
    mario = ContactFactory(team=team, first_name="Mario", last_name="Rossi", phone="+390612345")
    assert set(contact_list(membership=owner, search="mari")) == {maria, mario}
    assert list(contact_list(membership=owner, search="Maria lopez")) == [maria]
    assert list(contact_list(membership=owner, search="M@X.ORG")) == [maria]
    assert list(contact_list(membership=owner, search="0612")) == [mario]


def test_contact_list_filters_and_prefetches_primary_agent(team, owner, agent, other):
    mine = with_role(team, agent, status="active")
    theirs = with_role(team, other)
    ContactRole.objects.create(contact=theirs, membership=agent, kind="lender")
    assert list(contact_list(membership=owner, agent_id=agent.pk)) == [mine]
    assert list(contact_list(membership=owner, status="active")) == [mine]
    # The routing status filter is routing's (the list page): test_views_list.test_list_filters.
    assert set(contact_list(membership=owner)) == {mine, theirs}
    rows = list(contact_list(membership=owner))
    assert [r.agent_roles[0].membership for r in rows] == [other, agent]  # newest first


def test_contact_list_newest_first_ties_broken_by_id(team, owner):
    now = timezone.now()
    a, b = ContactFactory(team=team, created_at=now), ContactFactory(team=team, created_at=now)
    assert list(contact_list(membership=owner)) == [b, a]
