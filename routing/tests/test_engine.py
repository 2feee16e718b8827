"""Table-driven tests for the pure routing engine: no database, fixed aware datetimes.

Ported from the tests of the old single-module engine (select_rule / pick_next /
blast_recipients / offer_deadline): every behaviour those tables pinned is checked here
through the new functions (route, distribute, pick_round_robin, screen, eligibility).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from routing import engine
from routing.engine import (
    ASSIGN,
    ASSIGN_DIRECTLY,
    BLAST,
    FELL_THROUGH,
    LEAST_OPEN,
    MANUAL,
    MATCHED,
    NEXT_UP,
    NOBODY,
    NOT_MATCHED,
    OFFER,
    OWNER_HOW,
    PLAN_METHODS,
    REASON_SHORT,
    REASON_TEXT,
    ROUND_ROBIN,
    RULE,
    SKIPPED,
    TEMPORARY,
    Candidate,
    ContactFacts,
    Criteria,
    Live,
    Skip,
    SkipReason,
    Source,
    TeamRules,
    WorkingHours,
    default_rule_pool,
    distribute,
    eligibility,
    match_criteria,
    method_allowed,
    pick_least_open,
    pick_round_robin,
    screen,
    within_hours,
)

MON_14 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # Monday; 09:00 in New York (EST, UTC-5)
NY = "America/New_York"
WEEKDAYS = frozenset(range(5))
NINE_TO_FIVE_NY = WorkingHours(WEEKDAYS, time(9), time(17), NY)
NIGHT_SHIFT_UTC = WorkingHours(WEEKDAYS, time(22), time(6), "UTC")


def at(day: int, hour: int, minute: int = 0, tz: str = "UTC") -> datetime:
    """A moment in the week of Monday 2 March 2026 (day 2 = Monday ... 8 = Sunday)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=ZoneInfo(tz))


def member(mid: int, **kwargs) -> Candidate:
    kwargs.setdefault("position", mid)
    return Candidate(membership_id=mid, name=f"m{mid}", **kwargs)


def rule(rid: int = 1, method: str = ROUND_ROBIN, **kwargs) -> Source:
    """A rule whose rotation id equals its id (turn counts in a Live are per rotation)."""
    kwargs.setdefault("position", rid)
    kwargs.setdefault("rotation_id", rid)
    return Source(kind=RULE, id=rid, name=f"rule {rid}", method=method, **kwargs)


def staffed(rid: int = 1, method: str = ROUND_ROBIN, **kwargs) -> Source:
    """A rule with one available member, m<rid>: it takes the contact whenever it matches."""
    return rule(rid, method, candidates=(member(rid),), **kwargs)


def live(
    counts: dict[int, int] | None = None,
    *,
    rotation: int = 1,
    open_contacts: dict[int, int] | None = None,
    last_assigned: dict[int, datetime] | None = None,
) -> Live:
    """Turn counts of one rotation (rule 1's by default), open contacts, last assignments."""
    return Live(
        counts={rotation: dict(counts or {})},
        open_contacts=dict(open_contacts or {}),
        last_assigned=dict(last_assigned or {}),
    )


def team(rules, *, plan: str = "basic", owner: int | None = None) -> TeamRules:
    names = {c.membership_id: c.name for r in rules for c in r.candidates}
    if owner is not None:
        names[owner] = "Owner"
    return TeamRules(plan=plan, rules=tuple(rules), owner_id=owner, names=names)


# --- plans -------------------------------------------------------------------------------------

ALL_METHODS = (ROUND_ROBIN, LEAST_OPEN, ASSIGN_DIRECTLY, MANUAL, NEXT_UP, BLAST)
ALLOWED = {
    "basic": {ROUND_ROBIN, LEAST_OPEN, ASSIGN_DIRECTLY, MANUAL},
    "pro": {ROUND_ROBIN, LEAST_OPEN, ASSIGN_DIRECTLY, MANUAL, NEXT_UP},
    "premier": set(ALL_METHODS),
}


@pytest.mark.parametrize(
    ("plan", "method"), list(itertools.product(["basic", "pro", "premier", "free"], ALL_METHODS))
)
def test_method_allowed_follows_plan_table(plan, method):
    assert method_allowed(plan, method) is (method in ALLOWED.get(plan, set()))


def test_plan_methods_lists_exactly_the_three_plans():
    assert {plan: set(methods) for plan, methods in PLAN_METHODS.items()} == ALLOWED


def test_reason_text_covers_every_skip_reason():
    reasons = {v for k, v in vars(SkipReason).items() if not k.startswith("_")}
    assert set(REASON_TEXT) == reasons
    assert set(REASON_SHORT) == reasons
    assert REASON_TEXT[SkipReason.PAUSED] == "paused or on vacation"
    assert REASON_TEXT[SkipReason.CURRENT_AGENT] == (
        "holds the contact now: it is being reassigned away from them"
    )


def test_not_turn_is_gone_available_members_are_counted_not_listed():
    assert not hasattr(SkipReason, "NOT_TURN")
    assert "not_turn" not in REASON_TEXT


def test_temporary_reasons_are_the_ones_that_pass_by_themselves():
    assert {
        SkipReason.PAUSED,
        SkipReason.OFFLINE,
        SkipReason.OUTSIDE_HOURS,
        SkipReason.OVER_CAPACITY,
    } == TEMPORARY


