"""Does a contact match a rule's criteria, and if not, which criterion failed and why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from routing.engine.hours import WorkingHours, within_hours


@dataclass(frozen=True)
class SourceBucket:
    """A bucket a lead pool (a rule with source buckets) takes its contacts from."""

    id: int
    name: str


@dataclass(frozen=True)
class ContactFacts:
    source: str = ""
    contact_type: str = ""
    city: str = ""
    zip_code: str = ""
    state: str = ""
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    tags: frozenset[str] = frozenset()
    has_phone: bool = False
    has_email: bool = False
    created_at: datetime | None = None
    buckets: frozenset[int] = frozenset()  # the ids of the buckets it is placed in


@dataclass(frozen=True)
class Criteria:
    sources: tuple[str, ...] = ()
    contact_types: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    zip_codes: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    location_match: str = "exact"  # or "empty_or_match"
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    tags_any: frozenset[str] = frozenset()
    tags_all: frozenset[str] = frozenset()
    require_phone: bool = False
    require_email: bool = False
    working_hours: WorkingHours | None = None
    source_buckets: tuple[SourceBucket, ...] = ()  # set: the rule is a lead pool

    @cached_property
    def is_empty(self) -> bool:
        return self == Criteria(location_match=self.location_match)

    @cached_property
    def normalized(self) -> dict[str, frozenset[str]]:
        """Each list criterion as a set of normalized values, built once per rule."""
        return {
            "source": frozenset(map(_norm, self.sources)),
            "contact_type": frozenset(map(_norm, self.contact_types)),
            "city": frozenset(map(_norm, self.cities)),
            "zip_code": frozenset(map(_norm, self.zip_codes)),
            "state": frozenset(map(_norm, self.states)),
            "tags_any": frozenset(map(_norm, self.tags_any)),
        }

    @cached_property
    def bucket_ids(self) -> frozenset[int]:
        return frozenset(b.id for b in self.source_buckets)


@dataclass(frozen=True)
class CriterionResult:
    matched: bool
    criterion: str = ""
    reason: str = ""
    bucket: str = ""  # a lead pool that matched: the source bucket the contact is in


def _norm(value: str) -> str:
    return value.strip().casefold()


def _listing(values: Iterable[str]) -> str:
    # Reasons land in a 255-character log column; long lists are cut rather than overflow it.
    items = sorted(values, key=_norm)
    return ", ".join(items[:8]) + (", ..." if len(items) > 8 else "")


def _money(value: Decimal) -> str:
    return f"{value:,}"


def _price_range(low: Decimal | None, high: Decimal | None) -> str:
    if low is not None and high is not None:
        return f"{_money(low)}-{_money(high)}"
    if low is not None:
        return f"at least {_money(low)}"
    return f"up to {_money(high)}" if high is not None else "any price"


def _check_list(
    key: str, value: str, allowed: tuple[str, ...], normalized: frozenset[str], *, empty_ok: bool
) -> CriterionResult | None:
    if not allowed:
        return None
    label = key.replace("_", " ")
    if not value.strip():
        if empty_ok:
            return None
        return CriterionResult(
            False, key, f"{label} is empty; rule needs one of: {_listing(allowed)}"
        )
    if _norm(value) in normalized:
        return None
    return CriterionResult(False, key, f"{label} '{value}' is not one of: {_listing(allowed)}")


def _check_price(criteria: Criteria, contact: ContactFacts) -> CriterionResult | None:
    if criteria.price_min is None and criteria.price_max is None:
        return None
    wanted = _price_range(criteria.price_min, criteria.price_max)
    low, high = contact.price_min, contact.price_max
    if low is None and high is None:
        return CriterionResult(False, "price", f"contact has no price; rule needs {wanted}")
    # Inclusive ranges with open ends; they overlap unless one lies wholly beyond the other.
    too_high = criteria.price_max is not None and low is not None and low > criteria.price_max
    too_low = criteria.price_min is not None and high is not None and high < criteria.price_min
    if too_high or too_low:
        return CriterionResult(
            False, "price", f"price {_price_range(low, high)} does not overlap {wanted}"
        )
    return None


def _check_tags(criteria: Criteria, contact: ContactFacts) -> CriterionResult | None:
    tags = {_norm(t) for t in contact.tags}
    if criteria.tags_any and not tags & criteria.normalized["tags_any"]:
        return CriterionResult(
            False, "tags_any", f"tags include none of: {_listing(criteria.tags_any)}"
        )
    missing = [t for t in criteria.tags_all if _norm(t) not in tags]
    if missing:
        return CriterionResult(False, "tags_all", f"tags are missing: {_listing(missing)}")
    return None


def pool_bucket(
    criteria: Criteria, contact: ContactFacts, prefer: int | None = None
) -> SourceBucket | None:
    """The lead pool's source bucket the contact is in (`prefer` first: the bucket it
    was just placed in), or None."""
    found = [b for b in criteria.source_buckets if b.id in contact.buckets]
    return next((b for b in found if b.id == prefer), found[0] if found else None)


def _check_buckets(criteria: Criteria, contact: ContactFacts) -> CriterionResult | None:
    if not criteria.source_buckets or criteria.bucket_ids & contact.buckets:
        return None
    names = [b.name for b in criteria.source_buckets]
    plural = "s" if len(names) > 1 else ""
    return CriterionResult(
        False, "source_bucket", f"not placed in its source bucket{plural}: {_listing(names)}"
    )


def _list_checks(criteria: Criteria, contact: ContactFacts) -> Iterable[CriterionResult | None]:
    empty_ok = criteria.location_match == "empty_or_match"
    norm = criteria.normalized
    yield _check_list("source", contact.source, criteria.sources, norm["source"], empty_ok=False)
    yield _check_list(
        "contact_type",
        contact.contact_type,
        criteria.contact_types,
        norm["contact_type"],
        empty_ok=False,
    )
    yield _check_list("city", contact.city, criteria.cities, norm["city"], empty_ok=empty_ok)
    yield _check_list(
        "zip_code", contact.zip_code, criteria.zip_codes, norm["zip_code"], empty_ok=empty_ok
    )
    yield _check_list("state", contact.state, criteria.states, norm["state"], empty_ok=empty_ok)
    yield _check_price(criteria, contact)
    yield _check_tags(criteria, contact)


def match_criteria(
    criteria: Criteria, contact: ContactFacts, now: datetime, *, prefer_bucket: int | None = None
) -> CriterionResult:
    """The first criterion the contact fails, in a fixed order, or a match.

    A lead pool's source buckets come first; its match names the source bucket the
    contact is in (`prefer_bucket` when it is one of them)."""
    if criteria.is_empty:
        return CriterionResult(True, "", "no criteria: matches every contact")
    failed = _check_buckets(criteria, contact) or next(
        (c for c in _list_checks(criteria, contact) if c is not None), None
    )
    if failed:
        return failed
    if criteria.require_phone and not contact.has_phone:
        return CriterionResult(False, "phone", "contact has no phone number")
    if criteria.require_email and not contact.has_email:
        return CriterionResult(False, "email", "contact has no email address")
    hours = criteria.working_hours
    if hours is not None and not within_hours(hours, contact.created_at or now):
        return CriterionResult(
            False, "working_hours", f"created outside the rule's working hours ({hours.describe()})"
        )
    via = pool_bucket(criteria, contact, prefer_bucket)
    return CriterionResult(True, "", "matched all criteria", via.name if via else "")
