"""Who may call: per-team bearer tokens, and rate limits per token, source and client IP."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from ninja.security import HttpBearer

from api.errors import ApiError, error_response, too_many_requests
from contacts.ratelimit import client_ip, ratelimit_hit
from teams.models import ApiToken
from teams.tokens import api_token_authenticate


class ApiTokenAuth(HttpBearer):
    """`Authorization: Bearer sb_…`: a token created on the team's API tokens page."""

    def authenticate(self, request, token: str) -> ApiToken | None:
        return api_token_authenticate(plain=token)


token_auth = ApiTokenAuth()


def limit(bucket: str, per_window: int, what: str) -> None:
    verdict = ratelimit_hit(
        bucket=bucket,
        limit=per_window,
        window_seconds=settings.INTAKE_RATE_LIMIT_WINDOW_SECONDS,
    )
    if not verdict.allowed:
        raise too_many_requests(verdict, what)


def limit_token(token: ApiToken) -> None:
    limit(f"token:{token.pk}", settings.INTAKE_RATE_LIMIT_PER_TOKEN, "token")


def limited_by_ip(run):
    """Counts the client's IP before anything else runs, authentication included:
    a flood of bad tokens is stopped here, before it costs a lookup or a stored rejection."""

    @wraps(run)
    def wrapped(request, *args, **kwargs):
        try:
            limit(f"ip:{client_ip(request)}", settings.INTAKE_RATE_LIMIT_PER_IP, "address")
        except ApiError as exc:
            return error_response(exc.status, exc.detail, headers=exc.headers)
        return run(request, *args, **kwargs)

    return wrapped


def require_access(token: ApiToken, *, create: bool = False, read: bool = False) -> None:
    if create and not token.can_create:
        raise ApiError(403, "This token may not create contacts: it is read-only.", team=token.team)
    if read and not token.can_read:
        raise ApiError(
            403, "This token may not read contacts: it only creates them.", team=token.team
        )
