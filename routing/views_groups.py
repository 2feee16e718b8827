"""Reassignment groups pages (seeds 001/002): list, editor, read-only view, delete.

Editing needs "Contact Routing Rule Management" or "Manage Lead Distribution",
limited by the member's distribution scope (routing.reassignment decides which
groups). Members who may only trigger reassignments see, read-only, the groups
available to them.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from routing.forms_groups import ReassignmentGroupForm, group_tree
from routing.groups import (
    groups_available_to,
    groups_editable_by,
    reassignment_group_create,
    reassignment_group_delete,
    reassignment_group_set_assignees,
    reassignment_group_update,
)
from routing.models import ContactRouting, ReassignmentAssignee, ReassignmentGroup
from teams import permissions as perms
from teams.access import member_required
from teams.models import AgentTag, Group, Membership
from teams.selectors import group_descendant_ids
from teams.templatetags.team_perms import member_can

# --- permissions and reads --------------------------------------------------------


def can_manage(membership: Membership) -> bool:
    return member_can(membership, perms.MANAGE_ROUTING_RULES) or member_can(
        membership, perms.MANAGE_LEAD_DISTRIBUTION
    )


def _require_manage(membership: Membership) -> None:
    if not can_manage(membership):
        raise PermissionDenied


def _require_view(membership: Membership) -> None:
    if not (can_manage(membership) or member_can(membership, perms.TRIGGER_REASSIGNMENT)):
        raise PermissionDenied


def _visible(membership: Membership) -> QuerySet[ReassignmentGroup]:
    """Groups the member may edit, and (read-only) those they may send contacts to."""
    available = (
        groups_available_to(membership=membership)
        if member_can(membership, perms.TRIGGER_REASSIGNMENT)
        else ReassignmentGroup.objects.none()
    )
    editable = groups_editable_by(membership=membership)
    return ReassignmentGroup.objects.filter(team_id=membership.team_id).filter(
        Q(pk__in=editable.values("pk")) | Q(pk__in=available.values("pk"))
    )


def _with_details(qs: QuerySet[ReassignmentGroup]) -> QuerySet[ReassignmentGroup]:
    """Assignees, Available To and how many contacts are reassigning: 3 queries in all."""
    busy = (
        ContactRouting.objects.filter(reassigning_to=OuterRef("pk"))
        .order_by()
        .values("reassigning_to")
        .annotate(n=Count("pk"))
        .values("n")
    )
    assignees = ReassignmentAssignee.objects.select_related("membership__user", "agent_tag")
    return (
        qs.select_related("default_assignee__user")
        .prefetch_related(Prefetch("assignees", queryset=assignees), "available_to")
        .annotate(busy=Coalesce(Subquery(busy), 0))
    )


def _group_or_404(membership: Membership, pk: int, *, editable: bool) -> ReassignmentGroup:
    """Another team's or an invisible group is a 404; visible but not editable is a 403."""
    group = _with_details(_visible(membership)).filter(pk=pk).first()
    if group is None:
        raise Http404("No such reassignment group.")
    if editable and not groups_editable_by(membership=membership).filter(pk=pk).exists():
        raise PermissionDenied
    return group


def _form(request, group: ReassignmentGroup | None = None, data=None) -> ReassignmentGroupForm:
    membership = request.membership
    team = membership.team
    groups = list(Group.objects.filter(team=team))
    if perms.distribution_scope(membership) != "company":
        own = set(membership.groups.values_list("pk", flat=True))
        reach = group_descendant_ids(group_ids=own, team=team)
        groups = [g for g in groups if g.pk in reach]
    return ReassignmentGroupForm(
        data,
        team=team,
        group=group,
        members=list(Membership.objects.filter(team=team, is_active=True).select_related("user")),
        tags=list(AgentTag.objects.filter(team=team)),
        tree=group_tree(groups),
    )


def _save(form: ReassignmentGroupForm, actor: Membership, group=None) -> ReassignmentGroup:
    """One transaction: fields, Available To and assignees (no rotation reset)."""
    with transaction.atomic():
        if group is None:
            return reassignment_group_create(
                actor=actor,
                team=actor.team,
                assignees=form.assignees(),
                available_to=form.available_to(),
                **form.group_fields(),
            )
        reassignment_group_update(
            actor=actor, group=group, available_to=form.available_to(), **form.group_fields()
        )
        if form.assignees_changed():
            reassignment_group_set_assignees(actor=actor, group=group, assignees=form.assignees())
        return group


def _refusal_to_form(form: ReassignmentGroupForm, exc: Exception) -> None:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, list(getattr(exc, "messages", None) or [str(exc)]))


# --- pages --------------------------------------------------------------------------


@member_required
@require_safe
def group_list(request):
    """Managers: the groups they may edit. Others who may trigger: read-only, the groups
    available to them."""
    membership = request.membership
    _require_view(membership)
    manage = can_manage(membership)
    groups = (
        groups_editable_by(membership=membership)
        if manage
        else groups_available_to(membership=membership)
    )
    context = {
        "groups": list(_with_details(groups)),
        "can_manage": manage,
        "group_scope": manage and perms.distribution_scope(membership) != "company",
    }
    return render(request, "routing/groups/list.html", context)


@member_required
@require_safe
def group_new(request):
    _require_manage(request.membership)
    return render(request, "routing/groups/form.html", {"form": _form(request)})


@member_required
@require_POST
def group_create(request):
    _require_manage(request.membership)
    form = _form(request, data=request.POST)
    if form.is_valid():
        try:
            group = _save(form, request.membership)
        except (ValidationError, PermissionDenied) as exc:
            _refusal_to_form(form, exc)
        else:
            messages.success(request, f"Reassignment group “{group.name}” created.")
            return redirect("reassignment_groups:list")
    return render(request, "routing/groups/form.html", {"form": form}, status=422)


@member_required
@require_safe
def group_detail(request, pk: int):
    """The editor for those who may edit the group; a read-only view for the others."""
    membership = request.membership
    _require_view(membership)
    group = _group_or_404(membership, pk, editable=False)
    if groups_editable_by(membership=membership).filter(pk=pk).exists():
        context = {"form": _form(request, group), "group": group}
        return render(request, "routing/groups/form.html", context)
    return render(request, "routing/groups/detail.html", {"group": group})


@member_required
@require_POST
def group_update(request, pk: int):
    _require_manage(request.membership)
    group = _group_or_404(request.membership, pk, editable=True)
    form = _form(request, group, data=request.POST)
    if form.is_valid():
        try:
            _save(form, request.membership, group)
        except (ValidationError, PermissionDenied) as exc:
            _refusal_to_form(form, exc)
        else:
            messages.success(request, f"Reassignment group “{group.name}” saved.")
            return redirect("reassignment_groups:list")
    context = {"form": form, "group": group}
    return render(request, "routing/groups/form.html", context, status=422)


@member_required
@require_safe
def group_confirm_delete(request, pk: int):
    _require_manage(request.membership)
    group = _group_or_404(request.membership, pk, editable=True)
    busy = ContactRouting.objects.filter(reassigning_to=group).count()
    return render(request, "routing/groups/delete.html", {"group": group, "busy": busy})


@member_required
@require_POST
def group_delete(request, pk: int):
    _require_manage(request.membership)
    group = _group_or_404(request.membership, pk, editable=True)
    try:
        reassignment_group_delete(actor=request.membership, group=group)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("reassignment_groups:confirm_delete", pk=group.pk)
    messages.success(request, f"Reassignment group “{group.name}” deleted.")
    return redirect("reassignment_groups:list")