# --- working hours -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "now", "expected"),
    [
        pytest.param(None, MON_14, True, id="no-hours-always"),
        pytest.param(NINE_TO_FIVE_NY, MON_14, True, id="start-inclusive-09:00-ny"),
        pytest.param(NINE_TO_FIVE_NY, at(2, 13, 59), False, id="08:59-ny-before-start"),
        pytest.param(NINE_TO_FIVE_NY, at(2, 21, 59), True, id="16:59-ny"),
        pytest.param(NINE_TO_FIVE_NY, at(2, 22, 0), False, id="end-exclusive-17:00-ny"),
        pytest.param(NINE_TO_FIVE_NY, at(7, 14), False, id="saturday"),
        pytest.param(NINE_TO_FIVE_NY, at(6, 21, 30), True, id="friday-16:30-ny"),
        # 02:00 UTC Saturday is still Friday 21:00 in New York.
        pytest.param(
            WorkingHours(frozenset({4}), time(20), time(22), NY),
            at(7, 2),
            True,
            id="utc-saturday-is-ny-friday",
        ),
        # After the 8 March DST switch New York is UTC-4: 13:00 UTC is 09:00 local.
        pytest.param(NINE_TO_FIVE_NY, at(9, 13), True, id="dst-edt-09:00"),
        pytest.param(NINE_TO_FIVE_NY, at(9, 12, 59), False, id="dst-edt-08:59"),
        pytest.param(NINE_TO_FIVE_NY, at(2, 9, tz=NY), True, id="now-in-other-zone"),
        pytest.param(
            WorkingHours(frozenset(), time(9), time(17), "UTC"),
            at(8, 10),
            True,
            id="empty-days-every-day",
        ),
        pytest.param(
            WorkingHours(frozenset({6}), time(0), time(0), "UTC"),
            at(8, 23, 59),
            True,
            id="start-equals-end-whole-day",
        ),
        pytest.param(
            WorkingHours(frozenset({6}), time(0), time(0), "UTC"),
            at(2, 12),
            False,
            id="whole-day-wrong-weekday",
        ),
        pytest.param(NIGHT_SHIFT_UTC, at(2, 22), True, id="overnight-start-inclusive"),
        pytest.param(NIGHT_SHIFT_UTC, at(2, 21, 59), False, id="overnight-before-start"),
        pytest.param(NIGHT_SHIFT_UTC, at(3, 5, 59), True, id="overnight-tuesday-morning"),
        pytest.param(NIGHT_SHIFT_UTC, at(3, 6), False, id="overnight-end-exclusive"),
        pytest.param(NIGHT_SHIFT_UTC, at(3, 12), False, id="overnight-midday"),
        # Saturday 02:00 belongs to Friday's shift; Monday 02:00 to Sunday's, which is off.
        pytest.param(NIGHT_SHIFT_UTC, at(7, 2), True, id="overnight-saturday-counts-friday"),
        pytest.param(NIGHT_SHIFT_UTC, at(2, 2), False, id="overnight-monday-counts-sunday"),
        pytest.param(NIGHT_SHIFT_UTC, at(7, 22), False, id="overnight-saturday-start"),
    ],
)
def test_within_hours_table(hours, now, expected):
    assert within_hours(hours, now) is expected


def test_within_hours_rejects_naive_datetime():
    with pytest.raises(ValueError, match="aware"):
        within_hours(NINE_TO_FIVE_NY, datetime(2026, 3, 2, 14))


def test_working_hours_describe_names_days_window_and_zone():
    assert NINE_TO_FIVE_NY.describe() == "Mon, Tue, Wed, Thu, Fri 09:00-17:00 America/New_York"
    assert WorkingHours(frozenset(), time(22), time(6), "UTC").describe() == (
        "every day 22:00-06:00 UTC"
    )


# --- criteria ----------------------------------------------------------------------------------

D = Decimal
EMPTY_OR = "empty_or_match"
FULL = ContactFacts(
    source="Zillow",
    contact_type="Buyer",
    city="Austin",
    zip_code="78701",
    state="TX",
    price_min=D(300_000),
    price_max=D(400_000),
    tags=frozenset({"Hot", "First-time"}),
    has_phone=True,
    has_email=True,
    created_at=MON_14,
)
NO_PRICE = ContactFacts()


def price(low, high) -> ContactFacts:
    return ContactFacts(
        price_min=None if low is None else D(low), price_max=None if high is None else D(high)
    )


def prange(low, high) -> Criteria:
    return Criteria(
        price_min=None if low is None else D(low), price_max=None if high is None else D(high)
    )


