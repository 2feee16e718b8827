"""The one decision function and the rotation behind it: properties and tables.

- pick_round_robin (integer, one pass) makes exactly the picks of the old O(n^2)
  Fraction-based rotation, kept here verbatim as the reference oracle;
- the fairness guarantees hold through repeated decisions (route + advance);
- route / reassign / reachable, one table per kind of decision.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from fractions import Fraction
from math import floor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.engine import (
    ASSIGN,
    ASSIGN_DIRECTLY,
    BLAST,
    FELL_THROUGH,
    GROUP,
    HELD,
    HOLD,
    LEAST_OPEN,
    MATCHED,
    NEXT_UP,
    NOBODY,
    NOT_MATCHED,
    OFFER,
    OWNER_HOW,
    ROUND_ROBIN,
    RULE,
    SKIPPED,
    Candidate,
    ContactFacts,
    Criteria,
    Live,
    Skip,
    SkipReason,
    Source,
    TeamRules,
    WorkingHours,
    advance,
    pick_round_robin,
    reachable,
    reassign,
    route,
)

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a Monday
ZILLOW = ContactFacts(source="Zillow", created_at=NOW)
MATCH_ZILLOW = Criteria(sources=("zillow",))
MATCH_WEB = Criteria(sources=("website",))
SATURDAYS = WorkingHours(frozenset({5}), time(0), time(0), "UTC")
HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)


def member(mid: int, **kwargs) -> Candidate:
    kwargs.setdefault("position", mid)
    return Candidate(membership_id=mid, name=f"m{mid}", **kwargs)


def members(*ids: int, **kwargs) -> tuple[Candidate, ...]:
    return tuple(member(i, **kwargs) for i in ids)


def rule(rid: int, method: str = ROUND_ROBIN, *ids: int, **kwargs) -> Source:
    """Rule `rid` (rotation id = rid) with members `ids`, unless candidates are given."""
    kwargs.setdefault("position", rid)
    kwargs.setdefault("rotation_id", rid)
    kwargs.setdefault("candidates", members(*ids))
    return Source(kind=RULE, id=rid, name=f"rule {rid}", method=method, **kwargs)


def default(method: str = ROUND_ROBIN, *ids: int, **kwargs) -> Source:
    return rule(99, method, *ids, position=0, is_default=True, **kwargs)


def group(method: str = ROUND_ROBIN, *ids: int, **kwargs) -> Source:
    kwargs.setdefault("candidates", members(*ids))
    return Source(kind=GROUP, id=50, name="ISA", method=method, rotation_id=50, **kwargs)


def team(rules, *, plan: str = "premier", owner: int | None = None, extra=()) -> TeamRules:
    names = {c.membership_id: c.name for r in rules for c in r.candidates}
    names |= {i: f"m{i}" for i in extra}
    if owner is not None:
        names[owner] = "Owner"
    return TeamRules(plan=plan, rules=tuple(rules), owner_id=owner, names=names)


def counts(rotation: int, **by_member: int) -> Live:
    """Live(counts) from m1=…, m2=… keywords."""
    return Live(counts={rotation: {int(k[1:]): v for k, v in by_member.items()}})


# --- the reference oracle: the old rotation, verbatim -------------------------------------------
# From `git show HEAD~1:routing/engine.py` (_weight, _effective_count and the Round Robin /
# Next Up part of pick_next), over the old Candidate shape that carried its own count.


@dataclass(frozen=True)
class OldCandidate:
    membership_id: int
    position: int = 0
    weight: int = 1
    count: int = 0


def _weight(c: OldCandidate) -> int:
    return max(c.weight, 1)  # the database enforces >= 1; never divide by zero if it slips


def _effective_count(c: OldCandidate, others: list[OldCandidate]) -> int:
    if not others:
        return c.count
    level = min(Fraction(o.count, _weight(o)) for o in others)
    return max(c.count, floor(level * _weight(c)) - 1)


def old_pick_next(eligible: list[OldCandidate]) -> tuple[OldCandidate, int]:
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
    return chosen, effective[chosen.membership_id] + 1


def oracle(eligible, turns: dict[int, int]) -> tuple[int, int]:
    """The old pick for new-style candidates and a count mapping: (member id, new count)."""
    old = [
        OldCandidate(c.membership_id, c.position, c.weight, turns.get(c.membership_id, 0))
        for c in eligible
    ]
    chosen, count = old_pick_next(old)
    return chosen.membership_id, count


# --- 1. pick_round_robin == the old rotation ---------------------------------------------------


@st.composite
def rotation_states(draw):
    """1..40 members: weights 1..100, counts 0..50 (or around one common level, where the
    returner floor and ties matter), repeated positions (ties then break on the id), some
    members with no count at all, listed in any order."""
    n = draw(st.integers(1, 40))
    ids = draw(st.permutations(range(1, n + 1)))
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(1, 100),  # weight
                st.integers(0, 50),  # count
                st.integers(-2, 1),  # offset from the common level
                st.integers(0, n),  # position
                st.booleans(),  # a zero count is missing from the mapping
            ),
            min_size=n,
            max_size=n,
        )
    )
    level = draw(st.none() | st.fractions(min_value=0, max_value=1, max_denominator=200))
    candidates, mapping = [], {}
    for mid, (weight, count, offset, position, missing) in zip(ids, rows, strict=True):
        if level is not None:
            count = min(50, max(0, floor(level * weight) + offset))
        candidates.append(Candidate(mid * 7, f"m{mid}", position=position, weight=weight))
        if count or not missing:
            mapping[mid * 7] = count
    return candidates, mapping


@settings(max_examples=3000, deadline=None)
@given(rotation_states())
def test_pick_round_robin_matches_the_old_fraction_rotation(state):
    candidates, turns = state
    chosen, count = pick_round_robin(candidates, turns)
    assert (chosen.membership_id, count) == oracle(candidates, turns)
    # The listed order does not matter: position, then id, break ties.
    again, again_count = pick_round_robin(candidates[::-1], turns)
    assert (again.membership_id, again_count) == (chosen.membership_id, count)


def test_oracle_reproduces_the_old_tables():
    # Sanity of the oracle itself against the old engine's own table tests.
    assert oracle(members(1, 2, 3), {1: 5, 2: 6, 3: 0}) == (3, 5)
    assert oracle(members(1, 2, 3), {1: 3, 2: 2, 3: 3}) == (2, 3)
    assert oracle((member(1, weight=3), member(2)), {1: 2}) == (1, 3)
    assert oracle((member(1, weight=3), member(2)), {1: 3}) == (2, 1)


# --- 2. fairness through repeated decisions ----------------------------------------------------


def weighted_team(weights, *, method: str = ROUND_ROBIN, away=frozenset()) -> TeamRules:
    """One rule, members m1.. at positions 0.. with these weights; `away`: paused indexes."""
    candidates = tuple(
        member(i + 1, position=i, weight=w, paused=i in away) for i, w in enumerate(weights)
    )
    return team([rule(1, method, candidates=candidates)], plan="pro")


def decide_turns(weights, turns: int, *, method=ROUND_ROBIN, away=lambda step: frozenset()):
    """Route `turns` contacts one after another against one Live, checking every pick (and
    the count it stores) against the oracle; yield (chosen member id, the Live after it)."""
    state = Live()
    for step in range(turns):
        absent = away(step)
        rules = weighted_team(weights, method=method, away=absent)
        eligible = [c for c in rules.rules[0].candidates if c.position not in absent]
        expected = oracle(eligible, dict(state.counts.get(1, {})))
        decision = route(rules, ZILLOW, NOW, state)
        assert decision.source.id == 1
        assert (decision.member_id, decision.count) == expected
        advance(state, decision, NOW)
        yield decision.member_id, state


@pytest.mark.parametrize("method", [ROUND_ROBIN, NEXT_UP])
@pytest.mark.parametrize(
    ("weights", "per_cycle"),
    [
        ((70, 20, 10), (7, 2, 1)),
        ((50, 30, 20), (5, 3, 2)),
        ((3, 1), (3, 1)),
        ((1, 1, 1), (1, 1, 1)),
    ],
)
def test_weighted_shares_exact_over_every_full_cycle(method, weights, per_cycle):
    cycle = sum(per_cycle)
    picks = [mid for mid, _ in decide_turns(weights, cycle * 12, method=method)]
    for start in range(0, len(picks), cycle):
        block = picks[start : start + cycle]
        assert tuple(block.count(i + 1) for i in range(len(weights))) == per_cycle


@settings(max_examples=300, deadline=None)
@given(
    weights=st.lists(st.integers(1, 12), min_size=1, max_size=6),
    cycles=st.integers(1, 3),
)
def test_counts_after_whole_cycles_equal_cycles_times_weight(weights, cycles):
    total = sum(weights)
    for turn, (_, state) in enumerate(decide_turns(tuple(weights), total * cycles), start=1):
        if turn % total == 0:
            k = turn // total
            assert [state.count(1, i + 1) for i in range(len(weights))] == [k * w for w in weights]
        # Between whole cycles nobody is ever more than one turn ahead of anyone:
        # k_i / w_i <= (k_j + 1) / w_j for every pair.
        k = [state.count(1, i + 1) for i in range(len(weights))]
        for (ki, wi), (kj, wj) in itertools.permutations(zip(k, weights, strict=True), 2):
            assert ki * wj <= (kj + 1) * wi


@settings(max_examples=400, deadline=None)
@given(
    weights=st.one_of(
        st.lists(st.integers(1, 10), min_size=2, max_size=6),
        st.integers(2, 6).map(lambda n: [1] * n),
    ),
    data=st.data(),
)
def test_returner_is_at_most_one_turn_ahead_after_an_absence(weights, data):
    n = len(weights)
    who = data.draw(st.integers(0, n - 1), label="absent member")
    start = data.draw(st.integers(0, 20), label="absence starts")
    length = data.draw(st.integers(1, 60), label="turns away")
    back = start + length
    after = 3 * sum(weights)

    def away(step):
        return frozenset({who}) if start <= step < back else frozenset()

    r = who + 1
    for step, (chosen, state) in enumerate(decide_turns(tuple(weights), back + after, away=away)):
        if step < back:
            if step >= start:
                assert chosen != r  # skipped while unavailable
            continue
        k = {i + 1: state.count(1, i + 1) for i in range(n)}
        for j in range(1, n + 1):
            if j != r:
                # k_r / w_r <= (k_j + 1) / w_j: never more than one turn ahead of anyone.
                assert k[r] * weights[j - 1] <= (k[j] + 1) * weights[r - 1]


@pytest.mark.parametrize("turns_away", [2, 5, 30])
def test_returner_equal_weights_one_catch_up_turn_then_even(turns_away):
    # Three members; m3 is away for the first `turns_away` contacts.
    picks = []

    def away(step):
        return frozenset({2} if step < turns_away else ())

    for step, (chosen, state) in enumerate(decide_turns((1, 1, 1), turns_away + 30, away=away)):
        picks.append(chosen)
        if step >= turns_away:
            assert state.count(1, 3) <= min(state.count(1, 1), state.count(1, 2)) + 1
    assert 3 not in picks[:turns_away]
    assert picks[turns_away] == 3  # back: the next contact is theirs


# --- 3. route: every method through the one decision function ----------------------------------


def summary(d) -> dict:
    return {
        "action": d.action,
        "source": d.source.id if d.source else None,
        "member": d.member_id,
        "recipients": d.recipients,
        "kind": d.offer_kind,
        "deadline": d.deadline,
        "hold_until": d.hold_until,
        "count": d.count,
        "steps": [(s.source_id, s.outcome) for s in d.steps],
    }


def expect(
    action,
    source,
    member=None,
    *,
    steps,
    recipients=(),
    kind="",
    deadline=None,
    hold_until=None,
    count=None,
) -> dict:
    return {
        "action": action,
        "source": source,
        "member": member,
        "recipients": recipients,
        "kind": kind,
        "deadline": deadline,
        "hold_until": hold_until,
        "count": count,
        "steps": steps,
    }


PAUSED_TWO = members(1, 2, paused=True)
HOLDING = rule(1, ROUND_ROBIN, candidates=PAUSED_TWO, hold=True, hold_max=HOUR)

ROUTE_CASES = [
    # assign --------------------------------------------------------------------------------
    pytest.param(
        [rule(1, ROUND_ROBIN, 1, 2, 3), default(ROUND_ROBIN, 9)],
        counts(1, m1=1, m3=1),
        {},
        expect(ASSIGN, 1, 2, count=1, steps=[(1, MATCHED)]),
        id="round-robin-assigns-the-one-due",
    ),
    pytest.param(
        [rule(1, LEAST_OPEN, 1, 2, 3), default(ROUND_ROBIN, 9)],
        Live(counts={1: {2: 4}}, open_contacts={1: 2, 2: 1, 3: 3}),
        {},
        expect(ASSIGN, 1, 2, count=5, steps=[(1, MATCHED)]),
        id="least-open-assigns-the-least-busy",
    ),
    pytest.param(
        [
            rule(1, ROUND_ROBIN, 1, criteria=MATCH_WEB),
            default(ASSIGN_DIRECTLY, 1, 2, direct_assignee_id=1),
        ],
        Live(),
        {},
        expect(ASSIGN, 99, 1, steps=[(1, NOT_MATCHED), (99, MATCHED)]),
        id="assign-directly-in-the-default-rule",
    ),
    # offer ---------------------------------------------------------------------------------
    pytest.param(
        [rule(1, NEXT_UP, 1, 2), default(ROUND_ROBIN, 9)],
        counts(1, m1=1),
        {},
        expect(
            OFFER,
            1,
            2,
            recipients=(2,),
            kind=NEXT_UP,
            deadline=NOW + 15 * MIN,
            count=1,
            steps=[(1, MATCHED)],
        ),
        id="next-up-offers-with-deadline",
    ),
    pytest.param(
        [
            rule(
                1,
                BLAST,
                candidates=(member(1), member(2, paused=True), member(3)),
                claim_window=5 * MIN,
            ),
            default(ROUND_ROBIN, 9),
        ],
        Live(),
        {},
        expect(
            OFFER,
            1,
            None,
            recipients=(1, 3),
            kind=BLAST,
            deadline=NOW + 5 * MIN,
            steps=[(1, MATCHED)],
        ),
        id="blast-offers-to-every-eligible",
    ),
    # hold ----------------------------------------------------------------------------------
    pytest.param(
        [HOLDING, default(ROUND_ROBIN, 9)],
        Live(),
        {},
        expect(HOLD, 1, hold_until=NOW + HOUR, steps=[(1, HELD)]),
        id="hold-while-everyone-is-away-for-now",
    ),
    pytest.param(
        [HOLDING, default(ROUND_ROBIN, 9)],
        Live(),
        {"resume": 1, "held_since": NOW - 20 * MIN},
        expect(HOLD, 1, hold_until=NOW + 40 * MIN, steps=[(1, HELD)]),
        id="still-held-counts-from-held-since",
    ),
    pytest.param(
        [HOLDING, default(ROUND_ROBIN, 9)],
        Live(),
        {"held_since": NOW - 20 * MIN},
        expect(HOLD, 1, hold_until=NOW + HOUR, steps=[(1, HELD)]),
        id="held-since-only-counts-in-the-resumed-rule",
    ),
    pytest.param(
        [HOLDING, default(ROUND_ROBIN, 9)],
        Live(),
        {"resume": 1, "held_since": NOW - HOUR},
        expect(ASSIGN, 99, 9, count=1, steps=[(1, FELL_THROUGH), (99, MATCHED)]),
        id="hold-max-reached-falls-through",
    ),
    pytest.param(
        [HOLDING, default(ROUND_ROBIN, 9)],
        Live(),
        {"resume": 1, "held_since": NOW - 3 * HOUR},
        expect(ASSIGN, 99, 9, count=1, steps=[(1, FELL_THROUGH), (99, MATCHED)]),
        id="hold-max-long-past-falls-through",
    ),
    pytest.param(
        [
            rule(1, ROUND_ROBIN, candidates=members(1, 2, is_active=False), hold=True),
            default(ROUND_ROBIN, 9),
        ],
        Live(),
        {},
        expect(ASSIGN, 99, 9, count=1, steps=[(1, FELL_THROUGH), (99, MATCHED)]),
        id="inactive-only-never-holds",
    ),
    pytest.param(
        [rule(1, NEXT_UP, 1, 2, hold=True), default(ROUND_ROBIN, 9)],
        Live(),
        {"lapsed": {1, 2}},
        expect(ASSIGN, 99, 9, count=1, steps=[(1, FELL_THROUGH), (99, MATCHED)]),
        id="lapsed-only-never-holds",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 1, 2, hold=True), default(ROUND_ROBIN, 9)],
        Live(),
        {},
        expect(ASSIGN, 1, 1, count=1, steps=[(1, MATCHED)]),
        id="hold-rule-with-someone-available-assigns",
    ),
    pytest.param(
        [
            rule(
                1,
                ROUND_ROBIN,
                candidates=(member(1, is_active=False), member(2, paused=True)),
                hold=True,
            ),
            default(ROUND_ROBIN, 9),
        ],
        Live(),
        {},
        expect(HOLD, 1, hold_until=NOW + HOUR, steps=[(1, HELD)]),
        id="one-temporarily-away-is-enough-to-hold",
    ),
    pytest.param(
        [
            rule(1, ROUND_ROBIN, candidates=(member(1, capacity=1),), hold=True, hold_max=10 * MIN),
            default(ROUND_ROBIN, 9),
        ],
        Live(open_contacts={1: 1}),
        {},
        expect(HOLD, 1, hold_until=NOW + 10 * MIN, steps=[(1, HELD)]),
        id="hold-for-someone-at-capacity",
    ),
    pytest.param(
        [
            dataclasses.replace(HOLDING, criteria=Criteria(working_hours=SATURDAYS)),
            default(ROUND_ROBIN, 9),
        ],
        Live(),
        {},
        expect(ASSIGN, 99, 9, count=1, steps=[(1, NOT_MATCHED), (99, MATCHED)]),
        id="outside-its-own-working-hours-never-holds",
    ),
    pytest.param(
        [dataclasses.replace(HOLDING, hold=False), default(ROUND_ROBIN, 9)],
        Live(),
        {},
        expect(ASSIGN, 99, 9, count=1, steps=[(1, FELL_THROUGH), (99, MATCHED)]),
        id="no-hold-falls-through",
    ),
    pytest.param(
        [default(ROUND_ROBIN, candidates=PAUSED_TWO, hold=True, hold_max=HOUR)],
        Live(),
        {},
        expect(HOLD, 99, hold_until=NOW + HOUR, steps=[(99, HELD)]),
        id="the-default-rule-may-hold-too",
    ),
    # resume --------------------------------------------------------------------------------
    pytest.param(
        [rule(1, ROUND_ROBIN, 1), rule(2, NEXT_UP, 2, 3, is_paused=True), default(ROUND_ROBIN, 9)],
        Live(),
        {"resume": 2},
        expect(
            OFFER,
            2,
            2,
            recipients=(2,),
            kind=NEXT_UP,
            deadline=NOW + 15 * MIN,
            count=1,
            steps=[(2, MATCHED)],
        ),
        id="resume-continues-in-a-paused-rule",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 1), rule(2, NEXT_UP, 2, 3, position=9), default(ROUND_ROBIN, 9)],
        Live(),
        {"resume": 2},
        expect(
            OFFER,
            2,
            2,
            recipients=(2,),
            kind=NEXT_UP,
            deadline=NOW + 15 * MIN,
            count=1,
            steps=[(2, MATCHED)],
        ),
        id="resume-beats-the-rule-order",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 1), rule(2, NEXT_UP, 2, 3, position=9), default(ROUND_ROBIN, 9)],
        counts(2, m2=0, m3=4),
        {"resume": 2, "lapsed": {2}},
        expect(
            OFFER,
            2,
            3,
            recipients=(3,),
            kind=NEXT_UP,
            deadline=NOW + 15 * MIN,
            count=5,
            steps=[(2, MATCHED)],
        ),
        id="resume-excludes-lapsed-members",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 1), rule(2, NEXT_UP, 2, 3, position=9), default(ROUND_ROBIN, 9)],
        Live(),
        {"resume": 2, "lapsed": {2, 3}},
        expect(ASSIGN, 1, 1, count=1, steps=[(2, FELL_THROUGH), (1, MATCHED)]),
        id="resume-everyone-lapsed-moves-on",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 1, 4), rule(2, NEXT_UP, 1, position=0), default(ROUND_ROBIN, 9)],
        counts(1, m1=0, m4=7),
        {"resume": 2, "lapsed": {1}},
        expect(ASSIGN, 1, 4, count=8, steps=[(2, FELL_THROUGH), (1, MATCHED)]),
        id="lapsed-excluded-in-later-rules-too",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 1), rule(2, NEXT_UP, 2), default(ROUND_ROBIN, 9)],
        Live(),
        {"resume": 2, "plan": "basic"},
        expect(ASSIGN, 1, 1, count=1, steps=[(2, SKIPPED), (1, MATCHED)]),
        id="resume-in-a-rule-outside-the-plan-moves-on",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 1), default(ROUND_ROBIN, 9)],
        Live(),
        {"resume": 12345},
        expect(ASSIGN, 1, 1, count=1, steps=[(1, MATCHED)]),
        id="resume-in-a-deleted-rule-routes-normally",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 1, criteria=MATCH_WEB), default(NEXT_UP, 1, 2, 3)],
        counts(99, m1=0, m2=3, m3=3),
        {"resume": 99, "lapsed": {2}},
        expect(
            OFFER,
            99,
            3,
            recipients=(3,),
            kind=NEXT_UP,
            deadline=NOW + 15 * MIN,
            count=4,
            steps=[(99, MATCHED)],
        ),
        id="resume-in-the-default-rule-uses-its-pool",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 1, criteria=MATCH_WEB), default(NEXT_UP, 2)],
        Live(),
        {"resume": 99, "lapsed": {2}},
        expect(ASSIGN, None, 7, steps=[(99, FELL_THROUGH), (1, NOT_MATCHED)]),
        id="resume-default-everyone-lapsed-goes-to-owner",
    ),
    # default rule pool ---------------------------------------------------------------------
    pytest.param(
        [
            rule(1, ROUND_ROBIN, 1, is_paused=True),
            rule(2, ROUND_ROBIN, 2, criteria=MATCH_WEB),
            default(NEXT_UP, 1, 2, 3, 4),
        ],
        counts(99, m1=0, m2=0, m3=5, m4=5),
        {},
        expect(
            OFFER,
            99,
            3,
            recipients=(3,),
            kind=NEXT_UP,
            deadline=NOW + 15 * MIN,
            count=6,
            steps=[(1, SKIPPED), (2, NOT_MATCHED), (99, MATCHED)],
        ),
        id="default-pool-only-members-in-no-earlier-rule",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 1, is_paused=True), default(BLAST, 1, 2, 3)],
        Live(),
        {},
        expect(
            OFFER,
            99,
            None,
            recipients=(2, 3),
            kind=BLAST,
            deadline=NOW + 15 * MIN,
            steps=[(1, SKIPPED), (99, MATCHED)],
        ),
        id="default-blast-pool",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 1), default(ROUND_ROBIN, 1)],
        Live(),
        {"tried": {1}},
        expect(ASSIGN, None, 7, steps=[(1, SKIPPED), (99, FELL_THROUGH)]),
        id="default-pool-empty-falls-to-owner",
    ),
    # plan gating ---------------------------------------------------------------------------
    pytest.param(
        [rule(1, BLAST, 1), rule(2, NEXT_UP, 2), rule(3, LEAST_OPEN, 3), default(ROUND_ROBIN, 9)],
        Live(),
        {"plan": "basic"},
        expect(ASSIGN, 3, 3, count=1, steps=[(1, SKIPPED), (2, SKIPPED), (3, MATCHED)]),
        id="basic-plan-skips-next-up-and-blast",
    ),
    pytest.param(
        [rule(1, BLAST, 1), rule(2, NEXT_UP, 2), default(ROUND_ROBIN, 9)],
        Live(),
        {"plan": "pro"},
        expect(
            OFFER,
            2,
            2,
            recipients=(2,),
            kind=NEXT_UP,
            deadline=NOW + 15 * MIN,
            count=1,
            steps=[(1, SKIPPED), (2, MATCHED)],
        ),
        id="pro-plan-skips-blast",
    ),
    pytest.param(
        [default(NEXT_UP, 9)],
        Live(),
        {"plan": "basic"},
        expect(ASSIGN, None, 7, steps=[(99, SKIPPED)]),
        id="default-rule-outside-the-plan-goes-to-owner",
    ),
    # owner / nobody ------------------------------------------------------------------------
    pytest.param(
        [rule(1, ROUND_ROBIN, candidates=PAUSED_TWO), default(ROUND_ROBIN, 1, 2)],
        Live(),
        {},
        expect(ASSIGN, None, 7, steps=[(1, FELL_THROUGH), (99, FELL_THROUGH)]),
        id="owner-fallback-when-no-rule-can-take-it",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, candidates=PAUSED_TWO), default(ROUND_ROBIN, 1, 2)],
        Live(),
        {"owner": None},
        expect(NOBODY, None, steps=[(1, FELL_THROUGH), (99, FELL_THROUGH)]),
        id="nobody-without-an-owner",
    ),
]


@pytest.mark.parametrize(("rules", "state", "kwargs", "expected"), ROUTE_CASES)
def test_route_table(rules, state, kwargs, expected):
    kwargs = dict(kwargs)
    rules_of_team = team(rules, plan=kwargs.pop("plan", "premier"), owner=kwargs.pop("owner", 7))
    before = copy.deepcopy(state)
    decision = route(rules_of_team, ZILLOW, NOW, state, **kwargs)
    assert summary(decision) == expected
    assert state == before  # route decides; only advance changes the Live


def test_route_assign_wording_and_steps():
    rules = team([rule(1, ROUND_ROBIN, candidates=(member(1, paused=True), member(2), member(3)))])
    decision = route(rules, ZILLOW, NOW, Live())
    assert decision.how == "Round Robin (rule “rule 1”)"
    assert decision.reason == "assigned to m2: Round Robin (rule “rule 1”)"
    (step,) = decision.steps
    assert (step.kind, step.reason, step.available) == (
        RULE,
        "no criteria: matches every contact",
        2,
    )
    assert step.skipped == (Skip(1, "m1", SkipReason.PAUSED),)
    assert decision.uses_rotation


def test_route_blast_reason_names_every_recipient():
    rules = team([rule(1, BLAST, 1, 2, 3)])
    decision = route(rules, ZILLOW, NOW, Live(), lapsed={2})
    assert decision.recipients == (1, 3)
    assert decision.reason == "Blast Alert offer to m1, m3, 15 min to claim"
    assert not decision.uses_rotation


def test_route_hold_reason_and_fall_through_note():
    rules = team([HOLDING, default(ROUND_ROBIN, 9)])
    held = route(rules, ZILLOW, NOW, Live())
    assert (held.reason, held.held_since, held.source) == (
        "held: all 2 agents paused",
        NOW,
        HOLDING,
    )
    assert held.steps[0].skipped == (
        Skip(1, "m1", SkipReason.PAUSED),
        Skip(2, "m2", SkipReason.PAUSED),
    )
    moved = route(rules, ZILLOW, NOW, Live(), resume=1, held_since=NOW - 90 * MIN)
    assert moved.steps[0].note == "held 90 min (the rule's longest wait): all 2 agents paused"
    assert moved.tried == frozenset({1})
    # A hold is not a fall-through: the rule stays untried.
    assert held.tried == frozenset()


def test_route_resume_reason_is_the_callers():
    rules = team([rule(1, ROUND_ROBIN, 1), rule(2, ROUND_ROBIN, 2, is_paused=True)])
    decision = route(rules, ZILLOW, NOW, Live(), resume=2, resume_reason="offer lapsed")
    assert (decision.steps[0].outcome, decision.steps[0].reason) == (MATCHED, "offer lapsed")


def test_route_resume_fell_through_is_not_listed_twice():
    rules = team([rule(2, NEXT_UP, 2, position=0), rule(1, ROUND_ROBIN, 1)])
    decision = route(rules, ZILLOW, NOW, Live(), resume=2, lapsed={2})
    assert [(s.source_id, s.outcome) for s in decision.steps] == [(2, FELL_THROUGH), (1, MATCHED)]


def test_route_owner_wording():
    decision = route(team([], owner=7), ZILLOW, NOW, Live())
    assert (decision.how, decision.reason) == (OWNER_HOW, f"assigned to Owner: {OWNER_HOW}")
    nobody = route(team([]), ZILLOW, NOW, Live())
    assert nobody.reason == "no rule could take the contact and the team has no owner"


def test_advance_takes_the_turn_and_the_open_contact():
    state = Live()
    rules = team([rule(1, NEXT_UP, 1, 2), rule(2, ROUND_ROBIN, 3, criteria=MATCH_WEB)])
    offer = route(rules, ZILLOW, NOW, state)
    advance(state, offer, NOW)
    # An offer takes a turn, not an open contact.
    assert (state.counts, state.open_contacts, state.last_assigned) == ({1: {1: 1}}, {}, {})
    assign = route(team([rule(2, ROUND_ROBIN, 3)]), ZILLOW, NOW, state)
    advance(state, assign, NOW)
    assert state.counts == {1: {1: 1}, 2: {3: 1}}
    assert (state.open_contacts, state.last_assigned) == ({3: 1}, {3: NOW})
    owner = route(team([], owner=7), ZILLOW, NOW, state)
    advance(state, owner, NOW)
    assert state.counts == {1: {1: 1}, 2: {3: 1}}  # the owner fallback takes no turn
    assert state.open_contacts == {3: 1, 7: 1}


# --- engine.reassign ---------------------------------------------------------------------------


REASSIGN_CASES = [
    pytest.param(
        group(ROUND_ROBIN, 1, 2, 3),
        Live(),
        {"current": 1},
        expect(ASSIGN, 50, 2, count=1, steps=[(50, MATCHED)]),
        id="round-robin-never-back-to-the-current-agent",
    ),
    pytest.param(
        group(NEXT_UP, 1, 2, 3, claim_window=30 * MIN),
        counts(50, m1=1, m2=0, m3=1),
        {"current": 2},
        expect(
            OFFER,
            50,
            1,
            recipients=(1,),
            kind=NEXT_UP,
            deadline=NOW + 30 * MIN,
            count=2,
            steps=[(50, MATCHED)],
        ),
        id="next-up-skips-the-current-agent",
    ),
    pytest.param(
        group(NEXT_UP, 1, 2, 3),
        Live(),
        {"current": 2, "lapsed": {1}},
        expect(
            OFFER,
            50,
            3,
            recipients=(3,),
            kind=NEXT_UP,
            deadline=NOW + 15 * MIN,
            count=1,
            steps=[(50, MATCHED)],
        ),
        id="next-up-skips-who-let-it-lapse",
    ),
    pytest.param(
        group(BLAST, 1, 2, 3),
        Live(),
        {"current": 2},
        expect(
            OFFER,
            50,
            None,
            recipients=(1, 3),
            kind=BLAST,
            deadline=NOW + 15 * MIN,
            steps=[(50, MATCHED)],
        ),
        id="blast-to-everyone-but-the-current-agent",
    ),
    pytest.param(
        group(LEAST_OPEN, 1, 2, 3),
        Live(open_contacts={1: 0, 2: 3, 3: 1}),
        {"current": 1},
        expect(ASSIGN, 50, 3, count=1, steps=[(50, MATCHED)]),
        id="least-open-skips-the-current-agent",
    ),
    pytest.param(
        group(ROUND_ROBIN, 1, default_assignee_id=9),
        Live(),
        {"current": 1},
        expect(ASSIGN, 50, 9, steps=[(50, FELL_THROUGH)]),
        id="nobody-but-the-current-agent-default-assignee",
    ),
    pytest.param(
        group(NEXT_UP, candidates=members(1, 2, paused=True), default_assignee_id=9),
        Live(),
        {"current": None},
        expect(ASSIGN, 50, 9, steps=[(50, FELL_THROUGH)]),
        id="nobody-available-default-assignee",
    ),
    pytest.param(
        group(ROUND_ROBIN, 1),
        Live(),
        {"current": 1},
        expect(ASSIGN, 50, 7, steps=[(50, FELL_THROUGH)]),
        id="no-default-assignee-team-owner",
    ),
    pytest.param(
        group(ROUND_ROBIN, 1, default_assignee_id=404),
        Live(),
        {"current": 1},
        expect(ASSIGN, 50, 7, steps=[(50, FELL_THROUGH)]),
        id="default-assignee-not-in-the-team-team-owner",
    ),
    pytest.param(
        group(ROUND_ROBIN, 1),
        Live(),
        {"current": 1, "owner": None},
        expect(NOBODY, 50, steps=[(50, FELL_THROUGH)]),
        id="no-default-assignee-no-owner-nobody",
    ),
    pytest.param(
        group(BLAST, 1, 2, 3, default_assignee_id=9),
        Live(),
        {"current": 2, "blast_done": True},
        expect(ASSIGN, 50, 9, steps=[]),
        id="blast-done-default-assignee",
    ),
    pytest.param(
        group(BLAST, 1, 2, 3),
        Live(),
        {"current": 2, "blast_done": True},
        expect(ASSIGN, 50, 7, steps=[]),
        id="blast-done-without-default-assignee-owner",
    ),
]


@pytest.mark.parametrize(("source", "state", "kwargs", "expected"), REASSIGN_CASES)
def test_reassign_table(source, state, kwargs, expected):
    kwargs = dict(kwargs)
    rules_of_team = team([], owner=kwargs.pop("owner", 7), extra=(1, 2, 3, 9))
    decision = reassign(rules_of_team, source, NOW, state, **kwargs)
    assert summary(decision) == expected
    assert all(s.kind == GROUP for s in decision.steps)
    current = kwargs.get("current")
    if current is not None:
        assert current not in decision.recipients
        if decision.steps and decision.steps[0].outcome == MATCHED:
            assert decision.member_id != current


def test_reassign_wording():
    rules_of_team = team([], owner=7, extra=(1, 2, 9))
    picked = reassign(rules_of_team, group(ROUND_ROBIN, 1, 2), NOW, Live(), current=1)
    assert picked.how == "Round Robin via reassignment group “ISA”"
    assert picked.steps[0].reason == "sent here by hand"
    assert picked.steps[0].skipped == (Skip(1, "m1", SkipReason.CURRENT_AGENT),)
    fallback = reassign(
        rules_of_team, group(ROUND_ROBIN, 1, default_assignee_id=9), NOW, Live(), current=1
    )
    assert fallback.how == "default assignee of reassignment group “ISA”"
    assert fallback.reason == (
        "nobody in the group took the contact: default assignee of reassignment group “ISA”, m9"
    )
    assert fallback.steps[0].note == "nobody in the group could take the contact"
    owner = reassign(rules_of_team, group(ROUND_ROBIN, 1), NOW, Live(), current=1)
    assert owner.how == "team owner (no default assignee) of reassignment group “ISA”"
    nobody = reassign(team([]), group(ROUND_ROBIN, 1), NOW, Live(), current=1)
    assert nobody.reason == "the reassignment group has no default assignee and the team no owner"


# --- engine.reachable --------------------------------------------------------------------------


def test_reachable_lists_resume_then_matching_rules_then_default_pool():
    rules = [
        rule(1, ROUND_ROBIN, 1),
        rule(2, ROUND_ROBIN, 2, criteria=MATCH_WEB),
        rule(3, ROUND_ROBIN, 3, is_paused=True),
        rule(4, NEXT_UP, 4),  # not in the Basic plan
        rule(5, ROUND_ROBIN, 5),  # already tried
        rule(6, ROUND_ROBIN, 6, criteria=MATCH_ZILLOW),
        default(ROUND_ROBIN, 1, 7),
    ]
    rules_of_team = team(rules, plan="basic")
    found = reachable(rules_of_team, ZILLOW, NOW, tried={5})
    assert [s.id for s in found] == [1, 6, 99]
    assert found[-1] == rules_of_team.default_pool
    assert [c.membership_id for c in found[-1].candidates] == [7]
    resumed = reachable(rules_of_team, ZILLOW, NOW, tried={5}, resume=3)
    assert [s.id for s in resumed] == [3, 1, 6, 99]
    in_default = reachable(rules_of_team, ZILLOW, NOW, resume=99)
    assert in_default[0] == rules_of_team.default_pool  # the pool, not the whole Default Rule
    assert reachable(rules_of_team, ZILLOW, NOW, resume=404)[0].id == 1  # a deleted rule


def test_reachable_without_default_rule():
    assert [s.id for s in reachable(team([rule(1, ROUND_ROBIN, 1)]), ZILLOW, NOW)] == [1]
    assert reachable(team([]), ZILLOW, NOW) == []


@st.composite
def teams_and_contacts(draw):
    n_rules = draw(st.integers(0, 5))
    pool = list(range(1, 7))
    rules = []
    for rid in range(1, n_rules + 1):
        ids = draw(st.lists(st.sampled_from(pool), max_size=4, unique=True))
        rules.append(
            rule(
                rid,
                draw(st.sampled_from([ROUND_ROBIN, NEXT_UP, BLAST, LEAST_OPEN])),
                candidates=tuple(
                    member(i, paused=draw(st.booleans()), is_active=draw(st.booleans()))
                    for i in ids
                ),
                position=draw(st.integers(0, 3)),
                criteria=draw(st.sampled_from([Criteria(), MATCH_ZILLOW, MATCH_WEB])),
                is_paused=draw(st.booleans()),
                hold=draw(st.booleans()),
            )
        )
    if draw(st.booleans()):
        method = draw(st.sampled_from([ROUND_ROBIN, NEXT_UP, BLAST, ASSIGN_DIRECTLY]))
        ids = draw(st.lists(st.sampled_from(pool), max_size=5, unique=True))
        rules.append(
            default(
                method,
                *ids,
                direct_assignee_id=ids[0] if ids else None,
                hold=draw(st.booleans()),
            )
        )
    rule_ids = [r.id for r in rules] + [404]
    tried = draw(st.sets(st.sampled_from(rule_ids)))
    resume = draw(st.none() | st.sampled_from(rule_ids))
    lapsed = draw(st.sets(st.sampled_from(pool)))
    plan = draw(st.sampled_from(["basic", "pro", "premier"]))
    held_since = draw(st.none() | st.just(NOW - 2 * HOUR))
    return (
        team(rules, plan=plan, owner=draw(st.none() | st.just(7))),
        tried,
        resume,
        lapsed,
        (held_since),
    )


@settings(max_examples=500, deadline=None)
@given(teams_and_contacts())
def test_route_only_ever_uses_a_source_reachable_lists(case):
    rules_of_team, tried, resume, lapsed, held_since = case
    decision = route(
        rules_of_team,
        ZILLOW,
        NOW,
        Live(),
        tried=tried,
        lapsed=lapsed,
        resume=resume,
        held_since=held_since,
    )
    found = reachable(rules_of_team, ZILLOW, NOW, tried=tried, resume=resume)
    if decision.source is not None:
        assert decision.source in found
    if decision.action in (OFFER, ASSIGN) and decision.source is not None:
        assert decision.steps[-1].outcome == MATCHED
        if decision.source.method != ASSIGN_DIRECTLY:
            who = (set(decision.recipients) | {decision.member_id}) - {None}
            assert not who & lapsed  # lapsed members are never offered it again
    if decision.action == ASSIGN and decision.source is None:
        assert decision.member_id == rules_of_team.owner_id == 7
