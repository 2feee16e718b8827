"""Writes: listings (feeds, CSV, admin), contacts' saved searches, the team's alert
wording, and the property alerts themselves.

A stored listing that is new (or back on the market), or whose price drops, is
matched against the team's active searches (listings.matching) in the same
transaction. An instant search's contact is scheduled one email for the batch at
once; a daily or weekly search's matches wait in AlertListing for its digest
(`alert_digests_send`, every few minutes). The email goes through
notifications.contact_messages: held until routing is complete and someone holds the
primary Agent role, sent from that Agent, skipped once the contact unsubscribes, and
written on the contact's timeline with the alert's label. Searches of contacts who
unsubscribed, are archived or have no email are not matched at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact, ContactStatus
from contacts.selectors import require_work
from contacts.services import timeline_add
from listings import matching
from listings.alert_text import DEFAULT_BODY, DEFAULT_SUBJECT, AlertLine, alert_values
from listings.forms import alert_template_validate
from listings.models import (
    AlertListing,
    AlertReason,
    AlertTemplate,
    ChangeVia,
    ContactSearch,
    Frequency,
    Listing,
    ListingPriceChange,
    ListingStatus,
    PropertyType,
)
from listings.timing import next_digest_at
from notifications.contact_messages import contact_email_schedule
from teams import access
from teams import permissions as perms
from teams.models import Membership, Team

ALERT_ORIGIN = "alert"
LISTING_FIELDS = (
    "address",
    "city",
    "state",
    "zip_code",
    "price",
    "beds",
    "baths",
    "property_type",
    "status",
    "photo_url",
    "listing_url",
    "listed_at",
)
STORE_ATTEMPTS = 3
DIGEST_BATCH = 100


# --- listings -------------------------------------------------------------------------


@dataclass
class StoreResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    alerts: int = 0  # listings given to searches (sent at once, or waiting for a digest)

    @property
    def stored(self) -> int:
        return self.created + self.updated + self.unchanged


def facts_of(listing: Listing) -> matching.ListingFacts:
    return matching.ListingFacts(
        id=listing.pk,
        city=listing.city,
        state=listing.state,
        zip_code=listing.zip_code,
        price=listing.price,
        beds=listing.beds,
        baths=listing.baths,
        property_type=listing.property_type,
        status=listing.status,
    )


def _change(listing: Listing, *, was_active: bool, old_price) -> matching.Change | None:
    """What a stored listing's new state means for alerts, if anything."""
    active = listing.status == ListingStatus.ACTIVE
    reduced = old_price is not None and listing.price < old_price
    if not active or (was_active and not reduced):
        return None
    return matching.Change(
        facts_of(listing), listed=not was_active, reduced_from=old_price if reduced else None
    )


def _price_changed(listing: Listing, old_price, via: str, now: datetime) -> ListingPriceChange:
    listing.previous_price, listing.price_changed_at = old_price, now
    return ListingPriceChange(
        listing=listing, old_price=old_price, new_price=listing.price, via=via, changed_at=now
    )


def _upsert(
    team: Team, rows: list[dict], via: str, now: datetime
) -> tuple[StoreResult, list[matching.Change]]:
    ids = [row["external_id"] for row in rows]
    existing = {
        listing.external_id: listing
        for listing in Listing.objects.select_for_update().filter(team=team, external_id__in=ids)
    }
    result, created, updated, price_changes, changes = StoreResult(), [], [], [], []
    for row in rows:
        values = {name: row[name] for name in LISTING_FIELDS}
        listing = existing.get(row["external_id"])
        if listing is None:
            created.append(
                Listing(
                    team=team, external_id=row["external_id"], created_at=now, updated_at=now,
                    **values,
                )
            )  # fmt: skip
            continue
        changed = [name for name, value in values.items() if getattr(listing, name) != value]
        if not changed:
            result.unchanged += 1
            continue
        was_active, old_price = listing.status == ListingStatus.ACTIVE, listing.price
        for name in changed:
            setattr(listing, name, values[name])
        listing.updated_at = now
        if "price" in changed:
            price_changes.append(_price_changed(listing, old_price, via, now))
        updated.append(listing)
        if change := _change(listing, was_active=was_active, old_price=old_price):
            changes.append(change)
    Listing.objects.bulk_create(created)
    changes += [c for c in (_change(x, was_active=False, old_price=None) for x in created) if c]
    Listing.objects.bulk_update(
        updated, [*LISTING_FIELDS, "previous_price", "price_changed_at", "updated_at"]
    )
    ListingPriceChange.objects.bulk_create(price_changes)
    result.created, result.updated = len(created), len(updated)
    return result, changes


