"""The whole routing decision: which rule, which method, who, or hold, or nobody.

`route` walks a team's rules for a contact (first match wins, falling through rules
where nobody can take it, then the Default Rule, then the team owner); `reassign`
distributes a contact already in the system through a reassignment group. Both use
`distribute`, the one implementation of every method, and answer with a `Decision`:
a value saying what to do, plus the explanation, step by step, that the routing log
keeps. Routing, reassignment, the simulator and backtests all call these functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from routing.engine.criteria import ContactFacts, match_criteria, pool_bucket
from routing.engine.rotation import pick_least_open, pick_round_robin
from routing.engine.sources import (
    GROUP,
    RULE,
    TEMPORARY,
    Live,
    Skip,
    Source,
    names_of,
    screen,
    unavailable_summary,
)
from teams.plans import (
    ASSIGN_DIRECTLY,
    BLAST,
    LEAST_OPEN,
    MANUAL,
    METHOD_LABELS,
    NEXT_UP,
    ROUND_ROBIN,
    method_allowed,
)

ASSIGN = "assign"
OFFER = "offer"
HOLD = "hold"
NOBODY = "nobody"
WAIT = "wait"  # a Manual lead pool: unassigned until an admin assigns it
STAY = "stay"  # placed in a bucket whose lead pools could not take it: it keeps its Agent

# What happened at one source on the way to the decision.
MATCHED = "matched"  # criteria matched (or resumed there) and it distributed the contact
NOT_MATCHED = "not_matched"
SKIPPED = "skipped"  # paused, not in the plan, or already tried for this contact
FELL_THROUGH = "fell_through"  # matched, but nobody in it could take the contact
HELD = "held"
WAITING = "waiting"  # matched a Manual lead pool: it waits there for an admin

OWNER_HOW = "fallback to the team owner: no rule could take the contact"


@dataclass(frozen=True)
class TeamRules:
    """A team's rules as the engine sees them, with who owns the team and everyone's name."""

    plan: str
    rules: tuple[Source, ...]  # every rule of the team, the Default Rule included
    owner_id: int | None = None
    names: Mapping[int, str] = field(default_factory=dict)

    @cached_property
    def ordered(self) -> tuple[Source, ...]:
        """The rules before the Default Rule, in the order the team set."""
        return tuple(
            sorted((r for r in self.rules if not r.is_default), key=lambda r: (r.position, r.id))
        )

    @cached_property
    def default(self) -> Source | None:
        defaults = [r for r in self.rules if r.is_default]
        if len(defaults) > 1:
            raise ValueError("a team has at most one default rule")
        return defaults[0] if defaults else None

    @cached_property
    def by_id(self) -> dict[int, Source]:
        return {r.id: r for r in self.rules}

    @cached_property
    def default_pool(self) -> Source | None:
        """The Default Rule with only the members who are in no earlier rule."""
        return default_rule_pool(self.default, self.ordered) if self.default else None

    @cached_property
    def bucket_names(self) -> dict[int, str]:
        """Every lead pool's source buckets: id → name."""
        return {b.id: b.name for r in self.rules for b in r.criteria.source_buckets}

    def name(self, membership_id: int | None) -> str:
        if membership_id is None:
            return "nobody"
        return self.names.get(membership_id, f"member #{membership_id}")


def default_rule_pool(default_rule: Source, earlier_rules: Sequence[Source]) -> Source:
    """Next Up or Blast Alert in the Default Rule go only to members in no earlier rule."""
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


@dataclass(frozen=True)
class Step:
    """One source on the way to a decision: what happened there and why."""

    kind: str  # RULE or GROUP
    source_id: int
    name: str
    outcome: str  # MATCHED, NOT_MATCHED, SKIPPED, FELL_THROUGH, HELD
    reason: str
    criterion: str = ""
    skipped: tuple[Skip, ...] = ()  # members who could not take it, each with the reason
    available: int = 0  # members who could (one of them got it, or all of them for a blast)
    note: str = ""  # what came of it: "nobody in this rule could take the contact", …
    bucket: str = ""  # a lead pool: the source bucket the contact came through


@dataclass(frozen=True)
class Distribution:
    """What one source's method does with the contact."""

    member_id: int | None = None  # the assignee, or the Next Up recipient
    recipients: tuple[int, ...] = ()  # Blast Alert: everyone notified at once
    count: int | None = None  # the turn count to store for member_id in the source's rotation
    skipped: tuple[Skip, ...] = ()
    available: int = 0

    @property
    def nobody(self) -> bool:
        return self.member_id is None and not self.recipients

    @property
    def waiting(self) -> bool:
        """Nobody now, but some members only for the moment (paused, offline, busy, off hours)."""
        return self.nobody and any(s.reason in TEMPORARY for s in self.skipped)


