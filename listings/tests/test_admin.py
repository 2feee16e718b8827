"""The staff admin: listings searchable and filterable, and saved through the service (a
listing added there alerts like one from the feed); alerts are view-only."""

import pytest
from django.core import mail

from listings.models import AlertListing, Listing
from listings.tests.factories import listing_row, search_for, store
from routing.tests.helpers import assigned_contact

pytestmark = pytest.mark.django_db

ADD = "/admin/listings/listing/add/"


def test_listing_changelist_searches_and_filters(staff_client, team, django_assert_max_num_queries):
    for n in range(20):
        store(team, listing_row(external_id=f"MLS-{n}", address=f"{n} Lamar Blvd"))
    store(team, listing_row(external_id="SOLD-1", address="9 Congress Ave", status="sold"))

    with django_assert_max_num_queries(10):
        page = staff_client.get("/admin/listings/listing/").content.decode()
    assert "9 Congress Ave" in page
    found = staff_client.get("/admin/listings/listing/", {"q": "SOLD-1"}).content.decode()
    assert "9 Congress Ave" in found
    assert "0 Lamar Blvd" not in found
    sold = staff_client.get("/admin/listings/listing/", {"status__exact": "sold"}).content.decode()
    assert "9 Congress Ave" in sold
    assert "1 Lamar Blvd" not in sold


def test_a_listing_added_in_the_admin_alerts_matching_searches(
    staff_client, team, agent, owner, capture
):
    jane = assigned_contact(team, agent, first_name="Jane", email="jane@example.net")
    search_for(jane, owner)
    data = {
        "team": team.pk,
        "external_id": "ADMIN-1",
        "address": "5 Rainey St",
        "city": "Austin",
        "state": "TX",
        "zip_code": "78701",
        "price": "399000",
        "beds": "1",
        "baths": "1",
        "property_type": "condo",
        "status": "active",
        "photo_url": "",
        "listing_url": "",
        "listed_at_0": "",
        "listed_at_1": "",
        "price_changes-TOTAL_FORMS": "0",
        "price_changes-INITIAL_FORMS": "0",
    }
    with capture(execute=True):
        response = staff_client.post(ADD, data)

    assert response.status_code == 302
    assert Listing.objects.get().external_id == "ADMIN-1"
    [email] = [m for m in mail.outbox if m.subject.startswith("Property alert")]
    assert "NEW LISTING: 5 Rainey St, Austin, TX 78701\n$399,000 · 1 bed · 1 bath · Condo" in (
        email.body
    )
    again = staff_client.post(ADD, {**data, "address": "6 Rainey St"})
    assert "already has a listing with this external id" in again.content.decode()


def test_alerts_are_view_only_in_the_admin(staff_client, team, owner, agent):
    jane = assigned_contact(team, agent, first_name="Jane", email="jane@example.net")
    search_for(jane, owner)
    store(team, listing_row())
    alert = AlertListing.objects.get()
    assert staff_client.get("/admin/listings/alertlisting/").status_code == 200
    assert staff_client.get("/admin/listings/alertlisting/add/").status_code == 403
    response = staff_client.post(
        f"/admin/listings/alertlisting/{alert.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 403
    assert AlertListing.objects.exists()
