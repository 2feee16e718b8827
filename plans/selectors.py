"""Reads for Smart Plans, filtered by team and by who may see what.

Every member sees the Team Library and their own plans (nobody else's). The library
is edited by members with “Manage Team” (LIBRARY_PERM); a member's own plan only by
that member. A contact's runs are seen by whoever may open the contact, and worked
(started, paused, resumed, stopped) by whoever may work it: its primary Agent, the
owner and admins who see every contact.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from contacts import selectors as contact_selectors
from contacts.models import Bucket, Contact, ContactRole, RoleKind
from plans.models import (
    LIVE_STATUSES,
    Plan,
    PlanRun,
    PlanRunStep,
    PlanStep,
    PlanTrigger,
    StepStatus,
)
from routing.models import RoutingRule
from teams import access
from teams import permissions as perms
from teams.models import Membership

# The library's plans write to contacts in every agent's name, like the team's auto
# messages: the same permission edits both.
LIBRARY_PERM = perms.MANAGE_TEAM
LIBRARY_HELP = (
    "The Team Library is edited by owners and admins with the “Manage Team” permission, "
    "the permission that words the team's auto messages: library plans write to contacts "
    "in every agent's name. Everyone can download a library plan into their own plans "
    "and change their copy."
)
RECENT_ENDED_RUNS = 3


def plans_visible_to(member: Membership) -> QuerySet[Plan]:
    """The Team Library and the member's own plans."""
    return Plan.objects.filter(team_id=member.team_id).filter(
        Q(owner__isnull=True) | Q(owner=member)
    )


def library_plans(member: Membership) -> QuerySet[Plan]:
    return plans_visible_to(member).filter(owner__isnull=True)


def own_plans(member: Membership) -> QuerySet[Plan]:
    return plans_visible_to(member).filter(owner=member)


def plan_for_member(member: Membership | None, pk: int) -> Plan:
    """A plan the member may see, or 404 (another team's, or another member's own)."""
    member = access.require_member(member)
    return access.for_member(member, plans_visible_to(member).select_related("owner__user"), pk)


def may_edit(member: Membership | None, plan: Plan) -> bool:
    if member is None or not member.is_active or member.team_id != plan.team_id:
        return False
    if plan.owner_id is None:
        return access.has_perm(member, LIBRARY_PERM)
    return plan.owner_id == member.pk


def require_edit(member: Membership | None, plan: Plan) -> None:
    """404 outside the team (or for another member's own plan), 403 without the right."""
    member = access.require_member(member, plan.team_id)
    if plan.owner_id is not None and plan.owner_id != member.pk:
        raise Http404("No such thing in your team.")
    if not may_edit(member, plan):
        label = perms.LABELS[LIBRARY_PERM]
        raise PermissionDenied(
            f"You need the “{label}” permission to edit the Team Library. Download the plan "
            "into your own plans to change your copy."
        )


def plan_steps(plan: Plan) -> list[PlanStep]:
    return list(plan.steps.all())


def plan_triggers(plan: Plan) -> list[PlanTrigger]:
    return list(plan.triggers.select_related("rule", "bucket__owner__user"))


def trigger_rules(member: Membership, plan: Plan) -> QuerySet[RoutingRule]:
    """Rules route for the whole team, so only Team Library plans start from one."""
    if plan.owner_id is not None:
        return RoutingRule.objects.none()
    return RoutingRule.objects.filter(team_id=plan.team_id).order_by("is_default", "position")


def trigger_buckets(member: Membership, plan: Plan) -> QuerySet[Bucket]:
    """Library plans: any bucket of the team. A member's own plan: the member's buckets
    (their default bucket receives the leads assigned to them)."""
    buckets = Bucket.objects.filter(team_id=plan.team_id).select_related("owner__user")
    if plan.owner_id is not None:
        buckets = buckets.filter(owner_id=plan.owner_id)
    return buckets


# What starts plans, per team, remembered at the routing version it was read at (team →
# (version, rule ids, bucket ids)). Routing announces every assignment and default-bucket
# placement of a batch, and most rules and buckets start no plan: while the version holds,
# knowing that costs no query. Adding or removing a trigger bumps the version (receivers).
_trigger_index: dict[int, tuple[int, frozenset[int], frozenset[int]]] = {}


