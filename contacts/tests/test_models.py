from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from contacts.models import Contact, ContactRole, RoleKind
from contacts.tests.factories import ContactFactory


@pytest.fixture
def contact(team):
    return ContactFactory(team=team)


def test_contact_role_at_most_one_primary_agent(contact, agent, admin_member):
    ContactRole.objects.create(contact=contact, membership=agent, kind=RoleKind.AGENT)

    with pytest.raises(IntegrityError), transaction.atomic():
        ContactRole.objects.create(contact=contact, membership=admin_member, kind=RoleKind.AGENT)


def test_contact_role_agent_on_other_contacts_allowed(team, agent):
    first, second = ContactFactory.create_batch(2, team=team)
    ContactRole.objects.create(contact=first, membership=agent, kind=RoleKind.AGENT)

    assert ContactRole.objects.create(contact=second, membership=agent, kind=RoleKind.AGENT).pk


def test_contact_role_many_non_agent_roles_allowed(contact, agent, admin_member):
    ContactRole.objects.create(contact=contact, membership=agent, kind=RoleKind.AGENT)
    ContactRole.objects.create(contact=contact, membership=admin_member, kind=RoleKind.LENDER)
    ContactRole.objects.create(contact=contact, membership=agent, kind=RoleKind.ASSISTANT)

    assert contact.roles.count() == 3


def test_contact_role_custom_needs_name(contact, agent):
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactRole.objects.create(
            contact=contact, membership=agent, kind=RoleKind.CUSTOM, custom_name=""
        )


def test_contact_role_only_custom_has_name(contact, agent):
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactRole.objects.create(
            contact=contact, membership=agent, kind=RoleKind.LENDER, custom_name="Bank"
        )


def test_contact_role_label(contact, agent):
    custom = ContactRole.objects.create(
        contact=contact, membership=agent, kind=RoleKind.CUSTOM, custom_name="Stager"
    )
    lender = ContactRole.objects.create(contact=contact, membership=agent, kind=RoleKind.LENDER)

    assert (custom.label, lender.label) == ("Stager", "Lender")


def test_contact_price_range_ordered(team):
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(team=team, price_min=Decimal(500_000), price_max=Decimal(400_000))


@pytest.mark.parametrize(
    ("low", "high"),
    [(400_000, 400_000), (400_000, 500_000), (None, 500_000), (400_000, None), (None, None)],
)
def test_contact_price_range_accepts_ordered_or_open(team, low, high):
    contact = ContactFactory(team=team, price_min=low, price_max=high)

    assert Contact.objects.filter(pk=contact.pk).exists()


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"first_name": "Ana", "last_name": "Lopez"}, "Ana Lopez"),
        ({"first_name": "", "last_name": "", "email": "ana@example.com"}, "ana@example.com"),
        ({"first_name": "", "last_name": "", "email": "", "phone": "+15125550000"}, "+15125550000"),
    ],
)
def test_contact_name_falls_back(team, fields, name):
    assert ContactFactory(team=team, **fields).name == name
