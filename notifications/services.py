"""Notifications written in the same transaction as the routing event that causes them.

Routing announces assignments and offers inside its transaction (routing.signals);
`assignments_notify` and `offers_notify` hear them (notifications.receivers). They
only write outbox rows (one bulk insert for a whole routing batch, whatever the
number of recipients) and ask for delivery after commit (one task): no network
I/O holds routing up, and a rolled-back routing step leaves no row and enqueues
nothing. Each row's key names its event, recipient and channel, so writing a
message again is a no-op.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from itertools import groupby
from urllib.parse import urlsplit
from uuid import uuid4

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from contacts.models import ContactRole, RoleKind
from contacts.services import timeline_add
from notifications import content, signals
from notifications.models import (
    AS_CURRENT_AGENT,
    Channel,
    DigestCursor,
    Kind,
    OutboxMessage,
    PushSubscription,
    Status,
)
from notifications.push import SubscriptionGone, push_configured, push_send
from notifications.selectors import inbox_for
from notifications.sms import get_connection as sms_connection
from notifications.tokens import redact
from routing.models import ContactRouting, Offer, OfferKind, RoutingStatus
from routing.signals import Assignment, Failure, Waiting
from teams.access import sees_whole_company
from teams.models import Membership
from teams.permissions import MANAGE_LEAD_DISTRIBUTION, effective_permissions

logger = logging.getLogger(__name__)

# A row left "sending" this long was interrupted: its worker died, or was killed at the
# task timeout, mid-send (every send has its own shorter timeout). It goes back to
# pending with a backoff, and counts as an attempt.
STUCK_AFTER = timedelta(minutes=3)
SWEEP_BATCH = 500
# A held message is looked at again this often, in case its release was missed.
HOLD_RECHECK = timedelta(hours=1)
# One delivery task sends at most this many messages, and stops taking new ones after
# DELIVERY_BUDGET (well inside the delivery cluster's task timeout): the rest go to a
# task of their own.
DELIVERY_CHUNK = 50
DELIVERY_BUDGET = timedelta(seconds=60)


def _stamp(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1_000_000))


def _in_app(*, now: datetime, **fields) -> OutboxMessage:
    """In-app messages are delivered by the commit that writes them."""
    fields["title"] = fields.get("title", "")[:200]
    return OutboxMessage(
        channel=Channel.IN_APP,
        status=Status.SENT,
        sent_at=now,
        created_at=now,
        updated_at=now,
        next_attempt_at=now,
        **fields,
    )


def _outgoing(*, now: datetime, channel: str, due: datetime | None = None, **fields):
    return OutboxMessage(
        channel=channel, created_at=now, updated_at=now, next_attempt_at=due or now, **fields
    )


def _write(rows: list[OutboxMessage], *, now: datetime, robust: bool = False) -> None:
    """Insert the rows (keys already present are left alone); deliver after commit,
    all of them in one task. `robust`: a failure to enqueue is logged rather than
    raised, where the caller's change is done either way and the sweep sends the rows."""
    if not rows:
        return
    OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True)
    due = [
        r.key
        for r in rows
        if r.status == Status.PENDING and r.channel != Channel.IN_APP and r.next_attempt_at <= now
    ]
    if due:
        transaction.on_commit(partial(_enqueue_keys, due), robust=robust)


def _enqueue_ids(message_ids: list[int]) -> None:
    """Delivery tasks on the delivery queue, DELIVERY_CHUNK messages each."""
    for start in range(0, len(message_ids), DELIVERY_CHUNK):
        chunk = message_ids[start : start + DELIVERY_CHUNK]
        async_task(
            "notifications.tasks.deliver_ids",
            chunk,
            task_name=f"deliver-{chunk[0]}+{len(chunk) - 1}",
            cluster=settings.DELIVERY_CLUSTER,
        )


def _enqueue_keys(keys: list[str]) -> None:
    """One delivery task for what a routing batch wrote (routing pays one statement)."""
    async_task(
        "notifications.tasks.deliver_keys",
        keys,
        task_name=f"deliver-{len(keys)}",
        cluster=settings.DELIVERY_CLUSTER,
    )