@pytest.mark.parametrize(
    ("criteria", "contact", "failed"),
    [
        pytest.param(Criteria(), NO_PRICE, "", id="no-criteria"),
        # source / type: exact, case-insensitive, trimmed
        pytest.param(Criteria(sources=("Zillow", "Website")), FULL, "", id="source-pass"),
        pytest.param(Criteria(sources=("  zILLOW ",)), FULL, "", id="source-case-trim-rule"),
        pytest.param(
            Criteria(sources=("zillow",)),
            ContactFacts(source=" ZILLOW "),
            "",
            id="source-case-trim-contact",
        ),
        pytest.param(Criteria(sources=("Facebook",)), FULL, "source", id="source-fail"),
        pytest.param(
            Criteria(sources=("Facebook",), location_match=EMPTY_OR),
            ContactFacts(),
            "source",
            id="source-empty-fails-even-empty-or-match",
        ),
        pytest.param(Criteria(contact_types=("buyer",)), FULL, "", id="type-pass"),
        pytest.param(Criteria(contact_types=("Seller",)), FULL, "contact_type", id="type-fail"),
        # location: exact vs empty-or-match
        pytest.param(Criteria(cities=("AUSTIN",)), FULL, "", id="city-pass"),
        pytest.param(Criteria(cities=("Dallas",)), FULL, "city", id="city-fail"),
        pytest.param(
            Criteria(cities=("Dallas",)),
            ContactFacts(city="  "),
            "city",
            id="city-empty-exact-fails",
        ),
        pytest.param(
            Criteria(cities=("Dallas",), location_match=EMPTY_OR),
            ContactFacts(),
            "",
            id="city-empty-or-match-passes",
        ),
        pytest.param(
            Criteria(cities=("Dallas",), location_match=EMPTY_OR),
            FULL,
            "city",
            id="city-empty-or-match-mismatch-fails",
        ),
        pytest.param(Criteria(zip_codes=(" 78701 ",)), FULL, "", id="zip-pass"),
        pytest.param(Criteria(zip_codes=("10001",)), FULL, "zip_code", id="zip-fail"),
        pytest.param(
            Criteria(zip_codes=("10001",)), ContactFacts(), "zip_code", id="zip-empty-exact-fails"
        ),
        pytest.param(
            Criteria(zip_codes=("10001",), location_match=EMPTY_OR),
            ContactFacts(),
            "",
            id="zip-empty-or-match-passes",
        ),
        pytest.param(Criteria(states=("tx",)), FULL, "", id="state-pass"),
        pytest.param(Criteria(states=("CA",)), FULL, "state", id="state-fail"),
        pytest.param(Criteria(states=("CA",)), ContactFacts(), "state", id="state-empty-exact"),
        pytest.param(
            Criteria(states=("CA",), location_match=EMPTY_OR),
            ContactFacts(),
            "",
            id="state-empty-or-match",
        ),
        # price: inclusive overlap, open ends on either side, no price fails
        pytest.param(prange(100_000, 350_000), FULL, "", id="price-overlap-low"),
        pytest.param(prange(350_000, 900_000), FULL, "", id="price-overlap-high"),
        pytest.param(prange(320_000, 330_000), FULL, "", id="price-rule-inside-contact"),
        pytest.param(prange(100_000, 900_000), FULL, "", id="price-contact-inside-rule"),
        pytest.param(prange(400_000, 500_000), FULL, "", id="price-touching-upper-edge"),
        pytest.param(prange(200_000, 300_000), FULL, "", id="price-touching-lower-edge"),
        pytest.param(prange(100_000, 299_999), FULL, "price", id="price-rule-below"),
        pytest.param(prange(400_001, 500_000), FULL, "price", id="price-rule-above"),
        pytest.param(prange(None, 300_000), FULL, "", id="price-rule-open-min-pass"),
        pytest.param(prange(None, 299_999), FULL, "price", id="price-rule-open-min-fail"),
        pytest.param(prange(400_000, None), FULL, "", id="price-rule-open-max-pass"),
        pytest.param(prange(400_001, None), FULL, "price", id="price-rule-open-max-fail"),
        pytest.param(
            prange(100_000, 200_000), price(150_000, None), "", id="price-contact-open-max-pass"
        ),
        pytest.param(
            prange(100_000, 200_000),
            price(250_000, None),
            "price",
            id="price-contact-open-max-fail",
        ),
        pytest.param(
            prange(300_000, 400_000), price(None, 300_000), "", id="price-contact-open-min-pass"
        ),
        pytest.param(
            prange(300_000, 400_000),
            price(None, 250_000),
            "price",
            id="price-contact-open-min-fail",
        ),
        pytest.param(prange(None, 100), price(500, None), "price", id="price-both-open-apart"),
        pytest.param(prange(None, 500), price(None, 100), "", id="price-both-open-same-side"),
        pytest.param(prange(100_000, 200_000), NO_PRICE, "price", id="price-contact-no-price"),
        pytest.param(prange(100_000, None), NO_PRICE, "price", id="price-no-price-open-rule"),
        # tags
        pytest.param(Criteria(tags_any=frozenset({"hot", "cold"})), FULL, "", id="tags-any-pass"),
        pytest.param(Criteria(tags_any=frozenset({" HOT "})), FULL, "", id="tags-any-case-trim"),
        pytest.param(
            Criteria(tags_any=frozenset({"cold", "vip"})), FULL, "tags_any", id="tags-any-fail"
        ),
        pytest.param(
            Criteria(tags_any=frozenset({"hot"})), ContactFacts(), "tags_any", id="tags-any-no-tags"
        ),
        pytest.param(
            Criteria(tags_all=frozenset({"hot", "first-time"})), FULL, "", id="tags-all-pass"
        ),
        pytest.param(
            Criteria(tags_all=frozenset({"hot", "vip"})),
            FULL,
            "tags_all",
            id="tags-all-one-missing",
        ),
        pytest.param(
            Criteria(tags_any=frozenset({"hot"}), tags_all=frozenset({"vip"})),
            FULL,
            "tags_all",
            id="tags-any-pass-all-fail",
        ),
        # phone / email
        pytest.param(Criteria(require_phone=True), FULL, "", id="phone-pass"),
        pytest.param(
            Criteria(require_phone=True), ContactFacts(has_email=True), "phone", id="phone-fail"
        ),
        pytest.param(Criteria(require_email=True), FULL, "", id="email-pass"),
        pytest.param(
            Criteria(require_email=True), ContactFacts(has_phone=True), "email", id="email-fail"
        ),
        # the rule's working hours judge when the contact was created
        pytest.param(Criteria(working_hours=NINE_TO_FIVE_NY), FULL, "", id="hours-created-in"),
        pytest.param(
            Criteria(working_hours=NINE_TO_FIVE_NY),
            ContactFacts(created_at=at(7, 14)),
            "working_hours",
            id="hours-created-out",
        ),
        # first failure in the documented order wins
        pytest.param(
            Criteria(sources=("x",), states=("x",), require_phone=True),
            ContactFacts(),
            "source",
            id="order-source-first",
        ),
        pytest.param(
            Criteria(states=("x",), price_min=D(1)),
            ContactFacts(),
            "state",
            id="order-state-before-price",
        ),
        pytest.param(
            Criteria(require_phone=True, require_email=True),
            ContactFacts(),
            "phone",
            id="order-phone-before-email",
        ),
        pytest.param(
            Criteria(require_email=True, working_hours=NINE_TO_FIVE_NY),
            ContactFacts(created_at=at(7, 14)),
            "email",
            id="order-email-before-hours",
        ),
        pytest.param(
            Criteria(
                sources=("Zillow",),
                contact_types=("Buyer",),
                cities=("Austin",),
                zip_codes=("78701",),
                states=("TX",),
                price_min=D(1),
                tags_any=frozenset({"hot"}),
                tags_all=frozenset({"first-time"}),
                require_phone=True,
                require_email=True,
                working_hours=NINE_TO_FIVE_NY,
            ),
            FULL,
            "",
            id="all-criteria-pass",
        ),
    ],
)
def test_match_criteria_table(criteria, contact, failed):
    result = match_criteria(criteria, contact, MON_14)
    assert (result.matched, result.criterion) == (failed == "", failed)


@pytest.mark.parametrize(
    ("now", "expected"), [(MON_14, True), (at(7, 14), False)], ids=["weekday", "saturday"]
)
def test_match_criteria_hours_use_now_without_created_at(now, expected):
    result = match_criteria(Criteria(working_hours=NINE_TO_FIVE_NY), ContactFacts(), now)
    assert result.matched is expected


def test_match_criteria_hours_prefer_created_at_over_now():
    contact = ContactFacts(created_at=at(7, 14))  # created on Saturday, routed on Monday
    assert not match_criteria(Criteria(working_hours=NINE_TO_FIVE_NY), contact, MON_14).matched


