"""What people do to a contact's routing by hand: assign directly, route again, remove.

Assigning by hand keeps the rule (lead pool) the contact came through, so the pool's
filter still finds it and the pool's follow-up reminder is scheduled for the new
owner. Every path locks the routing row first and refuses while a reassignment is in
progress, or when the Agent the member saw is no longer the Agent.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact, ContactStatus
from contacts.selectors import agent_id_of
from contacts.services import contact_archive, timeline_add
from routing import engine
from routing.models import ContactRouting, LogEvent, RoutingLog, RoutingStatus
from routing.offers import offers_cancel
from routing.queue import (
    REQUEUE_FIELDS,
    agents_of,
    routing_lock,
    rows_requeue,
    team_wake_holds,
)
from routing.reassignment import reassign_refusal
from routing.route import contact_route
from routing.state import team_state, team_version
from routing.writer import Apply, decisions_apply
from teams import access
from teams import permissions as perms
from teams.models import Membership


def _require_lead_distribution(actor: Membership | None, team_id: int) -> None:
    if actor is None:
        return  # staff (Django admin) and trusted system paths
    access.require_perm(actor, perms.MANAGE_LEAD_DISTRIBUTION, team_id=team_id)


def _by_hand(member_id: int, name: str, how: str) -> engine.Decision:
    return engine.Decision.assign(member_id, how=how, reason=f"assigned to {name}: {how}")


@transaction.atomic
def contact_assign_directly(
    *,
    actor: Membership | None,
    contact: Contact,
    membership: Membership,
    expected_agent_id: int | None = None,
) -> None:
    """Make a member the primary Agent, closing any open offer (and any hold).

    `expected_agent_id`: the Agent the member saw; refused if it changed meanwhile.
    """
    _require_lead_distribution(actor, contact.team_id)
    access.require_same_team(membership, contact.team_id)
    now = timezone.now()
    row = routing_lock(contact_id=contact.pk)
    state = team_state(team=row.team, version=row.version)
    current = agents_of([row]).get(row.contact_id)
    if actor is not None:
        # "User's Group" scope: from one of their members, to one of their members.
        access.require_in_scope(actor, current)
        access.require_in_scope(actor, membership.pk)
    refusal = reassign_refusal(row=row, state=state, current=current, expected=expected_agent_id)
    if refusal:
        raise ValidationError(refusal)
    offers_cancel(contact_id=contact.pk, now=now)
    by = actor.display_name if actor else "staff"
    decision = _by_hand(membership.pk, state.name(membership.pk), f"assigned directly by {by}")
    item = Apply(row, decision, previous_id=current, by_hand=True, actor=actor)
    decisions_apply(state=state, items=[item], now=now)


def contacts_assign_bulk(
    *, contacts: list[Contact], membership: Membership, actor: Membership | None
) -> None:
    """New contacts (an import) straight to one member: one batch, whatever their number,
    never routed. Inside the transaction that created them."""
    if not contacts:
        return
    team = contacts[0].team
    access.require_same_team(membership, team.pk)
    if actor is not None:
        access.require_in_scope(actor, membership.pk)
    now = timezone.now()
    rows = [
        ContactRouting(contact=c, team=team, queued_at=now, next_attempt_at=now, updated_at=now)
        for c in contacts
    ]
    ContactRouting.objects.bulk_create(rows)  # new in this transaction: no one else sees them
    state = team_state(team=team, version=team_version(team_id=team.pk))
    who = actor.display_name if actor else "staff"
    decision = _by_hand(
        membership.pk, state.name(membership.pk), f"imported and assigned directly by {who}"
    )
    items = [Apply(row, decision, by_hand=True, actor=actor) for row in rows]
    decisions_apply(state=state, items=items, now=now)


def contact_reroute(*, actor: Membership | None, contact: Contact) -> str:
    """Route again from rule 1: an open offer is cancelled, the Agent kept until replaced."""
    _require_lead_distribution(actor, contact.team_id)
    now = timezone.now()
    with transaction.atomic():
        row = routing_lock(contact_id=contact.pk)
        if actor is not None:
            access.require_in_scope(actor, agents_of([row]).get(row.contact_id))
        if row.reassign_in_progress:
            state = team_state(team=row.team, version=row.version)
            raise ValidationError(
                reassign_refusal(row=row, state=state, current=None, expected=None)
            )
        offers_cancel(contact_id=contact.pk, now=now)
        rows_requeue(rows=[row], now=now)
        row.save()
    return contact_route(contact_id=contact.pk, now=now)


@transaction.atomic
def lead_remove(*, actor: Membership, contact: Contact) -> Contact:
    """An admin removes a lead: archived, its open offer cancelled, on the timeline.

    Needs "Manage Lead Distribution". Removing twice changes nothing more.
    """
    _require_lead_distribution(actor, contact.team_id)
    access.require_in_scope(actor, agent_id_of(contact))
    # The contact first, then its routing: the order every path takes these locks in.
    if not contact_archive(contact=contact, actor=actor):
        return contact
    now = timezone.now()
    cancelled = routing_stop(contact_id=contact.pk, now=now)
    timeline_add(
        contact=contact,
        kind="removed",
        actor=actor,
        message=f"{actor.display_name} removed this lead from lead routing"
        + ("; its open offer was cancelled." if cancelled else "."),
        offers_cancelled=cancelled,
    )
    return contact


def routing_stop(*, contact_id: int, now: datetime) -> int:
    """The contact left routing (archived): no open offer, no reassignment in flight.
    Returns the offers cancelled; a freed agent may take a held contact now."""
    row = routing_lock(contact_id=contact_id)
    cancelled = offers_cancel(contact_id=contact_id, now=now)
    if row.reassign_in_progress:
        row.reassigning_to = None
        row.reassign_started_at = None
        row.updated_at = now
        row.save(update_fields=["reassigning_to", "reassign_started_at", "updated_at"])
    team_wake_holds(team_id=row.team_id)
    return cancelled


@transaction.atomic
def failed_retry(*, actor: Membership) -> int:
    """Route every failed contact of the actor's team again, with a fresh set of attempts
    (the admin fixed the cause: a rule, a member, the team owner). Returns how many."""
    _require_lead_distribution(actor, actor.team_id)
    if not access.sees_whole_company(actor):
        # Failed contacts have no Agent, so they belong to no group: the team's to retry.
        raise PermissionDenied("Retrying failed routing needs the “Entire Company” scope.")
    now = timezone.now()
    rows = list(
        ContactRouting.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(team_id=actor.team_id, status=RoutingStatus.FAILED)
        .exclude(contact__status=ContactStatus.ARCHIVED)
    )
    rows_requeue(rows=rows, now=now)
    ContactRouting.objects.bulk_update(rows, REQUEUE_FIELDS)
    RoutingLog.objects.bulk_create(
        [
            RoutingLog(
                team_id=row.team_id,
                contact_id=row.contact_id,
                event=LogEvent.ROUTED_AGAIN,
                membership=actor,
                reason=f"{actor.display_name} retried routing after it failed.",
                created_at=now,
            )
            for row in rows
        ]
    )
    return len(rows)
