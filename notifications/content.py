"""What each outbox message says, built when it is sent (claim links are never stored).

Each builder takes the loaded message and returns what its channel sends, or
raises Skip with the reason it should not go out any more.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from contacts.models import ContactRole, RoleKind
from notifications.auto_messages import auto_message_render
from notifications.models import AutoMessageTemplate, Kind, OutboxMessage
from notifications.sms import SmsMessage
from notifications.tokens import claim_url
from routing.models import ContactRouting, OfferKind, OfferStatus, RoutingStatus
from teams.models import Membership


class Skip(Exception):
    """The message should not be sent; the text is the reason shown in the admin."""


def _local(moment: datetime, tz_name: str) -> datetime:
    try:
        return timezone.localtime(moment, zoneinfo.ZoneInfo(tz_name or "UTC"))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.localtime(moment, zoneinfo.ZoneInfo("UTC"))


def _site_address() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "switchboard@localhost"


def _member_email(member: Membership | None) -> str:
    if member is None or not member.is_active:
        raise Skip("the member is no longer active")
    address = member.user.email.strip()
    if not address:
        raise Skip("the member has no email address")
    return address


def _open_offer(message: OutboxMessage, now: datetime):
    offer = message.offer
    if offer is None or offer.status != OfferStatus.OPEN or offer.deadline <= now:
        raise Skip("the offer was already claimed or moved on")
    return offer


def _email(
    message: OutboxMessage,
    *,
    to: str,
    subject: str,
    template: str,
    context: dict,
    html: bool = False,
) -> EmailMultiAlternatives:
    context = {"message": message, "site_url": settings.SITE_URL, **context}
    body = render_to_string(f"notifications/email/{template}.txt", context)
    email = EmailMultiAlternatives(subject=subject, body=body, to=[to])
    if html:
        email.attach_alternative(
            render_to_string(f"notifications/email/{template}.html", context), "text/html"
        )
    return email


def offer_context(message: OutboxMessage, now: datetime) -> dict:
    offer = _open_offer(message, now)
    member = message.membership
    return {
        "member": member,
        "contact": offer.contact,
        "offer": offer,
        "is_blast": offer.kind == OfferKind.BLAST,
        "deadline": _local(offer.deadline, member.time_zone),
        "minutes_left": max(int((offer.deadline - now).total_seconds() // 60), 1),
        "claim_url": claim_url(offer_id=offer.pk, membership_id=member.pk, deadline=offer.deadline),
    }


def build_offer_email(message: OutboxMessage, now: datetime):
    context = offer_context(message, now)
    contact = context["contact"]
    subject = (
        f"Blast Alert: {contact.name} is up for grabs, first to claim gets it"
        if context["is_blast"]
        else f"Next Up: {contact.name} is yours to claim"
    )
    return _email(
        message,
        to=_member_email(message.membership),
        subject=subject,
        template="offer",
        context=context,
        html=True,
    )


def offer_push_payload(message: OutboxMessage, now: datetime) -> tuple[dict, int]:
    context = offer_context(message, now)
    contact = context["contact"]
    title = "Blast Alert: new contact to claim" if context["is_blast"] else "Next Up: claim now"
    body = f"{contact.name}" + (f" ({contact.source})" if contact.source else "")
    body += f". Claim within {context['minutes_left']} min."
    ttl = int((context["offer"].deadline - now).total_seconds())
    payload = {
        "title": title,
        "body": body,
        "url": context["claim_url"],
        "tag": f"offer-{context['offer'].pk}",
    }
    return payload, ttl


def build_reassigned_email(message: OutboxMessage, now: datetime):
    contact, member = message.contact, message.membership
    other = message.data.get("other_name", "another member")
    if message.kind == Kind.REASSIGNED_TO:
        subject = f"{contact.name} was reassigned to you"
    else:
        subject = f"{contact.name} was reassigned to {other}"
    return _email(
        message,
        to=_member_email(member),
        subject=subject,
        template="reassigned",
        context={
            "member": member,
            "contact": contact,
            "other_name": other,
            "to_you": message.kind == Kind.REASSIGNED_TO,
        },
    )


def build_reminder_email(message: OutboxMessage, now: datetime):
    contact, member = message.contact, message.membership
    still_agent = ContactRole.objects.filter(
        contact=contact, membership=member, kind=RoleKind.AGENT
    ).exists()
    if not still_agent:
        raise Skip("the contact is no longer assigned to this member")
    assigned_at = datetime.fromisoformat(message.data["assigned_at"])
    if contact.last_contacted_at and contact.last_contacted_at >= assigned_at:
        raise Skip("the contact was contacted in time")
    return _email(
        message,
        to=_member_email(member),
        subject=f"Reminder: follow up with {contact.name}",
        template="reminder",
        context={
            "member": member,
            "contact": contact,
            "hours": message.data.get("hours"),
            "assigned_at": _local(assigned_at, member.time_zone),
        },
    )


def build_digest_email(message: OutboxMessage, now: datetime):
    member, items = message.membership, message.data.get("items", [])
    if not items:
        raise Skip("nothing new to report")
    count = len(items)
    return _email(
        message,
        to=_member_email(member),
        subject=f"{count} new contact{'s' if count != 1 else ''} assigned to you",
        template="digest",
        context={"member": member, "items": items, "home_url": settings.SITE_URL + reverse("home")},
    )


def _auto_values(message: OutboxMessage) -> dict[str, str]:
    agent = message.membership
    return {
        "contact_first_name": message.contact.first_name,
        "agent_name": agent.display_name,
        "agent_first_name": agent.user.first_name or agent.display_name,
        "agent_email": agent.user.email,
        "team_name": message.team.name,
    }


def _auto_message(message: OutboxMessage):
    template = AutoMessageTemplate.objects.filter(
        team_id=message.team_id, kind=message.kind
    ).first()
    rendered = auto_message_render(
        template=template, kind=message.kind, values=_auto_values(message)
    )
    if not rendered.enabled:
        raise Skip("the team turned this message off")
    return rendered


def build_welcome_email(message: OutboxMessage, now: datetime):
    """Sent as the Agent: their name on the site's address, replies go to them."""
    address = message.contact.email.strip()
    if not address:
        raise Skip("the contact has no email address")
    rendered = _auto_message(message)
    agent = message.membership
    reply_to = [agent.user.email] if agent.user.email else []
    return EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.body,
        from_email=formataddr((agent.display_name, _site_address())),
        to=[address],
        reply_to=reply_to,
    )


