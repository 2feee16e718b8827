"""The contacts list and the contact profile: thin views over contacts and routing services.

These pages work a contact (its details, roles, activity, tags) and its routing (the
primary Agent, reassignment, assigning directly), so they live with routing, the
app that depends on contacts. Every contact is loaded through contacts.selectors
(team and visibility filtered: another team's contact, or one an agent holds nothing
on, is a 404). A refused service call (ValidationError) comes back as a message.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST, require_safe

from contacts import selectors
from contacts.buckets import contacts_place, contacts_unplace
from contacts.forms_buckets import BucketChoiceForm, BulkBucketForm
from contacts.models import BucketVia, Contact, ContactRole, RoleKind
from contacts.selectors_buckets import (
    bucket_for_member,
    buckets_in_order,
    buckets_visible_to,
    contact_bucket_card,
)
from contacts.services import (
    activity_log,
    contact_role_add,
    contact_role_remove,
    contact_set_segment,
    contact_set_tags,
    contact_update,
)
from routing.forms_contacts import (
    REASSIGNING,
    ActivityForm,
    AssignDirectlyForm,
    BulkReassignForm,
    ContactDetailsForm,
    ContactFilterForm,
    GroupChoiceForm,
    RoleAddForm,
    SegmentForm,
    TagsForm,
)
from routing.groups import groups_available_to
from routing.manual import contact_assign_directly
from routing.models import ContactRouting
from routing.reassignment import NO_AGENT, reassignment_start, reassignment_start_bulk
from routing.selectors import open_offer_for
from teams import permissions as perms
from teams.access import has_perm, member_required, require_perm

PER_PAGE = 50
TIMELINE_PER_PAGE = 50
REASSIGN_OUTCOMES = {
    "assigned": "Reassigned through “{group}”: the new Agent is shown on the profile.",
    "offered": "Re-Assign in progress: “{group}” is offering the contact.",
}


# --- helpers ----------------------------------------------------------------------


def _profile_url(contact: Contact) -> str:
    return reverse("contact_pages:profile", args=[contact.pk])


@contextmanager
def _refusals_as_messages(request):
    """A service's ValidationError becomes an error message on the next page."""
    try:
        yield
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))


def _routing_of(contact: Contact) -> ContactRouting:
    """The contact's routing state (one query; a contact never queued reads as received)."""
    routing = (
        ContactRouting.objects.select_related("reassigning_to", "rule")
        .filter(contact=contact)
        .first()
    )
    return routing or ContactRouting(contact=contact, team_id=contact.team_id)


def _profile(request, contact: Contact, *, status: int = 200, **overrides):
    """Render the profile; a failed form or the reassign panel comes in `overrides`."""
    membership = request.membership
    members = selectors.team_members(membership=membership)
    roles = selectors.contact_roles(contact=contact)
    agent_role = next((r for r in roles if r.kind == RoleKind.AGENT), None)
    tags = [t.name for t in contact.tags.all()]
    timeline = selectors.contact_timeline(contact=contact, viewer=membership)
    context = {
        "contact": contact,
        "routing": _routing_of(contact),
        "agent_role": agent_role,
        "other_roles": [r for r in roles if r.kind != RoleKind.AGENT],
        "tags": tags,
        "timeline": Paginator(timeline, TIMELINE_PER_PAGE).get_page(request.GET.get("tpage")),
        "my_offer": open_offer_for(contact=contact, membership=membership),
        "can_work": selectors.may_work(membership, contact, agent_role),
        "can_trigger": has_perm(membership, perms.TRIGGER_REASSIGNMENT),
        "can_assign": has_perm(membership, perms.MANAGE_LEAD_DISTRIBUTION),
        "activity_form": ActivityForm(),
        "segment_form": SegmentForm(initial={"segment": contact.segment}),
        "tags_form": TagsForm(initial={"tags": ", ".join(tags)}),
        "role_form": RoleAddForm(members=members),
        # The Agent shown goes back as expected_agent: a change meanwhile is refused.
        "assign_form": AssignDirectlyForm(
            members=members,
            initial={"expected_agent": agent_role.membership_id if agent_role else NO_AGENT},
        ),
        "details_form": ContactDetailsForm(instance=copy.copy(contact)),
        "buckets": contact_bucket_card(contact, membership),
        **overrides,
    }
    return render(request, "routing/contacts/profile.html", context, status=status)


