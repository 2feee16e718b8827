"""What routing needs to know about a team, as engine values, loaded once per version.

A team's rules, assignees and members change rarely and are read on every route,
so a worker keeps what it loaded (`team_state`) and reuses it while the team's
routing version is unchanged. Every change to rules, assignees, members or their
availability bumps the version (`routing_version_bump`, called by the receivers
of those changes), and the next route loads afresh. What changes with every
route (turn counts, open contacts) is never cached: `live_load` reads it under
the rotation locks.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, F, Max, Q

from contacts.models import OPEN_STATUSES, BucketContact, Contact, ContactRole, RoleKind
from routing import engine
from routing.models import (
    ReassignmentAssignee,
    ReassignmentGroup,
    Rotation,
    RoutingRule,
    TeamRouting,
)
from teams.models import Membership, Role, Team


def new_version() -> int:
    """A random start, so a team id reused after a rollback (SQLite) never meets a
    state cached for the team that had it before."""
    return random.randrange(1, 2**53)


def routing_version_bump(*, team_id: int | None = None, rule_id: int | None = None) -> None:
    """Rules, assignees, members or availability changed: routers load them again.
    The team is given, or found from one of its rules (in the same statement)."""
    teams = (
        TeamRouting.objects.filter(team_id=team_id)
        if team_id is not None
        else (TeamRouting.objects.filter(team__routing_rules=rule_id))
    )
    teams.update(version=F("version") + 1)


def team_routing_ensure(*, team_id: int) -> None:
    TeamRouting.objects.get_or_create(team_id=team_id, defaults={"version": new_version()})


@dataclass(frozen=True)
class MemberInfo:
    id: int
    name: str
    is_active: bool
    role: str


@dataclass
class TeamState:
    """A team as routing sees it, at one routing version."""

    team_id: int
    version: int
    plan: str
    time_zone: str
    rules: engine.TeamRules
    members: dict[int, MemberInfo]
    candidates: dict[int, engine.Candidate]  # each member with weight 1, for groups
    by_tag: dict[int, tuple[int, ...]]  # agent tag → its members, by name
    uses_tags: bool  # some rule matches on contact tags: routers must read them
    # Some active rule is a lead pool (has source buckets): routers read contacts' buckets.
    uses_buckets: bool = False
    # Members whose open contacts (or last assignment) some rule needs: least open, capacity.
    load_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def owner_id(self) -> int | None:
        return self.rules.owner_id

    def name(self, membership_id: int | None) -> str:
        return self.rules.name(membership_id)

    def rule(self, rule_id: int | None) -> engine.Source | None:
        return self.rules.by_id.get(rule_id) if rule_id is not None else None

    def resolve(self, assignees: Iterable, *, extra_ids: Iterable[int] = ()):
        """Assignees (members, or every member of an agent tag) as candidates, in order."""
        found: dict[int, engine.Candidate] = {}
        for assignee in assignees:
            ids = (
                (assignee.membership_id,)
                if assignee.membership_id is not None
                else self.by_tag.get(assignee.agent_tag_id, ())
            )
            for member_id in ids:
                base = self.candidates.get(member_id)
                if base is not None and member_id not in found:
                    found[member_id] = _placed(base, len(found), assignee.weight)
        for member_id in extra_ids:
            base = self.candidates.get(member_id)
            if base is not None and member_id not in found:
                found[member_id] = _placed(base, len(found), 1)
        return tuple(found.values())


def _placed(base: engine.Candidate, position: int, weight: int) -> engine.Candidate:
    return engine.Candidate(
        membership_id=base.membership_id,
        name=base.name,
        position=position,
        weight=weight,
        is_active=base.is_active,
        is_online=base.is_online,
        paused=base.paused,
        paused_until=base.paused_until,
        capacity=base.capacity,
        working_hours=base.working_hours,
    )


def working_hours(*, days: str, start, end, tz: str) -> engine.WorkingHours | None:
    if start is None or end is None:
        return None
    day_set = frozenset(int(d) for d in days.split(",") if d.strip())
    return engine.WorkingHours(days=day_set, start=start, end=end, tz=tz or "UTC")


def member_candidate(member: Membership) -> engine.Candidate:
    return engine.Candidate(
        membership_id=member.pk,
        name=member.display_name,
        is_active=member.is_active,
        is_online=member.is_online,
        paused=member.paused,
        paused_until=member.paused_until,
        capacity=member.capacity,
        working_hours=working_hours(
            days=member.work_days, start=member.work_start, end=member.work_end, tz=member.time_zone
        ),
    )


def rule_source(
    rule: RoutingRule, candidates: tuple[engine.Candidate, ...], team_tz: str
) -> engine.Source:
    criteria = engine.Criteria(
        sources=tuple(rule.sources),
        contact_types=tuple(rule.contact_types),
        cities=tuple(rule.cities),
        zip_codes=tuple(rule.zip_codes),
        states=tuple(rule.states),
        location_match=rule.location_match,
        price_min=rule.price_min,
        price_max=rule.price_max,
        tags_any=frozenset(rule.tags_any),
        tags_all=frozenset(rule.tags_all),
        require_phone=rule.require_phone,
        require_email=rule.require_email,
        working_hours=working_hours(
            days=rule.work_days,
            start=rule.work_start,
            end=rule.work_end,
            tz=rule.time_zone or team_tz,
        ),
        source_buckets=tuple(
            engine.SourceBucket(b.pk, b.name)
            for b in sorted(rule.source_buckets.all(), key=lambda b: (b.name.casefold(), b.pk))
        ),
    )
    return engine.Source(
        kind=engine.RULE,
        id=rule.pk,
        name=rule.name,
        method=rule.method,
        candidates=candidates,
        rotation_id=rule.rotation_id,
        position=rule.position,
        criteria=criteria,
        is_paused=rule.is_paused,
        is_default=rule.is_default,
        only_online=rule.only_online,
        skip_paused=rule.skip_paused,
        respect_capacity=rule.respect_capacity,
        claim_window=timedelta(minutes=rule.claim_window_minutes),
        direct_assignee_id=rule.direct_assignee_id,
        hold=rule.hold_when_unavailable,
        hold_max=timedelta(minutes=rule.hold_max_minutes),
        follow_up_hours=rule.follow_up_reminder_hours,
    )


def _needs_load(source: engine.Source) -> bool:
    if source.method == engine.LEAST_OPEN:
        return True
    if source.method == engine.MANUAL:
        return False  # an admin assigns by hand, whoever is at capacity
    return source.respect_capacity and any(c.capacity is not None for c in source.candidates)


def team_state_load(*, team: Team, version: int) -> TeamState:
    """Rules, assignees, source buckets and members of the team in six queries, whatever
    their number."""
    members = list(
        Membership.objects.filter(team=team).select_related("user").prefetch_related("tags")
    )
    by_tag: dict[int, list[Membership]] = defaultdict(list)
    for member in members:
        for tag in member.tags.all():
            by_tag[tag.pk].append(member)
    state = TeamState(
        team_id=team.pk,
        version=version,
        plan=team.plan,
        time_zone=team.time_zone,
        rules=engine.TeamRules(plan=team.plan, rules=()),
        members={m.pk: MemberInfo(m.pk, m.display_name, m.is_active, m.role) for m in members},
        candidates={m.pk: member_candidate(m) for m in members},
        by_tag={
            tag_id: tuple(m.pk for m in sorted(tagged, key=lambda m: m.display_name))
            for tag_id, tagged in by_tag.items()
        },
        uses_tags=False,
    )
    sources = []
    rules = RoutingRule.objects.filter(team=team).prefetch_related("assignees", "source_buckets")
    for rule in rules:
        extra = [rule.direct_assignee_id] if rule.direct_assignee_id else []
        candidates = state.resolve(rule.assignees.all(), extra_ids=extra)
        sources.append(rule_source(rule, candidates, team.time_zone))
    owner = next((m.pk for m in members if m.role == Role.OWNER), None)
    state.rules = engine.TeamRules(
        plan=team.plan,
        rules=tuple(sources),
        owner_id=owner,
        names={m.pk: m.display_name for m in members},
    )
    state.uses_tags = any(s.criteria.tags_any or s.criteria.tags_all for s in sources)
    state.uses_buckets = any(s.is_pool and not s.is_paused for s in sources)
    state.load_ids = frozenset(
        c.membership_id for s in sources if _needs_load(s) for c in s.candidates
    )
    return state


_cache: dict[int, TeamState] = {}


def team_state(*, team: Team, version: int) -> TeamState:
    """The team's state at `version`: from this process's cache while current."""
    cached = _cache.get(team.pk)
    if cached is not None and cached.version == version:
        return cached
    state = team_state_load(team=team, version=version)
    _cache[team.pk] = state
    return state


def routed_version(*, team_id: int) -> int | None:
    """The routing version this process last routed the team at, without a query. While
    routing announces a write (routing.signals) it is the version of that write's state,
    so the apps above can cache what they derive per version; elsewhere it may be old."""
    cached = _cache.get(team_id)
    return cached.version if cached is not None else None


def team_version(*, team_id: int) -> int:
    version = TeamRouting.objects.filter(team_id=team_id).values_list("version", flat=True).first()
    if version is None:
        team_routing_ensure(team_id=team_id)
        return team_version(team_id=team_id)
    return version


def team_state_now(*, team: Team) -> TeamState:
    """The current state, reading the version first (one query when cached)."""
    return team_state(team=team, version=team_version(team_id=team.pk))


def cache_clear() -> None:
    _cache.clear()


def group_source(*, state: TeamState, group: ReassignmentGroup) -> engine.Source:
    """A reassignment group as a distribution source (one query for its assignees)."""
    assignees = ReassignmentAssignee.objects.filter(group=group).order_by("position", "id")
    return engine.Source(
        kind=engine.GROUP,
        id=group.pk,
        name=group.name,
        method=group.method,
        candidates=state.resolve(assignees),
        rotation_id=group.rotation_id,
        only_online=group.only_online,
        skip_paused=group.skip_paused,
        respect_capacity=group.respect_capacity,
        claim_window=timedelta(minutes=group.claim_window_minutes),
        default_assignee_id=group.default_assignee_id,
    )


def contact_facts(
    contact: Contact, tag_names: Iterable[str] = (), bucket_ids: Iterable[int] = ()
) -> engine.ContactFacts:
    return engine.ContactFacts(
        source=contact.source,
        contact_type=contact.contact_type,
        city=contact.city,
        zip_code=contact.zip_code,
        state=contact.state,
        price_min=contact.price_min,
        price_max=contact.price_max,
        tags=frozenset(tag_names),
        has_phone=bool(contact.phone.strip()),
        has_email=bool(contact.email.strip()),
        created_at=contact.created_at,
        buckets=frozenset(bucket_ids),
    )


def contact_buckets(contact_ids: list[int]) -> dict[int, set[int]]:
    """The buckets several contacts are placed in, in one query."""
    found: dict[int, set[int]] = defaultdict(set)
    for contact_id, bucket_id in BucketContact.objects.filter(
        contact_id__in=contact_ids
    ).values_list("contact_id", "bucket_id"):
        found[contact_id].add(bucket_id)
    return found


def contact_tags(contact_ids: list[int]) -> dict[int, list[str]]:
    """Tag names of several contacts in one query."""
    through = Contact.tags.through
    names: dict[int, list[str]] = defaultdict(list)
    for contact_id, name in through.objects.filter(contact_id__in=contact_ids).values_list(
        "contact_id", "tag__name"
    ):
        names[contact_id].append(name)
    return names


def live_load(live: engine.Live, member_ids: Iterable[int]) -> None:
    """Open contacts and last assignment of these members into `live` (one query)."""
    ids = list(member_ids)
    if not ids:
        return
    rows = (
        ContactRole.objects.filter(kind=RoleKind.AGENT, membership_id__in=ids)
        .values("membership_id")
        .annotate(
            open=Count("id", filter=Q(contact__status__in=OPEN_STATUSES)),
            last=Max("assigned_at"),
        )
        .values_list("membership_id", "open", "last")
    )
    live.open_contacts.update(dict.fromkeys(ids, 0))
    for member_id, open_count, last in rows:
        live.open_contacts[member_id] = open_count
        if last is not None:
            live.last_assigned[member_id] = last


def needs_load(state: TeamState, sources: Iterable[engine.Source]) -> set[int]:
    """Members of these sources whose open contacts the decision needs."""
    return {c.membership_id for s in sources if _needs_load(s) for c in s.candidates}


def simulate_now(*, team: Team, now: datetime) -> tuple[TeamState, engine.Live]:
    """State and live counts as they are, read without locking, for what-if answers."""
    state = team_state_now(team=team)
    live = engine.Live()
    rotations = {s.rotation_id for s in state.rules.rules}
    for rotation in Rotation.objects.filter(pk__in=rotations):
        live.counts[rotation.pk] = rotation.member_counts()
    live_load(live, state.load_ids)
    return state, live
