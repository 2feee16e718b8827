"""Reads for listings and saved searches, always within the member's team (and, for a
contact's searches, the contacts they may open)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404

from contacts.models import Contact
from contacts.selectors import contact_for_member, contacts_visible_to
from listings.models import (
    AlertListing,
    AlertTemplate,
    ContactSearch,
    Listing,
    ListingPriceChange,
)
from notifications.contact_messages import contact_messages_status
from teams import access
from teams.models import Membership

RECENT_ALERTS = 3


def listing_list(
    *, membership: Membership, search: str = "", status: str = ""
) -> QuerySet[Listing]:
    """The team's listings, newest first (the team_newest index)."""
    qs = Listing.objects.filter(team_id=membership.team_id)
    for term in search.split():
        qs = qs.filter(
            Q(address__icontains=term)
            | Q(city__icontains=term)
            | Q(zip_code__icontains=term)
            | Q(external_id__icontains=term)
        )
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def listing_for_member(member: Membership | None, pk: int) -> Listing:
    """A listing of the member's team, or 404."""
    member = access.require_member(member)
    return access.for_member(member, Listing.objects.all(), pk)


def listing_price_history(*, listing: Listing) -> QuerySet[ListingPriceChange]:
    return listing.price_changes.order_by("-changed_at", "-id")


def listing_alerts(*, listing: Listing, membership: Membership) -> QuerySet[AlertListing]:
    """The alerts that carried the listing, to contacts the member may open."""
    return (
        AlertListing.objects.filter(
            listing=listing, search__contact__in=contacts_visible_to(membership)
        )
        .select_related("search__contact")
        .order_by("-matched_at", "-id")
    )


def alert_template_saved(*, membership: Membership) -> AlertTemplate | None:
    """The team's own alert wording, if it saved one."""
    return AlertTemplate.objects.filter(team_id=membership.team_id).first()


def search_for_member(member: Membership | None, contact_pk: int, pk: int) -> ContactSearch:
    """A saved search of a contact the member may open, or 404."""
    contact = contact_for_member(member, contact_pk)
    search = ContactSearch.objects.filter(pk=pk, contact=contact).first()
    if search is None:
        raise Http404("No such saved search for this contact.")
    search.contact = contact
    return search


@dataclass(frozen=True)
class SentAlert:
    key: str
    listings: int
    scheduled_at: datetime
    status: str  # pending, held, sent, skipped, failed
    reason: str


@dataclass(frozen=True)
class SearchCard:
    search: ContactSearch
    waiting: int  # listings waiting for the next digest
    recent: list[SentAlert]


def contact_search_cards(*, contact: Contact) -> list[SearchCard]:
    """The contact's searches, each with what waits for its digest and its last alerts
    and what became of them (three queries whatever the number of searches)."""
    searches = list(ContactSearch.objects.filter(contact=contact).order_by("created_at", "id"))
    rows = (
        AlertListing.objects.filter(search__contact=contact)
        .values("search_id", "message_key")
        .annotate(n=Count("id"), at=Max("scheduled_at"))
        .order_by("-at")
    )
    waiting, sent = {}, {}
    for row in rows:
        if not row["message_key"]:
            waiting[row["search_id"]] = row["n"]
        else:
            sent.setdefault(row["search_id"], []).append(row)
    recent = {pk: found[:RECENT_ALERTS] for pk, found in sent.items()}
    states = contact_messages_status(keys=[r["message_key"] for v in recent.values() for r in v])
    cards = []
    for search in searches:
        alerts = []
        for row in recent.get(search.pk, []):
            state = states.get(row["message_key"])
            alerts.append(
                SentAlert(
                    key=row["message_key"],
                    listings=row["n"],
                    scheduled_at=row["at"],
                    status=state.status if state else "pending",
                    reason=state.reason if state else "",
                )
            )
        cards.append(SearchCard(search=search, waiting=waiting.get(search.pk, 0), recent=alerts))
    return cards
