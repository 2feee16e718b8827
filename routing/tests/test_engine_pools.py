"""Lead pools in the pure engine: source-bucket criteria, Manual distribution, and a pass
started by placing a contact in a bucket. Tables, no database."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.engine import (
    ASSIGN,
    FELL_THROUGH,
    HOLD,
    MANUAL,
    MATCHED,
    NEXT_UP,
    NOT_MATCHED,
    OFFER,
    ROUND_ROBIN,
    RULE,
    SKIPPED,
    STAY,
    WAIT,
    WAITING,
    Candidate,
    ContactFacts,
    Criteria,
    Live,
    Source,
    SourceBucket,
    TeamRules,
    match_criteria,
    method_allowed,
    reachable,
    route,
)

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
OPEN_HOUSE = SourceBucket(5, "Open house")
ZILLOW_LEADS = SourceBucket(6, "Zillow leads")
POOL_5 = Criteria(source_buckets=(OPEN_HOUSE,))
POOL_5_6 = Criteria(source_buckets=(OPEN_HOUSE, ZILLOW_LEADS))


def facts(*buckets: int, source: str = "Zillow") -> ContactFacts:
    return ContactFacts(source=source, created_at=NOW, buckets=frozenset(buckets))


def member(mid: int, **kwargs) -> Candidate:
    kwargs.setdefault("position", mid)
    return Candidate(membership_id=mid, name=f"m{mid}", **kwargs)


def rule(rid: int, method: str = ROUND_ROBIN, *ids: int, **kwargs) -> Source:
    kwargs.setdefault("position", rid)
    kwargs.setdefault("rotation_id", rid)
    kwargs.setdefault("candidates", tuple(member(i) for i in ids))
    return Source(kind=RULE, id=rid, name=f"rule {rid}", method=method, **kwargs)


def pool(rid: int, method: str = ROUND_ROBIN, *ids: int, criteria=POOL_5, **kwargs) -> Source:
    return rule(rid, method, *ids, criteria=criteria, **kwargs)


def default(*ids: int) -> Source:
    return rule(99, ROUND_ROBIN, *ids, position=0, is_default=True)


def team(rules, *, plan: str = "premier", owner: int | None = 7) -> TeamRules:
    names = {c.membership_id: c.name for r in rules for c in r.candidates}
    names |= {7: "Owner", 8: "Agent Eight"}
    return TeamRules(plan=plan, rules=tuple(rules), owner_id=owner, names=names)


# --- source buckets as a criterion -------------------------------------------------------------

CRITERIA_CASES = [
    pytest.param(POOL_5, facts(5), None, (True, "", "Open house"), id="in-its-source-bucket"),
    pytest.param(POOL_5_6, facts(6), None, (True, "", "Zillow leads"), id="in-the-second-one"),
    pytest.param(POOL_5_6, facts(5, 6), None, (True, "", "Open house"), id="first-in-order"),
    pytest.param(POOL_5_6, facts(5, 6), 6, (True, "", "Zillow leads"), id="the-one-just-placed"),
    pytest.param(POOL_5_6, facts(5), 6, (True, "", "Open house"), id="placed-elsewhere"),
    pytest.param(POOL_5, facts(), None, (False, "source_bucket", ""), id="in-no-bucket"),
    pytest.param(POOL_5, facts(6), None, (False, "source_bucket", ""), id="in-another-bucket"),
    pytest.param(
        Criteria(sources=("website",), source_buckets=(OPEN_HOUSE,)),
        facts(5),
        None,
        (False, "source", ""),
        id="other-criteria-still-apply",
    ),
    pytest.param(Criteria(), facts(5), None, (True, "", ""), id="not-a-pool"),
    pytest.param(Criteria(sources=("zillow",)), facts(5), None, (True, "", ""), id="ordinary-rule"),
]


@pytest.mark.parametrize(("criteria", "contact", "prefer", "expected"), CRITERIA_CASES)
def test_match_criteria_source_buckets_table(criteria, contact, prefer, expected):
    result = match_criteria(criteria, contact, NOW, prefer_bucket=prefer)
    assert (result.matched, result.criterion, result.bucket) == expected


def test_source_bucket_reasons():
    assert match_criteria(POOL_5, facts(), NOW).reason == (
        "not placed in its source bucket: Open house"
    )
    assert match_criteria(POOL_5_6, facts(), NOW).reason == (
        "not placed in its source buckets: Open house, Zillow leads"
    )
    assert match_criteria(POOL_5, facts(5), NOW).reason == "matched all criteria"


def test_a_rule_with_only_source_buckets_is_not_empty():
    assert not POOL_5.is_empty
    assert POOL_5.bucket_ids == frozenset({5})


@pytest.mark.parametrize("plan", ["basic", "pro", "premier"])
def test_manual_is_in_every_plan(plan):
    assert method_allowed(plan, MANUAL)


# --- route: pools among the rules, Manual, and a pass started by a placement ---------------------


def summary(d) -> dict:
    return {
        "action": d.action,
        "source": d.source.id if d.source else None,
        "member": d.member_id,
        "steps": [(s.source_id, s.outcome) for s in d.steps],
        "buckets": [s.bucket for s in d.steps],
    }


def expect(action, source, member=None, *, steps, buckets=None) -> dict:
    return {
        "action": action,
        "source": source,
        "member": member,
        "steps": steps,
        "buckets": buckets if buckets is not None else [""] * len(steps),
    }


PAUSED = (member(3, paused=True),)

ROUTE_CASES = [
    # a new contact: pools are rules among the others ------------------------------------------
    pytest.param(
        [pool(1, ROUND_ROBIN, 3), rule(2, ROUND_ROBIN, 4), default(9)],
        facts(),
        {},
        expect(ASSIGN, 2, 4, steps=[(1, NOT_MATCHED), (2, MATCHED)]),
        id="not-in-the-bucket-skips-the-pool",
    ),
    pytest.param(
        [pool(1, ROUND_ROBIN, 3, 4), rule(2, ROUND_ROBIN, 4), default(9)],
        facts(5),
        {},
        expect(ASSIGN, 1, 3, steps=[(1, MATCHED)], buckets=["Open house"]),
        id="in-the-bucket-the-pool-takes-it",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 4), pool(2, ROUND_ROBIN, 3), default(9)],
        facts(5),
        {},
        expect(ASSIGN, 1, 4, steps=[(1, MATCHED)]),
        id="rule-order-still-rules-new-contacts",
    ),
    pytest.param(
        [pool(1, MANUAL, 3), default(9)],
        facts(5),
        {},
        expect(WAIT, 1, steps=[(1, WAITING)], buckets=["Open house"]),
        id="manual-pool-waits-for-an-admin",
    ),
    pytest.param(
        [pool(1, MANUAL), default(9)],
        facts(5),
        {"plan": "basic"},
        expect(WAIT, 1, steps=[(1, WAITING)], buckets=["Open house"]),
        id="manual-needs-no-members-and-no-plan",
    ),
    pytest.param(
        [pool(1, MANUAL, candidates=PAUSED), default(9)],
        facts(5),
        {},
        expect(WAIT, 1, steps=[(1, WAITING)], buckets=["Open house"]),
        id="manual-ignores-availability",
    ),
    pytest.param(
        [pool(1, MANUAL, 3, is_paused=True), default(9)],
        facts(5),
        {},
        expect(ASSIGN, 99, 9, steps=[(1, SKIPPED), (99, MATCHED)]),
        id="paused-pool-is-skipped",
    ),
    pytest.param(
        [rule(1, MANUAL, 3), default(9)],
        facts(),
        {},
        expect(WAIT, 1, steps=[(1, WAITING)]),
        id="manual-ordinary-rule-waits-too",
    ),
    # placed in a bucket: only that bucket's pools ---------------------------------------------
    pytest.param(
        [rule(1, ROUND_ROBIN, 4), pool(2, ROUND_ROBIN, 3), default(9)],
        facts(5),
        {"placed_in": 5, "current": 8},
        expect(ASSIGN, 2, 3, steps=[(2, MATCHED)], buckets=["Open house"]),
        id="placement-goes-straight-to-the-pool",
    ),
    pytest.param(
        [pool(1, ROUND_ROBIN, 4, criteria=POOL_5_6), pool(2, ROUND_ROBIN, 3), default(9)],
        facts(5, 6),
        {"placed_in": 6, "current": 8},
        expect(ASSIGN, 1, 4, steps=[(1, MATCHED)], buckets=["Zillow leads"]),
        id="names-the-bucket-it-was-placed-in",
    ),
    pytest.param(
        [pool(1, ROUND_ROBIN, candidates=PAUSED), pool(2, ROUND_ROBIN, 4), default(9)],
        facts(5),
        {"placed_in": 5, "current": 8},
        expect(
            ASSIGN,
            2,
            4,
            steps=[(1, FELL_THROUGH), (2, MATCHED)],
            buckets=["Open house", "Open house"],
        ),
        id="next-pool-of-the-bucket",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 4), pool(2, ROUND_ROBIN, candidates=PAUSED), default(9)],
        facts(5),
        {"placed_in": 5, "current": 8},
        expect(STAY, None, 8, steps=[(2, FELL_THROUGH)], buckets=["Open house"]),
        id="nobody-in-the-pool-it-keeps-its-agent",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 4), pool(2, ROUND_ROBIN, 3, is_paused=True), default(9)],
        facts(5),
        {"placed_in": 5, "current": 8},
        expect(STAY, None, 8, steps=[(2, SKIPPED)]),
        id="paused-pool-it-keeps-its-agent",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 4), pool(2, ROUND_ROBIN, 3), default(9)],
        facts(6),
        {"placed_in": 6, "current": 8},
        expect(STAY, None, 8, steps=[]),
        id="no-pool-of-that-bucket-it-keeps-its-agent",
    ),
    pytest.param(
        [pool(2, ROUND_ROBIN, 3), default(9)],
        facts(),
        {"placed_in": 5, "current": 8},
        expect(STAY, None, 8, steps=[(2, NOT_MATCHED)]),
        id="taken-out-of-the-bucket-meanwhile",
    ),
    pytest.param(
        [rule(1, ROUND_ROBIN, 4), pool(2, ROUND_ROBIN, candidates=PAUSED), default(9)],
        facts(5),
        {"placed_in": 5},
        expect(ASSIGN, 1, 4, steps=[(2, FELL_THROUGH), (1, MATCHED)], buckets=["Open house", ""]),
        id="without-an-agent-it-goes-on-through-the-rules",
    ),
    pytest.param(
        [pool(1, MANUAL, 3), default(9)],
        facts(5),
        {"placed_in": 5, "current": 8},
        expect(WAIT, 1, steps=[(1, WAITING)], buckets=["Open house"]),
        id="placed-in-a-manual-pool-waits",
    ),
    pytest.param(
        [pool(1, NEXT_UP, 3), default(9)],
        facts(5),
        {"placed_in": 5, "current": 8},
        expect(OFFER, 1, 3, steps=[(1, MATCHED)], buckets=["Open house"]),
        id="next-up-pool-offers-it",
    ),
    pytest.param(
        [pool(1, ROUND_ROBIN, candidates=PAUSED, hold=True, hold_max=HOUR), default(9)],
        facts(5),
        {"placed_in": 5, "current": 8, "resume": 1, "held_since": NOW - 2 * HOUR},
        expect(STAY, None, 8, steps=[(1, FELL_THROUGH)], buckets=["Open house"]),
        id="held-in-the-pool-too-long-keeps-its-agent",
    ),
    pytest.param(
        [pool(1, ROUND_ROBIN, candidates=PAUSED, hold=True, hold_max=HOUR), default(9)],
        facts(5),
        {"placed_in": 5, "current": 8},
        expect(HOLD, 1, steps=[(1, "held")], buckets=["Open house"]),
        id="a-holding-pool-holds-it",
    ),
]


@pytest.mark.parametrize(("rules", "contact", "kwargs", "expected"), ROUTE_CASES)
def test_route_pools_table(rules, contact, kwargs, expected):
    kwargs = dict(kwargs)
    rules_of_team = team(rules, plan=kwargs.pop("plan", "premier"))
    live = Live()
    before = copy.deepcopy(live)
    decision = route(rules_of_team, contact, NOW, live, **kwargs)
    assert summary(decision) == expected
    assert live == before


def test_route_pool_wording():
    rules = team([pool(1, ROUND_ROBIN, 3), pool(2, MANUAL, criteria=POOL_5_6)])
    assigned = route(rules, facts(5), NOW, Live())
    assert assigned.how == "Round Robin (lead pool “rule 1”)"
    waiting = route(rules, facts(6), NOW, Live())
    assert waiting.reason == "waiting in pool “rule 2” for an admin to assign"
    assert waiting.held_since == NOW
    kept = route(team([pool(1, ROUND_ROBIN, candidates=PAUSED)]), facts(5), NOW, Live(),
                 placed_in=5, current=8)  # fmt: skip
    assert (
        kept.reason == "no lead pool of bucket “Open house” could take it: stays with Agent Eight"
    )
    assert kept.member_id == 8
    assert route(team([rule(1, ROUND_ROBIN, 3)]), facts(), NOW, Live()).how == (
        "Round Robin (rule “rule 1”)"
    )


def test_reachable_covers_the_pools_of_a_placement():
    rules = team([rule(1, ROUND_ROBIN, 4), pool(2, ROUND_ROBIN, 3), default(9)])
    assert [s.id for s in reachable(rules, facts(5), NOW)] == [1, 2, 99]
    assert [s.id for s in reachable(rules, facts(), NOW)] == [1, 99]


@st.composite
def placements(draw):
    rules = []
    for rid in range(1, draw(st.integers(1, 5)) + 1):
        ids = draw(st.lists(st.sampled_from(range(1, 6)), max_size=3, unique=True))
        buckets = draw(
            st.sampled_from([(), (OPEN_HOUSE,), (ZILLOW_LEADS,), POOL_5_6.source_buckets])
        )
        rules.append(
            rule(
                rid,
                draw(st.sampled_from([ROUND_ROBIN, NEXT_UP, MANUAL])),
                candidates=tuple(member(i, paused=draw(st.booleans())) for i in ids),
                criteria=Criteria(source_buckets=buckets),
                is_paused=draw(st.booleans()),
                hold=draw(st.booleans()),
            )
        )
    rules.append(default(9))
    contact = facts(*draw(st.sets(st.sampled_from([5, 6]))))
    placed_in = draw(st.sampled_from([5, 6]))
    current = draw(st.none() | st.just(8))
    return team(rules), contact, placed_in, current


@settings(max_examples=300, deadline=None)
@given(placements())
def test_a_placement_with_an_agent_only_ever_uses_that_buckets_pools(case):
    rules_of_team, contact, placed_in, current = case
    decision = route(rules_of_team, contact, NOW, Live(), placed_in=placed_in, current=current)
    found = reachable(rules_of_team, contact, NOW)
    if decision.source is not None:
        assert decision.source in found
    if current is not None:
        if decision.action == STAY:
            assert decision.member_id == current
        else:
            assert placed_in in decision.source.criteria.bucket_ids
            assert decision.source.criteria.bucket_ids & contact.buckets
            assert not decision.source.is_paused
    visited = [s.source_id for s in decision.steps]
    assert len(visited) == len(set(visited))  # every rule is written once
