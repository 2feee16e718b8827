"""Where a contact is distributed from, and who in it can take the contact now.

A routing rule and a reassignment group are two kinds of one `Source`: both have a
method, candidates, a rotation and availability settings. The source knows how it
is named in the routing log and on the contact's timeline, so nothing downstream
asks which kind it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from routing.engine.criteria import Criteria
from routing.engine.hours import WorkingHours, within_hours
from teams.plans import METHOD_LABELS

RULE = "rule"
GROUP = "group"


class SkipReason:
    PAUSED = "paused"
    OFFLINE = "offline"
    OVER_CAPACITY = "over_capacity"
    OUTSIDE_HOURS = "outside_hours"
    ALREADY_OFFERED = "already_offered"
    CURRENT_AGENT = "current_agent"
    INACTIVE = "inactive"


REASON_TEXT: dict[str, str] = {
    SkipReason.PAUSED: "paused or on vacation",
    SkipReason.OFFLINE: "offline (rule assigns to online members only)",
    SkipReason.OVER_CAPACITY: "at capacity for open contacts",
    SkipReason.OUTSIDE_HOURS: "outside their working hours",
    SkipReason.ALREADY_OFFERED: "already offered this contact and let it expire",
    SkipReason.CURRENT_AGENT: "holds the contact now: it is being reassigned away from them",
    SkipReason.INACTIVE: "membership is deactivated",
}
# The words for a summary line ("held: all 3 agents at capacity").
REASON_SHORT: dict[str, str] = {
    SkipReason.PAUSED: "paused",
    SkipReason.OFFLINE: "offline",
    SkipReason.OVER_CAPACITY: "at capacity",
    SkipReason.OUTSIDE_HOURS: "outside their hours",
    SkipReason.ALREADY_OFFERED: "let it lapse",
    SkipReason.CURRENT_AGENT: "the current agent",
    SkipReason.INACTIVE: "deactivated",
}
# Unavailable for now, available again later by themselves: a rule may hold the contact
# for them. A deactivated member, or one who let the contact lapse, is not coming back to it.
TEMPORARY = frozenset(
    {SkipReason.PAUSED, SkipReason.OFFLINE, SkipReason.OUTSIDE_HOURS, SkipReason.OVER_CAPACITY}
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A member as a source sees them: the facts that change only when someone edits them."""

    membership_id: int
    name: str
    position: int = 0
    weight: int = 1
    is_active: bool = True
    is_online: bool = True
    paused: bool = False
    paused_until: datetime | None = None  # None with `paused`: until resumed
    capacity: int | None = None
    working_hours: WorkingHours | None = None

    def is_paused_at(self, now: datetime) -> bool:
        return self.paused and (self.paused_until is None or self.paused_until > now)


@dataclass(frozen=True, slots=True)
class Skip:
    membership_id: int
    name: str
    reason: str

    @property
    def text(self) -> str:
        return f"{self.name}: {REASON_TEXT.get(self.reason, self.reason)}"


@dataclass(frozen=True)
class Source:
    """A routing rule or a reassignment group, ready to distribute."""

    kind: str  # RULE or GROUP
    id: int
    name: str
    method: str
    candidates: tuple[Candidate, ...] = ()
    rotation_id: int = 0
    position: int = 0
    criteria: Criteria = field(default_factory=Criteria)
    is_paused: bool = False
    is_default: bool = False
    only_online: bool = False
    skip_paused: bool = True
    respect_capacity: bool = True
    claim_window: timedelta = timedelta(minutes=15)
    direct_assignee_id: int | None = None  # the Default Rule's "Assign directly"
    default_assignee_id: int | None = None  # a reassignment group's fallback
    hold: bool = False  # wait for someone to become available instead of falling through
    hold_max: timedelta = timedelta(hours=1)
    follow_up_hours: int | None = None

    @property
    def label(self) -> str:
        return METHOD_LABELS.get(self.method, self.method)

    @property
    def is_pool(self) -> bool:
        """A lead pool: a rule with source buckets."""
        return bool(self.criteria.source_buckets)

    @property
    def _noun(self) -> str:
        if self.kind == GROUP:
            return "reassignment group"
        return "lead pool" if self.is_pool else "rule"

    @property
    def log_name(self) -> str:
        """How the routing log names it."""
        return self.name if self.kind == RULE else f"Reassignment group “{self.name}”"

    @property
    def described(self) -> str:
        """In a sentence: rule “Zillow” / lead pool “Open house” / reassignment group “ISA”."""
        return f"{self._noun} “{self.name}”"

    @property
    def how(self) -> str:
        """The timeline's wording for a contact this source distributed."""
        if self.kind == RULE:
            return f"{self.label} ({self.described})"
        return f"{self.label} via {self.described}"

    @cached_property
    def candidate_ids(self) -> frozenset[int]:
        return frozenset(c.membership_id for c in self.candidates)


