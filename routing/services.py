"""Routing a contact: pick a rule, distribute, offer, claim, expire, log why.

The decisions live in routing.engine; this module loads state, calls it and
writes the outcome in one transaction, so a rollback leaves no trace: no turn
is taken, no log written, no offer made.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contacts.models import Contact, ContactRole, ContactStatus, RoleKind, RoutingStatus
from contacts.services import timeline_add
from notifications import services as notifications
from routing import engine
from routing.models import (
    LogEvent,
    Method,
    Offer,
    OfferKind,
    OfferRecipient,
    OfferStatus,
    ReassignmentGroup,
    Rotation,
    RotationSlot,
    RoutingLog,
    RoutingRule,
)
from routing.selectors import TeamRouting, contact_facts, team_routing_load, with_rotation_state
from teams.models import Membership, Team
from teams.permissions import member_has_perm

logger = logging.getLogger(__name__)

MAX_ROUTING_ATTEMPTS = 5


# --- scheduling ---------------------------------------------------------------


def routing_schedule(*, contact_id: int) -> None:
    """Route the contact after the current transaction commits."""
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task(
            "routing.tasks.route_contact", contact_id, task_name=f"route-{contact_id}"
        )
    )


def _schedule_expiry(offer: Offer) -> None:
    """A one-off django-q2 schedule at the deadline; the sweeper is the backstop."""
    from django_q.models import Schedule
    from django_q.tasks import schedule

    transaction.on_commit(
        lambda: schedule(
            "routing.tasks.expire_offer",
            offer.pk,
            name=f"expire-offer-{offer.pk}",
            schedule_type=Schedule.ONCE,
            next_run=offer.deadline,
            repeats=1,
        )
    )


# --- the routing run ------------------------------------------------------------


@dataclass
class Run:
    """One routing pass over a contact: what it decided and the log rows it owes."""

    contact: Contact
    state: TeamRouting
    now: datetime
    how: str = ""
    logs: list[RoutingLog] = field(default_factory=list)
    # Set when distributing through a reassignment group instead of the rules.
    group: ReassignmentGroup | None = None

    def log(
        self,
        event: str,
        reason: str,
        *,
        rule: engine.Rule | None = None,
        member_id: int | None = None,
    ):
        self.logs.append(
            RoutingLog(
                team_id=self.contact.team_id,
                contact=self.contact,
                event=event,
                rule_id=rule.id if rule and not self.group else None,
                rule_name=(
                    f"Reassignment group “{self.group.name}”"
                    if self.group
                    else (rule.name if rule else "")
                )[:120],
                membership_id=member_id,
                reason=reason[:255],
                created_at=self.now,
            )
        )


def contact_route(*, contact_id: int, now: datetime | None = None) -> str:
    """Route a new contact. Idempotent: a contact already offered or assigned is left alone.

    A failure marks the contact "failed" with the error (the sweeper retries it)
    and re-raises, so the task is recorded as failed too: nothing is swallowed.
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            contact = (
                Contact.objects.select_for_update()
                .select_related("team")
                .filter(pk=contact_id)
                .first()
            )
            if contact is None:
                # Deleted before its queued routing task ran: nothing is left to route.
                logger.info("Contact %s no longer exists; routing skipped", contact_id)
                return "gone"
            if contact.status == ContactStatus.ARCHIVED:
                return "archived"  # removed by an admin: never routed again
            if contact.routing_status in (RoutingStatus.OFFERED, RoutingStatus.ASSIGNED):
                return contact.routing_status
            contact.routing_started_at = now
            contact.routing_status = RoutingStatus.ROUTING
            return _route(
                Run(contact=contact, state=team_routing_load(team=contact.team, now=now), now=now)
            )
    except Exception as exc:
        logger.exception("Routing contact %s failed", contact_id)
        _mark_failed(contact_id=contact_id, error=exc, now=now)
        raise


