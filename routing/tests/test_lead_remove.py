"""lead_remove: admins remove leads (seed 004)."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from contacts.models import ContactStatus
from contacts.tests.factories import ContactFactory
from routing.manual import lead_remove
from routing.models import ContactRouting, Offer, OfferStatus, ReassignmentGroup, Rotation
from routing.offers import offer_claim
from routing.tests.helpers import new_contact, rule


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.mark.parametrize("persona", ["owner", "admin_member"])
def test_lead_remove_archives_and_notes_the_timeline(request, team, persona):
    actor = request.getfixturevalue(persona)
    contact = ContactFactory(team=team)

    removed = lead_remove(actor=actor, contact=contact)

    contact.refresh_from_db()
    assert removed.status == contact.status == ContactStatus.ARCHIVED
    event = contact.timeline.get(kind="removed")
    assert event.actor == actor
    assert event.message == f"{actor.display_name} removed this lead from lead routing."
    assert event.data == {"offers_cancelled": 0}


def test_lead_remove_cancels_the_open_offer(team, admin_member, agent, capture):
    rule(team, "Blast", agent, method="blast")
    contact = new_contact(team, capture)
    offer = contact.offers.get()

    lead_remove(actor=admin_member, contact=contact)

    offer.refresh_from_db()
    assert offer.status == OfferStatus.CANCELLED
    assert offer.resolved_at is not None
    assert "its open offer was cancelled" in contact.timeline.get(kind="removed").message
    # The offer has moved on: a late Claim cannot take the removed lead.
    assert not offer_claim(offer_id=offer.pk, membership=agent).claimed


def test_lead_remove_leaves_past_offers_alone(team, admin_member, agent, capture):
    rule(team, "Blast", agent, method="blast")
    contact = new_contact(team, capture)
    offer_claim(offer_id=contact.offers.get().pk, membership=agent)

    lead_remove(actor=admin_member, contact=contact)

    assert Offer.objects.get(contact=contact).status == OfferStatus.CLAIMED


def test_lead_remove_is_idempotent(team, admin_member):
    contact = ContactFactory(team=team)

    lead_remove(actor=admin_member, contact=contact)
    lead_remove(actor=admin_member, contact=contact)

    assert contact.timeline.filter(kind="removed").count() == 1


def test_lead_remove_ends_a_reassignment_in_progress(team, admin_member):
    group = ReassignmentGroup.objects.create(
        team=team, name="Pool", rotation=Rotation.objects.create()
    )
    contact = ContactFactory(team=team)
    ContactRouting.objects.filter(contact=contact).update(reassigning_to=group)
    assert ContactRouting.objects.get(contact=contact).reassign_in_progress

    lead_remove(actor=admin_member, contact=contact)

    routing = ContactRouting.objects.get(contact=contact)
    assert not routing.reassign_in_progress
    assert routing.reassign_started_at is None


def test_lead_remove_needs_manage_lead_distribution(team, agent):
    contact = ContactFactory(team=team)

    with pytest.raises(PermissionDenied):
        lead_remove(actor=agent, contact=contact)

    contact.refresh_from_db()
    assert contact.status == ContactStatus.NEW
    assert not contact.timeline.filter(kind="removed").exists()


def test_lead_remove_refuses_another_teams_contact(team, outsider):
    contact = ContactFactory(team=team)

    with pytest.raises(Http404):
        lead_remove(actor=outsider, contact=contact)

    contact.refresh_from_db()
    assert contact.status == ContactStatus.NEW