def messages_deliver_keys(*, keys: list[str]) -> dict[str, int]:
    """Deliver the pending messages with these keys (see messages_deliver). They are what
    a routing batch wrote: messages held for the same contacts until routing completed
    are released here, off routing's path (the sweep releases the others)."""
    rows = list(
        OutboxMessage.objects.filter(key__in=keys).values_list("pk", "status", "contact_id")
    )
    contact_ids = sorted({contact_id for _, _, contact_id in rows if contact_id})
    if contact_ids:
        held_release(contact_ids=contact_ids)
    ids = [pk for pk, status, _ in rows if status == Status.PENDING]
    return messages_deliver(message_ids=ids)


def messages_deliver(*, message_ids: list[int]) -> dict[str, int]:
    """Send these messages one after another, each once (see message_deliver). Past the
    time budget the rest are handed to new tasks, so a slow mail server never makes a
    task overrun its timeout."""
    started = timezone.now()
    outcomes: dict[str, int] = {}
    for i, message_id in enumerate(message_ids):
        if timezone.now() - started > DELIVERY_BUDGET:
            _enqueue_ids(message_ids[i:])
            outcomes["handed on"] = len(message_ids) - i
            break
        outcome = message_deliver(message_id=message_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


# --- the hooks routing calls ------------------------------------------------------


def offers_notify(*, offers: list[tuple[Offer, list[int]]]) -> None:
    """Next Up / Blast Alert: tell each recipient there is a contact to claim.

    In-app and email to each recipient, web push to each of their browsers: two
    statements for a whole batch of offers, whatever the number of recipients.
    """
    now = timezone.now()
    member_ids = {m for _, ids in offers for m in ids}
    subscriptions: dict[int, list[int]] = {}
    for subscription_id, member_id in PushSubscription.objects.filter(
        membership_id__in=member_ids
    ).values_list("pk", "membership_id"):
        subscriptions.setdefault(member_id, []).append(subscription_id)
    ready = push_configured()
    rows = []
    for offer, ids in offers:
        contact = offer.contact
        is_blast = offer.kind == OfferKind.BLAST
        kind = Kind.OFFER_BLAST if is_blast else Kind.OFFER_NEXT_UP
        title = (
            f"Blast Alert: {contact.name}, first to claim gets it"
            if is_blast
            else f"Next Up: claim {contact.name}"
        )
        common = {"team_id": contact.team_id, "kind": kind, "contact": contact, "offer": offer}
        for member_id in ids:
            recipient = f"offer:{offer.pk}:m{member_id}"
            rows.append(
                _in_app(
                    now=now,
                    key=f"{recipient}:in_app",
                    membership_id=member_id,
                    title=title,
                    **common,
                )
            )
            rows.append(
                _outgoing(
                    now=now,
                    channel=Channel.EMAIL,
                    key=f"{recipient}:email",
                    membership_id=member_id,
                    **common,
                )
            )
            for subscription_id in subscriptions.get(member_id, []):
                row = _outgoing(
                    now=now,
                    channel=Channel.PUSH,
                    key=f"offer:{offer.pk}:s{subscription_id}:push",
                    membership_id=member_id,
                    subscription_id=subscription_id,
                    **common,
                )
                if not ready:
                    row.status, row.last_error = Status.SKIPPED, "web push is off: no VAPID keys"
                rows.append(row)
    _write(rows, now=now)


def assignments_notify(*, assignments: list[Assignment]) -> None:
    """Routing is complete: tell each agent (and the previous owner), release auto messages.

    The welcome email and text are keyed on the contact alone, so they go out
    once, however often the contact is routed or reassigned later.
    """
    now = timezone.now()
    rows = []
    for assignment in assignments:
        rows += _assignment_rows(assignment, now)
    _write(rows, now=now)


def _assignment_rows(assignment: Assignment, now: datetime) -> list[OutboxMessage]:
    contact, member_id = assignment.contact, assignment.membership_id
    assigned_at = assignment.assigned_at
    event = f"assign:c{contact.pk}:{_stamp(assigned_at)}"
    common = {"team_id": contact.team_id, "contact": contact}
    rows = []
    if assignment.previous_id is None:
        rows.append(
            _in_app(
                now=now,
                key=f"{event}:m{member_id}:in_app",
                kind=Kind.ASSIGNED,
                membership_id=member_id,
                title=f"New contact assigned to you: {contact.name}",
                **common,
            )
        )
    else:
        for member, other, kind, title in (
            (
                member_id,
                assignment.previous_name,
                Kind.REASSIGNED_TO,
                f"{contact.name} was reassigned to you from {assignment.previous_name}",
            ),
            (
                assignment.previous_id,
                assignment.member_name,
                Kind.REASSIGNED_FROM,
                f"{contact.name} was reassigned to {assignment.member_name}",
            ),
        ):
            data = {"other_name": other}
            rows.append(
                _in_app(
                    now=now,
                    key=f"{event}:m{member}:in_app",
                    kind=kind,
                    membership_id=member,
                    title=title,
                    data=data,
                    **common,
                )
            )
            rows.append(
                _outgoing(
                    now=now,
                    channel=Channel.EMAIL,
                    key=f"{event}:m{member}:email",
                    kind=kind,
                    membership_id=member,
                    data=data,
                    **common,
                )
            )
    for kind, channel in ((Kind.WELCOME_EMAIL, Channel.EMAIL), (Kind.WELCOME_TEXT, Channel.SMS)):
        rows.append(
            _outgoing(
                now=now,
                channel=channel,
                key=f"{kind}:c{contact.pk}:{channel}",
                kind=kind,
                membership_id=member_id,
                **common,
            )
        )
    hours = assignment.follow_up_hours
    if hours:
        rows.append(
            _outgoing(
                now=now,
                channel=Channel.EMAIL,
                due=assigned_at + timedelta(hours=hours),
                key=f"reminder:c{contact.pk}:{_stamp(assigned_at)}:m{member_id}:email",
                kind=Kind.FOLLOW_UP_REMINDER,
                membership_id=member_id,
                data={"hours": hours, "assigned_at": assigned_at.isoformat()},
                **common,
            )
        )
    return rows


def _lead_managers(team_id: int) -> list[Membership]:
    """Active members who manage lead distribution for the whole team: those who see
    held, failed and waiting leads on the dashboard and may assign or retry them."""
    return [
        m
        for m in Membership.objects.filter(team_id=team_id, is_active=True).select_related(
            "permission_profile"
        )
        if MANAGE_LEAD_DISTRIBUTION in effective_permissions(m) and sees_whole_company(m)
    ]


def _to_members(
    members: list[Membership], *, event: str, title: str, url: str, now: datetime, **common
) -> list[OutboxMessage]:
    """An in-app message and an email for each member, keyed on the event."""
    rows = []
    for member in members:
        rows.append(
            _in_app(
                now=now,
                key=f"{event}:m{member.pk}:in_app",
                membership=member,
                title=title,
                url=url,
                **common,
            )
        )
        rows.append(
            _outgoing(
                now=now,
                channel=Channel.EMAIL,
                key=f"{event}:m{member.pk}:email",
                membership=member,
                **common,
            )
        )
    return rows


def routing_failures_notify(*, team_id: int, failures: list[Failure]) -> None:
    """Routing gave up on contacts: every member who manages lead distribution for the
    whole team (owners, admins with the permission) hears of it, in the app and by email."""
    now = timezone.now()
    members = _lead_managers(team_id)
    rows = []
    for failure in failures:
        contact = failure.contact
        rows += _to_members(
            members,
            event=f"routing_failed:c{contact.pk}:{_stamp(failure.at)}",
            title=f"Routing gave up on {contact.name}: it needs someone to assign it",
            url=reverse("routing_pages:dashboard") + "?assignment=failed",
            now=now,
            team_id=team_id,
            kind=Kind.ROUTING_FAILED,
            contact=contact,
            data={"error": failure.error[:500], "attempts": failure.attempts},
        )
    _write(rows, now=now)


# Contact ids a pool-waiting message keeps, for its email to list (and to skip itself
# when all of them have been assigned meanwhile).
POOL_WAITING_LISTED = 50


def pool_waiting_notify(*, team_id: int, waiting: list[Waiting]) -> None:
    """Leads wait in Manual lead pools for an admin: every member who manages lead
    distribution for the whole team (who sees those leads on the dashboard) hears of it
    in the app and by email, once for a whole routing batch."""
    if not waiting:
        return
    now = timezone.now()
    pools: dict[int, list] = {}
    for item in waiting:
        pools.setdefault(item.rule_id, [item.rule_name, 0])[1] += 1
    count = len(waiting)
    leads = f"{count} lead{'s' if count != 1 else ''} {'is' if count == 1 else 'are'}"
    if len(pools) == 1:
        ((rule_id, (name, _n)),) = pools.items()
        where = f"lead pool “{name}”"
        url = f"{reverse('routing_pages:dashboard')}?assignment=waiting&rule={rule_id}"
    else:
        where = "lead pools " + ", ".join(f"“{name}” ({n})" for name, n in pools.values())
        url = f"{reverse('routing_pages:dashboard')}?assignment=waiting"
    rows = _to_members(
        _lead_managers(team_id),
        event=f"pool_waiting:t{team_id}:c{min(i.contact.pk for i in waiting)}:{_stamp(now)}",
        title=f"{leads} waiting in {where} for you to assign",
        url=url,
        now=now,
        team_id=team_id,
        kind=Kind.POOL_WAITING,
        contact=waiting[0].contact if count == 1 else None,
        data={
            "count": count,
            "pools": [[rule_id, name, n] for rule_id, (name, n) in pools.items()],
            "contacts": [item.contact.pk for item in waiting[:POOL_WAITING_LISTED]],
        },
    )
    _write(rows, now=now)


# --- account emails ---------------------------------------------------------------------
#
# Each request is an event of its own (a second reset request is a second email), so its
# key carries a random id. The row holds the user and the templates, never a token: the
# link is made when the email is sent. The account's change (a new member, a reset
# request) stands whether or not the delivery task could be enqueued: the sweep sends
# what was not.


def password_link_notify(*, membership: Membership) -> None:
    """The member gets an email with a link to set their password."""
    now = timezone.now()
    row = _outgoing(
        now=now,
        channel=Channel.EMAIL,
        key=f"password_link:u{membership.user_id}:{uuid4().hex}:email",
        kind=Kind.PASSWORD_LINK,
        team_id=membership.team_id,
        membership=membership,
        user_id=membership.user_id,
    )
    _write([row], now=now, robust=True)


def password_resets_notify(
    *,
    users: list[AbstractBaseUser],
    subject_template: str,
    email_template: str,
    html_email_template: str | None = None,
    from_email: str | None = None,
    extra_context: dict | None = None,
) -> int:
    """Each user gets Django's password reset email, rendered from these templates when
    it is sent (and not at all if the account's address changed meanwhile). Returns the
    messages written."""
    now = timezone.now()
    request = uuid4().hex
    rows = [
        _outgoing(
            now=now,
            channel=Channel.EMAIL,
            key=f"password_reset:u{user.pk}:{request}:email",
            kind=Kind.PASSWORD_RESET,
            user=user,
            data={
                "email": getattr(user, user.get_email_field_name()),
                "subject_template": subject_template,
                "email_template": email_template,
                "html_email_template": html_email_template,
                "from_email": from_email,
                "extra_context": extra_context or {},
            },
        )
        for user in users
    ]
    _write(rows, now=now, robust=True)
    return len(rows)


# --- delivery ---------------------------------------------------------------------------


def _send(message: OutboxMessage, now: datetime) -> tuple[str, str]:
    """Send one message; returns (to, subject) for the admin. Raises content.Skip or errors."""
    if message.channel == Channel.EMAIL:
        email = content.EMAIL_BUILDERS[message.kind](message, now)
        email.send()
        return email.to[0], email.subject
    if message.channel == Channel.SMS:
        text = content.SMS_BUILDERS[message.kind](message, now)
        if sms_connection().send_messages([text]) != 1:
            raise RuntimeError("the SMS backend did not send the text")
        return text.to, ""
    if message.channel == Channel.PUSH:
        if not push_configured():
            raise content.Skip("web push is off: no VAPID keys")
        subscription = message.subscription
        if subscription is None:
            raise content.Skip("the browser unsubscribed")
        payload, ttl = content.PUSH_BUILDERS[message.kind](message, now)
        try:
            push_send(subscription=subscription, payload=payload, ttl=ttl)
        except SubscriptionGone:
            subscription.delete()
            raise content.Skip("the browser unsubscribed (the push service said gone)") from None
        return urlsplit(subscription.endpoint).netloc, payload["title"]
    raise content.Skip(f"nothing sends {message.channel} messages")


def _backoff(attempts: int) -> timedelta:
    """Before the next attempt: the base (a minute), doubling, at most an hour."""
    base = settings.NOTIFICATION_RETRY_BASE_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 3600))


