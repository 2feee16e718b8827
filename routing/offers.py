"""Next Up and Blast Alert offers: claimed (first claim wins) or lapsed (moves on).

Both lock the contact's routing row first, then decide between claimers and expiry
with a conditional UPDATE on the offer, so exactly one of them wins, whoever calls.
A lapsed Next Up offer goes to the next person in the same rule (even if the rules
were reordered, edited or paused since), and only when nobody is left there does the
contact move on; a lapsed Blast Alert moves on to the next rule. Offers made through
a reassignment group stay in the group, then go to its default assignee.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact
from routing import engine
from routing.models import (
    LogEvent,
    Offer,
    OfferKind,
    OfferRecipient,
    OfferStatus,
    ReassignmentGroup,
)
from routing.queue import agents_of, routing_lock
from routing.reassignment import group_distribute
from routing.route import Resume, rows_route
from routing.state import TeamState, group_source, team_state
from routing.writer import Apply, decisions_apply, log_entry
from teams.models import Membership

SWEEP_BATCH = 500


@dataclass(frozen=True)
class ClaimResult:
    claimed: bool
    message: str
    winner: Membership | None = None


def _offer_source(state: TeamState, offer: Offer) -> engine.Source | None:
    if offer.reassignment_group_id is not None:
        group = ReassignmentGroup.objects.filter(pk=offer.reassignment_group_id).first()
        return group_source(state=state, group=group) if group is not None else None
    return state.rule(offer.rule_id)


def offer_claim(
    *, offer_id: int, membership: Membership, now: datetime | None = None
) -> ClaimResult:
    """First claim wins: the contact becomes the claimer's."""
    now = now or timezone.now()
    if not OfferRecipient.objects.filter(offer_id=offer_id, membership=membership).exists():
        raise PermissionDenied("This offer was not sent to you.")
    contact_id = Offer.objects.filter(pk=offer_id).values_list("contact_id", flat=True).get()
    with transaction.atomic():
        row = routing_lock(contact_id=contact_id)
        won = Offer.objects.filter(pk=offer_id, status=OfferStatus.OPEN, deadline__gt=now).update(
            status=OfferStatus.CLAIMED, claimed_by=membership, resolved_at=now
        )
        if won:
            offer = Offer.objects.get(pk=offer_id)
            state = team_state(team=row.team, version=row.version)
            source = _offer_source(state, offer)
            name = state.name(membership.pk)
            where = f" ({source.described})" if source is not None else ""
            how = f"claimed {OfferKind(offer.kind).label} offer{where}"
            claimed = log_entry(
                row,
                LogEvent.OFFER_CLAIMED,
                f"claimed by {name}",
                now=now,
                source=source,
                member_id=membership.pk,
            )
            decision = engine.Decision(
                engine.ASSIGN,
                source=source,
                member_id=membership.pk,
                how=how,
                reason=f"assigned to {name}: {how}",
            )
            previous = agents_of([row]).get(row.contact_id)
            item = Apply(row, decision, previous_id=previous, events=[claimed])
            decisions_apply(state=state, items=[item], now=now)
            return ClaimResult(True, "The contact is yours.", membership)
    offer = Offer.objects.select_related("claimed_by__user").get(pk=offer_id)
    if offer.status == OfferStatus.CLAIMED:
        who = "you" if offer.claimed_by_id == membership.pk else offer.claimed_by.display_name
        return ClaimResult(False, f"This contact was already claimed by {who}.", offer.claimed_by)
    if offer.status == OfferStatus.OPEN:
        # Past its deadline but not yet swept: move it on now.
        offer_expire(offer_id=offer_id, now=now)
    return ClaimResult(False, "This offer has moved on: the claim window closed.")


def offer_claim_by_activity(*, contact: Contact, membership: Membership) -> ClaimResult | None:
    """Contacting the contact (call, text, email, note, segment, tags) claims a Next Up offer."""
    offer_id = (
        Offer.objects.filter(
            contact=contact,
            status=OfferStatus.OPEN,
            kind=OfferKind.NEXT_UP,
            offer_recipients__membership=membership,
        )
        .values_list("pk", flat=True)
        .first()
    )
    return offer_claim(offer_id=offer_id, membership=membership) if offer_id else None


def offer_expire(*, offer_id: int, now: datetime | None = None) -> bool:
    """Close a lapsed offer and move the contact on. Exactly once, whoever calls it."""
    now = now or timezone.now()
    contact_id = Offer.objects.filter(pk=offer_id).values_list("contact_id", flat=True).first()
    if contact_id is None:
        return False
    with transaction.atomic():
        row = routing_lock(contact_id=contact_id)
        expired = Offer.objects.filter(
            pk=offer_id, status=OfferStatus.OPEN, deadline__lte=now
        ).update(status=OfferStatus.EXPIRED, resolved_at=now)
        if not expired:
            return False
        offer = Offer.objects.get(pk=offer_id)
        recipients = list(
            OfferRecipient.objects.filter(offer=offer).values_list("membership_id", flat=True)
        )
        state = team_state(team=row.team, version=row.version)
        source = _offer_source(state, offer)
        blast = offer.kind == OfferKind.BLAST
        reason = f"{OfferKind(offer.kind).label} offer not claimed within the window"
        if blast and source is not None and source.kind == engine.RULE:
            reason += ": nobody claimed the blast in time, it moves to the next rule"
        lapsed = log_entry(row, LogEvent.OFFER_EXPIRED, reason, now=now, source=source)
        if not blast:
            row.lapsed_members = sorted(set(row.lapsed_members) | set(recipients))
        if offer.reassignment_group_id is not None:
            group_distribute(
                state=state, row=row, group=source, now=now, blast_done=blast, events=[lapsed]
            )
            return True
        if blast and offer.rule_id is not None:
            row.tried_rules = sorted({*row.tried_rules, offer.rule_id})
        resume = (
            None
            if blast
            else Resume(offer.rule_id, "Next Up offer lapsed: the next person in this rule")
        )
        rows_route(
            rows=[row],
            now=now,
            resumes={row.contact_id: resume} if resume else None,
            events={row.contact_id: [lapsed]},
        )
    return True


def offers_sweep(*, now: datetime | None = None) -> int:
    """Expire every lapsed offer (the backstop for missed deadline tasks)."""
    now = now or timezone.now()
    ids = list(
        Offer.objects.filter(status=OfferStatus.OPEN, deadline__lte=now)
        .order_by("deadline", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    return sum(offer_expire(offer_id=offer_id, now=now) for offer_id in ids)


def offers_cancel(*, contact_id: int, now: datetime) -> int:
    """Cancel the contact's open offer (it was assigned by hand, rerouted or removed)."""
    return Offer.objects.filter(contact_id=contact_id, status=OfferStatus.OPEN).update(
        status=OfferStatus.CANCELLED, resolved_at=now
    )
