"""Listings pages (the list, one listing, CSV import, the alert wording) for members who
manage the team or lead distribution, and the saved-searches card of a contact's
profile (loaded by htmx from the profile, which routing serves)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST, require_safe

from contacts.forms import ImportUploadForm
from contacts.models import RoleKind
from contacts.selectors import contact_for_member, may_work
from listings import selectors, services
from listings.alert_text import DEFAULT_BODY, DEFAULT_SUBJECT, SAMPLE_VALUES
from listings.forms import SEARCH_FIELDS, AlertTemplateForm, ContactSearchForm
from listings.intake import csv_intake
from listings.models import ListingStatus
from notifications.content import CONTACT_PLACEHOLDERS
from teams import permissions as perms
from teams.access import member_required

MANAGERS = (perms.MANAGE_TEAM, perms.MANAGE_LEAD_DISTRIBUTION)
PER_PAGE = 50
SHOWN_PROBLEMS = 200


def _partial_or_page(request, template: str, partial: str, context: dict, status: int = 200):
    """The named partial for a real htmx request, the whole page otherwise (a history
    restore included); either way the answer varies on HX-Request."""
    if request.htmx and not request.htmx.history_restore_request:
        template = f"{template}#{partial}"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- the listings page ------------------------------------------------------------------


def _list_context(request, **extra) -> dict:
    search, status = request.GET.get("q", "").strip(), request.GET.get("status", "")
    if status not in ListingStatus.values:
        status = ""
    listings = selectors.listing_list(membership=request.membership, search=search, status=status)
    return {
        "page": Paginator(listings, PER_PAGE).get_page(request.GET.get("page")),
        "q": search,
        "status": status,
        "statuses": ListingStatus.choices,
        "upload_form": ImportUploadForm(),
        **extra,
    }


@require_safe
@member_required(perm=MANAGERS)
def listing_list(request):
    return _partial_or_page(request, "listings/list.html", "results", _list_context(request))


@require_POST
@member_required(perm=MANAGERS)
def listing_import(request):
    """Upload a CSV: the good rows are stored at once, each bad one is listed."""
    form = ImportUploadForm(request.POST, request.FILES)
    result = csv_file = None
    if form.is_valid():
        try:
            csv_file, result = csv_intake(
                team=request.membership.team, data=form.cleaned_data["file"].read()
            )
        except ValidationError as exc:
            form.add_error("file", exc)
    context = _list_context(request, upload_form=form, csv_file=csv_file, result=result)
    if result is not None:
        context["problems"] = result.problems[:SHOWN_PROBLEMS]
    return render(request, "listings/list.html", context, status=200 if form.is_valid() else 422)


@require_safe
@member_required(perm=MANAGERS)
def listing_detail(request, pk: int):
    listing = selectors.listing_for_member(request.membership, pk)
    context = {
        "listing": listing,
        "price_changes": selectors.listing_price_history(listing=listing)[:50],
        "alerts": selectors.listing_alerts(listing=listing, membership=request.membership)[:50],
    }
    return render(request, "listings/detail.html", context)


# --- the team's alert wording -----------------------------------------------------------


def _template_page(request, form, saved, status=200):
    context = {
        "form": form,
        "saved": saved,
        "placeholders": {**CONTACT_PLACEHOLDERS, **SAMPLE_VALUES},
    }
    return render(request, "listings/alert_template.html", context, status=status)


@require_safe
@member_required(perm=perms.MANAGE_TEAM)
def alert_template_edit(request):
    saved = selectors.alert_template_saved(membership=request.membership)
    subject, body = (saved.subject, saved.body) if saved else (DEFAULT_SUBJECT, DEFAULT_BODY)
    form = AlertTemplateForm(initial={"subject": subject, "body": body})
    return _template_page(request, form, saved)


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def alert_template_save(request):
    form = AlertTemplateForm(request.POST)
    if not form.is_valid():
        saved = selectors.alert_template_saved(membership=request.membership)
        return _template_page(request, form, saved, status=422)
    services.alert_template_save(actor=request.membership, **form.cleaned_data)
    messages.success(request, "Saved your team's property alert wording.")
    return redirect("listings:alert_template")


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def alert_template_reset(request):
    services.alert_template_reset(actor=request.membership)
    messages.success(request, "Property alerts use the default wording again.")
    return redirect("listings:alert_template")


# --- a contact's saved searches ---------------------------------------------------------


def _search_initial(search) -> dict:
    return {name: getattr(search, name) for name in SEARCH_FIELDS}


def _searches(request, contact, *, form=None, editing=None, notice="", status=200):
    """The card (htmx) or its page; a refused form comes back in it with its errors."""
    cards = [
        (
            card,
            form
            if editing == card.search.pk
            else ContactSearchForm(
                prefix=f"s{card.search.pk}", initial=_search_initial(card.search)
            ),
        )
        for card in selectors.contact_search_cards(contact=contact)
    ]
    agent_role = contact.roles.filter(kind=RoleKind.AGENT).first()
    context = {
        "contact": contact,
        "cards": cards,
        "can_work": may_work(request.membership, contact, agent_role),
        "new_form": form
        if form is not None and editing is None
        else ContactSearchForm(prefix="new"),
        "editing": editing,
        "notice": notice,
    }
    if request.htmx:
        status = 200  # htmx swaps only successful answers: the errors show in the card
    return _partial_or_page(request, "listings/contact_searches.html", "card", context, status)


def _done(request, contact, text: str):
    if request.htmx:
        return _searches(request, contact, notice=text)
    messages.success(request, text)
    return redirect(reverse("contact_pages:profile", args=[contact.pk]) + "#listing-searches")


@require_safe
@member_required
def contact_searches(request, contact_pk: int):
    contact = contact_for_member(request.membership, contact_pk)
    return _searches(request, contact)


@require_POST
@member_required
def contact_search_create(request, contact_pk: int):
    contact = contact_for_member(request.membership, contact_pk)
    form = ContactSearchForm(request.POST, prefix="new")
    if not form.is_valid():
        return _searches(request, contact, form=form, status=422)
    search = services.contact_search_create(
        actor=request.membership, contact=contact, **form.values
    )
    return _done(request, contact, f"Saved search “{search.title}” added.")


@require_POST
@member_required
def contact_search_update(request, contact_pk: int, pk: int):
    search = selectors.search_for_member(request.membership, contact_pk, pk)
    form = ContactSearchForm(request.POST, prefix=f"s{search.pk}")
    if not form.is_valid():
        return _searches(request, search.contact, form=form, editing=search.pk, status=422)
    services.contact_search_update(actor=request.membership, search=search, **form.values)
    return _done(request, search.contact, f"Saved search “{search.title}” saved.")


@require_POST
@member_required
def contact_search_delete(request, contact_pk: int, pk: int):
    search = selectors.search_for_member(request.membership, contact_pk, pk)
    title = search.title
    services.contact_search_delete(actor=request.membership, search=search)
    return _done(request, search.contact, f"Saved search “{title}” removed.")