@dataclass(frozen=True)
class Decision:
    """What to do with a contact, and why."""

    action: str  # ASSIGN, OFFER, HOLD, WAIT, STAY or NOBODY
    source: Source | None = None  # None: the team owner fallback, or a manual assignment
    # ASSIGN: the new primary Agent; OFFER: the Next Up recipient; STAY: the Agent it keeps
    member_id: int | None = None
    recipients: tuple[int, ...] = ()  # OFFER: everyone who may claim it
    offer_kind: str = ""  # NEXT_UP or BLAST
    deadline: datetime | None = None  # OFFER: claim by
    hold_until: datetime | None = None  # HOLD: falls through after this
    held_since: datetime | None = None
    count: int | None = None  # the new turn count of member_id in source.rotation_id
    how: str = ""  # the timeline's wording: "Round Robin (rule “Zillow”)"
    reason: str = ""  # one line for the routing log
    steps: tuple[Step, ...] = ()
    tried: frozenset[int] = frozenset()  # rules this routing pass has fallen through

    @property
    def uses_rotation(self) -> bool:
        return self.count is not None and self.source is not None

    @classmethod
    def assign(
        cls, member_id: int, *, how: str, reason: str, source: Source | None = None
    ) -> Decision:
        """An assignment decided by a person (claim, assign directly, import), not a method."""
        return cls(ASSIGN, source=source, member_id=member_id, how=how, reason=reason)


def _method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def distribute(
    source: Source,
    now: datetime,
    live: Live,
    *,
    lapsed: frozenset[int] | set[int] = frozenset(),
    current: int | None = None,
) -> Distribution:
    """Apply the source's method: who gets the contact, or who is offered it.

    `lapsed`: members who already let this contact lapse (never offered it again);
    `current`: its current Agent, when it is being reassigned away from them.
    """
    if source.method == ASSIGN_DIRECTLY:
        # The owner chose this person explicitly, so availability is deliberately ignored;
        # a deactivated member is not there to take it.
        chosen = next(
            (c for c in source.candidates if c.membership_id == source.direct_assignee_id), None
        )
        if chosen is None or not chosen.is_active:
            return Distribution()
        return Distribution(member_id=chosen.membership_id, available=1)
    eligible, skipped = screen(source, now, live, lapsed=lapsed, current=current)
    if not eligible:
        return Distribution(skipped=skipped)
    if source.method == BLAST:
        return Distribution(
            recipients=tuple(c.membership_id for c in eligible),
            skipped=skipped,
            available=len(eligible),
        )
    counts = live.counts.get(source.rotation_id, {})
    if source.method == LEAST_OPEN:
        never = datetime.min.replace(tzinfo=now.tzinfo)
        chosen = pick_least_open(eligible, live.open_contacts, live.last_assigned, never)
        count = counts.get(chosen.membership_id, 0) + 1
    elif source.method in (ROUND_ROBIN, NEXT_UP):
        chosen, count = pick_round_robin(eligible, counts)
    else:
        raise ValueError(f"unknown distribution method {source.method!r}")
    return Distribution(
        member_id=chosen.membership_id, count=count, skipped=skipped, available=len(eligible)
    )


