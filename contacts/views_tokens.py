"""The team's way in for leads: API tokens (create, shown once; list; revoke) and lead
source webhooks. Members with Manage Team only."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from contacts.models import LeadSource
from teams import permissions as perms
from teams.models import ApiToken, ApiTokenAccess, Membership
from teams.templatetags.team_perms import member_can
from teams.tokens import api_token_create as token_create
from teams.tokens import api_token_revoke as token_revoke

# The plain token waits here (server-side session) for the one page view that shows it.
SESSION_KEY = "api_token_created"


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="Where it is used, e.g. “Website form”.")
    access = forms.ChoiceField(choices=ApiTokenAccess.choices, initial=ApiTokenAccess.FULL)


def _manager(request) -> Membership:
    membership = request.membership
    if membership is None:
        raise Http404("You are not a member of a team.")
    if not member_can(membership, perms.MANAGE_TEAM):
        raise PermissionDenied("You need the Manage Team permission.")
    return membership


def _page(request, membership: Membership, form: ApiTokenForm):
    context = {
        "form": form,
        "tokens": ApiToken.objects.filter(team=membership.team).select_related("created_by__user"),
        "created": request.session.pop(SESSION_KEY, None),
        "sources": LeadSource.objects.filter(team=membership.team),
    }
    return render(request, "contacts/api_tokens.html", context)


@login_required
@require_GET
def api_tokens(request):
    return _page(request, _manager(request), ApiTokenForm())


@login_required
@require_POST
def api_token_create(request):
    membership = _manager(request)
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        try:
            token, plain = token_create(actor=membership, team=membership.team, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            request.session[SESSION_KEY] = {"name": token.name, "token": plain}
            return redirect("api_tokens")
    return _page(request, membership, form)


@login_required
@require_POST
def api_token_revoke(request, pk: int):
    membership = _manager(request)
    token = get_object_or_404(ApiToken, pk=pk, team=membership.team)
    if token_revoke(actor=membership, token=token):
        messages.success(request, f"Revoked “{token.name}”: it no longer opens the API.")
    return redirect("api_tokens")