@transaction.atomic
def listings_store(*, team: Team, rows: list[dict], via: str) -> StoreResult:
    """Create or update (by external id) checked listing rows, record price changes,
    and alert the searches they match, in one transaction.

    A listing another request creates at the same moment makes the insert fail: the
    batch is then written again, updating that listing instead."""
    now = timezone.now()
    for attempt in range(STORE_ATTEMPTS):
        try:
            with transaction.atomic():
                result, changes = _upsert(team, rows, via, now)
            break
        except IntegrityError:
            if attempt == STORE_ATTEMPTS - 1:
                raise
    result.alerts = alerts_for_changes(team=team, changes=changes, now=now)
    return result


@transaction.atomic
def listing_admin_save(*, listing: Listing) -> None:
    """A listing added or edited by staff: stored as a feed would store it, so a lower
    price counts as a price reduction and alerts the searches it matches."""
    now = timezone.now()
    listing.updated_at = now
    if listing.pk is None:
        listing.created_at = now
        listing.save()
        change = _change(listing, was_active=False, old_price=None)
    else:
        before = Listing.objects.select_for_update().get(pk=listing.pk)
        if listing.price != before.price:
            _price_changed(listing, before.price, ChangeVia.ADMIN, now).save()
        listing.save()
        change = _change(
            listing,
            was_active=before.status == ListingStatus.ACTIVE,
            old_price=before.price,
        )
    alerts_for_changes(team=listing.team, changes=[change] if change else [], now=now)


# --- alerts ---------------------------------------------------------------------------


def reachable(contact: Contact) -> bool:
    """Whether alerts may be scheduled for the contact at all."""
    return bool(
        contact.email.strip()
        and contact.unsubscribed_at is None
        and contact.status != ContactStatus.ARCHIVED
    )


REACHABLE = Q(contact__unsubscribed_at__isnull=True) & ~Q(contact__email="")
REACHABLE &= ~Q(contact__status=ContactStatus.ARCHIVED)


def criteria_of(search: ContactSearch) -> matching.Criteria:
    return matching.Criteria(
        cities=tuple(search.cities),
        zip_codes=tuple(search.zip_codes),
        states=tuple(search.states),
        price_min=search.price_min,
        price_max=search.price_max,
        beds_min=search.beds_min,
        baths_min=search.baths_min,
        property_types=tuple(search.property_types),
    )


def _histories(
    search_ids: Iterable[int], listing_ids: Iterable[int]
) -> dict[tuple[int, int], matching.History]:
    rows = (
        AlertListing.objects.filter(search_id__in=search_ids, listing_id__in=listing_ids)
        .order_by("matched_at", "id")
        .values_list("search_id", "listing_id", "reason", "price", "previous_price", "message_key")
    )
    found: dict[tuple[int, int], matching.History] = {}
    for search_id, listing_id, reason, price, previous, key in rows:
        before = found.get((search_id, listing_id))
        reasons = (before.reasons if before else frozenset()) | {reason}
        found[(search_id, listing_id)] = matching.History(
            reasons=reasons,
            last_price=price,
            waiting=not key,
            waiting_previous_price=previous if not key else None,
        )
    return found


