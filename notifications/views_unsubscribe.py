"""The contact's way out: the unsubscribe link in every contact-facing email, and STOP
for texts (the SMS provider's inbound webhook).

The link's GET only asks (mail scanners fetch every link); the POST unsubscribes, from
the page's button or the mail client's one-click request, logged out, without a CSRF
token (RFC 8058 clients send none; the signed token is what authorises it).
"""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from contacts.models import Contact
from notifications.optout import contact_unsubscribe, texts_stop_or_start
from notifications.unsubscribe import UnsubscribeLinkInvalid, unsubscribe_token_read

TEMPLATE = "notifications/unsubscribe.html"


def _private(response: HttpResponse) -> HttpResponse:
    response["Referrer-Policy"] = "strict-origin"
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response._has_been_logged = True  # no log line carrying the token
    return response


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token: str):
    try:
        contact = Contact.objects.select_related("team").get(pk=unsubscribe_token_read(token))
    except (UnsubscribeLinkInvalid, Contact.DoesNotExist):
        return _private(render(request, TEMPLATE, {"state": "invalid"}, status=404))
    if request.method != "POST":
        state = "done_before" if contact.unsubscribed_at else "ask"
        return _private(render(request, TEMPLATE, {"state": state, "contact": contact}))
    changed = contact_unsubscribe(contact=contact)
    state = "done" if changed else "done_before"
    return _private(render(request, TEMPLATE, {"state": state, "contact": contact}))


@csrf_exempt
@require_POST
def sms_inbound(request):
    """The SMS provider tells us a contact texted us: STOP (and its synonyms) stops texts
    to every contact with that number, START resumes them. Bearer SMS_INBOUND_TOKEN."""
    expected = f"Bearer {settings.SMS_INBOUND_TOKEN}"
    given = request.headers.get("Authorization", "")
    if not settings.SMS_INBOUND_TOKEN or not hmac.compare_digest(given, expected):
        return JsonResponse({"detail": "Unauthorized."}, status=401)
    try:
        data = json.loads(request.body or b"{}")
        phone, text = str(data["from"]), str(data.get("text", ""))
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"detail": 'Expected JSON {"from": "+1…", "text": "…"}.'}, status=400)
    outcome, count = texts_stop_or_start(phone=phone, text=text)
    return JsonResponse({"outcome": outcome, "contacts": count})
