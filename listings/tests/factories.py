"""Builders for listings tests: listings and saved searches through the real services."""

from __future__ import annotations

import itertools

from listings.models import ChangeVia, ContactSearch
from listings.services import contact_search_create, listings_store

_ids = itertools.count(1)


def listing_row(**fields) -> dict:
    """A listing as a feed sends it (checked values, as listings_store takes them)."""
    from listings.forms import ListingRowForm

    raw = {
        "external_id": f"MLS-{next(_ids)}",
        "address": "1200 Barton Springs Rd #4",
        "city": "Austin",
        "state": "TX",
        "zip_code": "78704",
        "price": 465000,
        "beds": 2,
        "baths": 2,
        "property_type": "condo",
        "status": "active",
        "listing_url": "https://listings.example.com/1200-barton-springs-4",
        **fields,
    }
    form = ListingRowForm(data={k: v for k, v in raw.items() if v is not None})
    assert form.is_valid(), form.errors
    return form.cleaned_data


def store(team, *rows: dict, via: str = ChangeVia.API):
    return listings_store(team=team, rows=list(rows), via=via)


def search_for(contact, actor, **values) -> ContactSearch:
    values.setdefault("name", "Austin condos")
    values.setdefault("cities", ["Austin"])
    values.setdefault("property_types", ["condo"])
    for name in ("zip_codes", "states"):
        values.setdefault(name, [])
    for name in ("price_min", "price_max", "beds_min", "baths_min"):
        values.setdefault(name, None)
    values.setdefault("frequency", "instant")
    values.setdefault("is_active", True)
    return contact_search_create(actor=actor, contact=contact, **values)
