"""Reads for routing: rules as engine dataclasses, logs scoped by permission."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Count, Prefetch, QuerySet

from contacts.models import OPEN_STATUSES, Contact, ContactRole, RoleKind
from routing import engine
from routing.models import RotationSlot, RoutingLog, RoutingRule, RuleAssignee
from teams.models import Membership, Team
from teams.permissions import member_has_perm


def working_hours(*, days: str, start, end, tz: str) -> engine.WorkingHours | None:
    if start is None or end is None:
        return None
    day_set = frozenset(int(d) for d in days.split(",") if d.strip())
    return engine.WorkingHours(days=day_set, start=start, end=end, tz=tz or "UTC")


def contact_facts(contact: Contact, tag_names: list[str]) -> engine.ContactFacts:
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
    )


def member_candidate(
    member: Membership, *, now: datetime, position: int, weight: int
) -> engine.Candidate:
    return engine.Candidate(
        membership_id=member.pk,
        name=member.display_name,
        position=position,
        weight=weight,
        is_active=member.is_active,
        is_online=member.is_online,
        is_paused=member.is_paused_at(now),
        capacity=member.capacity,
        last_assigned_at=member.last_assigned_at,
        working_hours=working_hours(
            days=member.work_days, start=member.work_start, end=member.work_end, tz=member.time_zone
        ),
    )


@dataclasses.dataclass
class TeamRouting:
    """Everything routing needs about a team, loaded in a fixed number of queries."""

    team: Team
    rules: list[engine.Rule]
    members: dict[int, Membership]
    owner: Membership | None
    rotation_ids: dict[int, int]
    by_tag: dict[int, list[Membership]]

    def candidates(self, assignees, *, now: datetime, extra_ids=()) -> tuple[engine.Candidate, ...]:
        """Assignees (members, or agent tags resolved now) as engine candidates, in order."""
        found: dict[int, engine.Candidate] = {}
        for assignee in assignees:
            group = (
                [self.members[assignee.membership_id]]
                if assignee.membership_id in self.members
                else sorted(
                    self.by_tag.get(assignee.agent_tag_id, []), key=lambda m: m.display_name
                )
            )
            for member in group:
                if member.pk not in found:
                    found[member.pk] = member_candidate(
                        member, now=now, position=len(found), weight=assignee.weight
                    )
        for member_id in extra_ids:
            if member_id in self.members and member_id not in found:
                found[member_id] = member_candidate(
                    self.members[member_id], now=now, position=len(found), weight=1
                )
        return tuple(found.values())


def team_routing_load(*, team: Team, now: datetime) -> TeamRouting:
    members = {
        m.pk: m
        for m in Membership.objects.filter(team=team)
        .select_related("user")
        .prefetch_related("tags")
    }
    by_tag: dict[int, list[Membership]] = defaultdict(list)
    for member in members.values():
        for tag in member.tags.all():
            by_tag[tag.pk].append(member)
    state = TeamRouting(
        team=team, rules=[], members=members, owner=None, rotation_ids={}, by_tag=by_tag
    )
    for rule in RoutingRule.objects.filter(team=team).prefetch_related("assignees"):
        state.rotation_ids[rule.pk] = rule.rotation_id
        extra = [rule.direct_assignee_id] if rule.direct_assignee_id else []
        candidates = state.candidates(rule.assignees.all(), now=now, extra_ids=extra)
        state.rules.append(engine_rule(rule, candidates, team.time_zone))
    state.owner = next((m for m in members.values() if m.role == "owner"), None)
    return state


def engine_rule(
    rule: RoutingRule, candidates: tuple[engine.Candidate, ...], team_tz: str
) -> engine.Rule:
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
    )
    return engine.Rule(
        id=rule.pk,
        name=rule.name,
        position=rule.position,
        method=rule.method,
        criteria=criteria,
        candidates=candidates,
        is_paused=rule.is_paused,
        is_default=rule.is_default,
        only_online=rule.only_online,
        skip_paused=rule.skip_paused,
        respect_capacity=rule.respect_capacity,
        claim_window=timedelta(minutes=rule.claim_window_minutes),
        direct_assignee_id=rule.direct_assignee_id,
    )


def with_rotation_state(rule: engine.Rule, *, rotation_id: int) -> engine.Rule:
    """The rule's candidates with their turn counts and open contacts (2 queries)."""
    ids = [c.membership_id for c in rule.candidates]
    counts = dict(
        RotationSlot.objects.filter(rotation_id=rotation_id, membership_id__in=ids).values_list(
            "membership_id", "count"
        )
    )
    open_contacts = dict(
        ContactRole.objects.filter(
            kind=RoleKind.AGENT, membership_id__in=ids, contact__status__in=OPEN_STATUSES
        )
        .values("membership_id")
        .annotate(n=Count("id"))
        .values_list("membership_id", "n")
    )
    return dataclasses.replace(
        rule,
        candidates=tuple(
            dataclasses.replace(
                c,
                count=counts.get(c.membership_id, 0),
                open_contacts=open_contacts.get(c.membership_id, 0),
            )
            for c in rule.candidates
        ),
    )


def routing_logs_for(*, membership: Membership) -> QuerySet[RoutingLog]:
    """Routing logs the member may read: their team's, with "View Routing Logs"."""
    if not member_has_perm(membership, "view_routing_logs"):
        return RoutingLog.objects.none()
    return RoutingLog.objects.filter(team=membership.team).select_related(
        "contact", "membership__user"
    )


def rules_for_settings(*, team: Team) -> list[RoutingRule]:
    """The team's rules for the settings page, Default Rule last, in 3 queries."""
    assignees = RuleAssignee.objects.select_related("membership__user", "agent_tag")
    rules = list(
        RoutingRule.objects.filter(team=team)
        .select_related("direct_assignee__user")
        .prefetch_related(Prefetch("assignees", queryset=assignees))
    )
    for rule in rules:
        rule.team = team  # the page reads the plan of every rule's team
    return rules
