"""Agent pages: My offers (countdowns and Claim), My contacts, availability.

Every page and action belongs to the signed-in member: other members' offers
answer 404, as if they did not exist.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from contacts.forms_buckets import DefaultBucketForm
from contacts.selectors_buckets import default_bucket_of
from routing.offers import offer_claim
from routing.selectors_pages import (
    iso_utc,
    my_contacts_for,
    offer_for_member,
    offers_open_for,
    page_number,
)
from teams.access import member_required
from teams.models import Membership
from teams.services import membership_set_availability

MY_CONTACTS_PER_PAGE = 25


def _vary(response):
    patch_vary_headers(response, ["HX-Request"])
    return response


def redirect_back(request, fallback: str):
    """Redirect to the page the form was posted from (same site only)."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = fallback
    return _vary(redirect(target))


# --- My offers ------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
@member_required
def offers(request):
    """Open offers with live countdowns; htmx re-fetches the list every 20 seconds."""
    membership = request.membership
    now = timezone.now()
    context = {
        "offers": offers_open_for(membership=membership, now=now),
        "now_iso": iso_utc(now),
        **availability_context(membership),
    }
    template = "routing/agent/offers.html"
    if request.htmx and not request.htmx.boosted:
        template += "#offer-list"
    return _vary(render(request, template, context))


@require_POST
@member_required
def offer_claim_view(request, offer_id: int):
    """Claim an offer: the row is swapped with the answer (or a message after a redirect)."""
    membership = request.membership
    offer = offer_for_member(membership=membership, offer_id=offer_id)
    if offer is None:
        raise Http404("No such offer for you.")
    try:
        result = offer_claim(offer_id=offer.pk, membership=membership)
    except PermissionDenied as exc:  # removed from the offer between the lookup and the claim
        raise Http404("No such offer for you.") from exc
    if request.htmx:
        offer.refresh_from_db()
        context = {"offer": offer, "result": result}
        return _vary(render(request, "routing/agent/offers.html#claim-result", context))
    level = messages.SUCCESS if result.claimed else messages.WARNING
    messages.add_message(request, level, f"{offer.contact.name}: {result.message}")
    return _vary(redirect("routing_pages:offers"))


# --- My contacts ----------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
@member_required
def my_contacts(request):
    """Contacts where the member is the primary Agent, open first, with last contacted."""
    membership = request.membership
    page = Paginator(my_contacts_for(membership=membership), MY_CONTACTS_PER_PAGE).get_page(
        page_number(request.GET.get("page"))
    )
    # Where the leads assigned to the member land: changed from here at any time.
    default_form = DefaultBucketForm(member=membership, current=default_bucket_of(membership))
    context = {"page": page, "default_form": default_form, **availability_context(membership)}
    return _vary(render(request, "routing/agent/my_contacts.html", context))


# --- availability -----------------------------------------------------------------------


class PauseForm(forms.Form):
    until = forms.DateField(
        label="Pause until",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Routing gives you contacts again from the start of this day, in your "
        "time zone. Leave it empty to stay paused until you resume.",
    )

    def __init__(self, *args, membership: Membership, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.membership = membership
        try:
            self.tz = ZoneInfo(membership.time_zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self.tz = ZoneInfo("UTC")
        self.fields["until"].widget.attrs["min"] = self.today().isoformat()

    def today(self):
        return timezone.now().astimezone(self.tz).date()

    def clean_until(self):
        day = self.cleaned_data["until"]
        if day is not None and day <= self.today():
            raise forms.ValidationError("Choose a day after today.")
        return day

    def paused_until(self) -> datetime | None:
        day = self.cleaned_data["until"]
        return datetime.combine(day, time.min, tzinfo=self.tz) if day else None


def availability_context(membership: Membership, pause_form: PauseForm | None = None) -> dict:
    return {
        "is_paused": membership.is_paused_at(timezone.now()),
        "pause_form": pause_form or PauseForm(membership=membership),
    }


def _availability_answer(request, membership: Membership, pause_form=None):
    """htmx: the panel again; otherwise back to the page the member was on."""
    if request.htmx:
        context = {**availability_context(membership, pause_form), "next": request.POST.get("next")}
        return _vary(render(request, "routing/agent/availability.html", context))
    if pause_form is not None:
        for error in pause_form.errors.get("until", []):
            messages.error(request, error)
    return redirect_back(request, fallback="routing_pages:offers")


@require_POST
@member_required
def availability_online(request):
    """Go online (online=1) or offline (online=0)."""
    membership = request.membership
    is_online = request.POST.get("online") == "1"
    membership_set_availability(membership=membership, is_online=is_online)
    if not request.htmx:
        messages.success(request, "You are online." if is_online else "You are offline.")
    return _availability_answer(request, membership)


@require_POST
@member_required
def availability_pause(request):
    """Pause (optionally until a day: vacation) with paused=1, resume with paused=0."""
    membership = request.membership
    if request.POST.get("paused") != "1":
        membership_set_availability(membership=membership, paused=False)
        if not request.htmx:
            messages.success(request, "Welcome back: routing gives you contacts again.")
        return _availability_answer(request, membership)
    form = PauseForm(request.POST, membership=membership)
    if not form.is_valid():
        return _availability_answer(request, membership, pause_form=form)
    membership_set_availability(
        membership=membership, paused=True, paused_until=form.paused_until()
    )
    if not request.htmx:
        messages.success(request, "Paused: routing skips you until you are back.")
    return _availability_answer(request, membership)
