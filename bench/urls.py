"""Bench-only URLs (bench.settings_lean): the product's URLs and a bare JSON endpoint that
stores one row, the yardstick bench/intake_lean.py measures intake against. It is not in
config.urls, so the product never serves it."""

import json

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from contacts.models import Contact

BARE_URL = "/bench/bare"


@csrf_exempt
@require_POST
def bare_insert(request: HttpRequest) -> JsonResponse:
    """Parse a JSON lead, insert it as one Contact row (no signals, so nothing else), answer
    its id: the least a JSON endpoint that stores something can do."""
    data = json.loads(request.body)
    (contact,) = Contact.objects.bulk_create(
        [
            Contact(
                team_id=data["team"],
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                email=data.get("email", ""),
                source=data.get("source", ""),
                city=data.get("city", ""),
            )
        ]
    )
    return JsonResponse({"id": contact.pk}, status=201)


urlpatterns = [
    path(BARE_URL.removeprefix("/"), bare_insert),
    path("", include("config.urls")),
]
