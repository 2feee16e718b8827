"""The team's way in for leads: API tokens (create, shown once; list; revoke) and lead
source webhooks. Members with Manage Team only."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from contacts.models import LeadSource
from teams import permissions as perms
from teams.access import member_required
from teams.models import ApiToken, ApiTokenAccess, Membership
from teams.tokens import api_token_create as token_create
from teams.tokens import api_token_revoke as token_revoke

# The plain token waits here (server-side session) for the one page view that shows it.
SESSION_KEY = "api_token_created"


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="Where it is used, e.g. “Website form”.")
    access = forms.ChoiceField(choices=ApiTokenAccess.choices, initial=ApiTokenAccess.FULL)


def _page(request, membership: Membership, form: ApiTokenForm):
    context = {
        "form": form,
        "tokens": ApiToken.objects.filter(team=membership.team).select_related("created_by__user"),
        "created": request.session.pop(SESSION_KEY, None),
        "sources": LeadSource.objects.filter(team=membership.team),
        "signature_tolerance": settings.WEBHOOK_TOLERANCE_SECONDS,
    }
    return render(request, "contacts/api_tokens.html", context)


@require_GET
@member_required(perm=perms.MANAGE_TEAM)
def api_tokens(request):
    return _page(request, request.membership, ApiTokenForm())


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def api_token_create(request):
    membership = request.membership
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


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def api_token_revoke(request, pk: int):
    membership = request.membership
    token = get_object_or_404(ApiToken, pk=pk, team=membership.team)
    if token_revoke(actor=membership, token=token):
        messages.success(request, f"Revoked “{token.name}”: it no longer opens the API.")
    return redirect("api_tokens")
