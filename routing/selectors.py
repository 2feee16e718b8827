"""Reads for routing pages: logs scoped by permission, rules for the settings page, offers."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from contacts.models import Contact, ContactRole, RoleKind
from routing.models import Offer, OfferStatus, RoutingLog, RoutingRule, RuleAssignee
from teams import access
from teams import permissions as perms
from teams.models import Membership, Team


def routing_logs_for(*, membership: Membership) -> QuerySet[RoutingLog]:
    """Routing logs the member may read: their team's, with "View Routing Logs"; with
    "User's Group" scope only those naming one of their members or about a contact one
    of them holds."""
    if not access.has_perm(membership, perms.VIEW_ROUTING_LOGS):
        return RoutingLog.objects.none()
    qs = RoutingLog.objects.filter(team=membership.team).select_related(
        "contact", "membership__user"
    )
    reach = access.scope_member_ids(membership)
    if reach is None:
        return qs
    held = ContactRole.objects.filter(kind=RoleKind.AGENT, membership_id__in=reach)
    return qs.filter(Q(membership_id__in=reach) | Q(contact_id__in=held.values("contact_id")))


def rule_for_member(member: Membership, pk: int) -> RoutingRule:
    """A routing rule of the member's team (with the team set), or 404."""
    rule = access.for_member(member, RoutingRule.objects.all(), pk)
    rule.team = member.team
    return rule


def rules_for_settings(*, team: Team) -> list[RoutingRule]:
    """The team's rules for the settings page (lead pools with their source buckets),
    Default Rule last, in 4 queries."""
    assignees = RuleAssignee.objects.select_related("membership__user", "agent_tag")
    rules = list(
        RoutingRule.objects.filter(team=team)
        .select_related("direct_assignee__user")
        .prefetch_related(Prefetch("assignees", queryset=assignees), "source_buckets")
    )
    for rule in rules:
        rule.team = team  # the page reads the plan of every rule's team
    return rules


def open_offer_for(*, contact: Contact, membership: Membership) -> Offer | None:
    """The member's open offer on this contact, if any."""
    return (
        Offer.objects.filter(
            contact=contact, status=OfferStatus.OPEN, offer_recipients__membership=membership
        )
        .order_by("-created_at")
        .first()
    )