def alerts_for_changes(*, team: Team, changes: list[matching.Change], now: datetime) -> int:
    """Match the changes against the team's active searches: new alerts (sent at once
    for instant searches, waiting for the digest otherwise) and lower prices for the
    alerts still waiting. Returns how many listings were given to searches."""
    if not changes:
        return 0
    searches = {
        s.pk: s
        for s in ContactSearch.objects.filter(team=team, is_active=True)
        .filter(REACHABLE)
        .select_related("contact")
    }
    if not searches:
        return 0
    verdicts = matching.alerts(
        changes,
        {pk: criteria_of(s) for pk, s in searches.items()},
        _histories(list(searches), [c.listing.id for c in changes]),
    )
    changes_by_listing = {c.listing.id: c for c in changes}
    added: dict[int, list[AlertListing]] = defaultdict(list)
    for alert in verdicts:
        verdict = alert.verdict
        if verdict.action == matching.LOWER_WAITING:
            lowered = AlertListing.objects.filter(
                search_id=alert.search_id, listing_id=alert.listing_id, message_key=""
            ).update(price=verdict.price, previous_price=verdict.previous_price)
            if lowered:
                continue
            # A digest sent the waiting alert meanwhile: decide again from what it sent.
            history = _histories([alert.search_id], [alert.listing_id])
            verdict = matching.alert_for(
                changes_by_listing[alert.listing_id],
                history.get((alert.search_id, alert.listing_id)),
            )
            if verdict is None or verdict.action != matching.ADD:
                continue
        added[alert.search_id].append(
            AlertListing(
                search_id=alert.search_id,
                listing_id=alert.listing_id,
                reason=verdict.reason,
                price=verdict.price,
                previous_price=verdict.previous_price,
                matched_at=now,
            )
        )
    AlertListing.objects.bulk_create([row for rows in added.values() for row in rows])
    template = alert_template_of(team)
    for search_id, rows in added.items():
        search = searches[search_id]
        if search.frequency == Frequency.INSTANT:
            _alert_send(search, rows, template=template, now=now)
    return sum(len(rows) for rows in added.values())


def alert_template_of(team: Team) -> tuple[str, str]:
    """The team's (subject, body) sources, or the default wording."""
    saved = AlertTemplate.objects.filter(team=team).values_list("subject", "body").first()
    return saved or (DEFAULT_SUBJECT, DEFAULT_BODY)


def alert_label(search: ContactSearch, count: int) -> str:
    return f"Property alert “{search.title}”: {count} listing{'' if count == 1 else 's'}"


def _alert_line(row: AlertListing, listing: Listing) -> AlertLine:
    return AlertLine(
        reason=row.reason,
        address=listing.address,
        city=listing.city,
        state=listing.state,
        zip_code=listing.zip_code,
        price=listing.price,
        previous_price=row.previous_price,
        beds=listing.beds,
        baths=listing.baths,
        property_type=PropertyType(listing.property_type).label,
        listing_url=listing.listing_url,
    )


def _alert_send(
    search: ContactSearch, rows: list[AlertListing], *, template: tuple[str, str], now: datetime
) -> None:
    """One email with these alerts to the search's contact, at once. Its key is made of
    the first alert's search, listing and reason, which no other email can have."""
    listings = {x.pk: x for x in Listing.objects.filter(pk__in=[r.listing_id for r in rows])}
    # New listings first, then lower prices, each in the order they were stored.
    rows = sorted(rows, key=lambda r: (r.reason != AlertReason.NEW, r.listing_id))
    first = rows[0]
    key = f"listing-alert:{search.pk}:{first.listing_id}:{first.reason}"
    lines = [_alert_line(row, listings[row.listing_id]) for row in rows]
    subject, body = template
    contact_email_schedule(
        contact=search.contact,
        key=key,
        subject=subject,
        body=body,
        due_at=now,
        origin=ALERT_ORIGIN,
        ref=f"search:{search.pk}:listings:{','.join(str(r.listing_id) for r in rows)}",
        label=alert_label(search, len(rows)),
        values=alert_values(search_name=search.title, lines=lines),
    )
    for row in rows:
        # The price the contact is sent: a later reduction is measured against it.
        row.price, row.message_key, row.scheduled_at = listings[row.listing_id].price, key, now
    AlertListing.objects.bulk_update(rows, ["price", "message_key", "scheduled_at"])


def _digest(search: ContactSearch, *, template: tuple[str, str], now: datetime) -> bool:
    """Send what waits for the search, still active and still matching; drop the rest
    (a listing sold meanwhile, a search changed, a contact who unsubscribed)."""
    waiting = list(search.alerts.filter(message_key="").select_related("listing"))
    if not waiting:
        return False
    criteria, open_to_alerts = criteria_of(search), reachable(search.contact)
    keep = [
        row
        for row in waiting
        if open_to_alerts and matching.matches(criteria, facts_of(row.listing))
    ]
    dropped = [row.pk for row in waiting if row not in keep]
    if dropped:
        AlertListing.objects.filter(pk__in=dropped).delete()
    if keep:
        _alert_send(search, keep, template=template, now=now)
    return bool(keep)