def _distributed(
    source: Source,
    dist: Distribution,
    step: Step,
    steps: list[Step],
    now: datetime,
    names: TeamRules,
    tried: frozenset[int],
) -> Decision:
    """The decision for a source that distributed the contact."""
    steps.append(step)
    if source.method == BLAST or (source.method == NEXT_UP and dist.member_id is not None):
        recipients = dist.recipients or (dist.member_id,)
        kind = BLAST if source.method == BLAST else NEXT_UP
        minutes = int(source.claim_window.total_seconds() // 60)
        return Decision(
            OFFER,
            source=source,
            member_id=dist.member_id,
            recipients=recipients,
            offer_kind=kind,
            deadline=now + source.claim_window,
            count=dist.count,
            how=source.how,
            reason=f"{_method_label(kind)} offer to {names_of(recipients, names.names)}, "
            f"{minutes} min to claim",
            steps=tuple(steps),
            tried=tried,
        )
    how = (
        "assigned directly by the default rule"
        if source.method == ASSIGN_DIRECTLY and source.kind == RULE
        else source.how
    )
    return Decision(
        ASSIGN,
        source=source,
        member_id=dist.member_id,
        count=dist.count,
        how=how,
        reason=f"assigned to {names.name(dist.member_id)}: {how}",
        steps=tuple(steps),
        tried=tried,
    )


def _gate(rule: Source, plan: str) -> str | None:
    if not method_allowed(plan, rule.method):
        return f"method {_method_label(rule.method)} is not in the {plan.title()} plan"
    return None


def route(
    team: TeamRules,
    contact: ContactFacts,
    now: datetime,
    live: Live,
    *,
    tried: frozenset[int] | set[int] = frozenset(),
    lapsed: frozenset[int] | set[int] = frozenset(),
    resume: int | None = None,
    resume_reason: str = "continues in this rule",
    held_since: datetime | None = None,
    placed_in: int | None = None,
    current: int | None = None,
) -> Decision:
    """Route a contact through the team's rules.

    `tried`: rules this routing pass already fell through; `lapsed`: members who let
    this contact lapse in this pass. `resume`: the rule the contact is in (a lapsed
    Next Up offer, or a hold), tried first whatever the rules' order or pause state
    is now; only when nobody left in it can take the contact does it move on.
    `held_since`: when the contact started waiting in `resume`'s queue.
    `placed_in`: the bucket the contact was just placed in. Only the lead pools with
    it as a source bucket are tried, in the rules' order; when none of them takes the
    contact, one with an Agent (`current`) stays with them, and one without goes on
    through the rules as a new contact would.
    """
    steps: list[Step] = []
    tried = set(tried)
    lapsed = frozenset(lapsed)

    def attempt(
        rule: Source, reason: str, criterion: str = "", bucket: str = ""
    ) -> Decision | None:
        if rule.method == MANUAL:
            # An admin assigns it by hand: nobody's availability matters here.
            steps.append(Step(RULE, rule.id, rule.name, WAITING, reason, criterion, bucket=bucket))
            return Decision(
                WAIT,
                source=rule,
                held_since=now,
                reason=f"waiting in pool “{rule.name}” for an admin to assign",
                steps=tuple(steps),
                tried=frozenset(tried),
            )
        dist = distribute(rule, now, live, lapsed=lapsed)
        if not dist.nobody:
            step = Step(
                RULE,
                rule.id,
                rule.name,
                MATCHED,
                reason,
                criterion,
                dist.skipped,
                dist.available,
                bucket=bucket,
            )
            return _distributed(rule, dist, step, steps, now, team, frozenset(tried))
        since = held_since if rule.id == resume and held_since else now
        if rule.hold and dist.waiting:
            until = since + rule.hold_max
            summary = unavailable_summary(dist.skipped)
            if now < until:
                steps.append(
                    Step(
                        RULE,
                        rule.id,
                        rule.name,
                        HELD,
                        reason,
                        criterion,
                        dist.skipped,
                        bucket=bucket,
                    )
                )
                return Decision(
                    HOLD,
                    source=rule,
                    hold_until=until,
                    held_since=since,
                    reason=f"held: {summary}",
                    steps=tuple(steps),
                    tried=frozenset(tried),
                )
            note = f"held {_minutes(now - since)} (the rule's longest wait): {summary}"
        else:
            note = "nobody in this rule could take the contact"
        steps.append(
            Step(
                RULE,
                rule.id,
                rule.name,
                FELL_THROUGH,
                reason,
                criterion,
                dist.skipped,
                note=note,
                bucket=bucket,
            )
        )
        tried.add(rule.id)
        return None

    def visit(rule: Source) -> Decision | None:
        """A rule in its turn: skipped, not matched, or tried."""
        skip = (
            "rule is paused"
            if rule.is_paused
            else _gate(rule, team.plan)
            or ("already tried for this contact" if rule.id in tried else None)
        )
        if skip:
            steps.append(Step(RULE, rule.id, rule.name, SKIPPED, skip))
            return None
        result = match_criteria(rule.criteria, contact, now, prefer_bucket=placed_in)
        if not result.matched:
            steps.append(
                Step(RULE, rule.id, rule.name, NOT_MATCHED, result.reason, result.criterion)
            )
            return None
        # Rule order is priority: later rules are not even evaluated.
        return attempt(rule, result.reason, result.criterion, result.bucket)

    if resume is not None and resume in team.by_id:
        rule = team.by_id[resume]
        gate = _gate(rule, team.plan)
        if gate:
            steps.append(Step(RULE, rule.id, rule.name, SKIPPED, gate))
            tried.add(rule.id)
        else:
            pool = team.default_pool if rule.is_default else rule
            via = pool_bucket(rule.criteria, contact, placed_in)
            decision = attempt(pool, resume_reason, bucket=via.name if via else "")
            if decision:
                return decision
    visited: set[int] = set()
    if placed_in is not None:
        for rule in team.ordered:
            if placed_in not in rule.criteria.bucket_ids:
                continue
            visited.add(rule.id)
            if rule.id in tried and rule.id == resume:
                continue  # its step is already written
            decision = visit(rule)
            if decision:
                return decision
        if current is not None:
            bucket = team.bucket_names.get(placed_in, "")
            return Decision(
                STAY,
                member_id=current,
                reason=f"no lead pool of bucket “{bucket}” could take it: "
                f"stays with {team.name(current)}",
                steps=tuple(steps),
                tried=frozenset(tried),
            )
    for rule in team.ordered:
        if rule.id in visited or (rule.id in tried and rule.id == resume):
            continue  # its step is already written
        decision = visit(rule)
        if decision:
            return decision
    default = team.default
    if default is not None and not (default.id in tried and default.id == resume):
        # The catch-all cannot be paused; a downgraded plan, or a pass that already fell
        # through it, leaves the contact to the team owner.
        skip = _gate(default, team.plan) or (
            "already tried for this contact" if default.id in tried else None
        )
        if skip:
            steps.append(Step(RULE, default.id, default.name, SKIPPED, skip))
        else:
            decision = attempt(
                team.default_pool, "no earlier rule matched: default rule (catch-all)"
            )
            if decision:
                return decision
    if team.owner_id is None:
        return Decision(
            NOBODY,
            reason="no rule could take the contact and the team has no owner",
            steps=tuple(steps),
            tried=frozenset(tried),
        )
    return Decision(
        ASSIGN,
        member_id=team.owner_id,
        how=OWNER_HOW,
        reason=f"assigned to {team.name(team.owner_id)}: {OWNER_HOW}",
        steps=tuple(steps),
        tried=frozenset(tried),
    )


def reassign(
    team: TeamRules,
    group: Source,
    now: datetime,
    live: Live,
    *,
    current: int | None,
    lapsed: frozenset[int] | set[int] = frozenset(),
    blast_done: bool = False,
) -> Decision:
    """Distribute a contact through a reassignment group, never back to its current Agent.

    Nobody can take it (or nobody claimed the group's Blast Alert) → the group's default
    assignee, or the team owner when the group has none.
    """
    steps: list[Step] = []
    if not blast_done:
        dist = distribute(group, now, live, lapsed=frozenset(lapsed), current=current)
        if not dist.nobody:
            step = Step(
                GROUP, group.id, group.name, MATCHED, "sent here by hand", "", dist.skipped,
                dist.available,
            )  # fmt: skip
            return _distributed(group, dist, step, steps, now, team, frozenset())
        steps.append(
            Step(
                GROUP,
                group.id,
                group.name,
                FELL_THROUGH,
                "sent here by hand",
                "",
                dist.skipped,
                0,
                "nobody in the group could take the contact",
            )
        )
    named = group.default_assignee_id if group.default_assignee_id in team.names else None
    fallback = named if named is not None else team.owner_id
    if fallback is None:
        return Decision(
            NOBODY,
            source=group,
            reason="the reassignment group has no default assignee and the team no owner",
            steps=tuple(steps),
        )
    who = "default assignee" if named is not None else "team owner (no default assignee)"
    how = f"{who} of reassignment group “{group.name}”"
    return Decision(
        ASSIGN,
        source=group,
        member_id=fallback,
        how=how,
        reason=f"nobody in the group took the contact: {how}, {team.name(fallback)}",
        steps=tuple(steps),
    )


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def advance(live: Live, decision: Decision, now: datetime) -> None:
    """Let the decision take effect on `live`, so the next contact in a batch sees it."""
    if decision.uses_rotation:
        live.counts.setdefault(decision.source.rotation_id, {})[decision.member_id] = decision.count
    if decision.action == ASSIGN and decision.member_id is not None:
        live.open_contacts[decision.member_id] = live.opened(decision.member_id) + 1
        live.last_assigned[decision.member_id] = now


def reachable(
    team: TeamRules,
    contact: ContactFacts,
    now: datetime,
    *,
    tried: frozenset[int] | set[int] = frozenset(),
    resume: int | None = None,
) -> list[Source]:
    """Every source `route` might distribute this contact through: the rule it resumes
    in, each rule whose criteria it matches, the Default Rule's pool. A router locks
    their rotations (in id order) before deciding, whoever ends up taking it."""
    found: list[Source] = []
    if resume is not None and resume in team.by_id:
        rule = team.by_id[resume]
        found.append(team.default_pool if rule.is_default else rule)
    for rule in team.ordered:
        if rule.is_paused or rule.id in tried or _gate(rule, team.plan):
            continue
        if match_criteria(rule.criteria, contact, now).matched:
            found.append(rule)
    if team.default_pool is not None:
        found.append(team.default_pool)
    return found
