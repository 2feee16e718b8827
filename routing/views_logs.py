"""Routing logs (permission "View Routing Logs"): why each contact went where it went.

Find a contact by name, email or phone and read its log in time order, or
browse the team's log filtered by rule, agent, outcome and period.
"""

from __future__ import annotations

from django import forms
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods

from routing.models import LogEvent
from routing.selectors_pages import (
    contact_for_logs,
    contact_log,
    contacts_search,
    page_number,
    page_slice,
    routing_logs_filtered,
    team_members,
    team_rules,
)
from teams import permissions as perms
from teams.access import member_required
from teams.models import Membership

LOGS_PER_PAGE = 50
PERIODS = [("7", "Last 7 days"), ("30", "Last 30 days"), ("all", "Any time")]


class LogFilterForm(forms.Form):
    q = forms.CharField(label="Contact name, email or phone", required=False, max_length=100)
    rule = forms.TypedChoiceField(label="Rule", required=False, coerce=int, empty_value=None)
    agent = forms.TypedChoiceField(label="Agent", required=False, coerce=int, empty_value=None)
    outcome = forms.ChoiceField(
        label="Outcome", required=False, choices=[("", "Any outcome"), *LogEvent.choices]
    )
    days = forms.ChoiceField(label="Period", required=False, choices=PERIODS, initial="7")

    def __init__(self, data, *, membership: Membership):
        super().__init__(data, label_suffix="")
        rules = team_rules(membership=membership)
        self.fields["rule"].choices = [("", "Any rule")] + [(r.pk, r.name) for r in rules]
        members = team_members(membership=membership)
        self.fields["agent"].choices = [("", "Any agent")] + [
            (m.pk, m.display_name) for m in members
        ]

    def filters(self) -> dict:
        """The valid filters; a stale or tampered value is dropped, not an error page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        days = data.get("days") or "7"
        return {
            "rule_id": data.get("rule"),
            "member_id": data.get("agent"),
            "event": data.get("outcome", ""),
            "days": None if days == "all" else int(days),
        }


def _vary(response):
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_http_methods(["GET", "HEAD"])
@member_required(perm=perms.VIEW_ROUTING_LOGS)
def logs(request):
    """Contact search on top; the team's log below, filtered and paginated without a count."""
    membership = request.membership
    form = LogFilterForm(request.GET, membership=membership)
    filters = form.filters()
    rows = routing_logs_filtered(membership=membership, now=timezone.now(), **filters)
    q = form.cleaned_data.get("q", "").strip()
    context = {
        "form": form,
        "page": page_slice(rows, page_number(request.GET.get("page")), LOGS_PER_PAGE),
        "q": q,
        "results": contacts_search(membership=membership, q=q) if q else None,
    }
    template = "routing/logs/list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#log-rows"
    return _vary(render(request, template, context))


@require_http_methods(["GET", "HEAD"])
@member_required(perm=perms.VIEW_ROUTING_LOGS)
def logs_search(request):
    """Search as you type (htmx): the matching contacts only."""
    membership = request.membership
    q = request.GET.get("q", "").strip()[:100]
    if not request.htmx:
        return _vary(redirect(f"{reverse('routing_pages:logs')}?{urlencode({'q': q})}"))
    context = {"q": q, "results": contacts_search(membership=membership, q=q) if q else None}
    return _vary(render(request, "routing/logs/list.html#search-results", context))


@require_http_methods(["GET", "HEAD"])
@member_required(perm=perms.VIEW_ROUTING_LOGS)
def log_contact(request, contact_id: int):
    """One contact's log in time order: each rule's Y/N and why, skips, offers, the assignee."""
    membership = request.membership
    contact = contact_for_logs(membership=membership, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact in your team.")
    context = {
        "contact": contact,
        "agent_role": contact.agent_roles[0] if contact.agent_roles else None,
        "entries": contact_log(membership=membership, contact=contact),
        "back": request.GET.get("q", "")[:100],
    }
    return render(request, "routing/logs/contact.html", context)