def _mark_failed(*, contact_id: int, error: Exception, now: datetime) -> None:
    with transaction.atomic():
        updated = (
            Contact.objects.filter(pk=contact_id)
            .exclude(routing_status=RoutingStatus.ASSIGNED)
            .update(
                routing_status=RoutingStatus.FAILED,
                routing_error=f"{type(error).__name__}: {error}"[:2000],
                routing_attempts=F("routing_attempts") + 1,
            )
        )
        if updated:
            contact = Contact.objects.get(pk=contact_id)
            RoutingLog.objects.create(
                team_id=contact.team_id,
                contact=contact,
                event=LogEvent.FAILED,
                reason=f"{type(error).__name__}: {error}"[:255],
                created_at=now,
            )


def _tried_rule_ids(contact: Contact) -> set[int]:
    """Rules this routing pass already fell through (their offers lapsed, nobody eligible)."""
    return set(
        RoutingLog.objects.filter(
            contact=contact,
            event=LogEvent.FELL_THROUGH,
            created_at__gte=contact.routing_started_at,
            rule__isnull=False,
        ).values_list("rule_id", flat=True)
    )


def _offered_member_ids(contact: Contact, rule_id: int) -> set[int]:
    return set(
        OfferRecipient.objects.filter(
            offer__contact=contact,
            offer__rule_id=rule_id,
            offer__kind=OfferKind.NEXT_UP,
            offer__created_at__gte=contact.routing_started_at,
        ).values_list("membership_id", flat=True)
    )


def _route(run: Run, *, tried: set[int] | None = None) -> str:
    """Walk the rules from the top until one distributes the contact."""
    contact, state = run.contact, run.state
    tried = _tried_rule_ids(contact) if tried is None else tried
    facts = contact_facts(contact, list(contact.tags.values_list("name", flat=True)))
    while True:
        selection = engine.select_rule(
            state.rules, facts, run.now, plan=state.team.plan, exclude_rule_ids=tried
        )
        for ev in selection.evaluations:
            event = {
                "matched": LogEvent.RULE_MATCHED,
                "not_matched": LogEvent.RULE_NOT_MATCHED,
            }.get(ev.outcome, LogEvent.RULE_SKIPPED)
            rule = next(r for r in state.rules if r.id == ev.rule_id)
            run.log(event, ev.reason, rule=rule)
        rule = selection.rule
        if rule is None:
            return _assign_owner(run)
        if rule.is_default:
            rule = engine.default_rule_pool(rule, [r for r in state.rules if not r.is_default])
        outcome = _distribute(run, rule)
        if outcome is not None:
            _finish(run)
            return outcome
        run.log(LogEvent.FELL_THROUGH, "nobody in this rule could take the contact", rule=rule)
        tried.add(rule.id)


def _distribute(run: Run, rule: engine.Rule) -> str | None:
    """Apply the rule's method; None when nobody in it can take the contact."""
    if rule.method == engine.ASSIGN_DIRECTLY:
        pick = engine.pick_next(rule, run.now)
        if pick.chosen is None:
            return None
        run.how = "assigned directly by the default rule"
        return _assign(run, pick.chosen.membership_id, rule=rule)

    rotation_id = run.state.rotation_ids[rule.id]
    # Taking the rotation row's lock serialises routers of this rule until
    # commit; a rollback releases the turn untaken.
    Rotation.objects.filter(pk=rotation_id).update(turns=F("turns") + 1)
    rule = with_rotation_state(rule, rotation_id=rotation_id)

    if rule.method == engine.BLAST:
        pick = engine.blast_recipients(rule, run.now)
        _log_skips(run, rule, pick)
        if not pick.eligible:
            return None
        return _offer(run, rule, OfferKind.BLAST, [c.membership_id for c in pick.eligible])

    exclude = _offered_member_ids(run.contact, rule.id) if rule.method == engine.NEXT_UP else set()
    pick = engine.pick_next(rule, run.now, exclude_ids=exclude)
    _log_skips(run, rule, pick)
    if pick.chosen is None:
        return None
    _take_turn(rotation_id, pick.chosen.membership_id, pick.chosen_count)
    if rule.method == engine.NEXT_UP:
        return _offer(run, rule, OfferKind.NEXT_UP, [pick.chosen.membership_id])
    run.how = f"{Method(rule.method).label} (rule “{rule.name}”)"
    return _assign(run, pick.chosen.membership_id, rule=rule)


