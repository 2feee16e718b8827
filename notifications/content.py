"""What each outbox message says, built when it is sent (claim links and password
tokens are never stored).

Each builder takes the loaded message and returns what its channel sends, or
raises Skip with the reason it should not go out any more, or Undeliverable with
the reason it never can (a team template the sandbox refuses).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from email.utils import formataddr, parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from contacts.models import Contact, ContactRole, ContactStatus, RoleKind
from notifications.auto_messages import auto_message_render
from notifications.models import AutoMessageKind, AutoMessageTemplate, Kind, OutboxMessage
from notifications.sandbox import TemplateRefused, template_render
from notifications.sms import SmsMessage
from notifications.tokens import claim_url
from notifications.unsubscribe import unsubscribe_headers, unsubscribe_url
from routing.models import ContactRouting, OfferKind, OfferStatus, RoutingStatus
from teams.models import Membership


class Skip(Exception):
    """The message should not be sent; the text is the reason shown in the admin."""


class Undeliverable(Exception):
    """The message can never be sent as it stands (another attempt would fail the same
    way); the text is the reason shown in the admin."""


class Hold(Exception):
    """Not yet: routing is not complete (nobody holds the primary Agent role). The
    message stays pending until the contact is assigned; the text is the reason."""


# The merge fields of every message other apps send to a contact, with sample values
# (for validation and previews).
CONTACT_PLACEHOLDERS = {
    "contact_first_name": "Jane",
    "contact_last_name": "Sample",
    "contact_name": "Jane Sample",
    "agent_name": "Alan Agent",
    "agent_first_name": "Alan",
    "agent_email": "alan@example.com",
    "agent_signature": "Alan Agent\nAcme Realty · (555) 010-0100",
    "team_name": "Acme Realty",
}


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
    try:
        rendered = auto_message_render(
            template=template, kind=message.kind, values=_auto_values(message)
        )
    except TemplateRefused as exc:
        raise Undeliverable(
            f"the team's {AutoMessageKind(message.kind).label.lower()} template "
            f"cannot be used: {exc}"
        ) from exc
    if not rendered.enabled:
        raise Skip("the team turned this message off")
    return rendered


def _contact_address(contact) -> str:
    """Where an email to the contact goes, unless they unsubscribed or have none."""
    if contact.unsubscribed_at is not None:
        raise Skip("the contact unsubscribed")
    address = contact.email.strip()
    if not address:
        raise Skip("the contact has no email address")
    return address


def _email_as_agent(contact, agent: Membership, *, subject: str, body: str):
    """To the contact from the Agent: their name on the site's address, replies to them,
    and the one-click unsubscribe every contact-facing email carries."""
    return EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=f"{body}\n\n--\nUnsubscribe: {unsubscribe_url(contact_id=contact.pk)}\n",
        from_email=formataddr((agent.display_name, _site_address())),
        to=[_contact_address(contact)],
        reply_to=[agent.user.email] if agent.user.email else [],
        headers=unsubscribe_headers(contact_id=contact.pk),
    )


def build_welcome_email(message: OutboxMessage, now: datetime):
    """Sent as the Agent it was written for."""
    _contact_address(message.contact)
    rendered = _auto_message(message)
    return _email_as_agent(
        message.contact, message.membership, subject=rendered.subject, body=rendered.body
    )


def build_welcome_text(message: OutboxMessage, now: datetime) -> SmsMessage:
    if message.contact.texts_stopped_at is not None:
        raise Skip("the contact texted STOP")
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


def build_pool_waiting_email(message: OutboxMessage, now: datetime):
    """Leads a Manual lead pool keeps for an admin: those still waiting when it is sent."""
    member = message.membership
    ids = message.data.get("contacts", [])
    still = list(
        Contact.objects.filter(
            pk__in=ids, team_id=message.team_id, routing__status=RoutingStatus.WAITING
        ).order_by("-created_at", "-id")
    )
    if not still:
        raise Skip("every lead has been assigned since")
    pools = [name for _rule_id, name, _count in message.data.get("pools", [])]
    where = f"lead pool “{pools[0]}”" if len(pools) == 1 else "lead pools"
    count = message.data.get("count", len(still))
    return _email(
        message,
        to=_member_email(member),
        subject=f"{count} lead{'s' if count != 1 else ''} waiting in {where} for you to assign",
        template="pool_waiting",
        context={
            "member": member,
            "count": count,
            "pools": message.data.get("pools", []),
            "contacts": still,
            "more": max(count - len(still), 0),
            "dashboard_url": settings.SITE_URL
            + reverse("routing_pages:dashboard")
            + "?assignment=waiting",
        },
    )


def _account_address(user: AbstractBaseUser) -> str:
    if not user.is_active:
        raise Skip("the account is deactivated")
    address = getattr(user, user.get_email_field_name()).strip()
    if not address:
        raise Skip("the account has no email address")
    return address


def _password_token(user: AbstractBaseUser) -> tuple[str, str]:
    """uidb64 and token for Django's password reset confirm page, made now: every
    attempt carries a token that is valid when it leaves, and none sits in the outbox."""
    uid = urlsafe_base64_encode(force_bytes(user._meta.pk.value_to_string(user)))
    return uid, default_token_generator.make_token(user)


def build_password_link_email(message: OutboxMessage, now: datetime):
    """A member's set-password link, from the team that added them or asked for it."""
    user = message.user
    if not message.membership.is_active:
        raise Skip("the member is no longer active")
    address = _account_address(user)
    uid, token = _password_token(user)
    path = reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    team_name = message.team.name
    return _email(
        message,
        to=address,
        subject=f"Set your Switchboard password for {team_name}",
        template="password_link",
        context={
            "user": user,
            "team_name": team_name,
            "link": settings.SITE_URL + path,
            "days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        },
    )


def build_password_reset_email(message: OutboxMessage, now: datetime):
    """Django's password reset email, with the templates the reset form was given.

    The link starts with SITE_URL, like every link the outbox sends: the worker has no
    request, and no Host header decides where a reset link points.
    """
    user, data = message.user, message.data
    address = _account_address(user)
    if address.casefold() != data["email"].casefold():
        raise Skip("the account's email address changed after the reset was asked for")
    if not user.has_usable_password():
        raise Skip("the account's password was disabled after the reset was asked for")
    uid, token = _password_token(user)
    protocol, _, domain = settings.SITE_URL.partition("://")
    context = {
        "email": address,
        "domain": domain,
        "site_name": urlsplit(settings.SITE_URL).netloc,
        "uid": uid,
        "user": user,
        "token": token,
        "protocol": protocol,
        **data.get("extra_context", {}),
    }
    subject = "".join(render_to_string(data["subject_template"], context).splitlines())
    body = render_to_string(data["email_template"], context)
    email = EmailMultiAlternatives(subject, body, data.get("from_email"), [address])
    if data.get("html_email_template"):
        email.attach_alternative(
            render_to_string(data["html_email_template"], context), "text/html"
        )
    return email


# --- messages other apps schedule for the contact (notifications.contact_messages) ----


def _current_agent(message: OutboxMessage) -> Membership:
    """Whoever holds the primary Agent role now, once routing is complete."""
    contact = message.contact
    if contact.status == ContactStatus.ARCHIVED:
        raise Skip("the contact was archived")
    routing = (
        ContactRouting.objects.filter(pk=contact.pk)
        .values_list("status", "reassigning_to_id")
        .first()
    )
    if routing is None or routing[0] != RoutingStatus.ASSIGNED or routing[1] is not None:
        raise Hold("held until routing is complete")
    role = (
        ContactRole.objects.filter(contact=contact, kind=RoleKind.AGENT)
        .select_related("membership__user", "membership__team")
        .first()
    )
    if role is None:
        raise Hold("held until someone holds the primary Agent role")
    return role.membership


def contact_values(message: OutboxMessage, agent: Membership) -> dict[str, str]:
    contact = message.contact
    return {
        "contact_first_name": contact.first_name,
        "contact_last_name": contact.last_name,
        "contact_name": contact.name,
        "agent_name": agent.display_name,
        "agent_first_name": agent.user.first_name or agent.display_name,
        "agent_email": agent.user.email,
        "agent_signature": agent.email_signature or agent.display_name,
        "team_name": agent.team.name,
        **message.data.get("values", {}),
    }


def _contact_render(message: OutboxMessage, source: str, values: dict[str, str]) -> str:
    try:
        return template_render(source, values).strip()
    except TemplateRefused as exc:
        raise Undeliverable(f"{message.data.get('label', 'the message')}: {exc}") from exc


def build_contact_email(message: OutboxMessage, now: datetime):
    """Sent as the Agent of the moment."""
    _contact_address(message.contact)
    agent = _current_agent(message)
    message.membership = agent
    values = contact_values(message, agent)
    return _email_as_agent(
        message.contact,
        agent,
        subject=_contact_render(message, message.data.get("subject", ""), values),
        body=_contact_render(message, message.data.get("body", ""), values),
    )


def build_contact_text(message: OutboxMessage, now: datetime) -> SmsMessage:
    contact = message.contact
    if contact.texts_stopped_at is not None:
        raise Skip("the contact texted STOP")
    phone = contact.phone.strip()
    if not phone:
        raise Skip("the contact has no phone number")
    agent = _current_agent(message)
    message.membership = agent
    body = _contact_render(message, message.data.get("body", ""), contact_values(message, agent))
    return SmsMessage(to=phone, body=f"{body} Reply STOP to opt out.", from_name=agent.display_name)


def build_agent_task_email(message: OutboxMessage, now: datetime):
    contact = message.contact
    if contact.status == ContactStatus.ARCHIVED:
        raise Skip("the contact was archived")
    agent = _current_agent(message)
    message.membership = agent
    return _email(
        message,
        to=_member_email(agent),
        subject=f"Task: {message.data.get('task', '')} — {contact.name}"[:200],
        template="agent_task",
        context={
            "member": agent,
            "contact": contact,
            "task": message.data.get("task", ""),
            "body": message.data.get("body", ""),
            "label": message.data.get("label", ""),
            "contact_url": settings.SITE_URL + reverse("contact_pages:profile", args=[contact.pk]),
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
    Kind.POOL_WAITING: build_pool_waiting_email,
    Kind.PASSWORD_LINK: build_password_link_email,
    Kind.PASSWORD_RESET: build_password_reset_email,
    Kind.CONTACT_EMAIL: build_contact_email,
    Kind.AGENT_TASK: build_agent_task_email,
}
SMS_BUILDERS = {Kind.WELCOME_TEXT: build_welcome_text, Kind.CONTACT_TEXT: build_contact_text}
PUSH_BUILDERS = {Kind.OFFER_NEXT_UP: offer_push_payload, Kind.OFFER_BLAST: offer_push_payload}
