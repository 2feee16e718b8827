"""Notifications written in the same transaction as the routing event that causes them."""

from __future__ import annotations

from contacts.models import Contact
from routing.models import Offer
from teams.models import Membership


def offer_made(*, offer: Offer, member_ids: list[int]) -> None:
    """Next Up / Blast Alert: tell each recipient there is a contact to claim."""


def contact_assigned(
    *, contact: Contact, membership: Membership, previous: Membership | None, rule_id: int | None
) -> None:
    """Routing is complete: tell the agent (and the previous owner), release auto emails."""
