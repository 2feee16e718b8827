"""Every error under /api/ answers JSON, including those answered before or around the
API's own exception handlers: Django's 404 for a path no endpoint has (HTML, or its
debug page with DEBUG on), ninja's plain-text 405, a 500 raised in a middleware."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction
from django.urls import reverse
from django.utils.decorators import sync_and_async_middleware

from api.errors import error_as_json

JSON_CONTENT_TYPES = ("application/json", "application/problem+json")


def _needs_json(request, response) -> bool:
    if response.status_code < 400:
        return False
    content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type in JSON_CONTENT_TYPES:
        return False
    return request.path.startswith(reverse("api:api-root"))


@sync_and_async_middleware
def api_errors_as_json_middleware(get_response):
    if iscoroutinefunction(get_response):

        async def middleware(request):
            response = await get_response(request)
            return error_as_json(request, response) if _needs_json(request, response) else response

    else:

        def middleware(request):
            response = get_response(request)
            return error_as_json(request, response) if _needs_json(request, response) else response

    return middleware
