"""Reads for contacts, always filtered by the member's team and what they may see."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Prefetch, Q, QuerySet

from contacts.models import Contact, ContactRole, RoleKind, TimelineEvent
from teams import permissions as perms
from teams.models import Membership, Role
from teams.templatetags.team_perms import member_can

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
    return membership.role in ADMIN_ROLES and member_can(membership, perms.VIEW_CONTACTS)


def contacts_visible_to(membership: Membership) -> QuerySet[Contact]:
    """The team's contacts this member may open.

    Owners and admins see all of them; anyone else only contacts where they hold
    a role, and those the visibility extensions add (an open offer, for one).
    """
    qs = Contact.objects.filter(team_id=membership.team_id)
    if not membership.is_active or not member_can(membership, perms.VIEW_CONTACTS):
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


def contact_for_profile(*, membership: Membership, pk: int) -> Contact | None:
    return (
        contacts_visible_to(membership)
        .select_related("team")
        .prefetch_related("tags")
        .filter(pk=pk)
        .first()
    )


def contact_roles(*, contact: Contact) -> list[ContactRole]:
    """Primary Agent first, then Assistant, Lender and custom roles."""
    roles = list(contact.roles.select_related("membership__user"))
    order = {RoleKind.AGENT: 0, RoleKind.ASSISTANT: 1, RoleKind.LENDER: 2, RoleKind.CUSTOM: 3}
    return sorted(roles, key=lambda r: (order.get(r.kind, 9), r.custom_name, r.pk))


def contact_timeline(*, contact: Contact) -> QuerySet[TimelineEvent]:
    return contact.timeline.select_related("actor__user").order_by("-created_at", "-id")


def team_members(*, membership: Membership) -> list[Membership]:
    """Active members of the team, for member pickers (one query)."""
    return list(
        Membership.objects.filter(team_id=membership.team_id, is_active=True).select_related("user")
    )
