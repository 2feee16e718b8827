"""Writes for contacts: creation, roles, activities and the timeline."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from contacts import selectors, signals
from contacts.models import (
    Activity,
    ActivityKind,
    Contact,
    ContactRole,
    ContactStatus,
    RoleKind,
    Tag,
    TimelineEvent,
)
from teams import access
from teams.models import Membership, Team


def timeline_add(
    *, contact: Contact, kind: str, message: str, actor: Membership | None = None, **data
) -> TimelineEvent:
    return TimelineEvent.objects.create(
        contact=contact, kind=kind, message=message, actor=actor, data=data
    )


def tags_resolve(*, team: Team, names: Iterable[str]) -> list[Tag]:
    cleaned = sorted({n.strip() for n in names if n and n.strip()})
    existing = {t.name: t for t in Tag.objects.filter(team=team, name__in=cleaned)}
    missing = [Tag(team=team, name=n) for n in cleaned if n not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.name: t for t in Tag.objects.filter(team=team, name__in=cleaned)}
    return list(existing.values())


def tags_clean(names: Iterable[str]) -> tuple[str, ...]:
    """Tag names as they are stored: stripped, blank ones dropped, each once, sorted."""
    return tuple(sorted({n.strip() for n in names if n and n.strip()}))


def contact_create(
    *,
    team: Team,
    tags: Iterable[str] = (),
    actor: Membership | None = None,
    events: Iterable[dict] = (),
    **fields,
) -> Contact:
    """Store the contact, its tags and its timeline: "created", then `events` (each a
    kind, a message and data, as timeline_add takes them) in the same insert. Its
    post_save is the announcement (routing queues it).

    Validated before anything is written, without a query; atomic, without a savepoint
    of its own when the caller's transaction is open (intake's is).
    """
    contact = Contact(team=team, **fields)
    # full_clean would check the price range constraint with a query: it is checked here
    # instead, and the database constraint stays as the backstop.
    contact.full_clean(exclude=["team"], validate_constraints=False)
    _price_range_check(contact)
    names = tags_clean(tags)
    created = f"Contact created{f' from {contact.source}' if contact.source else ''}."
    with transaction.atomic(savepoint=False):
        contact.save()
        if names:
            _tags_attach_new(contact, names)
        TimelineEvent.objects.bulk_create(
            [
                TimelineEvent(contact=contact, kind="created", actor=actor, message=created),
                *(
                    TimelineEvent(
                        contact=contact,
                        kind=event["kind"],
                        actor=actor,
                        message=event["message"],
                        data={k: v for k, v in event.items() if k not in ("kind", "message")},
                    )
                    for event in events
                ),
            ]
        )
    return contact


def _price_range_check(contact: Contact) -> None:
    """Contact's contact_price_range_ordered constraint, in Python."""
    low, high = contact.price_min, contact.price_max
    if low is not None and high is not None and low > high:
        raise ValidationError({"price_max": "Must not be below the price from."})


def _tags_attach_new(contact: Contact, names: tuple[str, ...]) -> None:
    """Tag a contact just created: one statement when the team has every tag already
    (the links inserted straight from the tag rows), two more when some are new."""
    if _tags_link(contact, names) == len(names):
        return
    Tag.objects.bulk_create(
        [Tag(team_id=contact.team_id, name=name) for name in names], ignore_conflicts=True
    )
    _tags_link(contact, names, skip_linked=True)


