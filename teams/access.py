"""Who may do what: the one place views and services ask.

Two answers, everywhere: an object (or page) of another team, or a visitor who is in
no team, is a 404 ("no such thing here"); a member of the team who lacks the
permission gets a 403 with the permission's name, rendered by the one forbidden page
(templates/403.html). Permissions are computed from the member's role and profile on
every check (teams.permissions), so there is nothing to keep in step.

The apps above this one keep their own `<thing>_for_member` getters in their
selectors (contacts, rules, reassignment groups); each builds on `for_member` here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from teams import permissions as perms
from teams.models import DistributionScope, Membership
from teams.selectors import group_descendant_ids

M = TypeVar("M", bound=Model)
View = Callable[..., HttpResponse]

NOT_A_MEMBER = "You are not a member of a team."


# --- questions ------------------------------------------------------------------------


def has_perm(member: Membership | None, perm: str) -> bool:
    """Does the (active) member hold `perm` on their team?"""
    return member is not None and perm in perms.effective_permissions(member)


def has_any_perm(member: Membership | None, *wanted: str) -> bool:
    return member is not None and not perms.effective_permissions(member).isdisjoint(wanted)


def is_owner(member: Membership | None) -> bool:
    return member is not None and member.is_active and member.is_owner


def sees_whole_company(member: Membership) -> bool:
    """Entire Company scope (owners always); otherwise the member's groups only."""
    return perms.distribution_scope(member) == DistributionScope.COMPANY


def scope_member_ids(member: Membership) -> set[int] | None:
    """The members a "User's Group" member's powers reach: everyone in their groups and
    the groups below them, and themselves. None means the whole team."""
    if sees_whole_company(member):
        return None
    own = set(member.groups.values_list("id", flat=True))
    reach = group_descendant_ids(group_ids=own, team=member.team) if own else set()
    ids = set(
        Membership.objects.filter(team_id=member.team_id, groups__in=reach).values_list(
            "id", flat=True
        )
    )
    ids.add(member.pk)
    return ids


def in_scope(member: Membership, membership_id: int | None) -> bool:
    """May the member's lead-distribution powers touch `membership_id`'s leads?"""
    reach = scope_member_ids(member)
    return reach is None or membership_id in reach


# --- refusals -------------------------------------------------------------------------


def require_member(member: Membership | None, team_id: int | None = None) -> Membership:
    """The active member, in `team_id` if given; a 404 otherwise."""
    if member is None or not member.is_active:
        raise Http404(NOT_A_MEMBER)
    if team_id is not None:
        require_same_team(member, team_id)
    return member


def require_same_team(member: Membership, team_id: int) -> None:
    """A 404 for a row (by its team id) outside the member's team."""
    if member.team_id != team_id:
        raise Http404("No such thing in your team.")


def require_perm(member: Membership | None, *wanted: str, team_id: int | None = None) -> None:
    """A 404 outside the team, a 403 unless the member holds one of `wanted`."""
    member = require_member(member, team_id)
    if not has_any_perm(member, *wanted):
        names = " or ".join(f"“{perms.LABELS[p]}”" for p in wanted)
        raise PermissionDenied(f"You need the {names} permission.")


def require_owner(member: Membership | None, action: str) -> None:
    require_member(member)
    if not is_owner(member):
        raise PermissionDenied(f"Only the team owner can {action}.")


def require_in_scope(member: Membership, membership_id: int | None) -> None:
    if not in_scope(member, membership_id):
        raise PermissionDenied(
            "With “User's Group” scope you can only work with the leads of your "
            "group and the groups below it."
        )


# --- views ----------------------------------------------------------------------------


def member_required(view: View | None = None, *, perm: str | tuple[str, ...] = ()):
    """Signed in (else the login page), in a team (else 404), holding `perm` (one of,
    for a tuple; else 403). The view reads the member from `request.membership`."""
    wanted = (perm,) if isinstance(perm, str) else tuple(perm)

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            member = require_member(request.membership)
            if wanted:
                require_perm(member, *wanted)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate


def for_member(member: Membership, queryset: QuerySet[M], pk: object) -> M:
    """The row `pk` of `queryset` in the member's team, or 404."""
    found = queryset.filter(pk=pk, team_id=member.team_id).first()
    if found is None:
        raise Http404("No such thing in your team.")
    return found
