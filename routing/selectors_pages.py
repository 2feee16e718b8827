"""Reads for the agent pages, the routing logs and the lead routing dashboard.

Every function takes the acting member and returns only rows of their team that
their permissions let them see; list pages cost a fixed number of queries
whatever the number of rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)

from contacts.models import OPEN_STATUSES, Contact, ContactRole, ContactStatus, RoleKind
from contacts.selectors import contacts_in_scope
from routing.models import (
    ContactRouting,
    Offer,
    OfferStatus,
    RoutingLog,
    RoutingRule,
    RoutingStatus,
)
from routing.selectors import routing_logs_for
from teams import access
from teams import permissions as perms
from teams.models import Membership

OFFERS_SHOWN = 50
SEARCH_RESULTS = 20
CONTACT_LOG_ROWS = 500


# --- countdowns -------------------------------------------------------------------


def countdown_text(seconds: float) -> str:
    """Time left to claim, as static/js/countdown.js writes it (the no-JS fallback)."""
    left = math.ceil(seconds)
    if left <= 0:
        return "Claim window closed"
    hours, rest = divmod(left, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min left"
    if minutes:
        return f"{minutes} min {secs:02d} s left"
    return f"{secs} s left"


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC to the millisecond, which every browser's Date.parse reads."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


# --- agent pages --------------------------------------------------------------------


def offers_open_for(*, membership: Membership, now: datetime) -> list[Offer]:
    """The member's claimable offers (Next Up for them, Blast Alerts they received), soonest first.

    Each offer carries `seconds_left` and `countdown` for the page.
    """
    offers = list(
        Offer.objects.filter(
            offer_recipients__membership=membership,
            contact__team_id=membership.team_id,
            status=OfferStatus.OPEN,
            deadline__gt=now,
        )
        .select_related("contact", "rule", "reassignment_group")
        .order_by("deadline", "id")[:OFFERS_SHOWN]
    )
    for offer in offers:
        offer.seconds_left = (offer.deadline - now).total_seconds()
        offer.countdown = countdown_text(offer.seconds_left)
        offer.deadline_iso = iso_utc(offer.deadline)
    return offers


def offer_for_member(*, membership: Membership, offer_id: int) -> Offer | None:
    """One offer sent to the member, whatever its status; None for anyone else's."""
    return (
        Offer.objects.filter(
            pk=offer_id,
            offer_recipients__membership=membership,
            contact__team_id=membership.team_id,
        )
        .select_related("contact", "rule", "reassignment_group", "claimed_by__user")
        .first()
    )


