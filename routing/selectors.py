"""Reads for routing pages: logs scoped by permission, rules for the settings page, offers."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from contacts.models import Contact
from routing.models import Offer, OfferStatus, RoutingLog, RoutingRule, RuleAssignee
from teams.models import Membership, Team
from teams.permissions import member_has_perm


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


def open_offer_for(*, contact: Contact, membership: Membership) -> Offer | None:
    """The member's open offer on this contact, if any."""
    return (
        Offer.objects.filter(
            contact=contact, status=OfferStatus.OPEN, offer_recipients__membership=membership
        )
        .order_by("-created_at")
        .first()
    )
