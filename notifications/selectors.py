"""Reads for notifications, always scoped to one member."""

from __future__ import annotations

from django.db.models import QuerySet

from notifications.models import Channel, OutboxMessage
from routing.models import Offer, OfferRecipient
from teams.models import Membership

BELL_SIZE = 8


def inbox_for(*, membership: Membership) -> QuerySet[OutboxMessage]:
    """The member's in-app notifications, newest first."""
    return OutboxMessage.objects.filter(membership=membership, channel=Channel.IN_APP).order_by(
        "-created_at", "-id"
    )


def bell_for(*, membership: Membership) -> tuple[int, list[OutboxMessage]]:
    """Unread count and the latest few, in two queries."""
    inbox = inbox_for(membership=membership)
    unread = inbox.filter(read_at__isnull=True).count()
    return unread, list(inbox.select_related("offer")[:BELL_SIZE])


def offer_for_recipient(*, offer_id: int, membership_id: int) -> Offer | None:
    """The offer, when it was sent to that member (whoever asks, the link decides)."""
    if not OfferRecipient.objects.filter(offer_id=offer_id, membership_id=membership_id).exists():
        return None
    return (
        Offer.objects.select_related("contact", "claimed_by__user", "rule")
        .filter(pk=offer_id)
        .first()
    )


def recipient_membership(*, membership_id: int) -> Membership | None:
    return Membership.objects.select_related("user", "team").filter(pk=membership_id).first()