# --- the contacts list ------------------------------------------------------------


@require_safe
@member_required
def contact_list(request):
    membership = request.membership
    form = ContactFilterForm(request.GET, members=selectors.team_members(membership=membership))
    filters = form.filters()
    routing_status = filters.pop("routing_status")
    contacts = selectors.contact_list(membership=membership, **filters).select_related(
        "routing__reassigning_to"
    )
    if routing_status == REASSIGNING:
        contacts = contacts.filter(routing__reassigning_to__isnull=False)
    elif routing_status:
        contacts = contacts.filter(routing__status=routing_status)
    can_bulk = has_perm(membership, perms.TRIGGER_REASSIGNMENT)
    context = {
        "form": form,
        "page": Paginator(contacts, PER_PAGE).get_page(request.GET.get("page")),
        "can_bulk": can_bulk,
        "groups": list(groups_available_to(membership=membership)) if can_bulk else [],
        "bucket_choices": list(buckets_in_order(membership)),
    }
    template = "routing/contacts/list.html" + ("#results" if request.htmx else "")
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
@member_required
def bulk_reassign(request):
    """Selected contacts → a group → "Are you sure?" → each is distributed in turn."""
    membership = request.membership
    require_perm(membership, perms.TRIGGER_REASSIGNMENT)
    form = BulkReassignForm(
        request.POST,
        contacts=selectors.contacts_visible_to(membership),
        groups=groups_available_to(membership=membership),
    )
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect("contact_pages:list")
    contacts, group = list(form.cleaned_data["contacts"]), form.cleaned_data["group"]
    context = {"bulk": "confirm", "group": group, "contacts": _with_agents(contacts)}
    if request.POST.get("confirm") == "yes":
        outcomes = reassignment_start_bulk(
            actor=membership, contacts=contacts, group=group, expected=_expected_agents(request)
        )
        context.update(bulk="results", results=_bulk_results(contacts, outcomes))
    return render(request, "routing/contacts/list.html", context)


def _with_agents(contacts: list[Contact]) -> list[Contact]:
    """The contacts with `agent_roles` (one query), for the confirmation to show and post."""
    fresh = {
        c.pk: c
        for c in Contact.objects.filter(pk__in=[c.pk for c in contacts]).prefetch_related(
            selectors.primary_agent_prefetch()
        )
    }
    return [fresh.get(c.pk, c) for c in contacts]


def _expected_agents(request) -> dict[int, int]:
    """contact id → the Agent the confirmation showed (posted as expected_<contact id>)."""
    expected = {}
    for key, value in request.POST.items():
        if key.startswith("expected_") and key[9:].isdigit() and value.isdigit():
            expected[int(key[9:])] = int(value)
    return expected


def _bulk_results(contacts: list[Contact], outcomes: dict[int, str]) -> list[dict]:
    """Per contact: its outcome and its primary Agent now (one query for all)."""
    fresh = Contact.objects.filter(pk__in=[c.pk for c in contacts]).prefetch_related(
        selectors.primary_agent_prefetch()
    )
    agents = {c.pk: (c.agent_roles[0].membership if c.agent_roles else None) for c in fresh}
    return [
        {"contact": c, "outcome": outcomes.get(c.pk, ""), "agent": agents.get(c.pk)}
        for c in contacts
    ]


# --- the contact profile ----------------------------------------------------------


@require_safe
@member_required
def contact_profile(request, pk: int):
    contact = selectors.contact_for_member(request.membership, pk)
    if request.htmx and request.GET.get("tpage"):
        response = render(
            request,
            "routing/contacts/profile.html#timeline",
            {
                "contact": contact,
                "timeline": Paginator(
                    selectors.contact_timeline(contact=contact, viewer=request.membership),
                    TIMELINE_PER_PAGE,
                ).get_page(request.GET.get("tpage")),
            },
        )
    else:
        response = _profile(request, contact)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