@pytest.mark.parametrize(
    ("criteria", "contact", "reason"),
    [
        (Criteria(), ContactFacts(), "no criteria: matches every contact"),
        (Criteria(location_match=EMPTY_OR), ContactFacts(), "no criteria: matches every contact"),
        (Criteria(sources=("Zillow",)), FULL, "matched all criteria"),
        (
            Criteria(sources=("Website", "Facebook")),
            ContactFacts(source="Zillow"),
            "source 'Zillow' is not one of: Facebook, Website",
        ),
        (Criteria(contact_types=("Seller",)), FULL, "contact type 'Buyer' is not one of: Seller"),
        (
            Criteria(cities=("Dallas", "Austin")),
            ContactFacts(),
            "city is empty; rule needs one of: Austin, Dallas",
        ),
        (Criteria(zip_codes=("10001",)), FULL, "zip code '78701' is not one of: 10001"),
        (prange(100_000, 200_000), NO_PRICE, "contact has no price; rule needs 100,000-200,000"),
        (prange(500_000, None), FULL, "price 300,000-400,000 does not overlap at least 500,000"),
        (
            prange(None, 100),
            price(200_000, None),
            "price at least 200,000 does not overlap up to 100",
        ),
        (Criteria(tags_any=frozenset({"vip", "cold"})), FULL, "tags include none of: cold, vip"),
        (Criteria(tags_all=frozenset({"Hot", "VIP"})), FULL, "tags are missing: VIP"),
        (Criteria(require_phone=True), ContactFacts(), "contact has no phone number"),
        (Criteria(require_email=True), ContactFacts(), "contact has no email address"),
        (
            Criteria(working_hours=NINE_TO_FIVE_NY),
            ContactFacts(created_at=at(7, 14)),
            "created outside the rule's working hours "
            "(Mon, Tue, Wed, Thu, Fri 09:00-17:00 America/New_York)",
        ),
    ],
)
def test_match_criteria_reason_sentences(criteria, contact, reason):
    assert match_criteria(criteria, contact, MON_14).reason == reason


def test_match_criteria_reason_truncates_long_lists():
    sources = tuple(f"s{i:02}" for i in range(20))
    reason = match_criteria(Criteria(sources=sources), ContactFacts(source="x"), MON_14).reason
    assert reason == "source 'x' is not one of: s00, s01, s02, s03, s04, s05, s06, s07, ..."


# --- rule selection, through engine.route ------------------------------------------------------
# The old select_rule is gone: route walks the rules and distributes in one pass. Every rule
# here has one available member, so the rule that is selected is the rule that takes the
# contact, and the trail of steps is the old trail of rule evaluations.

ZILLOW = ContactFacts(source="Zillow")
MATCH_ZILLOW = Criteria(sources=("zillow",))
MATCH_WEB = Criteria(sources=("website",))
DEFAULT = staffed(99, ROUND_ROBIN, position=0, is_default=True)


def trail(decision) -> list[tuple[int, str]]:
    return [(s.source_id, s.outcome) for s in decision.steps]


def chosen_rule(decision) -> int | None:
    return decision.source.id if decision.source else None


@pytest.mark.parametrize(
    ("rules", "chosen", "steps"),
    [
        pytest.param(
            [staffed(1, criteria=MATCH_ZILLOW), DEFAULT],
            1,
            [(1, MATCHED)],
            id="first-rule-matches",
        ),
        pytest.param(
            [staffed(1, criteria=MATCH_WEB), staffed(2, criteria=MATCH_ZILLOW), DEFAULT],
            2,
            [(1, NOT_MATCHED), (2, MATCHED)],
            id="second-rule-matches",
        ),
        pytest.param(
            [staffed(1, criteria=MATCH_ZILLOW), staffed(2, criteria=MATCH_ZILLOW), DEFAULT],
            1,
            [(1, MATCHED)],
            id="stops-after-first-match",
        ),
        pytest.param(
            [
                staffed(2, position=1, criteria=MATCH_ZILLOW),
                staffed(1, position=5, criteria=MATCH_ZILLOW),
                DEFAULT,
            ],
            2,
            [(2, MATCHED)],
            id="position-beats-id",
        ),
        pytest.param(
            [
                staffed(7, position=1, criteria=MATCH_ZILLOW),
                staffed(3, position=1, criteria=MATCH_ZILLOW),
            ],
            3,
            [(3, MATCHED)],
            id="equal-position-lower-id-first",
        ),
        pytest.param(
            [DEFAULT, staffed(1, criteria=MATCH_ZILLOW)],
            1,
            [(1, MATCHED)],
            id="default-listed-first-still-last",
        ),
        pytest.param(
            [staffed(1, criteria=MATCH_ZILLOW, is_paused=True), staffed(2), DEFAULT],
            2,
            [(1, SKIPPED), (2, MATCHED)],
            id="paused-skipped",
        ),
        pytest.param(
            [staffed(1, NEXT_UP, criteria=MATCH_ZILLOW), staffed(2), DEFAULT],
            2,
            [(1, SKIPPED), (2, MATCHED)],
            id="plan-gated-skipped",
        ),
        pytest.param(
            [staffed(1, criteria=MATCH_WEB), DEFAULT],
            99,
            [(1, NOT_MATCHED), (99, MATCHED)],
            id="falls-to-default",
        ),
        pytest.param([DEFAULT], 99, [(99, MATCHED)], id="only-default"),
        pytest.param([staffed(1, criteria=MATCH_WEB)], None, [(1, NOT_MATCHED)], id="no-default"),
        pytest.param([], None, [], id="no-rules"),
    ],
)
def test_route_rule_selection_table(rules, chosen, steps):
    decision = engine.route(team(rules), ZILLOW, MON_14, Live())
    assert chosen_rule(decision) == chosen
    assert trail(decision) == steps
    if chosen is None:
        # No rule took it and the team has no owner to fall back to.
        assert (decision.action, decision.member_id) == (NOBODY, None)
    else:
        assert (decision.action, decision.member_id) == (ASSIGN, chosen)


@pytest.mark.parametrize(
    ("tried", "chosen", "steps"),
    [
        ((), 1, [(1, MATCHED)]),
        ((1,), 2, [(1, SKIPPED), (2, MATCHED)]),
        ((1, 2), 99, [(1, SKIPPED), (2, SKIPPED), (99, MATCHED)]),
        ((1, 2, 99), None, [(1, SKIPPED), (2, SKIPPED), (99, SKIPPED)]),
    ],
)
def test_route_tried_rules_fall_through(tried, chosen, steps):
    rules = [staffed(1, criteria=MATCH_ZILLOW), staffed(2), DEFAULT]
    decision = engine.route(team(rules), ZILLOW, MON_14, Live(), tried=set(tried))
    assert chosen_rule(decision) == chosen
    assert trail(decision) == steps
    assert decision.tried == frozenset(tried)


