"""The words of a property alert: the listings block (plain text, written here and handed
to the team's template as the `listings` placeholder), the default wording, and the
sample values a team's wording is checked against. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

CURRENCY = "$"
NEW = "new"
PRICE_REDUCED = "price_reduced"
HEADINGS = {NEW: "NEW LISTING", PRICE_REDUCED: "PRICE REDUCED"}

DEFAULT_SUBJECT = (
    "Property alert: {{ listing_count }} listing{% if listing_count != '1' %}s{% endif %} "
    "for “{{ search_name }}”"
)
DEFAULT_BODY = (
    "Hi {{ contact_first_name|default:'there' }},\n\n"
    "{% if listing_count == '1' %}A listing matches{% else %}{{ listing_count }} listings "
    "match{% endif %} your search “{{ search_name }}”:\n\n"
    "{{ listings }}\n\n"
    "Reply to this email to see any of them, or to change what you are looking for.\n\n"
    "{{ agent_signature }}"
)


def price_text(amount: Decimal | int) -> str:
    """$1,250,000: whole currency units with thousands separators."""
    return f"{CURRENCY}{int(amount):,}"


def baths_text(baths: Decimal) -> str:
    return f"{baths.normalize():f}" if baths % 1 else str(int(baths))


@dataclass(frozen=True)
class AlertLine:
    """One listing as an alert shows it."""

    reason: str
    address: str
    city: str
    state: str
    zip_code: str
    price: Decimal
    previous_price: Decimal | None
    beds: int | None
    baths: Decimal | None
    property_type: str  # its label
    listing_url: str


def listing_text(line: AlertLine) -> str:
    place = ", ".join(p for p in (line.address, line.city, f"{line.state} {line.zip_code}".strip()))
    price = price_text(line.price)
    if line.previous_price is not None and line.previous_price > line.price:
        price += f" (was {price_text(line.previous_price)})"
    facts = [price]
    if line.beds is not None:
        facts.append(f"{line.beds} bed{'' if line.beds == 1 else 's'}")
    if line.baths is not None:
        facts.append(f"{baths_text(line.baths)} bath{'' if line.baths == 1 else 's'}")
    if line.property_type:
        facts.append(line.property_type)
    lines = [f"{HEADINGS[line.reason]}: {place}", " · ".join(facts)]
    if line.listing_url:
        lines.append(line.listing_url)
    return "\n".join(lines)


def listings_block(lines: Iterable[AlertLine]) -> str:
    return "\n\n".join(listing_text(line) for line in lines)


def alert_values(*, search_name: str, lines: list[AlertLine]) -> dict[str, str]:
    """The placeholders a property alert adds to the contact's."""
    return {
        "search_name": search_name,
        "listing_count": str(len(lines)),
        "listings": listings_block(lines),
    }


SAMPLE_LINES = [
    AlertLine(
        NEW, "1200 Barton Springs Rd #4", "Austin", "TX", "78704", Decimal(465000), None,
        2, Decimal(2), "Condo", "https://listings.example.com/1200-barton-springs-4",
    ),
    AlertLine(
        PRICE_REDUCED, "88 Rainey St #1901", "Austin", "TX", "78701", Decimal(1249000),
        Decimal(1325000), 3, Decimal("2.5"), "Condo", "https://listings.example.com/88-rainey",
    ),
]  # fmt: skip
SAMPLE_VALUES = alert_values(search_name="Austin condos", lines=SAMPLE_LINES)