@member_required
def contact_details_update(request, pk: int):
    contact = selectors.contact_for_member(request.membership, pk)
    selectors.require_work(request.membership, contact)
    form = ContactDetailsForm(request.POST, instance=copy.copy(contact))
    if not form.is_valid():
        return _profile(request, contact, details_form=form, details_open=True, status=422)
    fields = {name: form.cleaned_data[name] for name in ContactDetailsForm.Meta.fields}
    with _refusals_as_messages(request):
        contact_update(contact=contact, actor=request.membership, **fields)
        messages.success(request, "Details saved.")
    return redirect(_profile_url(contact))


def _claim_note(request, contact: Contact, had_offer: bool) -> str:
    """Working a contact claims the member's Next Up offer (the service does it)."""
    if not had_offer:
        return ""
    mine = contact.roles.filter(kind=RoleKind.AGENT, membership=request.membership).exists()
    return " You claimed the contact: it is yours now." if mine else ""


def _work_contact(request, contact: Contact, work) -> HttpResponse:
    """Run `work` (a service call that counts as contacting; it returns the success
    text) and say whether it claimed the member's Next Up offer on the way."""
    had_offer = open_offer_for(contact=contact, membership=request.membership)
    with _refusals_as_messages(request):
        done = work()
        messages.success(request, f"{done}{_claim_note(request, contact, bool(had_offer))}")
    return redirect(_profile_url(contact))


@require_POST
@member_required
def activity_add(request, pk: int):
    contact = selectors.contact_for_member(request.membership, pk)
    form = ActivityForm(request.POST)
    if not form.is_valid():
        return _profile(request, contact, activity_form=form, status=422)

    def work():
        activity = activity_log(contact=contact, membership=request.membership, **form.cleaned_data)
        return f"{activity.get_kind_display()} logged."

    return _work_contact(request, contact, work)


@require_POST
@member_required
def segment_set(request, pk: int):
    contact = selectors.contact_for_member(request.membership, pk)
    form = SegmentForm(request.POST)
    if not form.is_valid():
        return _profile(request, contact, segment_form=form, status=422)
    segment = form.cleaned_data["segment"]

    def work():
        contact_set_segment(contact=contact, membership=request.membership, segment=segment)
        return "Segment saved."

    return _work_contact(request, contact, work)


@require_POST
@member_required
def tags_set(request, pk: int):
    contact = selectors.contact_for_member(request.membership, pk)
    form = TagsForm(request.POST)
    if not form.is_valid():
        return _profile(request, contact, tags_form=form, status=422)

    def work():
        contact_set_tags(contact=contact, membership=request.membership, names=form.names())
        return "Tags saved."

    return _work_contact(request, contact, work)


@require_POST
@member_required
def role_add(request, pk: int):
    contact = selectors.contact_for_member(request.membership, pk)
    selectors.require_work(request.membership, contact)
    members = selectors.team_members(membership=request.membership)
    form = RoleAddForm(request.POST, members=members)
    if not form.is_valid():
        return _profile(request, contact, role_form=form, role_open=True, status=422)
    member = next(m for m in members if m.pk == form.cleaned_data["membership"])
    with _refusals_as_messages(request):
        role = contact_role_add(
            contact=contact,
            membership=member,
            kind=form.cleaned_data["kind"],
            custom_name=form.cleaned_data["custom_name"].strip(),
            actor=request.membership,
        )
        messages.success(request, f"{member.display_name} added as {role.label}.")
    return redirect(_profile_url(contact))


@require_POST
@member_required
def role_remove(request, pk: int, role_id: int):
    contact = selectors.contact_for_member(request.membership, pk)
    selectors.require_work(request.membership, contact)
    role = get_object_or_404(
        ContactRole.objects.select_related("membership__user", "contact"),
        pk=role_id,
        contact=contact,
    )
    with _refusals_as_messages(request):
        contact_role_remove(role=role, actor=request.membership)
        messages.success(request, f"{role.membership.display_name} removed as {role.label}.")
    return redirect(_profile_url(contact))


# --- the primary Agent role: reassign and assign directly -------------------------


@require_safe
@member_required
def reassign(request, pk: int):
    """Choose a reassignment group, then "Are you sure?" (both are GET: nothing changes yet)."""
    contact = selectors.contact_for_member(request.membership, pk)
    require_perm(request.membership, perms.TRIGGER_REASSIGNMENT)
    groups = groups_available_to(membership=request.membership)
    form = GroupChoiceForm(request.GET if "group" in request.GET else None, groups=groups)
    step = "confirm" if form.is_bound and form.is_valid() else "choose"
    return _profile(
        request,
        contact,
        reassign_form=form,
        reassign_step=step,
        reassign_groups=list(groups) if step == "choose" else [],
    )