@pytest.mark.parametrize(
    ("plan", "method", "selected", "action"),
    [
        ("basic", NEXT_UP, 99, ASSIGN),
        ("basic", BLAST, 99, ASSIGN),
        ("pro", NEXT_UP, 1, OFFER),
        ("pro", BLAST, 99, ASSIGN),
        ("premier", BLAST, 1, OFFER),
        ("basic", LEAST_OPEN, 1, ASSIGN),
    ],
)
def test_route_plan_gating(plan, method, selected, action):
    decision = engine.route(team([staffed(1, method), DEFAULT], plan=plan), ZILLOW, MON_14, Live())
    assert (decision.source.id, decision.action) == (selected, action)


def test_route_step_reasons():
    rules = [
        staffed(1, is_paused=True),
        staffed(2, BLAST),
        staffed(3, criteria=MATCH_WEB),
        staffed(4, criteria=MATCH_ZILLOW, position=10),
        DEFAULT,
    ]
    decision = engine.route(team(rules), ZILLOW, MON_14, Live(), tried={4})
    assert [(s.name, s.outcome, s.reason, s.criterion) for s in decision.steps] == [
        ("rule 1", SKIPPED, "rule is paused", ""),
        ("rule 2", SKIPPED, "method Blast Alert is not in the Basic plan", ""),
        ("rule 3", NOT_MATCHED, "source 'Zillow' is not one of: website", "source"),
        ("rule 4", SKIPPED, "already tried for this contact", ""),
        ("rule 99", MATCHED, "no earlier rule matched: default rule (catch-all)", ""),
    ]
    assert all(s.kind == RULE for s in decision.steps)


def test_route_first_match_reason():
    decision = engine.route(team([staffed(1, criteria=MATCH_ZILLOW)]), ZILLOW, MON_14, Live())
    assert decision.steps[0].reason == "matched all criteria"


def test_route_default_is_never_paused():
    paused_default = staffed(99, is_default=True, is_paused=True)
    decision = engine.route(team([paused_default]), ZILLOW, MON_14, Live())
    assert decision.source == paused_default
    assert (decision.action, decision.member_id) == (ASSIGN, 99)


@pytest.mark.parametrize(("owner", "action"), [(None, NOBODY), (7, ASSIGN)])
def test_route_default_outside_plan_gives_no_rule(owner, action):
    default = staffed(99, BLAST, is_default=True)
    decision = engine.route(team([default], plan="pro", owner=owner), ZILLOW, MON_14, Live())
    assert decision.source is None
    assert (decision.action, decision.member_id) == (action, owner)
    assert (decision.steps[-1].outcome, decision.steps[-1].reason) == (
        SKIPPED,
        "method Blast Alert is not in the Pro plan",
    )


def test_route_rejects_two_default_rules():
    rules = [DEFAULT, staffed(98, is_default=True)]
    with pytest.raises(ValueError, match="default"):
        engine.route(team(rules), ZILLOW, MON_14, Live())


# --- eligibility -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule_kwargs", "candidate_kwargs", "open_contacts", "expected"),
    [
        pytest.param({}, {}, 0, None, id="eligible"),
        pytest.param({}, {"is_active": False}, 0, SkipReason.INACTIVE, id="inactive"),
        pytest.param({}, {"paused": True}, 0, SkipReason.PAUSED, id="paused"),
        pytest.param({"skip_paused": False}, {"paused": True}, 0, None, id="paused-allowed"),
        pytest.param(
            {},
            {"paused": True, "paused_until": MON_14 + timedelta(minutes=1)},
            0,
            SkipReason.PAUSED,
            id="paused-until-later",
        ),
        pytest.param({}, {"paused": True, "paused_until": MON_14}, 0, None, id="pause-ends-now"),
        pytest.param(
            {},
            {"paused": True, "paused_until": MON_14 - timedelta(days=1)},
            0,
            None,
            id="pause-ended",
        ),
        pytest.param(
            {}, {"paused_until": MON_14 + timedelta(days=1)}, 0, None, id="until-without-pause"
        ),
        pytest.param(
            {"only_online": True}, {"is_online": False}, 0, SkipReason.OFFLINE, id="offline"
        ),
        pytest.param({}, {"is_online": False}, 0, None, id="offline-allowed"),
        pytest.param(
            {},
            {"working_hours": WorkingHours(frozenset({5}), time(9), time(17), NY)},
            0,
            SkipReason.OUTSIDE_HOURS,
            id="outside-hours",
        ),
        pytest.param({}, {"working_hours": NINE_TO_FIVE_NY}, 0, None, id="inside-hours"),
        pytest.param({}, {"capacity": 5}, 5, SkipReason.OVER_CAPACITY, id="at-capacity"),
        pytest.param({}, {"capacity": 5}, 4, None, id="under-capacity"),
        pytest.param({}, {"capacity": 0}, 0, SkipReason.OVER_CAPACITY, id="zero-capacity"),
        pytest.param({}, {}, 500, None, id="no-capacity-limit"),
        pytest.param({"respect_capacity": False}, {"capacity": 5}, 9, None, id="capacity-ignored"),
    ],
)
def test_eligibility_each_reason(rule_kwargs, candidate_kwargs, open_contacts, expected):
    now_live = live(open_contacts={1: open_contacts})
    assert eligibility(rule(**rule_kwargs), member(1, **candidate_kwargs), MON_14, now_live) == (
        expected
    )


def test_eligibility_reads_open_contacts_of_that_member_only():
    busy_other = live(open_contacts={2: 9})
    assert eligibility(rule(), member(1, capacity=1), MON_14, busy_other) is None
    assert eligibility(rule(), member(2, capacity=1), MON_14, busy_other) == (
        SkipReason.OVER_CAPACITY
    )


@pytest.mark.parametrize(
    ("current", "lapsed", "expected"),
    [
        (None, (), None),
        (1, (), SkipReason.CURRENT_AGENT),
        (2, (), None),
        (None, (1,), SkipReason.ALREADY_OFFERED),
        (None, (2,), None),
        (1, (1,), SkipReason.CURRENT_AGENT),
    ],
)
def test_eligibility_current_agent_and_lapsed(current, lapsed, expected):
    reason = eligibility(rule(), member(1), MON_14, Live(), lapsed=set(lapsed), current=current)
    assert reason == expected


