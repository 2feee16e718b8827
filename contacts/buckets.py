"""Writes for buckets: creating and sharing them, placing contacts in them, and each
member's default bucket (where the leads assigned to them land).

Who may do what:
- anyone in the team creates their own buckets; team-wide ones need “Manage Team” or
  “Manage Lead Distribution”, and so do editing, sharing and deleting them;
- a member's own bucket is edited, shared and deleted by that member;
- placing contacts (and taking them out) needs the bucket to be visible to the member
  (team-wide, their own, shared with them or one of their groups) and the contacts too.

Placing announces `contacts.signals.contacts_placed` with only the contacts that were not
in the bucket already (lead pools route them): the insert itself says which rows are new
(ON CONFLICT DO NOTHING RETURNING), so two placements racing each other never both
announce the same contact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import Http404
from django.utils import timezone

from contacts import selectors, signals
from contacts.models import Bucket, BucketContact, BucketVia, Contact, DefaultBucket, TimelineEvent
from contacts.selectors_buckets import (
    buckets_visible_to,
    require_manage_bucket,
    team_wide_buckets_by_name,
)
from teams import access
from teams import permissions as perms
from teams.models import Group, Membership

MY_LEADS = "My leads"
TEAM_WIDE_PERMS = (perms.MANAGE_TEAM, perms.MANAGE_LEAD_DISTRIBUTION)
# Rows per INSERT: five parameters a row stays far below every backend's parameter limit.
_CHUNK = 500

_BY = {
    BucketVia.ROUTING: "by routing",
    BucketVia.API: "by the API",
    BucketVia.IMPORT: "by CSV import",
}


# --- placing --------------------------------------------------------------------------


@transaction.atomic
def contacts_place(
    *, bucket: Bucket, contacts: list[Contact], via: str, actor: Membership | None
) -> list[Contact]:
    """Put `contacts` in `bucket`; those already there stay as they were. Returns (and
    announces, and writes on each timeline) only the newly placed ones."""
    if via not in BucketVia.values:
        raise ValidationError(f"Unknown way of placing “{via}”.")
    _require_one_team(bucket, contacts)
    if actor is not None:
        _require_may_use(actor, bucket, contacts)
    by_id = {c.pk: c for c in contacts}
    if not by_id:
        return []
    now = timezone.now()
    placed_by = actor.pk if actor is not None else None
    new_ids = {
        contact_id
        for _bucket_id, contact_id in _insert(
            [(bucket.pk, cid) for cid in by_id], via=via, placed_by=placed_by, now=now
        )
    }
    placed = [c for cid, c in by_id.items() if cid in new_ids]
    _announce(bucket, placed, via=via, actor=actor, now=now)
    return placed


@transaction.atomic
def contacts_unplace(
    *, bucket: Bucket, contacts: list[Contact], actor: Membership | None
) -> list[Contact]:
    """Take `contacts` out of `bucket` (they stay in the team); returns those that were in it."""
    _require_one_team(bucket, contacts)
    if actor is not None:
        _require_may_use(actor, bucket, contacts)
    by_id = {c.pk: c for c in contacts}
    rows = BucketContact.objects.filter(bucket=bucket, contact_id__in=list(by_id))
    removed_ids = set(rows.values_list("contact_id", flat=True))
    if not removed_ids:
        return []
    rows.filter(contact_id__in=removed_ids).delete()
    who = actor.display_name if actor is not None else "Staff"
    now = timezone.now()
    removed = [c for cid, c in by_id.items() if cid in removed_ids]
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            contact=c,
            kind="bucket_removed",
            actor=actor,
            message=f"Removed from bucket “{bucket.name}” by {who}.",
            data={"bucket_id": bucket.pk},
            created_at=now,
        )
        for c in removed
    )
    return removed


# No savepoint: called inside routing's transaction, a failure here fails the batch.
@transaction.atomic(savepoint=False)
def contacts_place_assigned(*, assignments: Sequence[tuple[int, Contact]]) -> list[Contact]:
    """Each (membership id, contact) pair: the contact lands in that member's default
    bucket. Routing calls this once per batch of assignments, so it costs two statements
    when every member has a default bucket and the contacts are new to it (one insert
    that finds the buckets and says which placements are new, one for the timeline), and
    a few more the first time a member gets a lead. Returns the newly placed contacts."""
    pairs = list(dict.fromkeys((mid, c.pk) for mid, c in assignments))
    if not pairs:
        return []
    contacts = {c.pk: c for _mid, c in assignments}
    now = timezone.now()
    rows = _insert_into_defaults(pairs, now=now)
    if len(rows) < len(pairs):
        # Some pairs were not inserted: the contact was in the bucket already, or the
        # member has no default bucket yet (their first lead): create those and retry.
        have = set(
            DefaultBucket.objects.filter(membership_id__in={mid for mid, _ in pairs}).values_list(
                "membership_id", flat=True
            )
        )
        lacking = [(mid, cid) for mid, cid in pairs if mid not in have]
        if lacking:
            members = Membership.objects.filter(pk__in={mid for mid, _ in lacking})
            for membership in members:
                member_default_bucket(membership=membership)
            rows += _insert_into_defaults(lacking, now=now)
    placed: dict[int, tuple[Bucket, list[Contact]]] = {}
    for bucket_id, contact_id, name, team_id, owner_id in rows:
        if bucket_id not in placed:
            bucket = Bucket(id=bucket_id, name=name, team_id=team_id, owner_id=owner_id)
            bucket._state.adding = False
            bucket._state.db = connection.alias
            placed[bucket_id] = (bucket, [])
        placed[bucket_id][1].append(contacts[contact_id])
    for bucket, cs in placed.values():
        signals.contacts_placed.send(
            sender=Bucket, bucket=bucket, contacts=cs, via=BucketVia.ROUTING, actor=None
        )
    return [c for _bucket, cs in placed.values() for c in cs]


def _require_one_team(bucket: Bucket, contacts: Iterable[Contact]) -> None:
    if any(c.team_id != bucket.team_id for c in contacts):
        raise Http404("No such contact in the bucket's team.")


def _require_may_use(actor: Membership, bucket: Bucket, contacts: list[Contact]) -> None:
    """The bucket visible to the actor (else 404), and every contact too (else 404)."""
    access.require_member(actor, bucket.team_id)
    if not buckets_visible_to(actor).filter(pk=bucket.pk).exists():
        raise Http404("No such bucket.")
    ids = {c.pk for c in contacts}
    if ids and selectors.contacts_visible_to(actor).filter(pk__in=ids).count() != len(ids):
        raise Http404("No such contact.")


def _insert(
    pairs: list[tuple[int, int]], *, via: str, placed_by: int | None, now: datetime
) -> list[tuple[int, int]]:
    """Insert (bucket id, contact id) placements, skipping those already there; the
    (bucket id, contact id) of the rows inserted."""
    table, cols = _placement_sql()
    inserted: list[tuple[int, int]] = []
    for start in range(0, len(pairs), _CHUNK):
        chunk = pairs[start : start + _CHUNK]
        values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
        params: list = []
        for bucket_id, contact_id in chunk:
            params += [bucket_id, contact_id, via, placed_by, now]
        sql = (
            f"INSERT INTO {table} ({cols}) VALUES {values} "
            f"ON CONFLICT DO NOTHING RETURNING bucket_id, contact_id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            inserted += [(row[0], row[1]) for row in cursor.fetchall()]
    return inserted


def _insert_into_defaults(pairs: list[tuple[int, int]], *, now: datetime) -> list[tuple]:
    """Insert each contact into its member's default bucket in one statement that also
    reads the buckets: (bucket id, contact id, name, team id, owner id) of each new row."""
    table, cols = _placement_sql()
    q = connection.ops.quote_name
    defaults = q(DefaultBucket._meta.db_table)
    buckets = q(Bucket._meta.db_table)
    inserted: list[tuple] = []
    for start in range(0, len(pairs), _CHUNK):
        chunk = pairs[start : start + _CHUNK]
        values = ", ".join(["(%s, %s)"] * len(chunk))
        params: list = [BucketVia.ROUTING, now]
        for membership_id, contact_id in chunk:
            params += [membership_id, contact_id]
        # WHERE true: SQLite needs it to read ON CONFLICT after INSERT … SELECT.
        sql = (
            f"INSERT INTO {table} ({cols}) "
            f"SELECT d.bucket_id, v.column2, %s, NULL, %s FROM (VALUES {values}) AS v "
            f"JOIN {defaults} d ON d.membership_id = v.column1 WHERE true "
            f"ON CONFLICT DO NOTHING RETURNING bucket_id, contact_id, "
            + ", ".join(
                f"(SELECT b.{col} FROM {buckets} b WHERE b.id = {table}.bucket_id)"
                for col in ("name", "team_id", "owner_id")
            )
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            inserted += [tuple(row) for row in cursor.fetchall()]
    return inserted


def _placement_sql() -> tuple[str, str]:
    q = connection.ops.quote_name
    meta = BucketContact._meta
    cols = ", ".join(
        q(meta.get_field(name).column)
        for name in ("bucket", "contact", "via", "placed_by", "placed_at")
    )
    return q(meta.db_table), cols


def _announce(
    bucket: Bucket, placed: list[Contact], *, via: str, actor: Membership | None, now: datetime
) -> None:
    if not placed:
        return
    _timeline_placed([(bucket, c) for c in placed], via=via, actor=actor, now=now)
    signals.contacts_placed.send(
        sender=Bucket, bucket=bucket, contacts=placed, via=via, actor=actor
    )


def _timeline_placed(
    placed: list[tuple[Bucket, Contact]], *, via: str, actor: Membership | None, now: datetime
) -> None:
    if not placed:
        return
    by = f"by {actor.display_name}" if actor is not None else _BY.get(via, "by staff")
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            contact=contact,
            kind="bucket_placed",
            actor=actor,
            message=f"Placed in bucket “{bucket.name}” {by}.",
            data={"bucket_id": bucket.pk, "via": via},
            created_at=now,
        )
        for bucket, contact in placed
    )


def team_buckets_named(*, team_id: int, names: Iterable[str]) -> list[Bucket]:
    """The team-wide buckets of these names (any case), each once, for the API and CSV
    import; a name the team has no team-wide bucket of is a ValidationError on "buckets"."""
    wanted = [n.strip() for n in names if n and n.strip()]
    if not wanted:
        return []
    by_name = team_wide_buckets_by_name(team_id)
    unknown = [n for n in dict.fromkeys(wanted) if n.casefold() not in by_name]
    if unknown:
        raise ValidationError({"buckets": unknown_buckets_message(unknown)})
    return list(dict.fromkeys(by_name[n.casefold()] for n in wanted))


def unknown_buckets_message(names: Iterable[str]) -> str:
    listed = ", ".join(f"“{n}”" for n in names)
    return f"The team has no team-wide bucket named {listed}."


# --- buckets --------------------------------------------------------------------------


@transaction.atomic
def bucket_create(
    *,
    actor: Membership,
    name: str,
    owner: Membership | None = None,
    shared_members: Iterable[Membership] = (),
    shared_groups: Iterable[Group] = (),
) -> Bucket:
    """A team-wide bucket (no owner) or a member's own one, shared as given."""
    access.require_member(actor)
    if owner is None:
        access.require_perm(actor, *TEAM_WIDE_PERMS, team_id=actor.team_id)
    else:
        access.require_same_team(owner, actor.team_id)
        if owner.pk != actor.pk and not access.has_perm(actor, perms.MANAGE_TEAM):
            raise PermissionDenied("Only the member creates buckets of their own.")
    bucket = Bucket(team_id=actor.team_id, owner=owner, name=_name_clean(name))
    _name_free(bucket)
    bucket.save()
    _share_set(bucket, shared_members, shared_groups)
    return bucket