def message_deliver(*, message_id: int, now: datetime | None = None) -> str:
    """Send a pending message once. Safe to call any number of times, concurrently too.

    The conditional UPDATE pending → sending lets exactly one caller through; a
    failure puts the row back to pending with a later next_attempt_at (the sweep
    re-enqueues it) until NOTIFICATION_MAX_ATTEMPTS, then marks it failed. A message
    that can never go out as it stands (content.Undeliverable) is failed at once.
    """
    now = now or timezone.now()
    claimed = (
        OutboxMessage.objects.filter(pk=message_id, status=Status.PENDING, next_attempt_at__lte=now)
        .exclude(channel=Channel.IN_APP)
        .update(status=Status.SENDING, attempts=F("attempts") + 1, updated_at=now)
    )
    if not claimed:
        return "not due"
    message = OutboxMessage.objects.select_related(
        "team", "membership__user", "user", "contact", "offer__contact", "subscription"
    ).get(pk=message_id)
    sending = OutboxMessage.objects.filter(pk=message_id, status=Status.SENDING)
    try:
        to, subject = _send(message, now)
    except content.Hold as hold:
        # Not an attempt: waiting for routing is no failure. Released on assignment.
        sending.update(
            status=Status.PENDING,
            held=True,
            attempts=F("attempts") - 1,
            next_attempt_at=now + HOLD_RECHECK,
            last_error=str(hold),
            updated_at=now,
        )
        return "held"
    except content.Skip as skip:
        with transaction.atomic():
            sending.update(status=Status.SKIPPED, last_error=str(skip), updated_at=now)
            _contact_message_done(message, Status.SKIPPED, str(skip), now)
        return Status.SKIPPED
    except content.Undeliverable as exc:
        # No retries: the next attempt would fail the same way (staff can send it
        # again once the cause, say the team's template, is fixed).
        with transaction.atomic():
            sending.update(status=Status.FAILED, last_error=str(exc)[:1000], updated_at=now)
            _contact_message_done(message, Status.FAILED, str(exc), now)
        logger.warning(
            "Outbox message %s (%s, %s) cannot be sent: %s",
            message.pk,
            message.kind,
            message.channel,
            type(exc.__cause__ or exc).__name__,
        )
        return Status.FAILED
    except Exception as exc:
        give_up = message.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS
        sending.update(
            status=Status.FAILED if give_up else Status.PENDING,
            next_attempt_at=now + _backoff(message.attempts),
            last_error=redact(f"{type(exc).__name__}: {exc}")[:1000],
            updated_at=now,
        )
        # The id and kind find the row; the error text stays in the row, never in logs.
        logger.warning(
            "Outbox message %s (%s, %s) attempt %s failed with %s",
            message.pk,
            message.kind,
            message.channel,
            message.attempts,
            type(exc).__name__,
        )
        return Status.FAILED if give_up else "retry"
    with transaction.atomic():
        sending.update(
            status=Status.SENT,
            to=to[:254],
            title=subject[:200],
            last_error="",
            sent_at=now,
            updated_at=now,
            # Sent as the Agent of the moment: the row says who that was.
            membership=message.membership,
            held=False,
        )
        if message.kind == Kind.FOLLOW_UP_REMINDER:
            _write([_reminder_in_app(message, now)], now=now)
        if message.kind == Kind.AGENT_TASK:
            _write([_task_in_app(message, now)], now=now)
        _contact_message_done(message, Status.SENT, "", now)
    return Status.SENT