def trigger_index(*, team_id: int, version: int | None) -> tuple[frozenset[int], frozenset[int]]:
    """(rule ids, bucket ids) that start some plan of the team. `version`: the routing
    version of the routing write in progress (routing.state.routed_version); None reads
    afresh and remembers nothing."""
    cached = _trigger_index.get(team_id)
    if version is not None and cached is not None and cached[0] == version:
        return cached[1], cached[2]
    pairs = list(
        PlanTrigger.objects.filter(plan__team_id=team_id).values_list("rule_id", "bucket_id")
    )
    rules = frozenset(rule_id for rule_id, _ in pairs if rule_id is not None)
    buckets = frozenset(bucket_id for _, bucket_id in pairs if bucket_id is not None)
    if version is not None:
        _trigger_index[team_id] = (version, rules, buckets)
    return rules, buckets


def trigger_index_clear() -> None:
    _trigger_index.clear()


def runnable_plans(member: Membership) -> QuerySet[Plan]:
    """What the member may start by hand: the library and their own plans, with steps."""
    return (
        plans_visible_to(member)
        .filter(steps__isnull=False)
        .distinct()
        .order_by("owner", "name", "id")
    )


def primary_agent(contact: Contact) -> Membership | None:
    role = (
        ContactRole.objects.filter(contact=contact, kind=RoleKind.AGENT)
        .select_related("membership__user", "membership__team")
        .first()
    )
    return role.membership if role else None


def may_work_contact(member: Membership, contact: Contact) -> bool:
    agent_role = ContactRole.objects.filter(contact=contact, kind=RoleKind.AGENT).first()
    return contact_selectors.may_work(member, contact, agent_role)


def require_work_contact(member: Membership, contact: Contact) -> None:
    if not may_work_contact(member, contact):
        raise PermissionDenied(
            "Only the contact's primary Agent, the owner and admins start or change its plans."
        )


def run_for_member(member: Membership | None, pk: int) -> PlanRun:
    """A run of a contact the member may open, or 404."""
    member = access.require_member(member)
    visible = contact_selectors.contacts_visible_to(member).values("pk")
    run = (
        PlanRun.objects.filter(pk=pk, team_id=member.team_id, contact__in=visible)
        .select_related("plan", "contact__team")
        .first()
    )
    if run is None:
        raise Http404("No such thing in your team.")
    return run


@dataclass(frozen=True)
class RunView:
    run: PlanRun
    done: list[PlanRunStep]
    next_step: PlanRunStep | None
    waiting: int  # scheduled steps after the next one
    to_resume: int  # steps a pause cancelled, scheduled again by a resume
    held: bool  # nobody holds the primary Agent role: the sends wait for one


def contact_runs(contact: Contact) -> list[RunView]:
    """The contact's live runs, then its last few ended ones, with their steps (3 queries)."""
    steps = Prefetch("run_steps", queryset=PlanRunStep.objects.select_related("agent__user"))
    base = PlanRun.objects.filter(contact=contact).select_related("plan").prefetch_related(steps)
    live = list(base.filter(status__in=LIVE_STATUSES))
    ended = list(base.exclude(status__in=LIVE_STATUSES)[:RECENT_ENDED_RUNS])
    has_agent = ContactRole.objects.filter(contact=contact, kind=RoleKind.AGENT).exists()
    views = []
    for run in live + ended:
        rows = list(run.run_steps.all())
        scheduled = sorted(
            (r for r in rows if r.status == StepStatus.SCHEDULED), key=lambda r: r.due_at
        )
        views.append(
            RunView(
                run=run,
                done=[r for r in rows if r.done_at is not None],
                next_step=scheduled[0] if scheduled else None,
                waiting=max(len(scheduled) - 1, 0),
                to_resume=sum(
                    r.status == StepStatus.CANCELLED and r.step_id is not None for r in rows
                ),
                held=not has_agent,
            )
        )
    return views