@transaction.atomic
def bucket_update(
    *,
    actor: Membership,
    bucket: Bucket,
    name: str,
    shared_members: Iterable[Membership] | None = None,
    shared_groups: Iterable[Group] | None = None,
) -> Bucket:
    """Rename (and, given members or groups, share anew)."""
    require_manage_bucket(actor, bucket)
    bucket.name = _name_clean(name)
    _name_free(bucket)
    bucket.save(update_fields=["name"])
    if shared_members is not None or shared_groups is not None:
        bucket_share(
            actor=actor,
            bucket=bucket,
            members=shared_members if shared_members is not None else (),
            groups=shared_groups if shared_groups is not None else (),
        )
    return bucket


@transaction.atomic
def bucket_share(
    *,
    actor: Membership,
    bucket: Bucket,
    members: Iterable[Membership],
    groups: Iterable[Group],
) -> Bucket:
    """Share the bucket with exactly these members and groups. A member who no longer
    sees it stops using it as their default bucket (their "My leads" takes over)."""
    require_manage_bucket(actor, bucket)
    _share_set(bucket, members, groups, replace=True)
    for link in DefaultBucket.objects.filter(bucket=bucket).select_related("membership"):
        if not buckets_visible_to(link.membership).filter(pk=bucket.pk).exists():
            link.delete()
    return bucket