ALL_BAD = {
    "is_active": False,
    "paused": True,
    "is_online": False,
    "working_hours": WorkingHours(frozenset({5}), time(9), time(17), NY),
    "capacity": 1,
}


@pytest.mark.parametrize(
    ("fixed", "expected"),
    [
        ((), SkipReason.INACTIVE),
        (("is_active",), SkipReason.PAUSED),
        (("is_active", "paused"), SkipReason.OFFLINE),
        (("is_active", "paused", "is_online"), SkipReason.OUTSIDE_HOURS),
        (("is_active", "paused", "is_online", "working_hours"), SkipReason.OVER_CAPACITY),
        (
            ("is_active", "paused", "is_online", "working_hours", "capacity"),
            SkipReason.CURRENT_AGENT,
        ),
        (
            ("is_active", "paused", "is_online", "working_hours", "capacity", "current"),
            SkipReason.ALREADY_OFFERED,
        ),
        (
            ("is_active", "paused", "is_online", "working_hours", "capacity", "current", "lapsed"),
            None,
        ),
    ],
)
def test_eligibility_check_order(fixed, expected):
    good = {
        "is_active": True,
        "paused": False,
        "is_online": True,
        "working_hours": None,
        "capacity": None,
    }
    kwargs = ALL_BAD | {k: good[k] for k in fixed if k in good}
    current = None if "current" in fixed else 1
    lapsed = set() if "lapsed" in fixed else {1}
    reason = eligibility(
        rule(only_online=True),
        member(1, **kwargs),
        MON_14,
        live(open_contacts={1: 3}),
        lapsed=lapsed,
        current=current,
    )
    assert reason == expected


def test_screen_splits_candidates_in_listed_order():
    candidates = (member(3), member(1, paused=True), member(2), member(4, is_active=False))
    eligible, skipped = screen(rule(candidates=candidates), MON_14, Live())
    assert [c.membership_id for c in eligible] == [3, 2]
    assert skipped == (Skip(1, "m1", SkipReason.PAUSED), Skip(4, "m4", SkipReason.INACTIVE))
    assert skipped[0].text == "m1: paused or on vacation"


# --- round robin / next up ---------------------------------------------------------------------


def simulate(
    weights: tuple[int, ...],
    picks: int,
    *,
    paused: Callable[[int, int], bool] = lambda step, index: False,
    method: str = ROUND_ROBIN,
):
    """Distribute `picks` contacts, storing the returned count as the writer does; yield each
    step as (index of the chosen member, every member's count after the pick)."""
    state = Live()
    for step in range(picks):
        candidates = tuple(
            member(i + 1, position=i, weight=w, paused=paused(step, i))
            for i, w in enumerate(weights)
        )
        dist = distribute(rule(method=method, candidates=candidates), MON_14, state)
        state.counts.setdefault(1, {})[dist.member_id] = dist.count
        yield dist.member_id - 1, tuple(state.count(1, i + 1) for i in range(len(weights)))


@pytest.mark.parametrize("method", [ROUND_ROBIN, NEXT_UP])
def test_distribute_rotates_in_listed_order(method):
    order = [index for index, _ in simulate((1, 1, 1), 7, method=method)]
    assert order == [0, 1, 2, 0, 1, 2, 0]


@pytest.mark.parametrize("size", [2, 3, 5, 7])
def test_rotation_equal_weights_never_differ_by_more_than_one(size):
    for _, counts in simulate((1,) * size, 200):
        assert max(counts) - min(counts) <= 1


@pytest.mark.parametrize(
    "weights", [(50, 30, 20), (20, 30, 50), (70, 20, 10), (90, 5, 5), (60, 25, 10, 5), (40, 60)]
)
def test_rotation_weights_give_exact_shares_after_100(weights):
    *_, (_, counts) = simulate(weights, 100)
    assert counts == weights


def test_rotation_weighted_counts_stay_within_one_of_share_every_step():
    weights = (50, 30, 20)
    for n, (_, counts) in enumerate(simulate(weights, 300), start=1):
        for count, weight in zip(counts, weights, strict=True):
            assert abs(count - weight * n / 100) <= 1


def test_rotation_skipped_member_keeps_turn():
    # The last-listed member is paused exactly when due; back at the next pick, they go first.
    order = [i for i, _ in simulate((1, 1, 1), 6, paused=lambda step, i: i == 2 and step == 2)]
    assert order == [0, 1, 0, 2, 1, 2]


def test_rotation_returner_after_long_pause_takes_one_turn_then_rotation_is_even():
    steps = list(simulate((1, 1, 1), 40, paused=lambda step, i: i == 2 and step < 10))
    order = [i for i, _ in steps]
    assert order[:10] == [0, 1] * 5
    assert order[10] == 2  # back from the pause: next pick is theirs
    assert steps[10][1] == (5, 5, 5)  # ...but only one catch-up turn, not ten
    assert order[11:20] == [0, 1, 2] * 3
    longest = max(len(list(run)) for _, run in itertools.groupby(order[10:]))
    assert longest == 1


@pytest.mark.parametrize("who", [0, 1, 2])
def test_rotation_returner_never_gets_three_in_a_row(who):
    order = [i for i, _ in simulate((1, 1, 1), 60, paused=lambda step, i: i == who and step < 31)]
    assert order[31] == who
    assert max(len(list(run)) for _, run in itertools.groupby(order[31:])) <= 2


def test_pick_round_robin_count_lifts_returner_to_one_behind_others():
    candidates = (member(1), member(2), member(3, position=9))
    chosen, count = pick_round_robin(candidates, {1: 5, 2: 6, 3: 0})
    assert (chosen.membership_id, count) == (3, 5)


def test_pick_round_robin_count_is_count_plus_one_in_normal_rotation():
    candidates = (member(1), member(2), member(3))
    chosen, count = pick_round_robin(candidates, {1: 3, 2: 2, 3: 3})
    assert (chosen.membership_id, count) == (2, 3)


@pytest.mark.parametrize("method", [ROUND_ROBIN, NEXT_UP])
def test_distribute_reads_counts_of_the_sources_rotation_only(method):
    candidates = (member(1), member(2), member(3, position=9))
    counts = Live(counts={1: {1: 9, 2: 9}, 5: {1: 5, 2: 6, 3: 0}})
    dist = distribute(rule(method=method, candidates=candidates, rotation_id=5), MON_14, counts)
    assert (dist.member_id, dist.count) == (3, 5)
    assert counts.counts == {1: {1: 9, 2: 9}, 5: {1: 5, 2: 6, 3: 0}}  # decides, never writes