def build_welcome_text(message: OutboxMessage, now: datetime) -> SmsMessage:
    phone = message.contact.phone.strip()
    if not phone:
        raise Skip("the contact has no phone number")
    rendered = _auto_message(message)
    return SmsMessage(to=phone, body=rendered.body, from_name=message.membership.display_name)


def build_routing_failed_email(message: OutboxMessage, now: datetime):
    contact, member = message.contact, message.membership
    if ContactRouting.objects.filter(pk=contact.pk, status=RoutingStatus.ASSIGNED).exists():
        raise Skip("the contact has been assigned since")
    return _email(
        message,
        to=_member_email(member),
        subject=f"Routing gave up on {contact.name}: please assign it",
        template="routing_failed",
        context={
            "member": member,
            "contact": contact,
            "error": message.data.get("error", ""),
            "attempts": message.data.get("attempts"),
            "dashboard_url": settings.SITE_URL
            + reverse("routing_pages:dashboard")
            + "?assignment=failed",
        },
    )


EMAIL_BUILDERS = {
    Kind.OFFER_NEXT_UP: build_offer_email,
    Kind.OFFER_BLAST: build_offer_email,
    Kind.REASSIGNED_TO: build_reassigned_email,
    Kind.REASSIGNED_FROM: build_reassigned_email,
    Kind.FOLLOW_UP_REMINDER: build_reminder_email,
    Kind.DIGEST: build_digest_email,
    Kind.WELCOME_EMAIL: build_welcome_email,
    Kind.ROUTING_FAILED: build_routing_failed_email,
}
SMS_BUILDERS = {Kind.WELCOME_TEXT: build_welcome_text}
PUSH_BUILDERS = {Kind.OFFER_NEXT_UP: offer_push_payload, Kind.OFFER_BLAST: offer_push_payload}