def _log_skips(run: Run, rule: engine.Rule, pick: engine.Pick) -> None:
    for skip in pick.skipped:
        run.log(
            LogEvent.CANDIDATE_SKIPPED,
            f"{skip.name}: {engine.REASON_TEXT.get(skip.reason, skip.reason)}",
            rule=rule,
            member_id=skip.membership_id,
        )


def _take_turn(rotation_id: int, membership_id: int, new_count: int) -> None:
    updated = RotationSlot.objects.filter(
        rotation_id=rotation_id, membership_id=membership_id
    ).update(count=new_count)
    if not updated:
        RotationSlot.objects.create(
            rotation_id=rotation_id, membership_id=membership_id, count=new_count
        )


def _offer(run: Run, rule: engine.Rule, kind: str, member_ids: list[int]) -> str:
    contact = run.contact
    offer = Offer.objects.create(
        contact=contact,
        rule_id=None if run.group else rule.id,
        reassignment_group=run.group,
        kind=kind,
        deadline=engine.offer_deadline(rule, run.now),
        created_at=run.now,
    )
    OfferRecipient.objects.bulk_create(
        [OfferRecipient(offer=offer, membership_id=member_id) for member_id in member_ids]
    )
    names = ", ".join(run.state.members[m].display_name for m in member_ids)
    run.log(
        LogEvent.OFFER_MADE,
        f"{OfferKind(kind).label} offer to {names}, claim by {offer.deadline:%Y-%m-%d %H:%M %Z}",
        rule=rule,
        member_id=member_ids[0] if len(member_ids) == 1 else None,
    )
    if not run.group:
        contact.routing_status = RoutingStatus.OFFERED
        contact.routed_rule_id = rule.id
    _schedule_expiry(offer)
    notifications.offer_made(offer=offer, member_ids=member_ids)
    return RoutingStatus.OFFERED


def _assign_owner(run: Run) -> str:
    owner = run.state.owner
    if owner is None:
        raise ValidationError("The team has no owner to fall back to.")
    run.how = "fallback to the team owner: no rule could take the contact"
    outcome = _assign(run, owner.pk, rule=None)
    _finish(run)
    return outcome


def _assign(run: Run, membership_id: int, *, rule: engine.Rule | None) -> str:
    """Make the member the primary Agent: routing is complete."""
    contact, member = run.contact, run.state.members[membership_id]
    roles = ContactRole.objects.filter(contact=contact, kind=RoleKind.AGENT)
    # Only a contact assigned before can have a previous Agent: saves a query on new ones.
    previous_id = (
        roles.values_list("membership_id", flat=True).first() if contact.assigned_at else None
    )
    roles.delete()
    ContactRole.objects.create(
        contact=contact, membership=member, kind=RoleKind.AGENT, assigned_at=run.now
    )
    Membership.objects.filter(pk=membership_id).update(last_assigned_at=run.now)
    contact.routing_status = RoutingStatus.ASSIGNED
    contact.routing_error = ""
    contact.assigned_at = run.now
    if run.group:
        contact.reassigning_to = None
        contact.reassignment_started_at = None
    else:
        contact.routed_rule_id = rule.id if rule else None
    run.log(
        LogEvent.ASSIGNED,
        f"assigned to {member.display_name}: {run.how}",
        rule=rule,
        member_id=member.pk,
    )
    previous = run.state.members.get(previous_id) if previous_id != member.pk else None
    timeline_add(
        contact=contact,
        kind="reassigned" if run.group else "assigned",
        message=(
            f"Reassigned from {previous.display_name} to {member.display_name} — {run.how}."
            if previous
            else f"Assigned to {member.display_name} — {run.how}."
        ),
        assignee=member.pk,
        previous=previous.pk if previous else None,
        rule=rule.name if rule and not run.group else "",
        group=run.group.name if run.group else "",
    )
    notifications.contact_assigned(
        contact=contact,
        membership=member,
        previous=previous,
        rule_id=rule.id if rule and not run.group else None,
    )
    return RoutingStatus.ASSIGNED


def _finish(run: Run) -> None:
    run.contact.save(
        update_fields=[
            "routing_status",
            "routing_error",
            "routing_started_at",
            "routed_rule",
            "assigned_at",
            "reassigning_to",
            "reassignment_started_at",
            "updated_at",
        ]
    )
    RoutingLog.objects.bulk_create(run.logs)
    run.logs.clear()


