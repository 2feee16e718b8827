"""Reads for contacts, always filtered by the member's team and what they may see."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q, QuerySet

from contacts.models import (
    ActivityKind,
    Bucket,
    BucketContact,
    Contact,
    ContactRole,
    RoleKind,
    TimelineEvent,
)
from teams import access
from teams import permissions as perms
from teams.models import Group, Membership, Role

ADMIN_ROLES = (Role.OWNER, Role.ADMIN)

# Who else may open a contact, added by the apps above this one (routing: a member
# offered the contact may open it to claim it). Each returns the contact ids.
_VISIBILITY: list[Callable[[Membership], QuerySet]] = []


def visibility_extend(contact_ids_for: Callable[[Membership], QuerySet]) -> None:
    """Let members also open the contacts `contact_ids_for(membership)` returns."""
    if contact_ids_for not in _VISIBILITY:
        _VISIBILITY.append(contact_ids_for)


def sees_all_contacts(membership: Membership) -> bool:
    """Owners and admins with "View the team's contacts" see every contact of the team."""
    return membership.role in ADMIN_ROLES and access.has_perm(membership, perms.VIEW_CONTACTS)


def contacts_visible_to(membership: Membership) -> QuerySet[Contact]:
    """The team's contacts this member may open.

    Owners and admins see all of them; anyone else only contacts where they hold
    a role, and those the visibility extensions add (an open offer, for one).
    """
    qs = Contact.objects.filter(team_id=membership.team_id)
    if not access.has_perm(membership, perms.VIEW_CONTACTS):
        return qs.none()
    if sees_all_contacts(membership):
        return qs
    # IN (subquery) rather than EXISTS: the database starts from the member's few
    # roles (contact_role_member_kind index) instead of probing every team contact.
    holds_role = ContactRole.objects.filter(membership=membership).values("contact_id")
    visible = Q(pk__in=holds_role)
    for contact_ids_for in _VISIBILITY:
        visible |= Q(pk__in=contact_ids_for(membership))
    return qs.filter(visible)


def primary_agent_prefetch() -> Prefetch:
    """`contact.agent_roles`: the primary Agent role (0 or 1), in one query per page."""
    return Prefetch(
        "roles",
        queryset=ContactRole.objects.filter(kind=RoleKind.AGENT).select_related("membership__user"),
        to_attr="agent_roles",
    )


def contact_list(
    *,
    membership: Membership,
    search: str = "",
    status: str = "",
    agent_id: int | None = None,
) -> QuerySet[Contact]:
    """The contacts list: newest first (the created_at index), primary Agent prefetched."""
    qs = contacts_visible_to(membership)
    for term in search.split():
        qs = qs.filter(
            Q(first_name__icontains=term)
            | Q(last_name__icontains=term)
            | Q(email__icontains=term)
            | Q(phone__icontains=term)
        )
    if status:
        qs = qs.filter(status=status)
    if agent_id:
        roles = ContactRole.objects.filter(kind=RoleKind.AGENT, membership_id=agent_id)
        qs = qs.filter(pk__in=roles.values("contact_id"))
    return qs.prefetch_related(primary_agent_prefetch()).order_by("-created_at", "-id")


def contact_for_member(member: Membership | None, pk: int) -> Contact:
    """A contact the member may open (with its team and tags), or 404: another team's,
    or one an agent holds nothing on, does not exist for them."""
    member = access.require_member(member)
    return access.for_member(
        member, contacts_visible_to(member).select_related("team").prefetch_related("tags"), pk
    )


def may_work(member: Membership, contact: Contact, agent_role: ContactRole | None) -> bool:
    """Edit details and roles: owners and admins who see every contact, or the contact's
    primary Agent (`agent_role`, loaded by the caller)."""
    if contact.team_id != member.team_id or not member.is_active:
        return False
    is_agent = agent_role is not None and agent_role.membership_id == member.pk
    return is_agent or sees_all_contacts(member)


def require_work(member: Membership, contact: Contact) -> None:
    """404 for another team's contact, 403 unless the member may work it."""
    access.require_member(member, contact.team_id)
    agent_role = ContactRole.objects.filter(contact=contact, kind=RoleKind.AGENT).first()
    if not may_work(member, contact, agent_role):
        raise PermissionDenied("Only the contact's primary Agent, the owner and admins edit it.")


