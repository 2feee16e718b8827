"""Contacts opting out: one-click unsubscribe from email, STOP/START for texts.

Honoured at send time by every contact-facing message (welcome email and text, plan
steps, property alerts); pending ones are skipped with the reason when they come up.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from contacts import signals as contact_signals
from contacts.intake import normalize_phone
from contacts.models import Contact
from contacts.services import timeline_add

STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"})
START_WORDS = frozenset({"start", "unstop", "yes"})


@transaction.atomic
def contact_unsubscribe(*, contact: Contact) -> bool:
    """Unsubscribe the contact from email; False when they had already."""
    now = timezone.now()
    if not Contact.objects.filter(pk=contact.pk, unsubscribed_at__isnull=True).update(
        unsubscribed_at=now
    ):
        return False
    contact.unsubscribed_at = now
    timeline_add(
        contact=contact, kind="unsubscribed", actor=None, message="Unsubscribed from email."
    )
    contact_signals.contact_unsubscribed.send(sender=Contact, contact=contact, how="email", at=now)
    return True


def _contacts_with_phone(digits: str) -> list[Contact]:
    # Stored numbers are free-form: narrow by the last four digits in the database,
    # then compare the normalised numbers.
    nearby = Contact.objects.filter(phone__contains=digits[-4:]).select_for_update()
    return [c for c in nearby if normalize_phone(c.phone) == digits]


@transaction.atomic
def texts_stop_or_start(*, phone: str, text: str) -> tuple[str, int]:
    """("stopped" | "started" | "replied" | "ignored", how many contacts) for an inbound
    text: STOP and START change what may be texted; anything else is the contact's
    reply, on their timeline (plans that stop on a reply hear it)."""
    word = text.strip().split()[0].lower() if text.strip() else ""
    digits = normalize_phone(phone)
    if not digits or not word:
        return "ignored", 0
    now = timezone.now()
    contacts = _contacts_with_phone(digits)
    if word not in STOP_WORDS | START_WORDS:
        for contact in contacts:
            timeline_add(
                contact=contact, kind="replied_text", actor=None,
                message="Replied by text.", body=text.strip()[:500],
            )  # fmt: skip
            contact_signals.contact_replied.send(
                sender=Contact, contact=contact, channel="text", body=text, at=now
            )
        return ("replied" if contacts else "ignored"), len(contacts)
    stop = word in STOP_WORDS
    changed = []
    for contact in contacts:
        if stop and contact.texts_stopped_at is None:
            contact.texts_stopped_at = now
        elif not stop and contact.texts_stopped_at is not None:
            contact.texts_stopped_at = None
        else:
            continue
        changed.append(contact)
    Contact.objects.bulk_update(changed, ["texts_stopped_at"])
    for contact in changed:
        timeline_add(
            contact=contact,
            kind="texts_stopped" if stop else "texts_started",
            actor=None,
            message="Texted STOP: no more texts." if stop else "Texted START: texts resumed.",
        )
        if stop:
            contact_signals.contact_unsubscribed.send(
                sender=Contact, contact=contact, how="text", at=now
            )
    return ("stopped" if stop else "started"), len(changed)