# --- claims and expiry ----------------------------------------------------------


@dataclass(frozen=True)
class ClaimResult:
    claimed: bool
    message: str
    winner: Membership | None = None


def offer_claim(
    *, offer_id: int, membership: Membership, now: datetime | None = None
) -> ClaimResult:
    """First claim wins: a conditional UPDATE decides between claimers and expiry."""
    now = now or timezone.now()
    if not OfferRecipient.objects.filter(offer_id=offer_id, membership=membership).exists():
        raise PermissionDenied("This offer was not sent to you.")
    with transaction.atomic():
        won = Offer.objects.filter(pk=offer_id, status=OfferStatus.OPEN, deadline__gt=now).update(
            status=OfferStatus.CLAIMED, claimed_by=membership, resolved_at=now
        )
        if won:
            offer = Offer.objects.select_related("reassignment_group").get(pk=offer_id)
            run = _offer_run(offer, now)
            rule = next((r for r in run.state.rules if r.id == offer.rule_id), None)
            run.log(
                LogEvent.OFFER_CLAIMED,
                f"claimed by {membership.display_name}",
                rule=rule,
                member_id=membership.pk,
            )
            via = f"reassignment group “{run.group.name}”" if run.group else None
            via = via or (f"rule “{rule.name}”" if rule else "")
            run.how = f"claimed {OfferKind(offer.kind).label} offer" + (f" ({via})" if via else "")
            _assign(run, membership.pk, rule=rule)
            _finish(run)
            return ClaimResult(True, "The contact is yours.", membership)
    offer = Offer.objects.select_related("claimed_by__user").get(pk=offer_id)
    if offer.status == OfferStatus.CLAIMED:
        who = "you" if offer.claimed_by_id == membership.pk else offer.claimed_by.display_name
        return ClaimResult(False, f"This contact was already claimed by {who}.", offer.claimed_by)
    if offer.status == OfferStatus.OPEN:
        # Past its deadline but not yet swept: move it on now.
        offer_expire(offer_id=offer_id, now=now)
    return ClaimResult(False, "This offer has moved on: the claim window closed.")


def _offer_run(offer: Offer, now: datetime) -> Run:
    """A run over the offer's contact, locked, in the offer's rule or reassignment group."""
    contact = Contact.objects.select_for_update().select_related("team").get(pk=offer.contact_id)
    return Run(
        contact=contact,
        state=team_routing_load(team=contact.team, now=now),
        now=now,
        group=offer.reassignment_group,
    )


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
    with transaction.atomic():
        expired = Offer.objects.filter(
            pk=offer_id, status=OfferStatus.OPEN, deadline__lte=now
        ).update(status=OfferStatus.EXPIRED, resolved_at=now)
        if not expired:
            return False
        offer = Offer.objects.select_related("reassignment_group").get(pk=offer_id)
        run = _offer_run(offer, now)
        rule = next((r for r in run.state.rules if r.id == offer.rule_id), None)
        run.log(
            LogEvent.OFFER_EXPIRED,
            f"{OfferKind(offer.kind).label} offer not claimed within the window",
            rule=rule,
        )
        if run.group:
            from routing.reassignment import group_distribute

            group_distribute(run, after_blast=offer.kind == OfferKind.BLAST)
            return True
        contact = run.contact
        contact.routing_status = RoutingStatus.ROUTING
        tried = _tried_rule_ids(contact)
        if offer.kind == OfferKind.BLAST and rule is not None:
            run.log(LogEvent.FELL_THROUGH, "nobody claimed the blast in time", rule=rule)
            tried.add(rule.id)
        _route(run, tried=tried)
    return True


def offers_sweep(*, now: datetime | None = None) -> int:
    """Expire every lapsed offer (the backstop for missed deadline tasks)."""
    now = now or timezone.now()
    ids = list(
        Offer.objects.filter(status=OfferStatus.OPEN, deadline__lte=now).values_list(
            "pk", flat=True
        )[:500]
    )
    return sum(offer_expire(offer_id=offer_id, now=now) for offer_id in ids)


