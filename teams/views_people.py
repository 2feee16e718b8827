"""Team and people pages: overview and plan, members, groups, agent tags, permission profiles.

For members holding "Manage Team" (the owner always does); anyone else gets a 403 page,
ids of another team are 404s. Thin views over teams.services, which check everything
again. Every page is a plain form post and redirect, so it works without JavaScript.
"""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from teams import permissions as perms
from teams import services
from teams.access import member_required, require_owner
from teams.forms import (
    GroupForm,
    MemberEditForm,
    MemberInviteForm,
    PermissionProfileForm,
    PlanForm,
    TagForm,
    TransferForm,
    add_service_error,
)
from teams.models import AgentTag, Group, Membership, PermissionProfile, Plan, Role, Team
from teams.plans import METHOD_LABELS, METHODS_IN_ORDER, PLAN_METHODS
from teams.selectors import group_descendant_ids, member_list

T = "teams/people/"


def _refused(request, exc: ValidationError) -> None:
    for text in exc.messages:
        messages.error(request, text)


# --- shared reads --------------------------------------------------------------------------


def group_tree(groups: list[Group]) -> list[Group]:
    """Groups in tree order (parents first, siblings by name) with .depth, .path and
    .closes (how many nested lists end after the group), without recursion."""
    ids = {g.pk for g in groups}
    children: dict[int | None, list[Group]] = defaultdict(list)
    for g in sorted(groups, key=lambda g: g.name.lower()):
        children[g.parent_id if g.parent_id in ids else None].append(g)
    ordered: list[Group] = []
    seen: set[int] = set()
    # Roots first; groups caught in a (corrupt) parent loop follow as roots, never lost.
    for root in children[None] + groups:
        stack = [(root, 0, "")]
        while stack:
            group, depth, above = stack.pop()
            if group.pk in seen:
                continue
            seen.add(group.pk)
            group.depth, group.path = depth, f"{above} / {group.name}" if above else group.name
            group.has_children = any(c.pk not in seen for c in children[group.pk])
            ordered.append(group)
            stack += [(c, depth + 1, group.path) for c in reversed(children[group.pk])]
    for i, group in enumerate(ordered):
        next_depth = ordered[i + 1].depth if i + 1 < len(ordered) else 0
        group.closes = range(0 if group.has_children else group.depth - next_depth)
    return ordered


def _groups(team: Team) -> list[Group]:
    return group_tree(list(Group.objects.filter(team=team).annotate(member_count=Count("members"))))


def _tags(team: Team):
    return list(AgentTag.objects.filter(team=team).annotate(member_count=Count("members")))


def _profiles(team: Team):
    return list(PermissionProfile.objects.filter(team=team).annotate(member_count=Count("members")))


def _member(membership: Membership, pk: int) -> Membership:
    queryset = member_list(team=membership.team)
    member = get_object_or_404(queryset, pk=pk)
    member.team = membership.team
    return member


def _owned(model, membership: Membership, pk: int):
    obj = get_object_or_404(model, pk=pk, team_id=membership.team_id)
    obj.team = membership.team
    return obj


# --- overview and plan ---------------------------------------------------------------------


def _plan_rows(team: Team) -> list[dict]:
    rows, before = [], frozenset()
    for plan in Plan:
        methods = PLAN_METHODS[plan.value]
        rows.append(
            {
                "plan": plan,
                "current": plan.value == team.plan,
                "methods": [METHOD_LABELS[m] for m in METHODS_IN_ORDER if m in methods],
                "adds": [METHOD_LABELS[m] for m in METHODS_IN_ORDER if m in methods - before],
            }
        )
        before = methods
    return rows


def _overview_context(membership: Membership, plan_form: PlanForm | None = None) -> dict:
    team = membership.team
    counts = Membership.objects.filter(team=team).aggregate(
        active=Count("id", filter=Q(is_active=True)),
        admins=Count("id", filter=Q(is_active=True, role=Role.ADMIN)),
        agents=Count("id", filter=Q(is_active=True, role=Role.AGENT)),
        online=Count("id", filter=Q(is_active=True, is_online=True)),
        inactive=Count("id", filter=Q(is_active=False)),
    )
    counts["groups"] = team.groups.count()
    counts["tags"] = team.agent_tags.count()
    counts["profiles"] = team.permission_profiles.count()
    skipped_rules, skipped_groups = services.plan_unavailable_methods(team=team)
    plan_changes = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Team),
        object_id=str(team.pk),
        change_message__startswith="Plan changed",
    ).select_related("user")[:5]
    return {
        "team": team,
        "counts": counts,
        "plans": _plan_rows(team),
        "plan_form": plan_form or PlanForm(initial={"plan": team.plan}),
        "is_owner": membership.role == Role.OWNER,
        "skipped_rules": skipped_rules,
        "skipped_groups": skipped_groups,
        "plan_changes": plan_changes,
    }


