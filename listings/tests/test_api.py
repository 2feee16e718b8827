"""POST /api/v1/listings: one listing or many, upserted by external id, bad rows
reported by index while the good ones are stored."""

import json

import pytest

from contacts.models import RejectedPayload
from contacts.tests.intake_helpers import make_token, post_lead
from listings.models import Listing, ListingPriceChange

pytestmark = pytest.mark.django_db

URL = "/api/v1/listings"


def feed_listing(**fields) -> dict:
    return {
        "external_id": "MLS-1",
        "address": "1200 Barton Springs Rd #4",
        "city": "Austin",
        "state": "TX",
        "zip_code": "78704",
        "price": 465000,
        "beds": 2,
        "baths": 2.5,
        "property_type": "Condo",
        "status": "active",
        "photo_url": "https://photos.example.com/1.jpg",
        "listing_url": "https://listings.example.com/1",
        "listed_at": "2026-11-30T09:00:00-06:00",
        **fields,
    }


def post(client, data, token, **extra):
    return post_lead(client, data, token=token, url=URL, **extra)


def test_listings_post_stores_the_good_rows_and_reports_the_bad_ones_by_index(client, team):
    token = make_token(team)
    rows = [
        feed_listing(external_id="A"),
        feed_listing(external_id="B", price="cheap", beds=-1),
        feed_listing(external_id="C", property_type="castle", listing_url="javascript:alert(1)"),
        "not an object",
        feed_listing(external_id="D", bedrooms=3),
        feed_listing(external_id="A", city="Dallas"),
        feed_listing(external_id="E", address=""),
        feed_listing(external_id="F", price="$1,250,000", baths=None, status="Off market"),
        feed_listing(external_id="G", price=1e30, listed_at="0001-01-01T00:00:00+14:00"),
    ]

    response = post(client, rows, token)

    assert response.status_code == 200
    body = response.json()
    assert (body["stored"], body["created"], body["updated"]) == (2, 2, 0)
    errors = {
        e["row"]: (e["external_id"], {f["field"] for f in e["errors"]}) for e in body["errors"]
    }
    assert errors == {
        1: ("B", {"price", "beds"}),
        2: ("C", {"property_type", "listing_url"}),
        3: ("", {"row"}),
        4: ("D", {"bedrooms"}),
        5: ("A", {"external_id"}),
        6: ("E", {"address"}),
        8: ("G", {"price", "listed_at"}),
    }
    [castle] = [e for e in body["errors"] if e["row"] == 2]
    assert "“castle” is not one of house, condo" in json.dumps(castle, ensure_ascii=False)
    stored = {x.external_id: x for x in Listing.objects.filter(team=team)}
    assert set(stored) == {"A", "F"}
    assert stored["A"].city == "Austin"
    assert stored["A"].listed_at.isoformat() == "2026-11-30T15:00:00+00:00"
    assert (stored["F"].price, stored["F"].baths, stored["F"].status) == (
        1250000,
        None,
        "off_market",
    )


def test_listings_post_takes_one_object_and_updates_by_external_id(client, team, outsider):
    token = make_token(team)
    assert post(client, feed_listing(), token).json()["created"] == 1
    post(client, feed_listing(), make_token(outsider.team))  # another team's own listing

    again = post(client, feed_listing(price=449000, status="pending"), token).json()
    same = post(client, feed_listing(price=449000, status="pending"), token).json()

    assert (again["created"], again["updated"], again["errors"]) == (0, 1, [])
    assert (same["stored"], same["unchanged"]) == (1, 1)
    listing = Listing.objects.get(team=team)
    assert (listing.price, listing.previous_price, listing.status) == (449000, 465000, "pending")
    assert list(ListingPriceChange.objects.values_list("old_price", "new_price", "via")) == [
        (465000, 449000, "api")
    ]
    assert Listing.objects.get(team=outsider.team).price == 465000


@pytest.mark.parametrize(
    ("body", "content_type", "status", "detail"),
    [
        ("{nope", "application/json", 400, "The body is not valid JSON."),
        ("[]", "application/json", 400, "No listings in the body."),
        ("42", "application/json", 400, "No listings in the body."),
        ("address=1", "application/x-www-form-urlencoded", 415, "Send JSON"),
    ],
)
def test_listings_post_refuses_a_body_that_holds_no_listings(
    client, team, body, content_type, status, detail
):
    response = post(client, body, make_token(team), content_type=content_type)

    assert response.status_code == status
    assert response.json()["detail"].startswith(detail)
    assert not Listing.objects.exists()
    assert RejectedPayload.objects.get().status == status


def test_listings_post_refuses_too_many_listings(client, team):
    rows = [{"external_id": str(i)} for i in range(501)]
    response = post(client, rows, make_token(team))
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "body", "message": "At most 500 listings a request."}
    ]


def test_listings_post_needs_a_token_that_may_write(client, team):
    assert post(client, feed_listing(), None).status_code == 401
    response = post(client, feed_listing(), make_token(team, access="read"))
    assert response.status_code == 403
    assert response.json()["detail"] == "This token may not store listings: it is read-only."
    assert post(client, feed_listing(), make_token(team, access="intake")).status_code == 200
    assert Listing.objects.count() == 1


def test_listings_get_is_not_allowed(client, team):
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {make_token(team)}")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
