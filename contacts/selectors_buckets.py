"""Reads for buckets, filtered by the member's team and what they may see.

A member sees the team-wide buckets, their own, and those shared with them or with a
group they belong to; a member of a sub-group belongs to the groups above it too, so a
bucket shared with an office reaches every group inside it.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet, Value, When
from django.http import Http404

from contacts.models import Bucket, BucketContact, Contact, DefaultBucket
from contacts.selectors import contacts_visible_to, primary_agent_prefetch, sees_all_contacts
from teams import access
from teams import permissions as perms
from teams.models import Group, Membership

TEAM_WIDE_PERMS = (perms.MANAGE_TEAM, perms.MANAGE_LEAD_DISTRIBUTION)

_SharedMembers = Bucket.shared_with_members.through
_SharedGroups = Bucket.shared_with_groups.through
_MemberGroups = Membership.groups.through


def member_group_reach(member: Membership) -> set[int]:
    """The member's groups and every group above them (one query)."""
    mine = _MemberGroups.objects.filter(group_id=OuterRef("pk"), membership_id=member.pk)
    rows = Group.objects.filter(team_id=member.team_id).annotate(mine=Exists(mine))
    parents, reach = {}, set()
    for gid, parent, is_mine in rows.values_list("id", "parent_id", "mine"):
        parents[gid] = parent
        if is_mine:
            reach.add(gid)
    for gid in list(reach):
        parent = parents.get(gid)
        while parent is not None and parent not in reach:
            reach.add(parent)
            parent = parents.get(parent)
    return reach


def buckets_visible_to(member: Membership) -> QuerySet[Bucket]:
    """Team-wide buckets, the member's own, and those shared with them or their groups."""
    qs = Bucket.objects.filter(team_id=member.team_id)
    if not member.is_active:
        return qs.none()
    visible = (
        Q(owner__isnull=True)
        | Q(owner_id=member.pk)
        | Q(pk__in=_SharedMembers.objects.filter(membership_id=member.pk).values("bucket_id"))
    )
    reach = member_group_reach(member)
    if reach:
        visible |= Q(pk__in=_SharedGroups.objects.filter(group_id__in=reach).values("bucket_id"))
    return qs.filter(visible)


def buckets_in_order(member: Membership) -> QuerySet[Bucket]:
    """buckets_visible_to, team-wide first, then the member's own, then those shared
    with them, each by name: how pages list and offer them."""
    mine_first = Case(
        When(owner__isnull=True, then=Value(0)),
        When(owner_id=member.pk, then=Value(1)),
        default=Value(2),
    )
    return buckets_visible_to(member).order_by(mine_first, "name", "id")


def bucket_for_member(member: Membership | None, pk: object) -> Bucket:
    """A bucket the member may open, or 404 (another team's, or one not shared with them)."""
    member = access.require_member(member)
    return access.for_member(member, buckets_visible_to(member).select_related("owner__user"), pk)


def may_manage_bucket(member: Membership, bucket: Bucket) -> bool:
    """Rename, share, delete: a member's own bucket by that member; a team-wide one with
    “Manage Team” or “Manage Lead Distribution”."""
    if member.team_id != bucket.team_id or not member.is_active:
        return False
    if bucket.owner_id is None:
        return access.has_any_perm(member, *TEAM_WIDE_PERMS)
    return bucket.owner_id == member.pk


def require_manage_bucket(member: Membership, bucket: Bucket) -> None:
    """404 for a bucket the member cannot see, 403 for one they see but may not change."""
    access.require_member(member, bucket.team_id)
    if may_manage_bucket(member, bucket):
        return
    if not buckets_visible_to(member).filter(pk=bucket.pk).exists():
        raise Http404("No such bucket.")
    if bucket.owner_id is None:
        names = " or ".join(f"“{perms.LABELS[p]}”" for p in TEAM_WIDE_PERMS)
        raise PermissionDenied(f"Team-wide buckets are changed with the {names} permission.")
    raise PermissionDenied("Only its owner changes a member's own bucket.")


def bucket_list(member: Membership) -> QuerySet[Bucket]:
    """The member's buckets with `contact_count`: the contacts in each they may open.
    Team-wide first, then their own, then those shared with them."""
    qs = buckets_in_order(member).select_related("owner__user")
    if sees_all_contacts(member):
        count = Count("placements")
    else:
        count = Count(
            "placements",
            filter=Q(placements__contact_id__in=contacts_visible_to(member).values("pk")),
        )
    return qs.annotate(contact_count=count)


def bucket_contacts(*, bucket: Bucket, member: Membership) -> QuerySet[Contact]:
    """The bucket's contacts the member may open, last placed first, Agent prefetched."""
    placed = BucketContact.objects.filter(bucket=bucket)
    return (
        contacts_visible_to(member)
        .filter(pk__in=placed.values("contact_id"))
        .prefetch_related(primary_agent_prefetch())
        .order_by("-created_at", "-id")
    )


def contact_buckets(contact: Contact, member: Membership) -> list[Bucket]:
    """The buckets the contact is in that the member sees (one query, two with groups)."""
    return list(
        buckets_visible_to(member).filter(
            pk__in=BucketContact.objects.filter(contact=contact).values("bucket_id")
        )
    )


def default_bucket_of(member: Membership) -> Bucket | None:
    """The bucket the member's assigned leads land in, if chosen or made yet (a read:
    contacts.buckets.member_default_bucket creates it)."""
    link = DefaultBucket.objects.filter(membership=member).select_related("bucket").first()
    return link.bucket if link is not None else None


def contact_bucket_card(contact: Contact, member: Membership) -> dict[str, list[Bucket]]:
    """The profile's Buckets card: the buckets the member sees that hold the contact
    ("placed") and those it could go in ("addable"), from one query (two with groups)."""
    held = BucketContact.objects.filter(contact=contact, bucket_id=OuterRef("pk"))
    rows = buckets_in_order(member).annotate(holds=Exists(held))
    card: dict[str, list[Bucket]] = {"placed": [], "addable": []}
    for bucket in rows:
        card["placed" if bucket.holds else "addable"].append(bucket)
    return card


def team_wide_buckets_by_name(team_id: int) -> dict[str, Bucket]:
    """The team's team-wide buckets by name, case folded (one query): how the API and CSV
    import name buckets."""
    rows = Bucket.objects.filter(team_id=team_id, owner__isnull=True)
    return {bucket.name.casefold(): bucket for bucket in rows}
