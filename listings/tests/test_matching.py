"""Matching, alert decisions, digest times and the alert's text: pure, no database."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from listings.alert_text import AlertLine, listing_text, listings_block, price_text
from listings.matching import (
    ADD,
    LOWER_WAITING,
    NEW,
    PRICE_REDUCED,
    Change,
    Criteria,
    History,
    ListingFacts,
    Verdict,
    alert_for,
    alerts,
    matches,
)
from listings.timing import next_digest_at

D = Decimal
CONDO = ListingFacts(
    id=1,
    city="Austin",
    state="TX",
    zip_code="78704",
    price=D(465000),
    beds=2,
    baths=D("2.5"),
    property_type="condo",
)


def facts(**changes) -> ListingFacts:
    return ListingFacts(**{**CONDO.__dict__, **changes})


@pytest.mark.parametrize(
    ("criteria", "listing", "expected"),
    [
        (Criteria(cities=("Austin",)), CONDO, True),
        (Criteria(cities=("  austin ",)), CONDO, True),
        (Criteria(cities=("Dallas",)), CONDO, False),
        (Criteria(cities=("Dallas",), zip_codes=("78704",)), CONDO, True),
        (Criteria(zip_codes=("78704-1234",)), CONDO, True),
        (Criteria(zip_codes=("78705",)), CONDO, False),
        (Criteria(cities=("St. Louis",)), facts(city="St Louis"), True),
        (Criteria(states=("Texas",)), CONDO, True),
        (Criteria(states=("tx",)), facts(state="Texas"), True),
        (Criteria(cities=("Austin",), states=("MN",)), CONDO, False),
        (Criteria(price_min=D(465000)), CONDO, True),
        (Criteria(price_min=D(465001)), CONDO, False),
        (Criteria(price_max=D(465000)), CONDO, True),
        (Criteria(price_max=D(464999)), CONDO, False),
        (Criteria(beds_min=2), CONDO, True),
        (Criteria(beds_min=3), CONDO, False),
        (Criteria(beds_min=1), facts(beds=None), False),
        (Criteria(baths_min=D("2.5")), CONDO, True),
        (Criteria(baths_min=D(3)), CONDO, False),
        (Criteria(baths_min=D(1)), facts(baths=None), False),
        (Criteria(property_types=("house", "condo")), CONDO, True),
        (Criteria(property_types=("house",)), CONDO, False),
        (Criteria(), CONDO, True),
        (Criteria(cities=("Austin",)), facts(status="pending"), False),
        (Criteria(cities=("Austin",)), facts(status="sold"), False),
        (
            Criteria(
                cities=("Austin",),
                price_min=D(300000),
                price_max=D(500000),
                beds_min=2,
                property_types=("condo",),
            ),
            CONDO,
            True,
        ),
    ],
)
def test_matches(criteria, listing, expected):
    assert matches(criteria, listing) is expected


NEW_AT_500 = History(reasons=frozenset({NEW}), last_price=D(500000))
WAITING_NEW_AT_500 = History(reasons=frozenset({NEW}), last_price=D(500000), waiting=True)
SENT_BOTH = History(reasons=frozenset({NEW, PRICE_REDUCED}), last_price=D(450000))


@pytest.mark.parametrize(
    ("change", "history", "expected"),
    [
        # Never alerted: new listings and reductions of listings the search has not seen.
        (Change(facts(price=D(500000)), listed=True), None, Verdict(ADD, NEW, D(500000))),
        (
            Change(facts(price=D(450000)), listed=True, reduced_from=D(480000)),
            None,
            Verdict(ADD, NEW, D(450000), D(480000)),
        ),
        (
            Change(facts(price=D(450000)), reduced_from=D(500000)),
            None,
            Verdict(ADD, PRICE_REDUCED, D(450000), D(500000)),
        ),
        (Change(facts()), None, None),
        # Sent as new: a lower price than the one sent goes out once more.
        (
            Change(facts(price=D(450000)), reduced_from=D(480000)),
            NEW_AT_500,
            Verdict(ADD, PRICE_REDUCED, D(450000), D(500000)),
        ),
        (Change(facts(price=D(500000)), reduced_from=D(520000)), NEW_AT_500, None),
        (Change(facts(price=D(500000)), listed=True), NEW_AT_500, None),
        # Back on the market, at a lower price than sent: a reduction, not new.
        (
            Change(facts(price=D(480000)), listed=True, reduced_from=D(490000)),
            NEW_AT_500,
            Verdict(ADD, PRICE_REDUCED, D(480000), D(500000)),
        ),
        # Sent as new and as reduced: never again.
        (Change(facts(price=D(400000)), reduced_from=D(450000)), SENT_BOTH, None),
        (Change(facts(price=D(400000)), listed=True), SENT_BOTH, None),
        # Waiting for the digest: a lower price replaces the waiting one.
        (
            Change(facts(price=D(480000)), reduced_from=D(500000)),
            WAITING_NEW_AT_500,
            Verdict(LOWER_WAITING, NEW, D(480000), D(500000)),
        ),
        (
            Change(facts(price=D(470000)), reduced_from=D(480000)),
            History(frozenset({NEW}), D(480000), waiting=True, waiting_previous_price=D(500000)),
            Verdict(LOWER_WAITING, NEW, D(470000), D(500000)),
        ),
        (
            Change(facts(price=D(470000)), reduced_from=D(480000)),
            History(
                frozenset({NEW, PRICE_REDUCED}),
                D(480000),
                waiting=True,
                waiting_previous_price=D(500000),
            ),
            Verdict(LOWER_WAITING, PRICE_REDUCED, D(470000), D(500000)),
        ),
        (Change(facts(price=D(500000)), listed=True), WAITING_NEW_AT_500, None),
    ],
)
def test_alert_for(change, history, expected):
    assert alert_for(change, history) == expected


def test_alerts_pairs_each_change_with_the_searches_it_matches():
    austin, dallas = Criteria(cities=("Austin",)), Criteria(cities=("Dallas",))
    cheap = Criteria(price_max=D(400000))
    changes = [
        Change(facts(id=1), listed=True),
        Change(facts(id=2, city="Dallas", price=D(350000)), listed=True),
        Change(facts(id=3, price=D(390000)), reduced_from=D(410000)),
    ]
    found = alerts(
        changes,
        {10: austin, 20: dallas, 30: cheap},
        {(10, 3): History(frozenset({NEW, PRICE_REDUCED}), D(400000))},
    )
    assert [(a.search_id, a.listing_id, a.verdict.reason) for a in found] == [
        (10, 1, NEW),
        (20, 2, NEW),
        (30, 2, NEW),
        (30, 3, PRICE_REDUCED),
    ]


CHICAGO = "America/Chicago"


@pytest.mark.parametrize(
    ("frequency", "after", "time_zone", "expected"),
    [
        # 8:00 in Chicago is 14:00 UTC in winter, 13:00 UTC in summer.
        ("daily", datetime(2026, 12, 1, 10, 0, tzinfo=UTC), CHICAGO, datetime(2026, 12, 1, 14, 0)),
        ("daily", datetime(2026, 12, 1, 14, 0, tzinfo=UTC), CHICAGO, datetime(2026, 12, 2, 14, 0)),
        ("daily", datetime(2026, 12, 1, 13, 59, tzinfo=UTC), CHICAGO, datetime(2026, 12, 1, 14, 0)),
        ("daily", datetime(2026, 3, 7, 15, 0, tzinfo=UTC), CHICAGO, datetime(2026, 3, 8, 13, 0)),
        ("daily", datetime(2026, 12, 1, 10, 0, tzinfo=UTC), "UTC", datetime(2026, 12, 2, 8, 0)),
        (
            "daily",
            datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
            "No/Such_Zone",
            datetime(2026, 12, 2, 8),
        ),
        # 2026-12-07 is a Monday.
        ("weekly", datetime(2026, 12, 1, 10, 0, tzinfo=UTC), CHICAGO, datetime(2026, 12, 7, 14, 0)),
        ("weekly", datetime(2026, 12, 7, 13, 0, tzinfo=UTC), CHICAGO, datetime(2026, 12, 7, 14, 0)),
        ("weekly", datetime(2026, 12, 7, 14, 0, tzinfo=UTC), CHICAGO, datetime(2026, 12, 14, 14)),
    ],
)
def test_next_digest_at(frequency, after, time_zone, expected):
    assert next_digest_at(frequency, after=after, time_zone=time_zone) == expected.replace(
        tzinfo=UTC
    )


def test_next_digest_at_refuses_instant():
    with pytest.raises(ValueError, match="no digest"):
        next_digest_at("instant", after=datetime(2026, 1, 1, tzinfo=UTC), time_zone="UTC")


@pytest.mark.parametrize(
    ("amount", "text"),
    [(D(465000), "$465,000"), (D(1249000), "$1,249,000"), (D(950), "$950"), (0, "$0")],
)
def test_price_text(amount, text):
    assert price_text(amount) == text


def _line(**changes) -> AlertLine:
    fields = {
        "reason": NEW,
        "address": "9 Elm St",
        "city": "Austin",
        "state": "TX",
        "zip_code": "78702",
        "price": D(425000),
        "previous_price": None,
        "beds": 3,
        "baths": D("2.0"),
        "property_type": "House",
        "listing_url": "https://example.com/9-elm",
    }
    return AlertLine(**{**fields, **changes})


def test_listing_text_new_listing():
    assert listing_text(_line()) == (
        "NEW LISTING: 9 Elm St, Austin, TX 78702\n"
        "$425,000 · 3 beds · 2 baths · House\n"
        "https://example.com/9-elm"
    )


def test_listing_text_price_reduced_without_beds_or_link():
    line = _line(
        reason=PRICE_REDUCED,
        previous_price=D(450000),
        beds=1,
        baths=D("1.5"),
        listing_url="",
    )
    assert listing_text(line) == (
        "PRICE REDUCED: 9 Elm St, Austin, TX 78702\n"
        "$425,000 (was $450,000) · 1 bed · 1.5 baths · House"
    )
    assert listing_text(_line(beds=None, baths=None)).splitlines()[1] == "$425,000 · House"


def test_listings_block_separates_listings_with_a_blank_line():
    block = listings_block([_line(), _line(address="11 Elm St")])
    assert block.count("\n\n") == 1
    assert "NEW LISTING: 11 Elm St" in block