def my_contacts_for(*, membership: Membership) -> QuerySet[ContactRole]:
    """Contacts where the member is the primary Agent: open ones first, newest assignment first."""
    return (
        ContactRole.objects.filter(
            membership=membership, kind=RoleKind.AGENT, contact__team_id=membership.team_id
        )
        .select_related("contact")
        .annotate(
            closed=Case(
                When(contact__status__in=OPEN_STATUSES, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("closed", "-assigned_at", "-id")
    )


# --- pagination without a count -----------------------------------------------------


@dataclass(frozen=True)
class PageSlice:
    """One page of rows, found by fetching one row more than shown (no COUNT over the table)."""

    rows: list[Any]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1


def page_slice(qs: QuerySet, number: int, per_page: int) -> PageSlice:
    number = max(number, 1)
    start = (number - 1) * per_page
    rows = list(qs[start : start + per_page + 1])
    return PageSlice(rows=rows[:per_page], number=number, has_next=len(rows) > per_page)


def page_number(value: str | None) -> int:
    try:
        return max(int(value or 1), 1)
    except ValueError:
        return 1


# --- routing logs --------------------------------------------------------------------


def team_rules(*, membership: Membership) -> QuerySet[RoutingRule]:
    return RoutingRule.objects.filter(team_id=membership.team_id).only(
        "id", "name", "position", "is_default"
    )


def team_members(*, membership: Membership) -> QuerySet[Membership]:
    return Membership.objects.filter(team_id=membership.team_id).select_related("user")


def members_in_scope(*, membership: Membership) -> QuerySet[Membership]:
    """The team's members a "User's Group" member's lead distribution reaches (all of
    them for Entire Company)."""
    qs = team_members(membership=membership)
    reach = access.scope_member_ids(membership)
    return qs if reach is None else qs.filter(pk__in=reach)


def routing_logs_filtered(
    *,
    membership: Membership,
    now: datetime,
    rule_id: int | None = None,
    member_id: int | None = None,
    event: str = "",
    days: int | None = None,
) -> QuerySet[RoutingLog]:
    """The team's routing log, newest first, narrowed by rule, agent, outcome and period."""
    qs = routing_logs_for(membership=membership)
    if rule_id:
        qs = qs.filter(rule_id=rule_id)
    if member_id:
        qs = qs.filter(membership_id=member_id)
    if event:
        qs = qs.filter(event=event)
    if days:
        qs = qs.filter(created_at__gte=now - timedelta(days=days))
    return qs.order_by("-created_at", "-id")


def contacts_search(*, membership: Membership, q: str) -> list[Contact]:
    """Team contacts whose name, email or phone contain every word of `q`."""
    words = q.split()[:5]
    if not words or not access.has_perm(membership, perms.VIEW_ROUTING_LOGS):
        return []
    qs = Contact.objects.filter(team_id=membership.team_id)
    for word in words:
        qs = qs.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
            | Q(phone__icontains=word)
        )
    return list(qs.select_related("routing").order_by("-created_at", "-id")[:SEARCH_RESULTS])


def contact_for_logs(*, membership: Membership, contact_id: int) -> Contact | None:
    """A contact of the member's team with its routed rule and primary Agent (2 queries)."""
    if not access.has_perm(membership, perms.VIEW_ROUTING_LOGS):
        return None
    return (
        Contact.objects.filter(pk=contact_id, team_id=membership.team_id)
        .select_related("routing__rule")
        .prefetch_related(_agent_roles())
        .first()
    )


def contact_log(*, membership: Membership, contact: Contact) -> list[RoutingLog]:
    """The contact's routing log in time order: rules, skips, offers, claims, assignment."""
    return list(
        routing_logs_for(membership=membership)
        .filter(contact=contact)
        .order_by("created_at", "id")[:CONTACT_LOG_ROWS]
    )


# --- lead routing dashboard ------------------------------------------------------------

ASSIGNED = "assigned"
UNASSIGNED = "unassigned"
HELD = "held"
WAITING = "waiting"
FAILED = "failed"


def _agent_roles() -> Prefetch:
    return Prefetch(
        "roles",
        queryset=ContactRole.objects.filter(kind=RoleKind.AGENT).select_related("membership__user"),
        to_attr="agent_roles",
    )


def dashboard_contacts(
    *, membership: Membership, rule_id: int | None = None, assignment: str = ""
) -> QuerySet[Contact]:
    """Routed leads of the team (removed ones excluded), newest first on the created_at index.

    `assignment` is "assigned", "unassigned", "held" (waiting in its rule for someone
    to become available), "waiting" (in a Manual lead pool, for an admin to assign),
    "failed" or a member's id.
    """
    if not access.has_perm(membership, perms.MANAGE_LEAD_DISTRIBUTION):
        return Contact.objects.none()
    qs = Contact.objects.filter(team_id=membership.team_id).exclude(status=ContactStatus.ARCHIVED)
    qs = contacts_in_scope(qs, membership)
    if rule_id:
        qs = qs.filter(routing__rule_id=rule_id)
    agent_roles = ContactRole.objects.filter(contact=OuterRef("pk"), kind=RoleKind.AGENT)
    if assignment == ASSIGNED:
        qs = qs.filter(Exists(agent_roles))
    elif assignment == UNASSIGNED:
        qs = qs.filter(~Exists(agent_roles))
    elif assignment == HELD:
        qs = qs.filter(routing__status=RoutingStatus.HELD)
    elif assignment == WAITING:
        qs = qs.filter(routing__status=RoutingStatus.WAITING)
    elif assignment == FAILED:
        qs = qs.filter(routing__status=RoutingStatus.FAILED)
    elif assignment.isdigit():
        qs = qs.filter(Exists(agent_roles.filter(membership_id=int(assignment))))
    return (
        qs.select_related("routing__rule")
        .prefetch_related(_agent_roles())
        .order_by("-created_at", "-id")
    )


def attention_counts(*, membership: Membership | None) -> dict[str, int]:
    """What needs an admin's eye, in one query: contacts held in a rule waiting for
    someone available, contacts waiting in a Manual lead pool for an admin to assign
    them, contacts routing gave up on, and failed ones still being retried."""
    if (
        membership is None
        or not access.has_perm(membership, perms.MANAGE_LEAD_DISTRIBUTION)
        or not access.sees_whole_company(membership)
    ):  # held, waiting and failed contacts (most without an Agent): the whole team's concern
        return {"held": 0, "waiting": 0, "gave_up": 0, "retrying": 0}
    failed = Q(status=RoutingStatus.FAILED)
    last = Q(attempts__gte=settings.ROUTING_MAX_ATTEMPTS)
    return ContactRouting.objects.filter(
        team_id=membership.team_id,
        status__in=[RoutingStatus.HELD, RoutingStatus.WAITING, RoutingStatus.FAILED],
    ).aggregate(
        held=Count("pk", filter=Q(status=RoutingStatus.HELD)),
        waiting=Count("pk", filter=Q(status=RoutingStatus.WAITING)),
        gave_up=Count("pk", filter=failed & last),
        retrying=Count("pk", filter=failed & ~last),
    )


def dashboard_page(qs: QuerySet[Contact], number: int, per_page: int = 25):
    """A Paginator page: one COUNT over the filtered, indexed queryset and one page query."""
    return Paginator(qs, per_page).get_page(number)


def dashboard_contact(*, membership: Membership, contact_id: int) -> Contact | None:
    """One lead of the member's team (and scope) for the dashboard's actions and rows."""
    return (
        contacts_in_scope(Contact.objects.filter(team_id=membership.team_id), membership)
        .filter(pk=contact_id)
        .select_related("routing__rule")
        .prefetch_related(_agent_roles())
        .first()
    )
