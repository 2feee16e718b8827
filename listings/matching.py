"""Which saved searches a listing change alerts, and why. Pure: plain values in, plain
values out, no ORM and no clock, so every rule is a row in a table test.

A search matches an active listing when every criterion it gives holds:

- places: the listing is in one of its cities or one of its zip codes (either list
  may be empty; "Austin" or "78660" means either), and in one of its states if it
  names states. Places compare without case, spaces or dots ("St. Louis" is
  "st louis"); a ZIP+4 counts as its five digits; US states match by code or name
  ("TX" is "Texas");
- price: at least price_min and at most price_max;
- beds and baths: at least beds_min / baths_min (a listing that does not say how many
  does not match a search that asks);
- property type: one of its types.

What a matching change alerts (`alert_for`), given what the search has had of the
listing before:

- never alerted: a new listing (or one back on the market) is alerted as new; a
  price reduction of a listing the search has not seen is alerted as price reduced;
- alerted and still waiting for a digest: a lower price replaces the waiting one (the
  contact is sent the latest price, "reduced from" the first), nothing more;
- alerted and sent: a price below the one the contact was sent is alerted once more,
  as price reduced; after that the listing never goes to the search again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

ACTIVE = "active"
NEW = "new"
PRICE_REDUCED = "price_reduced"

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
    "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
    "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico",
}  # fmt: skip


def place_key(value: str) -> str:
    return " ".join(value.replace(".", " ").casefold().split())


_STATE_CODES = {place_key(name): code.casefold() for code, name in US_STATES.items()}


def state_key(value: str) -> str:
    key = place_key(value)
    return _STATE_CODES.get(key, key)


def zip_key(value: str) -> str:
    key = "".join(value.split()).upper()
    return key[:5] if re.fullmatch(r"\d{5}-?\d{4}", key) else key


@dataclass(frozen=True)
class ListingFacts:
    id: int
    city: str
    state: str
    zip_code: str
    price: Decimal
    beds: int | None
    baths: Decimal | None
    property_type: str
    status: str = ACTIVE


@dataclass(frozen=True)
class Criteria:
    cities: tuple[str, ...] = ()
    zip_codes: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    beds_min: int | None = None
    baths_min: Decimal | None = None
    property_types: tuple[str, ...] = ()


def matches(criteria: Criteria, listing: ListingFacts) -> bool:
    if listing.status != ACTIVE:
        return False
    if criteria.cities or criteria.zip_codes:
        in_city = place_key(listing.city) in {place_key(c) for c in criteria.cities}
        in_zip = zip_key(listing.zip_code) in {zip_key(z) for z in criteria.zip_codes}
        if not (in_city or in_zip):
            return False
    if criteria.states and state_key(listing.state) not in {state_key(s) for s in criteria.states}:
        return False
    if criteria.price_min is not None and listing.price < criteria.price_min:
        return False
    if criteria.price_max is not None and listing.price > criteria.price_max:
        return False
    if criteria.beds_min is not None and (listing.beds is None or listing.beds < criteria.beds_min):
        return False
    if criteria.baths_min is not None and (
        listing.baths is None or listing.baths < criteria.baths_min
    ):
        return False
    return not criteria.property_types or listing.property_type in criteria.property_types


@dataclass(frozen=True)
class Change:
    """What just happened to a listing: stored for the first time or back on the market
    (`listed`), and/or its price dropped from `reduced_from`."""

    listing: ListingFacts
    listed: bool = False
    reduced_from: Decimal | None = None


@dataclass(frozen=True)
class History:
    """What a search has had of a listing: every reason alerted so far, the price of the
    latest alert, and whether that alert still waits for a digest (and the price it was
    first reduced from)."""

    reasons: frozenset[str]
    last_price: Decimal
    waiting: bool = False
    waiting_previous_price: Decimal | None = None


ADD = "add"
LOWER_WAITING = "lower_waiting"


@dataclass(frozen=True)
class Verdict:
    action: str  # ADD a new alert, or LOWER_WAITING: the waiting alert's price drops
    reason: str
    price: Decimal
    previous_price: Decimal | None = None


def alert_for(change: Change, history: History | None) -> Verdict | None:
    """What a matching change means for one search (see the module's rules)."""
    price, reduced_from = change.listing.price, change.reduced_from
    if history is None:
        if change.listed:
            return Verdict(ADD, NEW, price, reduced_from)
        if reduced_from is not None:
            return Verdict(ADD, PRICE_REDUCED, price, reduced_from)
        return None
    if history.waiting:
        if reduced_from is None or price >= history.last_price:
            return None
        first = history.waiting_previous_price or history.last_price
        reason = PRICE_REDUCED if PRICE_REDUCED in history.reasons else NEW
        return Verdict(LOWER_WAITING, reason, price, first)
    if PRICE_REDUCED in history.reasons or reduced_from is None or price >= history.last_price:
        return None
    return Verdict(ADD, PRICE_REDUCED, price, history.last_price)


@dataclass(frozen=True)
class Alert:
    search_id: int
    listing_id: int
    verdict: Verdict


def alerts(
    changes: Iterable[Change],
    searches: Mapping[int, Criteria],
    histories: Mapping[tuple[int, int], History],
) -> list[Alert]:
    """Every (search, listing) a batch of changes alerts, in the order of the changes."""
    found = []
    for change in changes:
        for search_id, criteria in searches.items():
            if not matches(criteria, change.listing):
                continue
            verdict = alert_for(change, histories.get((search_id, change.listing.id)))
            if verdict is not None:
                found.append(Alert(search_id, change.listing.id, verdict))
    return found