def alert_digests_send(*, now: datetime | None = None) -> int:
    """Every due daily and weekly digest, once: the searches are claimed under row locks
    (skipping those another worker holds) and their next digest moved on in the same
    transaction as the emails, so running this twice sends nothing twice."""
    now = now or timezone.now()
    sent = 0
    while True:
        with transaction.atomic():
            due = list(
                ContactSearch.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(is_active=True, next_digest_at__lte=now)
                .select_related("contact", "team")
                .order_by("next_digest_at", "id")[:DIGEST_BATCH]
            )
            for search in due:
                sent += _digest(search, template=alert_template_of(search.team), now=now)
                search.next_digest_at = next_digest_at(
                    search.frequency, after=now, time_zone=search.team.time_zone
                )
            ContactSearch.objects.bulk_update(due, ["next_digest_at"])
        if len(due) < DIGEST_BATCH:
            return sent


# --- saved searches -------------------------------------------------------------------


def _digest_due(search: ContactSearch, team: Team, now: datetime) -> datetime | None:
    if search.frequency == Frequency.INSTANT:
        return None
    return next_digest_at(search.frequency, after=now, time_zone=team.time_zone)


def _describe(search: ContactSearch) -> str:
    return f"saved search “{search.title}” ({search.get_frequency_display().lower()})"


@transaction.atomic
def contact_search_create(*, actor: Membership, contact: Contact, **values) -> ContactSearch:
    """A saved search for the contact; listings stored from now on are matched to it."""
    require_work(actor, contact)
    now = timezone.now()
    search = ContactSearch(
        team_id=contact.team_id,
        contact=contact,
        created_by=actor,
        created_at=now,
        updated_at=now,
        **values,
    )
    search.next_digest_at = _digest_due(search, contact.team, now)
    search.save()
    timeline_add(
        contact=contact, kind="search_added", actor=actor, message=f"Added {_describe(search)}."
    )
    return search


@transaction.atomic
def contact_search_update(*, actor: Membership, search: ContactSearch, **values) -> ContactSearch:
    """Change a search. A new frequency (or a search turned back on) counts its next
    digest from now; alerts that waited for a digest go out at once if it becomes
    instant."""
    contact = search.contact
    require_work(actor, contact)
    now = timezone.now()
    was = (search.frequency, search.is_active)
    for name, value in values.items():
        setattr(search, name, value)
    if (search.frequency, search.is_active) != was:
        search.next_digest_at = _digest_due(search, contact.team, now)
    search.updated_at = now
    search.save()
    if search.frequency == Frequency.INSTANT and search.is_active:
        _digest(search, template=alert_template_of(contact.team), now=now)
    timeline_add(
        contact=contact, kind="search_changed", actor=actor, message=f"Changed {_describe(search)}."
    )
    return search


@transaction.atomic
def contact_search_delete(*, actor: Membership, search: ContactSearch) -> None:
    require_work(actor, search.contact)
    timeline_add(
        contact=search.contact,
        kind="search_removed",
        actor=actor,
        message=f"Removed {_describe(search)}.",
    )
    search.delete()


# --- the team's alert wording ---------------------------------------------------------


@transaction.atomic
def alert_template_save(*, actor: Membership, subject: str, body: str) -> AlertTemplate:
    """The team's wording of its property alerts (checked by the form's sandbox rules)."""
    access.require_perm(actor, perms.MANAGE_TEAM)
    alert_template_validate(subject)
    alert_template_validate(body, needs_listings=True)
    template, _ = AlertTemplate.objects.update_or_create(
        team_id=actor.team_id,
        defaults={"subject": subject, "body": body, "updated_at": timezone.now()},
    )
    return template


def alert_template_reset(*, actor: Membership) -> None:
    """Back to the default wording."""
    access.require_perm(actor, perms.MANAGE_TEAM)
    AlertTemplate.objects.filter(team_id=actor.team_id).delete()