@require_safe
@member_required(perm=perms.MANAGE_TEAM)
def overview(request):
    membership = request.membership
    return render(request, T + "overview.html", _overview_context(membership))


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def plan_set(request):
    membership = request.membership
    require_owner(membership, "change the plan")
    form = PlanForm(request.POST)
    if not form.is_valid():
        return render(request, T + "overview.html", _overview_context(membership, form))
    rules, groups = services.team_set_plan(actor=membership, plan=form.cleaned_data["plan"])
    messages.success(request, f"Your team is on the {membership.team.get_plan_display()} plan.")
    if rules or groups:
        names = [f"rule “{r.name}”" for r in rules] + [f"group “{g.name}”" for g in groups]
        messages.warning(
            request,
            f"Not in this plan, so skipped by routing until you choose another method or "
            f"upgrade (nothing was deleted): {', '.join(names)}.",
        )
    return redirect("team:overview")


# --- members -------------------------------------------------------------------------------


@require_safe
@member_required(perm=perms.MANAGE_TEAM)
def members(request):
    membership = request.membership
    now = timezone.now()
    everyone = list(member_list(team=membership.team))
    for member in everyone:
        member.paused_now = member.is_paused_at(now)
    context = {
        "active": [m for m in everyone if m.is_active],
        "inactive": [m for m in everyone if not m.is_active],
    }
    return render(request, T + "members.html", context)


def _member_form_kwargs(membership: Membership) -> dict:
    team = membership.team
    return {"profiles": _profiles(team), "groups": _groups(team), "tags": _tags(team)}


@require_safe
@member_required(perm=perms.MANAGE_TEAM)
def member_new(request):
    membership = request.membership
    form = MemberInviteForm(**_member_form_kwargs(membership))
    return render(request, T + "member_new.html", {"form": form})


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def member_create(request):
    membership = request.membership
    form = MemberInviteForm(request.POST, **_member_form_kwargs(membership))
    if form.is_valid():
        data = form.cleaned_data
        try:
            member = services.membership_invite(
                actor=membership, profile=data.pop("permission_profile"), **data
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            how = "They can sign in with the temporary password you gave."
            if not data["password"]:
                how = f"A link to set their password is on its way to {member.user.email}."
            messages.success(request, f"Added {member.display_name}. {how}")
            return redirect("team:members")
    return render(request, T + "member_new.html", {"form": form})


def _member_edit_page(request, membership: Membership, member: Membership, form=None):
    form = form or MemberEditForm(membership=member, **_member_form_kwargs(membership))
    context = {"member": member, "form": form, "is_owner": membership.role == Role.OWNER}
    return render(request, T + "member_edit.html", context)


@require_safe
@member_required(perm=perms.MANAGE_TEAM)
def member_edit(request, pk: int):
    membership = request.membership
    return _member_edit_page(request, membership, _member(membership, pk))


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def member_update(request, pk: int):
    membership = request.membership
    member = _member(membership, pk)
    form = MemberEditForm(request.POST, membership=member, **_member_form_kwargs(membership))
    if form.is_valid():
        try:
            services.membership_edit(actor=membership, membership=member, **form.service_kwargs())
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Saved {member.display_name}.")
            return redirect("team:members")
    return _member_edit_page(request, membership, member, form)


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def member_deactivate(request, pk: int):
    membership = request.membership
    member = _member(membership, pk)
    try:
        services.membership_deactivate(actor=membership, membership=member)
    except ValidationError as exc:
        _refused(request, exc)
        return redirect("team:member_edit", pk=member.pk)
    messages.success(request, f"Deactivated {member.display_name}: routing skips them now.")
    return redirect("team:members")


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def member_reactivate(request, pk: int):
    membership = request.membership
    member = _member(membership, pk)
    services.membership_reactivate(actor=membership, membership=member)
    messages.success(request, f"Reactivated {member.display_name}.")
    return redirect("team:members")


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def member_password_link(request, pk: int):
    membership = request.membership
    member = _member(membership, pk)
    try:
        services.membership_send_password_link(actor=membership, membership=member)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, f"A link to set a password is on its way to {member.user.email}.")
    return redirect("team:member_edit", pk=member.pk)


