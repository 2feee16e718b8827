"""Contact routing decisions over plain dataclasses.

Pure on purpose: no ORM and no clock. Services load rows, build these dataclasses, pass `now`
and write back what the engine decided, so every decision is table-testable without a database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from math import floor
from zoneinfo import ZoneInfo

ROUND_ROBIN = "round_robin"
NEXT_UP = "next_up"
BLAST = "blast"
LEAST_OPEN = "least_open"
ASSIGN_DIRECTLY = "assign_directly"

METHOD_LABELS = {
    ROUND_ROBIN: "Round Robin",
    NEXT_UP: "Next Up",
    BLAST: "Blast Alert",
    LEAST_OPEN: "Least open contacts",
    ASSIGN_DIRECTLY: "Assign directly",
}

_BASIC = frozenset({ROUND_ROBIN, LEAST_OPEN, ASSIGN_DIRECTLY})
PLAN_METHODS: dict[str, frozenset[str]] = {
    "basic": _BASIC,
    "pro": _BASIC | {NEXT_UP},
    "premier": _BASIC | {NEXT_UP, BLAST},
}


def method_allowed(plan: str, method: str) -> bool:
    return method in PLAN_METHODS.get(plan, frozenset())


class SkipReason:
    PAUSED = "paused"
    OFFLINE = "offline"
    OVER_CAPACITY = "over_capacity"
    OUTSIDE_HOURS = "outside_hours"
    NOT_TURN = "not_turn"
    ALREADY_OFFERED = "already_offered"
    INACTIVE = "inactive"


REASON_TEXT: dict[str, str] = {
    SkipReason.PAUSED: "paused or on vacation",
    SkipReason.OFFLINE: "offline (rule assigns to online members only)",
    SkipReason.OVER_CAPACITY: "at capacity for open contacts",
    SkipReason.OUTSIDE_HOURS: "outside their working hours",
    SkipReason.NOT_TURN: "available, but not their turn",
    SkipReason.ALREADY_OFFERED: "already offered this contact and let it expire",
    SkipReason.INACTIVE: "membership is deactivated",
}

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class WorkingHours:
    days: frozenset[int]  # 0=Monday..6=Sunday; empty means every day
    start: time
    end: time  # end < start: the window crosses midnight; end == start: the whole day
    tz: str

    def describe(self) -> str:
        days = ", ".join(_DAY_NAMES[d] for d in sorted(self.days)) or "every day"
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.tz}"


def within_hours(hours: WorkingHours | None, now: datetime) -> bool:
    if hours is None:
        return True
    if now.tzinfo is None:
        # A naive datetime would silently be read as server-local time.
        raise ValueError("within_hours needs an aware datetime")
    local = now.astimezone(ZoneInfo(hours.tz))
    t, today = local.time(), local.date()
    if hours.start == hours.end:
        started = today
    elif hours.start < hours.end:
        if not hours.start <= t < hours.end:
            return False
        started = today
    elif t >= hours.start:
        started = today
    elif t < hours.end:
        # 02:00 inside a Friday 22:00-06:00 shift belongs to Friday, not Saturday.
        started = today - timedelta(days=1)
    else:
        return False
    return not hours.days or started.weekday() in hours.days


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


@dataclass(frozen=True)
class CriterionResult:
    matched: bool
    criterion: str = ""
    reason: str = ""


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
    key: str, value: str, allowed: tuple[str, ...], *, empty_ok: bool
) -> CriterionResult | None:
    label = key.replace("_", " ")
    if not allowed:
        return None
    if not value.strip():
        if empty_ok:
            return None
        return CriterionResult(
            False, key, f"{label} is empty; rule needs one of: {_listing(allowed)}"
        )
    if _norm(value) in {_norm(a) for a in allowed}:
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
    if criteria.tags_any and not tags & {_norm(t) for t in criteria.tags_any}:
        return CriterionResult(
            False, "tags_any", f"tags include none of: {_listing(criteria.tags_any)}"
        )
    missing = [t for t in criteria.tags_all if _norm(t) not in tags]
    if missing:
        return CriterionResult(False, "tags_all", f"tags are missing: {_listing(missing)}")
    return None


def match_criteria(criteria: Criteria, contact: ContactFacts, now: datetime) -> CriterionResult:
    if criteria == Criteria(location_match=criteria.location_match):
        return CriterionResult(True, "", "no criteria: matches every contact")
    empty_ok = criteria.location_match == "empty_or_match"
    checks = (
        _check_list("source", contact.source, criteria.sources, empty_ok=False),
        _check_list("contact_type", contact.contact_type, criteria.contact_types, empty_ok=False),
        _check_list("city", contact.city, criteria.cities, empty_ok=empty_ok),
        _check_list("zip_code", contact.zip_code, criteria.zip_codes, empty_ok=empty_ok),
        _check_list("state", contact.state, criteria.states, empty_ok=empty_ok),
        _check_price(criteria, contact),
        _check_tags(criteria, contact),
    )
    failed = next((c for c in checks if c is not None), None)
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
    return CriterionResult(True, "", "matched all criteria")


@dataclass(frozen=True)
class Candidate:
    membership_id: int
    name: str
    position: int = 0
    weight: int = 1
    count: int = 0
    is_active: bool = True
    is_online: bool = True
    is_paused: bool = False
    open_contacts: int = 0
    capacity: int | None = None
    last_assigned_at: datetime | None = None
    working_hours: WorkingHours | None = None


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    position: int
    method: str
    criteria: Criteria = Criteria()
    candidates: tuple[Candidate, ...] = ()
    is_paused: bool = False
    is_default: bool = False
    only_online: bool = False
    skip_paused: bool = True
    respect_capacity: bool = True
    claim_window: timedelta = timedelta(minutes=15)
    direct_assignee_id: int | None = None


@dataclass(frozen=True)
class RuleEvaluation:
    rule_id: int
    rule_name: str
    outcome: str  # "matched", "not_matched", "skipped"
    reason: str
    criterion: str = ""


@dataclass(frozen=True)
class RuleSelection:
    rule: Rule | None
    evaluations: tuple[RuleEvaluation, ...]


def _gate(rule: Rule, plan: str, exclude_rule_ids: Collection[int]) -> str | None:
    if not method_allowed(plan, rule.method):
        label = METHOD_LABELS.get(rule.method, rule.method)
        return f"method {label} is not in the {plan.title()} plan"
    if rule.id in exclude_rule_ids:
        return "already tried for this contact"
    return None


def select_rule(
    rules: Sequence[Rule],
    contact: ContactFacts,
    now: datetime,
    *,
    plan: str,
    exclude_rule_ids: Collection[int] = (),
) -> RuleSelection:
    defaults = [r for r in rules if r.is_default]
    if len(defaults) > 1:
        raise ValueError("a team has at most one default rule")
    evaluations: list[RuleEvaluation] = []
    for rule in sorted((r for r in rules if not r.is_default), key=lambda r: (r.position, r.id)):
        skip = "rule is paused" if rule.is_paused else _gate(rule, plan, exclude_rule_ids)
        if skip:
            evaluations.append(RuleEvaluation(rule.id, rule.name, "skipped", skip))
            continue
        result = match_criteria(rule.criteria, contact, now)
        outcome = "matched" if result.matched else "not_matched"
        evaluations.append(
            RuleEvaluation(rule.id, rule.name, outcome, result.reason, result.criterion)
        )
        if result.matched:
            # Rule order is priority: later rules are not even evaluated.
            return RuleSelection(rule, tuple(evaluations))
    if not defaults:
        return RuleSelection(None, tuple(evaluations))
    default = defaults[0]
    # The catch-all cannot be paused, but a downgraded plan or an earlier fall-through through it
    # leaves the caller to fall back to the team owner.
    skip = _gate(default, plan, exclude_rule_ids)
    if skip:
        evaluations.append(RuleEvaluation(default.id, default.name, "skipped", skip))
        return RuleSelection(None, tuple(evaluations))
    reason = "no earlier rule matched: default rule (catch-all)"
    evaluations.append(RuleEvaluation(default.id, default.name, "matched", reason))
    return RuleSelection(default, tuple(evaluations))


@dataclass(frozen=True)
class Skip:
    membership_id: int
    name: str
    reason: str


@dataclass(frozen=True)
class Pick:
    chosen: Candidate | None
    skipped: tuple[Skip, ...]
    eligible: tuple[Candidate, ...]
    chosen_count: int = 0  # the count the caller stores for the chosen member's rotation slot


def eligibility(rule: Rule, candidate: Candidate, now: datetime) -> str | None:
    if not candidate.is_active:
        return SkipReason.INACTIVE
    if rule.skip_paused and candidate.is_paused:
        return SkipReason.PAUSED
    if rule.only_online and not candidate.is_online:
        return SkipReason.OFFLINE
    if not within_hours(candidate.working_hours, now):
        return SkipReason.OUTSIDE_HOURS
    over = candidate.capacity is not None and candidate.open_contacts >= candidate.capacity
    if rule.respect_capacity and over:
        return SkipReason.OVER_CAPACITY
    return None


def _screen(
    rule: Rule, now: datetime, exclude_ids: Collection[int]
) -> tuple[list[Candidate], dict[int, str]]:
    eligible: list[Candidate] = []
    reasons: dict[int, str] = {}
    for c in rule.candidates:
        reason = eligibility(rule, c, now)
        if reason is None and c.membership_id in exclude_ids:
            reason = SkipReason.ALREADY_OFFERED
        if reason is None:
            eligible.append(c)
        else:
            reasons[c.membership_id] = reason
    return eligible, reasons


def _pick(
    rule: Rule,
    chosen: Candidate | None,
    eligible: list[Candidate],
    reasons: dict[int, str],
    chosen_count: int,
) -> Pick:
    skipped = tuple(
        Skip(c.membership_id, c.name, reasons.get(c.membership_id, SkipReason.NOT_TURN))
        for c in rule.candidates
        if c is not chosen
    )
    return Pick(chosen, skipped, tuple(eligible), chosen_count if chosen else 0)


def _weight(c: Candidate) -> int:
    return max(c.weight, 1)  # the database enforces >= 1; never divide by zero if it slips


def _effective_count(c: Candidate, others: Sequence[Candidate]) -> int:
    """`count`, raised so a member back from a long absence is at most one turn behind.

    Without this floor, a member paused while others took 30 turns would take the next 30
    contacts in a row. The floor is one of their own turns below the least-served other member's
    share: floor(w * min(c_j / w_j)) - 1. In an undisturbed rotation every count is already at
    or above it (each pick keeps c_j / w_j <= (c_i + 1) / w_i), so only returners are lifted.
    Measuring against (c_j + 1) / w_j instead would also lift heavy members of a normal
    weighted rotation (e.g. 70/20/10) and break the shares.
    """
    if not others:
        return c.count
    level = min(Fraction(o.count, _weight(o)) for o in others)
    return max(c.count, floor(level * _weight(c)) - 1)


def pick_next(rule: Rule, now: datetime, *, exclude_ids: Collection[int] = ()) -> Pick:
    if rule.method not in (ROUND_ROBIN, NEXT_UP, LEAST_OPEN, ASSIGN_DIRECTLY):
        raise ValueError(f"pick_next does not handle method {rule.method!r}")  # Blast: recipients
    if rule.method == ASSIGN_DIRECTLY:
        # The owner chose this person explicitly, so availability is deliberately ignored.
        chosen = next(
            (c for c in rule.candidates if c.membership_id == rule.direct_assignee_id), None
        )
        eligible = [chosen] if chosen else []
        return _pick(rule, chosen, eligible, {}, chosen.count + 1 if chosen else 0)
    eligible, reasons = _screen(rule, now, exclude_ids)
    if not eligible:
        return _pick(rule, None, eligible, reasons, 0)
    if rule.method == LEAST_OPEN:
        never = datetime.min.replace(tzinfo=now.tzinfo)  # never assigned = waited longest
        chosen = min(
            eligible,
            key=lambda c: (
                c.open_contacts,
                c.last_assigned_at or never,
                c.position,
                c.membership_id,
            ),
        )
        return _pick(rule, chosen, eligible, reasons, chosen.count + 1)
    # Deficit rotation: whoever is furthest below their weighted share goes next, so a member
    # skipped while unavailable keeps their turn instead of losing it to a fixed cursor.
    effective = {
        c.membership_id: _effective_count(c, [o for o in eligible if o is not c]) for c in eligible
    }
    chosen = min(
        eligible,
        key=lambda c: (
            Fraction(effective[c.membership_id] + 1, _weight(c)),
            c.position,
            c.membership_id,
        ),
    )
    return _pick(rule, chosen, eligible, reasons, effective[chosen.membership_id] + 1)


def blast_recipients(rule: Rule, now: datetime) -> Pick:
    # Everyone available is notified at once; only the unavailable are "skipped".
    eligible, reasons = _screen(rule, now, ())
    skipped = tuple(
        Skip(c.membership_id, c.name, reasons[c.membership_id])
        for c in rule.candidates
        if c.membership_id in reasons
    )
    return Pick(None, skipped, tuple(eligible))


def default_rule_pool(default_rule: Rule, earlier_rules: Sequence[Rule]) -> Rule:
    if default_rule.method == ASSIGN_DIRECTLY:
        return default_rule
    # Paused rules count: their members are still "added" to a rule before the default one.
    taken = {
        c.membership_id
        for r in earlier_rules
        if not r.is_default and r.id != default_rule.id
        for c in r.candidates
    }
    pool = tuple(c for c in default_rule.candidates if c.membership_id not in taken)
    return dataclasses.replace(default_rule, candidates=pool)


def offer_deadline(rule: Rule, now: datetime) -> datetime:
    return now + rule.claim_window


def is_expired(deadline: datetime, now: datetime) -> bool:
    return now >= deadline