def routing_retry_sweep(*, now: datetime | None = None, stale_seconds: int = 60) -> int:
    """Re-route failed contacts (capped) and contacts whose routing task never ran."""
    now = now or timezone.now()
    stale = now - timezone.timedelta(seconds=stale_seconds)
    ids = list(
        Contact.objects.filter(
            routing_status__in=[
                RoutingStatus.RECEIVED,
                RoutingStatus.ROUTING,
                RoutingStatus.FAILED,
            ],
            routing_attempts__lt=MAX_ROUTING_ATTEMPTS,
            updated_at__lte=stale,
        )
        .exclude(status=ContactStatus.ARCHIVED)
        .values_list("pk", flat=True)[:200]
    )
    routed = 0
    for contact_id in ids:
        try:
            contact_route(contact_id=contact_id, now=now)
            routed += 1
        except Exception:  # already recorded on the contact by contact_route
            continue
    return routed


# --- manual actions -------------------------------------------------------------


def _require(actor: Membership, perm: str, team_id: int) -> None:
    if actor.team_id != team_id or not member_has_perm(actor, perm):
        raise PermissionDenied("You do not have permission to do that.")


def contact_reroute(*, actor: Membership | None, contact: Contact) -> str:
    """Route again from rule 1: an open offer is cancelled, the Agent kept until replaced."""
    if actor is not None:
        _require(actor, "manage_lead_distribution", contact.team_id)
    with transaction.atomic():
        _lock_unless_reassigning(contact)
        Offer.objects.filter(contact=contact, status=OfferStatus.OPEN).update(
            status=OfferStatus.CANCELLED, resolved_at=timezone.now()
        )
        Contact.objects.filter(pk=contact.pk).update(
            routing_status=RoutingStatus.RECEIVED, routing_attempts=0
        )
    return contact_route(contact_id=contact.pk)


def _lock_unless_reassigning(contact: Contact) -> Contact:
    """Lock the contact; its Agent cannot be edited while a reassignment runs (seed 001)."""
    locked = Contact.objects.select_for_update().select_related("team").get(pk=contact.pk)
    if locked.reassign_in_progress:
        raise ValidationError(
            "Re-Assign in progress: the Agent cannot be changed until the reassignment finishes."
        )
    return locked


@transaction.atomic
def contact_assign_directly(
    *, actor: Membership | None, contact: Contact, membership: Membership
) -> None:
    """An admin makes a member the primary Agent, closing any open offer."""
    if actor is not None:
        _require(actor, "manage_lead_distribution", contact.team_id)
    if membership.team_id != contact.team_id:
        raise PermissionDenied("That member belongs to another team.")
    now = timezone.now()
    contact = _lock_unless_reassigning(contact)
    Offer.objects.filter(contact=contact, status=OfferStatus.OPEN).update(
        status=OfferStatus.CANCELLED, resolved_at=now
    )
    run = Run(contact=contact, state=team_routing_load(team=contact.team, now=now), now=now)
    by = actor.display_name if actor else "staff"
    run.how = f"assigned directly by {by}"
    _assign(run, membership.pk, rule=None)
    _finish(run)


def default_rule_ensure(*, team: Team) -> RoutingRule:
    rule = RoutingRule.objects.filter(team=team, is_default=True).first()
    if rule is None:
        rule = RoutingRule.objects.create(
            team=team,
            name="Default Rule",
            is_default=True,
            method=Method.ASSIGN_DIRECTLY,
            rotation=Rotation.objects.create(),
        )
    return rule


def rule_rotation_reset(*, rule: RoutingRule) -> None:
    """Start the order of distribution again from the top (seed 000)."""
    RotationSlot.objects.filter(rotation_id=rule.rotation_id).delete()
    Rotation.objects.filter(pk=rule.rotation_id).update(
        epoch=F("epoch") + 1, reset_at=timezone.now()
    )


def routing_logs_prune(*, now: datetime | None = None) -> int:
    """Delete routing log rows older than the retention (at least 30 days by default)."""
    from django.conf import settings

    now = now or timezone.now()
    cutoff = now - timezone.timedelta(days=max(settings.ROUTING_LOG_RETENTION_DAYS, 1))
    deleted, _ = RoutingLog.objects.filter(created_at__lt=cutoff).delete()
    return deleted