def _transfer_page(request, membership: Membership, pk: int, post=None):
    require_owner(membership, "transfer ownership")
    member = _member(membership, pk)
    if member.pk == membership.pk or not member.is_active:
        messages.error(request, "Choose another active member to own the team.")
        return member, None
    return member, TransferForm(post, to=member)


@require_safe
@member_required(perm=perms.MANAGE_TEAM)
def ownership_transfer_confirm(request, pk: int):
    membership = request.membership
    member, form = _transfer_page(request, membership, pk)
    if form is None:
        return redirect("team:members")
    return render(request, T + "transfer.html", {"member": member, "form": form})


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def ownership_transfer(request, pk: int):
    membership = request.membership
    member, form = _transfer_page(request, membership, pk, request.POST)
    if form is None:
        return redirect("team:members")
    if not form.is_valid():
        return render(request, T + "transfer.html", {"member": member, "form": form})
    try:
        services.ownership_transfer(actor=membership, to=member)
    except ValidationError as exc:
        _refused(request, exc)
        return redirect("team:members")
    messages.success(request, f"{member.display_name} owns the team now; you are an admin.")
    return redirect("team:members")


# --- groups --------------------------------------------------------------------------------


def _groups_page(request, membership: Membership, form: GroupForm | None = None):
    tree = _groups(membership.team)
    form = form or GroupForm(parents=tree)
    return render(request, T + "groups.html", {"tree": tree, "form": form})


