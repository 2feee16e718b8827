"""Reads for teams and members, always scoped to the member's team."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from teams.models import Group, Membership, Team


def membership_for(*, user: User, team_id: int | None = None) -> Membership | None:
    """The user's active membership in `team_id`, or in their first team."""
    if not user.is_authenticated:
        return None
    qs = Membership.objects.filter(user=user, is_active=True).select_related(
        "team", "user", "permission_profile"
    )
    if team_id is not None:
        found = qs.filter(team_id=team_id).first()
        if found:
            return found
    return qs.order_by("joined_at", "id").first()


def member_list(*, team: Team) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(team=team)
        .select_related("user", "permission_profile")
        .prefetch_related("groups", "tags")
    )


def group_descendant_ids(*, group_ids: set[int], team: Team) -> set[int]:
    """The groups and every group below them, any depth, in one query."""
    parents = dict(Group.objects.filter(team=team).values_list("id", "parent_id"))
    result = set(group_ids)
    changed = True
    while changed:
        changed = False
        for gid, parent in parents.items():
            if parent in result and gid not in result:
                result.add(gid)
                changed = True
    return result


def group_ancestor_ids(*, group_ids: set[int], team: Team) -> set[int]:
    """The groups and every group above them, in one query."""
    parents = dict(Group.objects.filter(team=team).values_list("id", "parent_id"))
    result = set()
    for gid in group_ids:
        while gid is not None and gid not in result:
            result.add(gid)
            gid = parents.get(gid)
    return result
