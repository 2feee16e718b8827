"""A repeat lead (a new inquiry for a contact the team has): logged, and routed again
when the contact's Agent has left (deactivated, or no longer in the team)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from contacts.models import Contact, ContactRole, RoleKind
from routing.models import ContactRouting, LogEvent, RoutingLog, RoutingStatus
from routing.queue import routing_lock, rows_requeue


@transaction.atomic
def inquiry_route(*, contact: Contact, source: str, matched_by: str) -> bool:
    """Log the inquiry; route the contact again if its Agent is gone. True if it is."""
    now = timezone.now()
    # Only an assigned contact can be routed again: its row is locked for that. A row
    # still waiting (or offered, held) is only logged, unlocked: a router claiming it
    # right now skips locked rows, and would leave it waiting.
    row = ContactRouting.objects.filter(contact_id=contact.pk).first()
    if row is None or row.status == RoutingStatus.ASSIGNED:
        row = routing_lock(contact_id=contact.pk)
    agent = (
        ContactRole.objects.filter(contact=contact, kind=RoleKind.AGENT)
        .select_related("membership__user")
        .first()
    )
    member = agent.membership if agent else None
    heard = f"New inquiry from {source} matched by {matched_by}"
    if row.status == RoutingStatus.ASSIGNED and (member is None or not member.is_active):
        why = f"{member.display_name} is deactivated" if member else "its Agent left the team"
        reason = f"{heard}: {why}, so it is routed again like a new lead."
        event = LogEvent.ROUTED_AGAIN
        rows_requeue(rows=[row], now=now)
        row.save()
    else:
        stays = (
            f"stays with {member.display_name}"
            if member
            else f"stays as it is (routing {row.get_status_display().lower()})"
        )
        reason = f"{heard}: {stays}, not routed again."
        event = LogEvent.DEDUPLICATED
    RoutingLog.objects.create(
        team_id=contact.team_id,
        contact=contact,
        event=event,
        membership=member,
        reason=reason[:255],
        created_at=now,
    )
    return event == LogEvent.ROUTED_AGAIN