def _tags_link(contact: Contact, names: tuple[str, ...], *, skip_linked: bool = False) -> int:
    """Link the contact to the team's tags of these names; how many links were made."""
    q = connection.ops.quote_name
    through = Contact.tags.through._meta
    contact_col = q(through.get_field("contact").column)
    tag_col = q(through.get_field("tag").column)
    sql = (
        f"INSERT INTO {q(through.db_table)} ({contact_col}, {tag_col}) "
        f"SELECT %s, {q('id')} FROM {q(Tag._meta.db_table)} "
        f"WHERE {q('team_id')} = %s AND {q('name')} IN ({', '.join(['%s'] * len(names))})"
        + (" ON CONFLICT DO NOTHING" if skip_linked else "")
        + f" RETURNING {tag_col}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [contact.pk, contact.team_id, *names])
        return len(cursor.fetchall())


@transaction.atomic
def contacts_bulk_create(
    *,
    team: Team,
    rows: list[dict],
    assign_to: Membership | None = None,
    actor: Membership | None = None,
) -> list[Contact]:
    """Many contacts in a few statements, announced together (bulk_create sends no
    post_save). `assign_to`: every one goes to this member instead of being routed."""
    if assign_to is not None:
        access.require_same_team(assign_to, team.pk)
    contacts = Contact.objects.bulk_create([Contact(team=team, **row) for row in rows])
    TimelineEvent.objects.bulk_create(
        [TimelineEvent(contact=c, kind="created", message="Contact imported.") for c in contacts]
    )
    signals.contacts_created.send(
        sender=Contact, contacts=contacts, assign_to=assign_to, actor=actor
    )
    return contacts


@transaction.atomic
def contact_role_add(
    *,
    contact: Contact,
    membership: Membership,
    kind: str,
    custom_name: str = "",
    actor: Membership | None = None,
) -> ContactRole:
    """Add an Assistant, Lender or custom role. The primary Agent is set by routing."""
    access.require_same_team(membership, contact.team_id)
    if actor is not None:
        selectors.require_work(actor, contact)
    if kind == RoleKind.AGENT:
        raise ValidationError("The primary Agent is assigned through routing or reassignment.")
    role = ContactRole(contact=contact, membership=membership, kind=kind, custom_name=custom_name)
    role.full_clean()
    role.save()
    timeline_add(
        contact=contact,
        kind="role_added",
        actor=actor,
        message=f"{membership.display_name} added as {role.label}.",
    )
    return role


@transaction.atomic
def activity_log(
    *, contact: Contact, membership: Membership, kind: str, body: str = ""
) -> Activity:
    """A member contacted the contact, and says so (contacting claims a Next Up offer
    the member holds on it); "last contacted" moves only for the primary Agent. Views
    load the contact through contacts.selectors.contact_for_member, so the member may
    open it."""
    access.require_same_team(membership, contact.team_id)
    if kind not in ActivityKind.values:
        raise ValidationError(f"Unknown activity “{kind}”.")
    now = timezone.now()
    activity = Activity.objects.create(
        contact=contact, membership=membership, kind=kind, body=body, created_at=now
    )
    timeline_add(
        contact=contact,
        kind=f"activity_{kind}",
        actor=membership,
        message=f"{membership.display_name} logged a {activity.get_kind_display().lower()}.",
        body=body[:500],
    )
    signals.activity_logged.send(
        sender=Contact, contact=contact, membership=membership, activity=activity
    )
    # "Last contacted" is the assigned owner's own contact: anyone else's note or call
    # stays on the timeline without making the lead look followed up. After the signal,
    # so the call that claims a Next Up offer counts for the member who now holds it.
    if Contact.objects.filter(
        pk=contact.pk, roles__kind=RoleKind.AGENT, roles__membership=membership
    ).update(last_contacted_at=now):
        contact.last_contacted_at = now
    return activity


@transaction.atomic
def contact_set_segment(*, contact: Contact, membership: Membership, segment: str) -> Contact:
    old = contact.segment
    contact.segment = segment.strip()
    contact.save(update_fields=["segment", "updated_at"])
    activity_log(
        contact=contact,
        membership=membership,
        kind=ActivityKind.SEGMENT_CHANGE,
        body=f"Segment: {old or '—'} → {contact.segment or '—'}",
    )
    return contact


@transaction.atomic
def contact_set_tags(*, contact: Contact, membership: Membership, names: Iterable[str]) -> Contact:
    tags = tags_resolve(team=contact.team, names=names)
    contact.tags.set(tags)
    activity_log(
        contact=contact,
        membership=membership,
        kind=ActivityKind.TAG_CHANGE,
        body="Tags: " + (", ".join(sorted(t.name for t in tags)) or "—"),
    )
    return contact


@transaction.atomic
def contact_role_remove(*, role: ContactRole, actor: Membership | None = None) -> None:
    """Remove an Assistant, Lender or custom role; the primary Agent is only ever replaced."""
    if role.kind == RoleKind.AGENT:
        raise ValidationError("The primary Agent is changed through routing or reassignment.")
    contact = role.contact
    if actor is not None:
        selectors.require_work(actor, contact)
    role.delete()
    timeline_add(
        contact=contact,
        kind="role_removed",
        actor=actor,
        message=f"{role.membership.display_name} removed as {role.label}.",
    )


CONTACT_EDITABLE_FIELDS = frozenset(
    {
        "first_name", "last_name", "email", "phone", "source", "contact_type", "status",
        "city", "state", "zip_code", "price_min", "price_max",
    }
)  # fmt: skip


@transaction.atomic
def contact_update(*, contact: Contact, actor: Membership | None = None, **fields) -> Contact:
    """Edit the contact's details; the timeline says which fields changed and who did it."""
    unknown = set(fields) - CONTACT_EDITABLE_FIELDS
    if unknown:
        raise ValidationError(f"Not editable here: {', '.join(sorted(unknown))}")
    if actor is not None:
        selectors.require_work(actor, contact)
    changed = [name for name, value in fields.items() if getattr(contact, name) != value]
    if not changed:
        return contact
    old = {name: getattr(contact, name) for name in changed}
    for name in changed:
        setattr(contact, name, fields[name])
    contact.full_clean(exclude=["team"])
    contact.save(update_fields=[*changed, "updated_at"])
    labels = ", ".join(str(Contact._meta.get_field(name).verbose_name) for name in changed)
    who = actor.display_name if actor else "Staff"
    timeline_add(
        contact=contact, kind="details_updated", actor=actor, message=f"{who} updated {labels}."
    )
    signals.contact_changed.send(sender=Contact, contact=contact, changed=changed, old=old)
    return contact


@transaction.atomic
def contact_archive(*, contact: Contact, actor: Membership | None = None) -> bool:
    """Archive the contact (a removed lead). False when it was archived already.

    The caller writes the timeline record: it knows why (and what else it undid).
    """
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    if locked.status == ContactStatus.ARCHIVED:
        contact.status = locked.status
        return False
    contact.status = ContactStatus.ARCHIVED
    contact.save(update_fields=["status", "updated_at"])
    signals.contact_archived.send(sender=Contact, contact=contact, actor=actor)
    return True
