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
from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from routing.forms_groups import ReassignmentGroupForm, group_tree
from routing.groups import (
    EDIT_GROUPS,
    can_edit_groups,
    group_for_member,
    groups_available_to,
    groups_editable_by,
    reassignment_group_create,
    reassignment_group_delete,
    reassignment_group_set_assignees,
    reassignment_group_update,
)
from routing.models import ContactRouting, ReassignmentAssignee, ReassignmentGroup
from teams import permissions as perms
from teams.access import member_required, sees_whole_company
from teams.models import AgentTag, Group, Membership
from teams.selectors import group_descendant_ids

# --- permissions and reads --------------------------------------------------------


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


def _form(request, group: ReassignmentGroup | None = None, data=None) -> ReassignmentGroupForm:
    membership = request.membership
    team = membership.team
    groups = list(Group.objects.filter(team=team))
    if not sees_whole_company(membership):
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


DETAILED = _with_details(ReassignmentGroup.objects.all())


# --- pages --------------------------------------------------------------------------


@require_safe
@member_required(perm=(*EDIT_GROUPS, perms.TRIGGER_REASSIGNMENT))
def group_list(request):
    """Managers: the groups they may edit. Others who may trigger: read-only, the groups
    available to them."""
    membership = request.membership
    manage = can_edit_groups(membership)
    groups = (
        groups_editable_by(membership=membership)
        if manage
        else groups_available_to(membership=membership)
    )
    context = {
        "groups": list(_with_details(groups)),
        "can_manage": manage,
        "group_scope": manage and not sees_whole_company(membership),
    }
    return render(request, "routing/groups/list.html", context)


@require_safe
@member_required(perm=EDIT_GROUPS)
def group_new(request):
    return render(request, "routing/groups/form.html", {"form": _form(request)})


@require_POST
@member_required(perm=EDIT_GROUPS)
def group_create(request):
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


@require_safe
@member_required(perm=(*EDIT_GROUPS, perms.TRIGGER_REASSIGNMENT))
def group_detail(request, pk: int):
    """The editor for those who may edit the group; a read-only view for the others."""
    membership = request.membership
    group = group_for_member(membership, pk, queryset=DETAILED)
    if groups_editable_by(membership=membership).filter(pk=pk).exists():
        context = {"form": _form(request, group), "group": group}
        return render(request, "routing/groups/form.html", context)
    return render(request, "routing/groups/detail.html", {"group": group})


@require_POST
@member_required(perm=EDIT_GROUPS)
def group_update(request, pk: int):
    group = group_for_member(request.membership, pk, editable=True, queryset=DETAILED)
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


@require_safe
@member_required(perm=EDIT_GROUPS)
def group_confirm_delete(request, pk: int):
    group = group_for_member(request.membership, pk, editable=True, queryset=DETAILED)
    busy = ContactRouting.objects.filter(reassigning_to=group).count()
    return render(request, "routing/groups/delete.html", {"group": group, "busy": busy})


@require_POST
@member_required(perm=EDIT_GROUPS)
def group_delete(request, pk: int):
    group = group_for_member(request.membership, pk, editable=True, queryset=DETAILED)
    try:
        reassignment_group_delete(actor=request.membership, group=group)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("reassignment_groups:confirm_delete", pk=group.pk)
    messages.success(request, f"Reassignment group “{group.name}” deleted.")
    return redirect("reassignment_groups:list")
