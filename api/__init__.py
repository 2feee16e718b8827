"""The JSON API (django-ninja), mounted at /api/: OpenAPI docs at /api/docs."""

from __future__ import annotations

from django.http import Http404
from django.views.decorators.http import require_safe
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from api import contacts, listings, webhooks
from api.auth import ip_limit_refusal
from api.errors import ApiError, error_response, ninja_errors, record_rejection, unhandled_error

api = NinjaAPI(
    title="Switchboard API",
    version="1",
    description=(
        "Lead intake and contact reads for one team. Authenticate with "
        "`Authorization: Bearer <token>`; tokens are created on the team's API tokens page "
        "or with `manage.py create_api_token`. Errors answer "
        '`{"detail": …, "errors": [{"field": …, "message": …}]}`.'
    ),
    urls_namespace="api",
    docs_url="/docs",
    # The docs and the schema are read-only pages: any other method is a 405.
    docs_decorator=require_safe,
)
api.add_router("/v1/contacts", contacts.router)
api.add_router("/v1/webhooks", webhooks.router)
api.add_router("/v1/listings", listings.router)


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    refusal = ip_limit_refusal(request)
    if refusal is not None:
        exc = refusal  # a flood: answered 429 and not stored
    record_rejection(request, exc)
    return error_response(exc.status, exc.detail, exc.errors, exc.headers)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    error = ApiError(401, "Missing, unknown or revoked API token.")
    error.headers["WWW-Authenticate"] = "Bearer"
    return _api_error(request, error)


@api.exception_handler(NinjaValidationError)
def _invalid(request, exc: NinjaValidationError):
    return _api_error(
        request, ApiError(400, "The request is not valid.", errors=ninja_errors(exc.errors))
    )


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _api_error(request, ApiError(404, "Not found.", record=False))


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    # ninja's own refusals (an unparsable body, a throttle), in the API's shape.
    return _api_error(request, ApiError(exc.status_code, str(exc), record=False))


# Replaces ninja's default, which re-raises (Django's HTML 500 page) or, with DEBUG on,
# answers the traceback as plain text.
api.add_exception_handler(Exception, unhandled_error)