@pytest.mark.parametrize(
    ("candidates", "counts", "chosen"),
    [
        pytest.param(
            (member(1, position=2), member(2, position=1)), {}, 2, id="position-tie-break"
        ),
        pytest.param((member(5, position=0), member(3, position=0)), {}, 3, id="id-tie-break"),
        pytest.param((member(1), member(2)), {1: 1, 2: 0}, 2, id="lowest-count"),
        pytest.param((member(1), member(2)), {1: 1}, 2, id="missing-count-is-zero"),
        # m1 weight 3 with 2 turns scores 1; m2 weight 1 with 0 turns scores 1; m1 listed first.
        pytest.param((member(1, weight=3), member(2)), {1: 2, 2: 0}, 1, id="weighted-score"),
        pytest.param((member(1, weight=3), member(2)), {1: 3, 2: 0}, 2, id="weighted-over"),
        pytest.param((member(1, weight=0), member(2)), {2: 1}, 1, id="zero-weight-as-one"),
    ],
)
def test_pick_round_robin_choice_table(candidates, counts, chosen):
    assert pick_round_robin(candidates, counts)[0].membership_id == chosen
    dist = distribute(rule(candidates=candidates), MON_14, live(counts))
    assert dist.member_id == chosen


def test_pick_round_robin_single_member_counts_up():
    assert pick_round_robin((member(4),), {4: 7}) == (member(4), 8)


def test_pick_round_robin_needs_someone():
    with pytest.raises(ValueError, match="at least one"):
        pick_round_robin((), {})


def test_distribute_reports_every_unavailable_candidate_in_listed_order():
    candidates = (
        member(1, paused=True),
        member(2),
        member(3, is_active=False),
        member(4),
        member(5),
    )
    source = rule(method=NEXT_UP, candidates=candidates)
    dist = distribute(source, MON_14, Live(), lapsed={4})
    assert dist.member_id == 2
    eligible, _ = screen(source, MON_14, Live(), lapsed={4})
    assert [c.membership_id for c in eligible] == [2, 5]
    assert dist.available == 2
    # Available members who were not picked are counted, not listed (NOT_TURN is gone).
    assert dist.skipped == (
        Skip(1, "m1", SkipReason.PAUSED),
        Skip(3, "m3", SkipReason.INACTIVE),
        Skip(4, "m4", SkipReason.ALREADY_OFFERED),
    )


def test_distribute_unavailable_reason_beats_already_offered():
    dist = distribute(rule(candidates=(member(1, paused=True),)), MON_14, Live(), lapsed={1})
    assert dist.skipped == (Skip(1, "m1", SkipReason.PAUSED),)


@pytest.mark.parametrize("method", [ROUND_ROBIN, NEXT_UP, LEAST_OPEN])
def test_distribute_nobody_eligible(method):
    candidates = (member(1, paused=True), member(2))
    dist = distribute(rule(method=method, candidates=candidates), MON_14, Live(), lapsed={2})
    assert (dist.member_id, dist.recipients, dist.count, dist.available) == (None, (), None, 0)
    assert dist.nobody
    assert dist.waiting  # m1 is only paused: a holding rule would wait for them
    assert [s.reason for s in dist.skipped] == [SkipReason.PAUSED, SkipReason.ALREADY_OFFERED]


@pytest.mark.parametrize(
    ("busy", "lapsed"), [({"paused": True}, ()), ({}, {1})], ids=["paused", "excluded"]
)
def test_distribute_floor_ignores_ineligible_members(busy, lapsed):
    # Only members who could take this contact set the level a returner is lifted to.
    candidates = (member(1, **busy), member(2))
    dist = distribute(
        rule(method=NEXT_UP, candidates=candidates),
        MON_14,
        live({1: 50, 2: 0}),
        lapsed=set(lapsed),
    )
    assert (dist.member_id, dist.count) == (2, 1)


def test_distribute_rejects_unknown_method():
    with pytest.raises(ValueError, match="bogus"):
        distribute(rule(method="bogus", candidates=(member(1),)), MON_14, Live())


def test_distribute_blast_picks_no_single_member():
    # The old pick_next refused Blast Alert; distribute answers it with recipients instead.
    dist = distribute(rule(method=BLAST, candidates=(member(1), member(2))), MON_14, Live())
    assert (dist.member_id, dist.count, dist.recipients) == (None, None, (1, 2))


# --- least open --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidates", "open_contacts", "last_assigned", "counts", "chosen"),
    [
        pytest.param((member(1), member(2)), {1: 3, 2: 1}, {}, {}, 2, id="fewest"),
        pytest.param(
            (member(1), member(2)),
            {1: 2, 2: 2},
            {1: at(2, 9), 2: at(2, 8)},
            {},
            2,
            id="tie-waited-longest",
        ),
        pytest.param(
            (member(1), member(2)),
            {1: 2, 2: 2},
            {1: at(2, 8)},
            {},
            2,
            id="tie-never-assigned-first",
        ),
        pytest.param(
            (member(1, position=5), member(2)), {1: 2, 2: 2}, {}, {}, 2, id="tie-position"
        ),
        pytest.param(
            (member(1, capacity=0), member(2)), {1: 0, 2: 7}, {}, {}, 2, id="skips-at-capacity"
        ),
        pytest.param((member(1), member(2)), {1: 0, 2: 1}, {}, {1: 99}, 1, id="count-ignored"),
        pytest.param((member(1), member(2)), {2: 1}, {}, {}, 1, id="missing-open-is-zero"),
    ],
)
def test_distribute_least_open_table(candidates, open_contacts, last_assigned, counts, chosen):
    state = live(counts, open_contacts=open_contacts, last_assigned=last_assigned)
    dist = distribute(rule(method=LEAST_OPEN, candidates=candidates), MON_14, state)
    assert dist.member_id == chosen


def test_pick_least_open_ties_and_never_assigned():
    never = datetime.min.replace(tzinfo=UTC)
    candidates = (member(1), member(2), member(3, position=0))
    assert pick_least_open(candidates, {1: 1, 2: 1, 3: 2}, {1: at(2, 9)}, never) is candidates[1]
    assert pick_least_open(candidates, {}, {}, never) is candidates[2]  # position 0 first


