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
    # The rule (lead pool) that routed it: the one whose decision assigned it, or the pool
    # it waited in when a person assigned it from there. None for reassignment groups and
    # other assignments by hand.
    rule_id: int | None = None


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


@dataclass(frozen=True)
class Waiting:
    """A contact a Manual lead pool keeps unassigned until an admin assigns it."""

    contact: Contact
    rule_id: int
    rule_name: str


# Sent with team_id, waiting=[Waiting, …], one call for a whole routing batch.
leads_waiting = Signal()