def _task_in_app(message: OutboxMessage, now: datetime) -> OutboxMessage:
    contact = message.contact
    return _in_app(
        now=now,
        key=f"{message.key}:in_app",
        team_id=message.team_id,
        contact=contact,
        kind=Kind.AGENT_TASK,
        membership=message.membership,
        title=f"Task: {message.data.get('task', '')} — {contact.name}",
        url=reverse("contact_pages:profile", args=[contact.pk]),
    )


def _contact_message_done(message: OutboxMessage, status: str, reason: str, now: datetime) -> None:
    """A message another app scheduled reached its end: on the contact's timeline, and
    announced (a plan moves on, an alert is marked sent)."""
    if message.kind not in AS_CURRENT_AGENT:
        return
    contact, agent = message.contact, message.membership
    label = message.data.get("label", "Message")
    if status == Status.SENT:
        text = f"{label} sent by {agent.display_name}." if agent else f"{label} sent."
    else:
        text = f"{label} not sent: {reason}."
    origin = message.data.get("origin", "message")
    timeline_add(contact=contact, kind=f"{origin}_{status}"[:32], actor=None, message=text[:500])
    signals.contact_message_done.send(
        sender=OutboxMessage,
        message_key=message.key,
        origin=message.data.get("origin", ""),
        ref=message.data.get("ref", ""),
        contact=contact,
        status=status,
        agent=agent,
        at=now,
    )