def test_distribute_least_open_count_and_skips():
    state = live({1: 4}, open_contacts={1: 1, 2: 2})
    dist = distribute(rule(method=LEAST_OPEN, candidates=(member(1), member(2))), MON_14, state)
    assert (dist.member_id, dist.count) == (1, 5)
    assert (dist.skipped, dist.available) == ((), 2)


# --- assign directly ---------------------------------------------------------------------------


def test_distribute_assign_directly_ignores_availability():
    candidates = (member(1), member(2, paused=True, is_online=False, capacity=0))
    dist = distribute(
        rule(method=ASSIGN_DIRECTLY, candidates=candidates, direct_assignee_id=2, only_online=True),
        MON_14,
        live({2: 2}, open_contacts={2: 0}),
        lapsed={2},
    )
    # The assignee is chosen whatever their availability. Assign directly takes no turn in a
    # rotation (the old pick_next computed count + 1, but routing never stored it): count None.
    assert (dist.member_id, dist.count, dist.available) == (2, None, 1)
    assert dist.skipped == ()


@pytest.mark.parametrize("assignee", [None, 3])
def test_distribute_assign_directly_without_assignee_chooses_nobody(assignee):
    r = rule(method=ASSIGN_DIRECTLY, candidates=(member(1),), direct_assignee_id=assignee)
    dist = distribute(r, MON_14, Live())
    assert (dist.member_id, dist.available, dist.count) == (None, 0, None)
    assert dist.nobody
    assert not dist.waiting


def test_distribute_assign_directly_not_to_a_deactivated_member():
    r = rule(method=ASSIGN_DIRECTLY, candidates=(member(1, is_active=False),), direct_assignee_id=1)
    assert distribute(r, MON_14, Live()).nobody


def test_route_default_rule_assign_directly():
    default = rule(
        99,
        ASSIGN_DIRECTLY,
        is_default=True,
        candidates=(member(1), member(2, paused=True)),
        direct_assignee_id=2,
    )
    decision = engine.route(team([staffed(1, criteria=MATCH_WEB), default]), ZILLOW, MON_14, Live())
    assert (decision.action, decision.source, decision.member_id, decision.count) == (
        ASSIGN,
        default,
        2,
        None,
    )
    assert decision.how == "assigned directly by the default rule"
    assert decision.reason == "assigned to m2: assigned directly by the default rule"
    assert not decision.uses_rotation


# --- blast -------------------------------------------------------------------------------------


def test_distribute_blast_notifies_all_eligible_at_once():
    candidates = (
        member(1, weight=90),
        member(2, is_online=False),
        member(3, capacity=4),
        member(4, weight=1),
    )
    dist = distribute(
        rule(method=BLAST, candidates=candidates, only_online=True),
        MON_14,
        live(open_contacts={3: 4}),
    )
    assert dist.member_id is None
    assert dist.recipients == (1, 4)
    assert dist.available == 2
    assert dist.skipped == (
        Skip(2, "m2", SkipReason.OFFLINE),
        Skip(3, "m3", SkipReason.OVER_CAPACITY),
    )


def test_distribute_blast_nobody_available():
    dist = distribute(rule(method=BLAST, candidates=(member(1, is_active=False),)), MON_14, Live())
    assert (dist.recipients, dist.skipped) == ((), (Skip(1, "m1", SkipReason.INACTIVE),))
    assert dist.nobody
    assert not dist.waiting  # deactivated is not coming back


# --- default rule pool -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "remaining"),
    [
        (NEXT_UP, [3, 5]),
        (BLAST, [3, 5]),
        (ROUND_ROBIN, [3, 5]),
        (LEAST_OPEN, [3, 5]),
        (ASSIGN_DIRECTLY, [1, 2, 3, 4, 5]),
    ],
)
def test_default_rule_pool_excludes_members_of_earlier_rules(method, remaining):
    default = rule(99, method, is_default=True, candidates=tuple(member(i) for i in range(1, 6)))
    earlier = [
        rule(1, candidates=(member(1), member(2))),
        rule(2, is_paused=True, candidates=(member(4),)),  # paused rules still "hold" members
        rule(3),
    ]
    pool = default_rule_pool(default, earlier)
    assert [c.membership_id for c in pool.candidates] == remaining
    assert (pool.id, pool.method, pool.is_default) == (99, method, True)
    assert pool.rotation_id == default.rotation_id
    # The team computes the same pool.
    assert team([*earlier, default]).default_pool == pool


def test_default_rule_pool_ignores_the_default_rule_itself():
    default = rule(99, NEXT_UP, is_default=True, candidates=(member(1), member(2)))
    pool = default_rule_pool(default, [default, rule(1, candidates=(member(2),))])
    assert [c.membership_id for c in pool.candidates] == [1]


def test_default_rule_pool_may_end_empty():
    default = rule(99, BLAST, is_default=True, candidates=(member(1),))
    assert default_rule_pool(default, [rule(1, candidates=(member(1),))]).candidates == ()


def test_team_without_default_rule_has_no_pool():
    assert team([staffed(1)]).default_pool is None


# --- offers ------------------------------------------------------------------------------------
# offer_deadline is gone: an offer's deadline is the decision's, now + the claim window.


@pytest.mark.parametrize("method", [NEXT_UP, BLAST])
@pytest.mark.parametrize(("minutes", "deadline"), [(15, at(2, 14, 15)), (1, at(2, 14, 1))])
def test_offer_deadline_adds_claim_window(method, minutes, deadline):
    source = staffed(1, method, claim_window=timedelta(minutes=minutes))
    decision = engine.route(team([source], plan="premier"), ZILLOW, MON_14, Live())
    assert (decision.action, decision.deadline) == (OFFER, deadline)
    assert decision.reason == f"{engine.METHOD_LABELS[method]} offer to m1, {minutes} min to claim"


def test_assignment_has_no_deadline():
    decision = engine.route(team([staffed(1)]), ZILLOW, MON_14, Live())
    assert (decision.action, decision.deadline) == (ASSIGN, None)


def test_owner_fallback_through_route():
    rules = [staffed(1, criteria=MATCH_WEB), rule(99, is_default=True)]
    decision = engine.route(team(rules, owner=7), ZILLOW, MON_14, Live())
    assert (decision.action, decision.member_id, decision.source) == (ASSIGN, 7, None)
    assert (decision.how, decision.count) == (OWNER_HOW, None)
    assert trail(decision) == [(1, NOT_MATCHED), (99, FELL_THROUGH)]