@require_safe
@member_required(perm=perms.MANAGE_TEAM)
def groups(request):
    membership = request.membership
    return _groups_page(request, membership)


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def group_create(request):
    membership = request.membership
    form = GroupForm(request.POST, parents=_groups(membership.team))
    if form.is_valid():
        try:
            group = services.group_add(actor=membership, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Created the group {group.name}.")
            return redirect("team:groups")
    return _groups_page(request, membership, form)


def _group_form(membership: Membership, group: Group, post=None) -> GroupForm:
    """Parents offered: every group but this one and those below it."""
    tree = _groups(membership.team)
    below = group_descendant_ids(group_ids={group.pk}, team=membership.team)
    initial = {"name": group.name, "parent": str(group.parent_id or "")}
    return GroupForm(post, parents=[g for g in tree if g.pk not in below], initial=initial)


@require_safe
@member_required(perm=perms.MANAGE_TEAM)
def group_edit(request, pk: int):
    membership = request.membership
    group = _owned(Group, membership, pk)
    context = {"group": group, "form": _group_form(membership, group)}
    return render(request, T + "group_edit.html", context)


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def group_update(request, pk: int):
    membership = request.membership
    group = _owned(Group, membership, pk)
    form = _group_form(membership, group, request.POST)
    if form.is_valid():
        try:
            services.group_update(actor=membership, group=group, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Saved the group {group.name}.")
            return redirect("team:groups")
    return render(request, T + "group_edit.html", {"group": group, "form": form})


@require_safe
@member_required(perm=perms.MANAGE_TEAM)
def group_delete_confirm(request, pk: int):
    membership = request.membership
    group = _owned(Group, membership, pk)
    below = group_descendant_ids(group_ids={group.pk}, team=membership.team) - {group.pk}
    tree = [g for g in _groups(membership.team) if g.pk in below]
    context = {"group": group, "subgroups": tree, "members": group.members.count()}
    return render(request, T + "group_delete.html", context)


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def group_delete(request, pk: int):
    membership = request.membership
    group = _owned(Group, membership, pk)
    try:
        count = services.group_delete(actor=membership, group=group)
    except ValidationError as exc:
        _refused(request, exc)
        return redirect("team:group_delete_confirm", pk=group.pk)
    also = f" and {count - 1} sub-group{'s' if count > 2 else ''}" if count > 1 else ""
    messages.success(request, f"Deleted the group {group.name}{also}.")
    return redirect("team:groups")


# --- agent tags ----------------------------------------------------------------------------


def _tags_page(request, membership: Membership, form=None, renaming=None):
    tags = _tags(membership.team)
    for tag in tags:
        bound = renaming is not None and renaming.prefix == f"tag-{tag.pk}"
        tag.form = renaming if bound else TagForm(prefix=f"tag-{tag.pk}", initial={"name": tag})
    context = {"tags": tags, "form": form or TagForm()}
    return render(request, T + "tags.html", context)


@require_safe
@member_required(perm=perms.MANAGE_TEAM)
def tags(request):
    membership = request.membership
    return _tags_page(request, membership)


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def tag_create(request):
    membership = request.membership
    form = TagForm(request.POST)
    if form.is_valid():
        try:
            tag = services.agent_tag_create(actor=membership, name=form.cleaned_data["name"])
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Created the tag {tag.name}.")
            return redirect("team:tags")
    return _tags_page(request, membership, form=form)


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def tag_rename(request, pk: int):
    membership = request.membership
    tag = _owned(AgentTag, membership, pk)
    form = TagForm(request.POST, prefix=f"tag-{tag.pk}")
    if form.is_valid():
        try:
            services.agent_tag_rename(actor=membership, tag=tag, name=form.cleaned_data["name"])
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Renamed the tag to {tag.name}.")
            return redirect("team:tags")
    return _tags_page(request, membership, renaming=form)


@require_safe
@member_required(perm=perms.MANAGE_TEAM)
def tag_delete_confirm(request, pk: int):
    membership = request.membership
    tag = _owned(AgentTag, membership, pk)
    context = {"tag": tag, "uses": services.agent_tag_uses(tag=tag), "members": tag.members.count()}
    return render(request, T + "tag_delete.html", context)


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def tag_delete(request, pk: int):
    membership = request.membership
    tag = _owned(AgentTag, membership, pk)
    try:
        services.agent_tag_delete(actor=membership, tag=tag)
    except ValidationError as exc:
        _refused(request, exc)
        return redirect("team:tag_delete_confirm", pk=tag.pk)
    messages.success(request, f"Deleted the tag {tag.name}.")
    return redirect("team:tags")


# --- permission profiles -------------------------------------------------------------------

PROFILE_COLUMNS = [
    (perm, PermissionProfile._meta.get_field(perm).verbose_name)
    for perm in perms.PROFILE_PERMISSIONS
]


@require_safe
@member_required(perm=perms.MANAGE_TEAM)
def profiles(request):
    membership = request.membership
    rows = _profiles(membership.team)
    for profile in rows:
        profile.flags = [(label, getattr(profile, perm)) for perm, label in PROFILE_COLUMNS]
    context = {"profiles": rows, "columns": [label for _, label in PROFILE_COLUMNS]}
    return render(request, T + "profiles.html", context)


@require_safe
@member_required(perm=perms.MANAGE_TEAM)
def profile_new(request):
    membership = request.membership
    form = PermissionProfileForm(instance=PermissionProfile(team=membership.team))
    return render(request, T + "profile_form.html", {"form": form, "profile": None})


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def profile_create(request):
    membership = request.membership
    form = PermissionProfileForm(request.POST, instance=PermissionProfile(team=membership.team))
    if form.is_valid():
        try:
            profile = services.permission_profile_create(actor=membership, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Created the profile {profile.name}.")
            return redirect("team:profiles")
    return render(request, T + "profile_form.html", {"form": form, "profile": None})


@require_safe
@member_required(perm=perms.MANAGE_TEAM)
def profile_edit(request, pk: int):
    membership = request.membership
    profile = _owned(PermissionProfile, membership, pk)
    context = {"form": PermissionProfileForm(instance=profile), "profile": profile}
    return render(request, T + "profile_form.html", context)


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def profile_update(request, pk: int):
    membership = request.membership
    profile = _owned(PermissionProfile, membership, pk)
    form = PermissionProfileForm(request.POST, instance=profile)
    if form.is_valid():
        try:
            services.permission_profile_save(actor=membership, profile=form.instance)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(
                request, f"Saved the profile {profile.name}; its members' access changed at once."
            )
            return redirect("team:profiles")
    context = {"form": form, "profile": _owned(PermissionProfile, membership, pk)}
    return render(request, T + "profile_form.html", context)


@require_safe
@member_required(perm=perms.MANAGE_TEAM)
def profile_delete_confirm(request, pk: int):
    membership = request.membership
    profile = _owned(PermissionProfile, membership, pk)
    holders = list(profile.members.select_related("user"))
    return render(request, T + "profile_delete.html", {"profile": profile, "holders": holders})


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def profile_delete(request, pk: int):
    membership = request.membership
    profile = _owned(PermissionProfile, membership, pk)
    try:
        services.permission_profile_delete(actor=membership, profile=profile)
    except ValidationError as exc:
        _refused(request, exc)
        return redirect("team:profile_delete_confirm", pk=profile.pk)
    messages.success(request, f"Deleted the profile {profile.name}.")
    return redirect("team:profiles")