def outgoing_rows_write(rows: list[OutboxMessage]) -> None:
    """Other notification modules' rows: written in the caller's transaction, the due
    ones enqueued after commit."""
    _write(rows, now=timezone.now())


def held_release(*, contact_ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Held messages of contacts routing has since assigned are due now (of these
    contacts, or of every contact for the sweep); enqueued after commit."""
    now = now or timezone.now()
    assigned = ContactRouting.objects.filter(
        pk=OuterRef("contact_id"), status=RoutingStatus.ASSIGNED, reassigning_to__isnull=True
    )
    held = OutboxMessage.objects.filter(held=True, status=Status.PENDING).filter(Exists(assigned))
    if contact_ids is not None:
        held = held.filter(contact_id__in=contact_ids)
    with transaction.atomic():
        ids = list(held.select_for_update(skip_locked=True).values_list("pk", flat=True))
        if ids:
            OutboxMessage.objects.filter(pk__in=ids).update(
                held=False, next_attempt_at=now, last_error="", updated_at=now
            )
            transaction.on_commit(partial(_enqueue_ids, ids))
    return len(ids)


def _reminder_in_app(message: OutboxMessage, now: datetime) -> OutboxMessage:
    return _in_app(
        now=now,
        key=message.key.rsplit(":", 1)[0] + ":in_app",
        team_id=message.team_id,
        kind=Kind.FOLLOW_UP_REMINDER,
        membership_id=message.membership_id,
        contact_id=message.contact_id,
        title=f"Follow up with {message.contact.name}: not contacted "
        f"{message.data.get('hours')} h after assignment",
    )


def outbox_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """The backstop: messages interrupted mid-send go back to pending (after a backoff),
    and every due pending row is enqueued (retries, reminders, lost tasks)."""
    now = now or timezone.now()
    released = held_release(now=now)
    stuck = OutboxMessage.objects.filter(status=Status.SENDING, updated_at__lte=now - STUCK_AFTER)
    gave_up = stuck.filter(attempts__gte=settings.NOTIFICATION_MAX_ATTEMPTS).update(
        status=Status.FAILED,
        last_error="interrupted while sending at every attempt: given up",
        updated_at=now,
    )
    interrupted = stuck.update(
        status=Status.PENDING,
        next_attempt_at=now + _backoff(1),
        last_error="interrupted while sending (the worker stopped or timed out): retried",
        updated_at=now,
    )
    due = list(
        OutboxMessage.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        .exclude(channel=Channel.IN_APP)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    _enqueue_ids(due)
    return {
        "enqueued": len(due),
        "interrupted": interrupted,
        "given_up": gave_up,
        "released": released,
    }


def messages_retry(*, message_ids: list[int]) -> int:
    """Staff: send failed or skipped messages again (a fresh set of attempts)."""
    now = timezone.now()
    ids = list(
        OutboxMessage.objects.filter(pk__in=message_ids, status__in=[Status.FAILED, Status.SKIPPED])
        .exclude(channel=Channel.IN_APP)
        .values_list("pk", flat=True)
    )
    OutboxMessage.objects.filter(pk__in=ids).update(
        status=Status.PENDING, attempts=0, next_attempt_at=now, updated_at=now
    )
    transaction.on_commit(partial(_enqueue_ids, ids))
    return len(ids)


# --- the hourly digest ---------------------------------------------------------------


def _contact_name(first: str, last: str, email: str, phone: str, contact_id: int) -> str:
    return f"{first} {last}".strip() or email or phone or f"Contact #{contact_id}"


def digests_send(*, now: datetime | None = None) -> int:
    """One email per member with contacts newly assigned since their last digest.

    Members with nothing new get nothing. Each member's cursor moves to the end
    of what was covered, so a run after hours of downtime sends one digest for
    all of it, and runs that overlap write the same key once.
    """
    now = now or timezone.now()
    through = now - timedelta(seconds=settings.DIGEST_SETTLE_SECONDS)
    first_since = through - timedelta(hours=settings.DIGEST_FIRST_LOOKBACK_HOURS)
    told_already = OutboxMessage.objects.filter(
        kind=Kind.REASSIGNED_TO,
        channel=Channel.EMAIL,
        membership_id=OuterRef("membership_id"),
        contact_id=OuterRef("contact_id"),
        created_at__gte=OuterRef("assigned_at"),
    )
    new_roles = (
        ContactRole.objects.filter(
            Q(membership__digest_cursor__isnull=True, assigned_at__gt=first_since)
            | Q(assigned_at__gt=F("membership__digest_cursor__sent_through")),
            kind=RoleKind.AGENT,
            assigned_at__lte=through,
            membership__is_active=True,
        )
        .exclude(Exists(told_already))
        .order_by("membership_id", "assigned_at", "id")
        .values_list(
            "membership_id",
            "membership__team_id",
            "membership__digest_cursor__sent_through",
            "contact_id",
            "contact__first_name",
            "contact__last_name",
            "contact__email",
            "contact__phone",
            "contact__source",
        )
    )
    rows, cursors = [], []
    for member_id, group in groupby(new_roles, key=lambda row: row[0]):
        group = list(group)
        team_id, since = group[0][1], group[0][2]
        items = [
            {"id": cid, "name": _contact_name(first, last, email, phone, cid), "source": source}
            for _, _, _, cid, first, last, email, phone, source in group
        ]
        rows.append(
            _outgoing(
                now=now,
                channel=Channel.EMAIL,
                key=f"digest:m{member_id}:{_stamp(since) if since else 'first'}:email",
                team_id=team_id,
                kind=Kind.DIGEST,
                membership_id=member_id,
                data={"items": items, "through": through.isoformat()},
            )
        )
        cursors.append(DigestCursor(membership_id=member_id, sent_through=through))
    with transaction.atomic():
        _write(rows, now=now)
        DigestCursor.objects.bulk_create(
            cursors,
            update_conflicts=True,
            unique_fields=["membership"],
            update_fields=["sent_through"],
        )
    return len(rows)


# --- the bell ------------------------------------------------------------------------


def notification_mark_read(*, membership: Membership, message_id: int) -> bool:
    """Mark one of the member's in-app notifications read; False when it is not theirs."""
    mine = inbox_for(membership=membership).filter(pk=message_id)
    return bool(mine.filter(read_at__isnull=True).update(read_at=timezone.now())) or mine.exists()


def notifications_mark_all_read(*, membership: Membership) -> int:
    unread = inbox_for(membership=membership).filter(read_at__isnull=True)
    return unread.update(read_at=timezone.now())


# --- web push subscriptions ----------------------------------------------------------


def push_subscription_save(
    *, membership: Membership, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> PushSubscription:
    """This browser now gets the member's pushes (a browser re-subscribing moves over)."""
    if not endpoint.startswith("https://") or len(endpoint) > 1000:
        raise ValidationError("A push endpoint is an https URL.")
    if not p256dh or not auth or len(p256dh) > 200 or len(auth) > 100:
        raise ValidationError("The subscription keys are missing.")
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={
            "membership": membership,
            "p256dh": p256dh,
            "auth": auth,
            "user_agent": user_agent[:300],
        },
    )
    return subscription


def push_subscription_delete(*, membership: Membership, endpoint: str) -> int:
    deleted, _ = PushSubscription.objects.filter(membership=membership, endpoint=endpoint).delete()
    return deleted
