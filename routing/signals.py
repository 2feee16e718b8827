"""What routing announces. Notifications listen and write their outbox rows inside the
routing transaction, so a rolled-back decision tells nobody; routing does not know
who listens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.dispatch import Signal

from contacts.models import Contact


@dataclass(frozen=True)
class Assignment:
    """A contact got a (new) primary Agent: routing for it is complete."""

    contact: Contact
    membership_id: int
    member_name: str
    previous_id: int | None  # the Agent it was taken from, if any
    previous_name: str
    assigned_at: datetime
    follow_up_hours: int | None  # the lead pool's follow-up reminder, if it has one


# Sent with assignments=[Assignment, …], one call for a whole batch.
contacts_assigned = Signal()

# Sent with offers=[(Offer, [membership ids]), …]: contacts waiting to be claimed.
offers_made = Signal()


@dataclass(frozen=True)
class Failure:
    """Routing tried a contact ROUTING_MAX_ATTEMPTS times and gave up: someone must look."""

    contact: Contact
    error: str
    attempts: int
    at: datetime


# Sent with team_id, failures=[Failure, …].
routing_gave_up = Signal()