@dataclass
class Live:
    """What changes from one decision to the next: turn counts, open contacts, last assignment.

    A batch decides contacts one after another against one Live, applying each decision
    before the next, so the rotation advances exactly as if they were routed one by one.
    """

    counts: dict[int, dict[int, int]] = field(default_factory=dict)  # rotation → member → turns
    open_contacts: dict[int, int] = field(default_factory=dict)
    last_assigned: dict[int, datetime] = field(default_factory=dict)

    def count(self, rotation_id: int, membership_id: int) -> int:
        return self.counts.get(rotation_id, {}).get(membership_id, 0)

    def opened(self, membership_id: int) -> int:
        return self.open_contacts.get(membership_id, 0)


def eligibility(
    source: Source,
    candidate: Candidate,
    now: datetime,
    live: Live,
    *,
    lapsed: frozenset[int] | set[int] = frozenset(),
    current: int | None = None,
) -> str | None:
    """Why the candidate cannot take the contact now, or None when they can."""
    if not candidate.is_active:
        return SkipReason.INACTIVE
    if source.skip_paused and candidate.is_paused_at(now):
        return SkipReason.PAUSED
    if source.only_online and not candidate.is_online:
        return SkipReason.OFFLINE
    if not within_hours(candidate.working_hours, now):
        return SkipReason.OUTSIDE_HOURS
    capacity = candidate.capacity
    if (
        source.respect_capacity
        and capacity is not None
        and live.opened(candidate.membership_id) >= capacity
    ):
        return SkipReason.OVER_CAPACITY
    if candidate.membership_id == current:
        return SkipReason.CURRENT_AGENT
    if candidate.membership_id in lapsed:
        return SkipReason.ALREADY_OFFERED
    return None


def screen(
    source: Source,
    now: datetime,
    live: Live,
    *,
    lapsed: frozenset[int] | set[int] = frozenset(),
    current: int | None = None,
) -> tuple[list[Candidate], tuple[Skip, ...]]:
    """The source's candidates split into who can take the contact and who cannot (and why)."""
    eligible: list[Candidate] = []
    skipped: list[Skip] = []
    for c in source.candidates:
        reason = eligibility(source, c, now, live, lapsed=lapsed, current=current)
        if reason is None:
            eligible.append(c)
        else:
            skipped.append(Skip(c.membership_id, c.name, reason))
    return eligible, tuple(skipped)


def unavailable_summary(skipped: tuple[Skip, ...]) -> str:
    """ "all 3 agents at capacity", "the only agent is paused", "3 agents unavailable: …"."""
    if not skipped:
        return "nobody is assigned to it"
    reasons = [s.reason for s in skipped]
    if len(set(reasons)) == 1:
        short = REASON_SHORT.get(reasons[0], reasons[0])
        if len(skipped) == 1:
            return f"the only agent is {short}"
        return f"all {len(skipped)} agents {short}"
    parts = ", ".join(
        f"{reasons.count(r)} {REASON_SHORT.get(r, r)}"
        for r in sorted(set(reasons), key=lambda r: (-reasons.count(r), r))
    )
    return f"{len(skipped)} agents unavailable: {parts}"


def names_of(ids: tuple[int, ...] | list[int], names: Mapping[int, str]) -> str:
    return ", ".join(names.get(i, f"member #{i}") for i in ids)