@transaction.atomic
def bucket_delete(*, actor: Membership, bucket: Bucket) -> None:
    """Delete the bucket and its placements; the contacts stay. Members whose default it
    was get their "My leads" back the next time a lead is assigned to them."""
    require_manage_bucket(actor, bucket)
    bucket.delete()


def _name_clean(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise ValidationError({"name": "Give the bucket a name."})
    if len(cleaned) > Bucket._meta.get_field("name").max_length:
        raise ValidationError({"name": "At most 80 characters."})
    return cleaned


def _name_free(bucket: Bucket) -> None:
    taken = Bucket.objects.filter(
        team_id=bucket.team_id, owner_id=bucket.owner_id, name__iexact=bucket.name
    ).exclude(pk=bucket.pk)
    if taken.exists():
        where = "in the team" if bucket.owner_id is None else "among your buckets"
        raise ValidationError({"name": f"There is a bucket “{bucket.name}” {where} already."})


def _share_set(
    bucket: Bucket,
    members: Iterable[Membership],
    groups: Iterable[Group],
    *,
    replace: bool = False,
) -> None:
    members, groups = list(members), list(groups)
    if (members or groups) and bucket.owner_id is None:
        raise ValidationError(
            {"shared_members": "A team-wide bucket is seen by everyone: share your own buckets."}
        )
    if any(m.team_id != bucket.team_id for m in members) or any(
        g.team_id != bucket.team_id for g in groups
    ):
        raise Http404("No such member or group in your team.")
    members = [m for m in members if m.pk != bucket.owner_id]
    if replace:
        bucket.shared_with_members.set(members)
        bucket.shared_with_groups.set(groups)
    else:
        if members:
            bucket.shared_with_members.add(*members)
        if groups:
            bucket.shared_with_groups.add(*groups)


# --- a member's default bucket ---------------------------------------------------------


def member_default_bucket(*, membership: Membership) -> Bucket:
    """The bucket the member's assigned leads land in: the one they chose, else their own
    "My leads" (made when they joined; made again if it was deleted)."""
    link = DefaultBucket.objects.filter(membership=membership).select_related("bucket").first()
    if link is not None:
        return link.bucket
    with transaction.atomic():
        bucket, _ = Bucket.objects.get_or_create(
            team_id=membership.team_id, owner=membership, name=MY_LEADS
        )
        # get_or_create: a choice made at the same moment holds.
        link, _ = DefaultBucket.objects.get_or_create(
            membership=membership, defaults={"bucket": bucket}
        )
    return bucket if link.bucket_id == bucket.pk else link.bucket


def member_joined(*, membership: Membership) -> Bucket:
    """A new member's "My leads", their default bucket from the start (two inserts)."""
    with transaction.atomic(savepoint=False):
        bucket = Bucket.objects.create(team_id=membership.team_id, owner=membership, name=MY_LEADS)
        DefaultBucket.objects.create(membership=membership, bucket=bucket)
    return bucket


@transaction.atomic
def member_set_default_bucket(*, membership: Membership, bucket: Bucket) -> Bucket:
    """The member's assigned leads land in `bucket` from now on: their own, a team-wide
    one or one shared with them (else 404)."""
    access.require_member(membership, bucket.team_id)
    if not buckets_visible_to(membership).filter(pk=bucket.pk).exists():
        raise Http404("No such bucket.")
    DefaultBucket.objects.update_or_create(membership=membership, defaults={"bucket": bucket})
    return bucket