@require_POST
@member_required
def reassign_start(request, pk: int):
    """YES on the confirmation: the primary Agent role goes to the chosen group."""
    contact = selectors.contact_for_member(request.membership, pk)
    require_perm(request.membership, perms.TRIGGER_REASSIGNMENT)
    form = GroupChoiceForm(request.POST, groups=groups_available_to(membership=request.membership))
    if not form.is_valid() or request.POST.get("confirm") != "yes":
        messages.error(request, "Choose a reassignment group and confirm with YES.")
        return redirect(reverse("contact_pages:reassign", args=[contact.pk]))
    group = form.cleaned_data["group"]
    with _refusals_as_messages(request):
        outcome = reassignment_start(
            actor=request.membership,
            contact=contact,
            group=group,
            expected_agent_id=form.cleaned_data["expected_agent"],
        )
        messages.success(request, REASSIGN_OUTCOMES[outcome].format(group=group.name))
    return redirect(_profile_url(contact))


@require_POST
@member_required
def assign_directly(request, pk: int):
    """An admin with "Manage Lead Distribution" makes a member the primary Agent."""
    contact = selectors.contact_for_member(request.membership, pk)
    require_perm(request.membership, perms.MANAGE_LEAD_DISTRIBUTION)
    members = selectors.team_members(membership=request.membership)
    form = AssignDirectlyForm(request.POST, members=members)
    if not form.is_valid():
        return _profile(request, contact, assign_form=form, status=422)
    member = next(m for m in members if m.pk == form.cleaned_data["membership"])
    with _refusals_as_messages(request):
        contact_assign_directly(
            actor=request.membership,
            contact=contact,
            membership=member,
            expected_agent_id=form.cleaned_data["expected_agent"],
        )
        messages.success(request, f"{member.display_name} is now the primary Agent.")
    return redirect(_profile_url(contact))


# --- buckets: the profile's card and the list's "Add to bucket" ---------------------


def _placed_text(placed: int, asked: int, bucket_name: str) -> str:
    there = asked - placed
    text = f"{placed} contact{'' if placed == 1 else 's'} placed in “{bucket_name}”."
    return text + (f" {there} {'was' if there == 1 else 'were'} in it already." if there else "")


@require_POST
@member_required
def bucket_add(request, pk: int):
    """Place the contact in a bucket the member sees (by hand)."""
    contact = selectors.contact_for_member(request.membership, pk)
    form = BucketChoiceForm(request.POST, buckets=buckets_visible_to(request.membership))
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect(_profile_url(contact) + "#buckets")
    bucket = form.cleaned_data["bucket"]
    placed = contacts_place(
        bucket=bucket, contacts=[contact], via=BucketVia.HAND, actor=request.membership
    )
    messages.success(request, _placed_text(len(placed), 1, bucket.name))
    return redirect(_profile_url(contact) + "#buckets")


@require_POST
@member_required
def bucket_remove(request, pk: int, bucket_id: int):
    contact = selectors.contact_for_member(request.membership, pk)
    bucket = bucket_for_member(request.membership, bucket_id)
    contacts_unplace(bucket=bucket, contacts=[contact], actor=request.membership)
    messages.success(request, f"Taken out of “{bucket.name}”.")
    return redirect(_profile_url(contact) + "#buckets")


@require_POST
@member_required
def bulk_bucket(request):
    """Selected contacts of the list → a bucket the member sees."""
    membership = request.membership
    form = BulkBucketForm(
        request.POST,
        contacts=selectors.contacts_visible_to(membership),
        buckets=buckets_visible_to(membership),
    )
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect("contact_pages:list")
    contacts, bucket = list(form.cleaned_data["contacts"]), form.cleaned_data["bucket"]
    placed = contacts_place(bucket=bucket, contacts=contacts, via=BucketVia.HAND, actor=membership)
    messages.success(request, _placed_text(len(placed), len(contacts), bucket.name))
    return redirect("contact_pages:list")
