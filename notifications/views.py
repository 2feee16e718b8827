"""Claim pages, the notification bell, web push subscriptions and the service worker.

Claim links are opened by mail scanners before the human: GET and HEAD only
ever show a page; the claim itself is a POST by the logged-in recipient.
"""

from __future__ import annotations

import json
from functools import lru_cache, wraps
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from notifications import selectors, services
from notifications.throttles import bad_claim_link_refusal, retry_minutes
from notifications.tokens import ClaimLinkExpired, ClaimLinkInvalid, claim_token_read
from routing.models import OfferStatus
from routing.offers import offer_claim
from teams.access import member_required

# --- claim pages -------------------------------------------------------------------


def claim_page(view):
    """No caching, no Referer carrying the token onwards, and no log line with the path.

    The CSRF check runs inside the wrapper (the middleware is told to skip the
    view), so its 403 page gets these headers too.
    """
    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = protected(request, *args, **kwargs)
        # Not "no-referrer": under it browsers send `Origin: null` with the Claim POST
        # and Django's CSRF check refuses every real click (and, on HTTPS, the missing
        # Referer too). "strict-origin" sends only the origin, so the token in the path
        # never leaves in a Referer, to us or to anyone.
        response["Referrer-Policy"] = "strict-origin"
        response["Cache-Control"] = "no-store"
        response["X-Robots-Tag"] = "noindex, nofollow"
        # The page already told the human what went wrong; Django would otherwise
        # log "Bad Request: /claim/<token>/" for every 4xx answer.
        response._has_been_logged = True
        return response

    return wrapper


def _claim_render(request, state: str, *, status: int = 200, **context):
    return render(request, "notifications/claim.html", {"state": state, **context}, status=status)


def _offer_state(offer, now) -> str:
    if offer.status == OfferStatus.OPEN and offer.deadline > now:
        return "open"
    return "claimed" if offer.status == OfferStatus.CLAIMED else "moved_on"


def _claim_answer(request, *, offer, recipient, post_url: str):
    """What GET shows and what POST does, shared by the email link and the in-app page."""
    if request.method != "POST":
        state = _offer_state(offer, timezone.now())
        statuses = {"open": 200, "claimed": 409, "moved_on": 410}
        return _claim_render(
            request,
            state,
            status=statuses[state],
            offer=offer,
            recipient=recipient,
            post_url=post_url,
            show_contact=request.user.is_authenticated,
        )
    try:
        result = offer_claim(offer_id=offer.pk, membership=recipient)
    except PermissionDenied:
        return _claim_render(request, "wrong_recipient", status=403)
    offer.refresh_from_db()
    if result.claimed:
        return _claim_render(request, "won", offer=offer, message=result.message, show_contact=True)
    state = "claimed" if offer.status == OfferStatus.CLAIMED else "moved_on"
    return _claim_render(
        request,
        state,
        status=409 if state == "claimed" else 410,
        offer=offer,
        message=result.message,
        show_contact=True,
    )


@claim_page
@require_http_methods(["GET", "HEAD", "POST"])
def claim(request, token: str):
    """The Claim link of Next Up and Blast Alert emails."""
    try:
        ticket = claim_token_read(token, now=timezone.now())
    except ClaimLinkExpired:
        return _claim_render(request, "expired", status=410)
    except ClaimLinkInvalid:
        refusal = bad_claim_link_refusal(request)
        if refusal is None:
            return _claim_render(request, "invalid", status=400)
        response = _claim_render(request, "too_many", status=429, minutes=retry_minutes(refusal))
        response["Retry-After"] = str(refusal.retry_after)
        return response
    offer = selectors.offer_for_recipient(
        offer_id=ticket.offer_id, membership_id=ticket.membership_id
    )
    recipient = selectors.recipient_membership(membership_id=ticket.membership_id)
    if offer is None or recipient is None or not recipient.is_active:
        return _claim_render(request, "moved_on", status=410)
    if request.method == "POST" and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if request.user.is_authenticated and request.user.pk != recipient.user_id:
        return _claim_render(request, "wrong_recipient", status=403)
    return _claim_answer(request, offer=offer, recipient=recipient, post_url=request.path)


@claim_page
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def offer_claim_in_app(request, offer_id: int):
    """The same page for a member who is already signed in (bell, web push)."""
    membership = request.membership
    offer = membership and selectors.offer_for_recipient(
        offer_id=offer_id, membership_id=membership.pk
    )
    if not offer:
        raise Http404("No such offer for you.")
    return _claim_answer(request, offer=offer, recipient=membership, post_url=request.path)


# --- the bell ------------------------------------------------------------------------


def _bell(request, *, open: bool = False):
    unread, items = selectors.bell_for(membership=request.membership)
    response = render(
        request,
        "notifications/bell.html#panel",
        {"unread": unread, "items": items, "open": open},
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_http_methods(["GET", "HEAD"])
@member_required
def bell(request):
    return _bell(request)


@require_http_methods(["GET", "HEAD"])
@member_required
def index(request):
    membership = request.membership
    items = selectors.inbox_for(membership=membership).select_related("offer")[:100]
    return render(request, "notifications/index.html", {"items": items})


def _after_mutation(request):
    if request.htmx:
        # Keep the panel open under the member's pointer.
        return _bell(request, open=True)
    response = redirect("notifications:index")
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
@member_required
def mark_read(request, pk: int):
    membership = request.membership
    if not services.notification_mark_read(membership=membership, message_id=pk):
        raise Http404("No such notification.")
    return _after_mutation(request)


@require_POST
@member_required
def mark_all_read(request):
    services.notifications_mark_all_read(membership=request.membership)
    return _after_mutation(request)


# --- web push ------------------------------------------------------------------------


@require_POST
@member_required
def push_subscribe(request):
    membership = request.membership
    try:
        data = json.loads(request.body or b"{}")
        keys = data.get("keys") or {}
        services.push_subscription_save(
            membership=membership,
            endpoint=str(data.get("endpoint", "")),
            p256dh=str(keys.get("p256dh", "")),
            auth=str(keys.get("auth", "")),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except (ValueError, AttributeError, ValidationError) as exc:
        return JsonResponse({"ok": False, "error": str(exc)}, status=400)
    return JsonResponse({"ok": True}, status=201)


@require_POST
@member_required
def push_unsubscribe(request):
    membership = request.membership
    try:
        endpoint = str(json.loads(request.body or b"{}").get("endpoint", ""))
    except (ValueError, AttributeError):
        return JsonResponse({"ok": False, "error": "Expected JSON."}, status=400)
    services.push_subscription_delete(membership=membership, endpoint=endpoint)
    return JsonResponse({"ok": True})


@lru_cache(maxsize=1)
def _service_worker_source() -> bytes:
    return (Path(__file__).parent / "static" / "notifications" / "sw.js").read_bytes()


@require_http_methods(["GET", "HEAD"])
def service_worker(request):
    """Served from the site root so it may control every page (scope "/")."""
    response = HttpResponse(_service_worker_source(), content_type="application/javascript")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response
