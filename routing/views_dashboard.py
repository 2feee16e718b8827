"""Lead routing dashboard (permission "Manage Lead Distribution").

Admins see which contacts were routed, through which rule (pool), to whom and
when, and when they were last contacted; which are held waiting for someone to
become available, and which wait in a Manual lead pool for an admin; filter by rule
and assignment; assign, reassign and remove leads.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST

from contacts.models import Contact
from routing.forms_contacts import ExpectedAgentMixin
from routing.manual import contact_assign_directly, failed_retry, lead_remove
from routing.selectors_pages import (
    ASSIGNED,
    FAILED,
    HELD,
    UNASSIGNED,
    WAITING,
    attention_counts,
    dashboard_contact,
    dashboard_contacts,
    dashboard_page,
    members_in_scope,
    page_number,
    team_rules,
)
from routing.views_agent import redirect_back
from teams import permissions as perms
from teams.access import member_required
from teams.models import Membership

PER_PAGE = 25


class DashboardFilterForm(forms.Form):
    rule = forms.TypedChoiceField(label="Rule (pool)", required=False, coerce=int, empty_value=None)
    assignment = forms.ChoiceField(label="Assignment", required=False)

    def __init__(self, data, *, membership: Membership, members: list[Membership]):
        super().__init__(data, label_suffix="")
        rules = team_rules(membership=membership)
        self.fields["rule"].choices = [("", "Any rule")] + [(r.pk, r.name) for r in rules]
        self.fields["assignment"].choices = [
            ("", "Everyone"),
            (ASSIGNED, "Assigned"),
            (UNASSIGNED, "Unassigned"),
            (HELD, "Held: waiting for someone available"),
            (WAITING, "Waiting in pool: for an admin to assign"),
            (FAILED, "Routing failed"),
            ("Assigned to", [(str(m.pk), m.display_name) for m in members]),
        ]

    def filters(self) -> dict:
        """Valid filters only: a stale value (a deleted rule) is dropped."""
        self.is_valid()
        return {
            "rule_id": self.cleaned_data.get("rule"),
            "assignment": self.cleaned_data.get("assignment", ""),
        }


class AssignForm(ExpectedAgentMixin):
    membership = forms.ModelChoiceField(label="Agent", queryset=Membership.objects.none())

    def __init__(self, data, *, membership: Membership):
        super().__init__(data, label_suffix="")
        self.fields["membership"].queryset = members_in_scope(membership=membership).filter(
            is_active=True
        )


def _lead_or_404(membership: Membership, contact_id: int) -> Contact:
    contact = dashboard_contact(membership=membership, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact in your team.")
    return contact


def _vary(response):
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_http_methods(["GET", "HEAD"])
@member_required(perm=perms.MANAGE_LEAD_DISTRIBUTION)
def dashboard(request):
    """Routed leads, filtered by rule and assignment, 25 a page."""
    membership = request.membership
    members = list(members_in_scope(membership=membership).filter(is_active=True))
    form = DashboardFilterForm(request.GET, membership=membership, members=members)
    leads = dashboard_contacts(membership=membership, **form.filters())
    counts = attention_counts(membership=membership)
    context = {
        "form": form,
        "members": members,
        "page": dashboard_page(leads, page_number(request.GET.get("page")), PER_PAGE),
        "lead_attention": counts,  # the navigation's count too, without a second query
        **counts,
    }
    template = "routing/dashboard/list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#lead-rows"
    return _vary(render(request, template, context))


def _row_answer(request, membership: Membership, contact: Contact, message: str, level: int):
    """htmx: the lead's row again with the outcome; otherwise back to the dashboard."""
    if request.htmx:
        members = list(members_in_scope(membership=membership).filter(is_active=True))
        context = {
            "contact": contact,
            "members": members,
            "notice": message,
            "notice_ok": level == messages.SUCCESS,
            "next": request.POST.get("next", ""),
        }
        return _vary(render(request, "routing/dashboard/list.html#lead-row", context))
    messages.add_message(request, level, message)
    return redirect_back(request, fallback="routing_pages:dashboard")


@require_POST
@member_required(perm=perms.MANAGE_LEAD_DISTRIBUTION)
def lead_assign(request, contact_id: int):
    """Assign or reassign: the chosen member becomes the primary Agent."""
    membership = request.membership
    contact = _lead_or_404(membership, contact_id)
    form = AssignForm(request.POST, membership=membership)
    if not form.is_valid():
        return _row_answer(request, membership, contact, "Choose an agent.", messages.ERROR)
    agent = form.cleaned_data["membership"]
    try:
        contact_assign_directly(
            actor=membership,
            contact=contact,
            membership=agent,
            expected_agent_id=form.cleaned_data["expected_agent"],
        )
    except ValidationError as exc:
        return _row_answer(request, membership, contact, " ".join(exc.messages), messages.ERROR)
    contact = _lead_or_404(membership, contact_id)
    message = f"{contact.name} is now assigned to {agent.display_name}."
    return _row_answer(request, membership, contact, message, messages.SUCCESS)


@require_POST
@member_required(perm=perms.MANAGE_LEAD_DISTRIBUTION)
def lead_remove_view(request, contact_id: int):
    """Remove the lead: archived, any open offer cancelled, noted on its timeline."""
    membership = request.membership
    contact = _lead_or_404(membership, contact_id)
    lead_remove(actor=membership, contact=contact)
    message = f"{contact.name} was removed from lead routing."
    if request.htmx:
        context = {"contact": contact, "notice": message}
        return _vary(render(request, "routing/dashboard/list.html#removed-row", context))
    messages.success(request, message)
    return redirect_back(request, fallback="routing_pages:dashboard")


@require_POST
@member_required(perm=perms.MANAGE_LEAD_DISTRIBUTION)
def failed_retry_view(request):
    """Retry now: every contact of the team whose routing failed is routed again."""
    membership = request.membership
    retried = failed_retry(actor=membership)
    messages.success(
        request,
        f"Routing {retried} contact{'s' if retried != 1 else ''} again."
        if retried
        else "No failed contact to retry.",
    )
    return redirect_back(request, fallback="routing_pages:dashboard")