def agent_id_of(contact: Contact) -> int | None:
    """The contact's primary Agent (a membership id), or None."""
    return (
        ContactRole.objects.filter(contact=contact, kind=RoleKind.AGENT)
        .values_list("membership_id", flat=True)
        .first()
    )


def contacts_in_scope(qs: QuerySet[Contact], member: Membership) -> QuerySet[Contact]:
    """Narrow `qs` for a "User's Group" member: contacts whose primary Agent is in their
    groups (or below). Entire Company keeps everything."""
    reach = access.scope_member_ids(member)
    if reach is None:
        return qs
    held = ContactRole.objects.filter(kind=RoleKind.AGENT, membership_id__in=reach)
    return qs.filter(pk__in=held.values("contact_id"))


def contact_roles(*, contact: Contact) -> list[ContactRole]:
    """Primary Agent first, then Assistant, Lender and custom roles."""
    roles = list(contact.roles.select_related("membership__user"))
    order = {RoleKind.AGENT: 0, RoleKind.ASSISTANT: 1, RoleKind.LENDER: 2, RoleKind.CUSTOM: 3}
    return sorted(roles, key=lambda r: (order.get(r.kind, 9), r.custom_name, r.pk))


# The timeline events of a member's conversations with the contact.
CONVERSATION_EVENTS = tuple(
    f"activity_{kind}"
    for kind in (ActivityKind.CALL, ActivityKind.TEXT, ActivityKind.EMAIL, ActivityKind.NOTE)
)


def contact_timeline(
    *, contact: Contact, viewer: Membership | None = None
) -> QuerySet[TimelineEvent]:
    """The contact's history, newest first. Given a `viewer` who does not see every
    contact (an agent, the primary Agent after a reassignment among them), the calls,
    texts, emails and notes of other members are left out unless the contact is in a
    bucket both the viewer and that member may open (a team-wide one counts); their
    own conversations, and every assignment and routing event, stay."""
    qs = contact.timeline.select_related("actor__user").order_by("-created_at", "-id")
    if viewer is None or sees_all_contacts(viewer):
        return qs
    sharers = bucket_sharers(contact=contact, viewer=viewer)
    if sharers is None:
        return qs
    return qs.filter(~Q(kind__in=CONVERSATION_EVENTS) | Q(actor_id__in={viewer.pk, *sharers}))


def bucket_sharers(*, contact: Contact, viewer: Membership) -> set[int] | None:
    """The members who share with `viewer` a bucket the contact is in: both may open it.
    None when the contact is in a team-wide bucket (everyone shares it). At most five
    queries, whatever the number of buckets, members and groups."""
    rows = list(
        BucketContact.objects.filter(contact=contact).values_list("bucket_id", "bucket__owner_id")
    )
    if not rows:
        return set()
    if any(owner is None for _bucket, owner in rows):
        return None
    reach: dict[int, set[int]] = {bucket: {owner} for bucket, owner in rows}
    members = Bucket.shared_with_members.through.objects.filter(bucket_id__in=reach)
    for bucket, member in members.values_list("bucket_id", "membership_id"):
        reach[bucket].add(member)
    groups = Bucket.shared_with_groups.through.objects.filter(bucket_id__in=reach)
    group_shares = list(groups.values_list("bucket_id", "group_id"))
    if group_shares:
        below = _groups_below(contact.team_id, {g for _b, g in group_shares})
        in_group: dict[int, set[int]] = {}
        for group, member in Membership.groups.through.objects.filter(
            group_id__in=set().union(*below.values())
        ).values_list("group_id", "membership_id"):
            in_group.setdefault(group, set()).add(member)
        for bucket, group in group_shares:
            for sub in below[group]:
                reach[bucket] |= in_group.get(sub, set())
    shared = [members for members in reach.values() if viewer.pk in members]
    return set().union(*shared) if shared else set()


def _groups_below(team_id: int, group_ids: set[int]) -> dict[int, set[int]]:
    """Each group with every group below it, any depth (one query)."""
    children: dict[int | None, list[int]] = {}
    for gid, parent in Group.objects.filter(team_id=team_id).values_list("id", "parent_id"):
        children.setdefault(parent, []).append(gid)
    below = {}
    for root in group_ids:
        found, todo = {root}, [root]
        while todo:
            for child in children.get(todo.pop(), []):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        below[root] = found
    return below


def team_members(*, membership: Membership) -> list[Membership]:
    """Active members of the team, for member pickers (one query)."""
    return list(
        Membership.objects.filter(team_id=membership.team_id, is_active=True).select_related("user")
    )
