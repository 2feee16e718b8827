"""Lead pools: routing rules whose criteria include source buckets.

A pool takes only contacts placed in one of its source buckets. New contacts (with
their buckets from the API or an import) are routed as usual, and a pool matches
them in its turn like any rule. Placing a contact already routed in a bucket routes
it again through the active pools with that bucket as a source, and through them
only: its open offer is cancelled, it keeps its Agent until a pool gives it to
someone (or, for a Manual pool, until an admin does), and when none of them can take
it, it stays with its Agent. Placements made by routing itself (a member's default
bucket receiving the leads assigned to them) never start a pass, so routing cannot
feed itself.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from contacts.models import Bucket, BucketVia, Contact, ContactStatus
from routing.models import (
    ContactRouting,
    LogEvent,
    Offer,
    OfferStatus,
    RoutingLog,
    RoutingRule,
    RoutingStatus,
)
from routing.queue import REQUEUE_FIELDS, WAITING, agents_of, rows_requeue
from routing.state import routing_version_bump
from routing.writer import ROUTING_FIELDS
from teams.models import Membership


def pools_of_bucket(*, bucket: Bucket):
    """The active lead pools with this bucket as a source bucket."""
    return RoutingRule.objects.filter(
        team_id=bucket.team_id, source_buckets=bucket, is_paused=False
    )


def contacts_placed_route(
    *, bucket: Bucket, contacts: list[Contact], via: str, actor: Membership | None = None
) -> int:
    """Contacts just placed in `bucket` go through its lead pools. Returns how many.

    Left alone: contacts still waiting to be routed (their routing will see the
    bucket), removed ones, and ones being reassigned through a reassignment group
    (the person who sent them there decides). Inside the placing transaction.
    """
    if via == BucketVia.ROUTING or not contacts or not pools_of_bucket(bucket=bucket).exists():
        return 0
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        rows = list(
            ContactRouting.objects.select_for_update(of=("self",))
            .filter(
                team_id=bucket.team_id,
                contact_id__in=sorted({c.pk for c in contacts}),
                reassigning_to__isnull=True,
            )
            .exclude(status__in=WAITING)
            .exclude(contact__status=ContactStatus.ARCHIVED)
            .order_by("contact_id")
        )
        if not rows:
            return 0
        ids = [r.contact_id for r in rows]
        Offer.objects.filter(contact_id__in=ids, status=OfferStatus.OPEN).update(
            status=OfferStatus.CANCELLED, resolved_at=now
        )
        rows_requeue(rows=rows, now=now, placed_in=bucket.pk)
        ContactRouting.objects.bulk_update(rows, REQUEUE_FIELDS)
        how = BucketVia(via).label.lower() if via in BucketVia.values else via
        by = f" by {actor.display_name}" if actor is not None else ""
        reason = (
            f"placed in bucket “{bucket.name}” ({how}{by}): routed again through "
            "the lead pools it is a source bucket of"
        )
        RoutingLog.objects.bulk_create(
            [
                RoutingLog(
                    team_id=bucket.team_id,
                    contact_id=contact_id,
                    event=LogEvent.ROUTED_AGAIN,
                    membership=actor,
                    reason=reason[:255],
                    created_at=now,
                )
                for contact_id in ids
            ]
        )
    return len(rows)


def pools_bucket_deleted(*, bucket: Bucket) -> int:
    """A bucket is about to be deleted: a lead pool whose only source bucket it is
    would become a rule that matches every contact, so it is paused instead (its
    source buckets emptied). Returns how many pools were paused."""
    losing = [
        rule.pk
        for rule in RoutingRule.objects.filter(source_buckets=bucket, is_paused=False)
        .prefetch_related("source_buckets")
        .only("pk")
        if len(rule.source_buckets.all()) == 1
    ]
    if losing:
        RoutingRule.objects.filter(pk__in=losing).update(is_paused=True, updated_at=timezone.now())
    routing_version_bump(team_id=bucket.team_id)
    return len(losing)


def pool_waiting_release(*, rule: RoutingRule, why: str) -> int:
    """The rule no longer keeps leads for an admin (deleted, or no longer Manual): those
    waiting in it go on. One with an Agent stays with them; one without is routed again
    from rule 1. `why` ends the log line ("was deleted"). Inside the caller's transaction;
    returns how many."""
    rows = list(
        ContactRouting.objects.select_for_update(of=("self",))
        .filter(rule=rule, status=RoutingStatus.WAITING)
        .order_by("contact_id")
    )
    if not rows:
        return 0
    now = timezone.now()
    agents = agents_of(rows)
    kept = [r for r in rows if r.contact_id in agents]
    again = [r for r in rows if r.contact_id not in agents]
    for row in kept:
        row.status = RoutingStatus.ASSIGNED
        row.held_since = None
        row.updated_at = now
    ContactRouting.objects.bulk_update(kept, ROUTING_FIELDS)
    rows_requeue(rows=again, now=now)
    ContactRouting.objects.bulk_update(again, REQUEUE_FIELDS)
    head = f"lead pool “{rule.name}” {why}"
    RoutingLog.objects.bulk_create(
        [
            RoutingLog(
                team_id=row.team_id,
                contact_id=row.contact_id,
                event=LogEvent.STAYED if row in kept else LogEvent.ROUTED_AGAIN,
                membership_id=agents.get(row.contact_id),
                reason=(
                    f"{head}: it is no longer waiting for an admin and stays with its Agent"
                    if row in kept
                    else f"{head}: it is no longer waiting for an admin, routed again"
                )[:255],
                created_at=now,
            )
            for row in rows
        ]
    )
    return len(rows)
