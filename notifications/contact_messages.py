"""Messages to contacts that other apps schedule (Smart Plan steps, property alerts),
sent as whoever holds the primary Agent role when they go out.

An app writes one pending outbox row per message with a key of its own (writing the
same key twice writes one row), the owner-written subject and body as template
sources, and when it is due. At send time (notifications.content):

- an unsubscribed contact (or, for texts, one who sent STOP), an archived one, or one
  without an address is skipped, with the reason kept on the row;
- while routing is not complete or nobody holds the primary Agent role, the row is
  held: kept pending and released when the contact is assigned;
- the templates are rendered by the sandbox with the Agent of that moment, so when
  the Agent changes, later messages go out from the new one; email carries a
  one-click unsubscribe link (`List-Unsubscribe`, `List-Unsubscribe-Post`).

Every final outcome is written on the contact's timeline and announced with
`notifications.signals.contact_message_done`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from contacts.models import Contact
from notifications.content import CONTACT_PLACEHOLDERS
from notifications.models import AS_CURRENT_AGENT, Channel, Kind, OutboxMessage, Status
from notifications.sandbox import template_validate
from notifications.services import outgoing_rows_write


@dataclass(frozen=True)
class MessageState:
    status: str  # pending, held, sent, skipped, failed
    due_at: datetime
    sent_at: datetime | None
    reason: str


def contact_template_validate(source: str, *, extra: Mapping[str, str] | None = None) -> None:
    """A ValidationError (for the form field) unless `source` keeps to the sandbox and
    uses only the contact placeholders and `extra` (name → sample value)."""
    template_validate(source, sample={**CONTACT_PLACEHOLDERS, **(extra or {})})


def _schedule(
    *,
    contact: Contact,
    kind: str,
    channel: str,
    key: str,
    due_at: datetime,
    origin: str,
    ref: str,
    label: str,
    title: str,
    data: dict,
) -> bool:
    if OutboxMessage.objects.filter(key=key).exists():
        return False
    row = OutboxMessage(
        team_id=contact.team_id,
        key=key,
        channel=channel,
        kind=kind,
        contact=contact,
        title=title[:200],
        data={"origin": origin, "ref": ref, "label": label, **data},
        created_at=timezone.now(),
        updated_at=timezone.now(),
        next_attempt_at=due_at,
    )
    outgoing_rows_write([row])
    return True


def contact_email_schedule(
    *,
    contact: Contact,
    key: str,
    subject: str,
    body: str,
    due_at: datetime,
    origin: str,
    ref: str,
    label: str,
    values: Mapping[str, str] | None = None,
) -> bool:
    """One email to the contact at `due_at`; False when `key` was scheduled before."""
    return _schedule(
        contact=contact,
        kind=Kind.CONTACT_EMAIL,
        channel=Channel.EMAIL,
        key=key,
        due_at=due_at,
        origin=origin,
        ref=ref,
        label=label,
        title=label,
        data={"subject": subject, "body": body, "values": dict(values or {})},
    )


def contact_text_schedule(
    *,
    contact: Contact,
    key: str,
    body: str,
    due_at: datetime,
    origin: str,
    ref: str,
    label: str,
    values: Mapping[str, str] | None = None,
) -> bool:
    """One text to the contact at `due_at`; False when `key` was scheduled before."""
    return _schedule(
        contact=contact,
        kind=Kind.CONTACT_TEXT,
        channel=Channel.SMS,
        key=key,
        due_at=due_at,
        origin=origin,
        ref=ref,
        label=label,
        title=label,
        data={"body": body, "values": dict(values or {})},
    )


def agent_task_schedule(
    *,
    contact: Contact,
    key: str,
    title: str,
    body: str,
    due_at: datetime,
    origin: str,
    ref: str,
    label: str,
) -> bool:
    """A task for the contact's primary Agent at `due_at` (email, and in-app when sent)."""
    return _schedule(
        contact=contact,
        kind=Kind.AGENT_TASK,
        channel=Channel.EMAIL,
        key=key,
        due_at=due_at,
        origin=origin,
        ref=ref,
        label=label,
        title=title,
        data={"task": title, "body": body},
    )


def contact_messages_cancel(*, key_prefix: str, reason: str) -> int:
    """Pending messages whose key starts with `key_prefix` are skipped with `reason`."""
    now = timezone.now()
    return OutboxMessage.objects.filter(
        key__startswith=key_prefix, status=Status.PENDING, kind__in=AS_CURRENT_AGENT
    ).update(status=Status.SKIPPED, held=False, last_error=reason[:1000], updated_at=now)


def contact_messages_status(*, keys: list[str]) -> dict[str, MessageState]:
    rows = OutboxMessage.objects.filter(key__in=keys).values_list(
        "key", "status", "held", "next_attempt_at", "sent_at", "last_error"
    )
    return {
        key: MessageState(
            status="held" if held and status == Status.PENDING else status,
            due_at=due,
            sent_at=sent_at,
            reason=reason,
        )
        for key, status, held, due, sent_at, reason in rows
    }
