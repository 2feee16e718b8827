"""Who may call: per-team bearer tokens, and rate limits per token, source and client IP
(unknown tokens too)."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from ninja.security import HttpBearer

from api.errors import ApiError, too_many_requests
from contacts.ratelimit import (
    client_ip,
    ratelimit_count,
    ratelimit_hit,
    ratelimit_hits,
    ratelimit_retry_after,
)
from teams.models import ApiToken
from teams.tokens import api_token_find, api_token_touch

RECENT_FAILURES = "recent_bad_tokens"


class ApiTokenAuth(HttpBearer):
    """`Authorization: Bearer sb_…`: a token created on the team's API tokens page.

    Unknown, revoked or malformed tokens are counted per client IP. Once an address has
    sent API_TOKEN_FAILURE_LIMIT_PER_IP of them in a window, every request from it is
    answered 429 until the window ends, a valid token's too: a guesser learns nothing
    more. The address's count is read within the token lookup (a subquery, or the cache
    with Redis), so a request with a good token costs no statement more."""

    def authenticate(self, request, token: str) -> ApiToken | None:
        limit = settings.API_TOKEN_FAILURE_LIMIT_PER_IP
        if limit <= 0:
            found = api_token_find(plain=token)
        else:
            failures = ratelimit_count(bucket=_failures_bucket(request), window_seconds=_window())
            found = api_token_find(plain=token, annotations={RECENT_FAILURES: failures})
            if found is not None and getattr(found, RECENT_FAILURES) >= limit:
                raise _too_many_bad_tokens(limit, ratelimit_retry_after(window_seconds=_window()))
        if found is None:
            _count_bad_token(request, limit)
            return None
        api_token_touch(token=found)
        return found


def _window() -> int:
    return settings.API_TOKEN_FAILURE_WINDOW_SECONDS


def _failures_bucket(request) -> str:
    return f"bad-token:ip:{client_ip(request)}"


def _count_bad_token(request, limit: int) -> None:
    verdict = ratelimit_hit(bucket=_failures_bucket(request), limit=limit, window_seconds=_window())
    if not verdict.allowed:
        raise _too_many_bad_tokens(limit, verdict.retry_after)


def _too_many_bad_tokens(limit: int, retry_after: int) -> ApiError:
    return ApiError(
        429,
        f"Too many unknown or revoked API tokens from this address ({limit} a window): "
        f"every request from it is refused for {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
        record=False,  # a flood of guesses would fill the rejected payloads
    )


token_auth = ApiTokenAuth()


INTAKE_LIMITS_PENDING = "_intake_limits_pending"


def intake_limited(run):
    """An intake operation: its rate limits are counted once, in one statement (or none,
    with Redis), by `limit_caller` as soon as the caller is known. A request turned away
    before that (unknown token, wrong signature, too large…) counts its client IP alone
    on its way out (`ip_limit_refusal`): over the limit it gets a 429 and is not stored,
    so a flood of bad requests never fills the rejected payloads."""

    @wraps(run)
    def wrapped(request, *args, **kwargs):
        setattr(request, INTAKE_LIMITS_PENDING, True)
        return run(request, *args, **kwargs)

    return wrapped


def limit_caller(request, bucket: str, per_window: int, what: str) -> None:
    """Count the request against its client IP and its caller (`bucket`), or raise 429."""
    setattr(request, INTAKE_LIMITS_PENDING, False)
    by_ip, by_caller = ratelimit_hits(
        limits=[
            (f"ip:{client_ip(request)}", settings.INTAKE_RATE_LIMIT_PER_IP),
            (bucket, per_window),
        ],
        window_seconds=settings.INTAKE_RATE_LIMIT_WINDOW_SECONDS,
    )
    if not by_ip.allowed:
        raise too_many_requests(by_ip, "address")
    if not by_caller.allowed:
        raise too_many_requests(by_caller, what)


def ip_limit_refusal(request) -> ApiError | None:
    """An intake request turned away before `limit_caller`: count its IP now, and say
    whether it is over the limit (then it is answered 429 instead, and not stored)."""
    if not getattr(request, INTAKE_LIMITS_PENDING, False):
        return None
    setattr(request, INTAKE_LIMITS_PENDING, False)
    (verdict,) = ratelimit_hits(
        limits=[(f"ip:{client_ip(request)}", settings.INTAKE_RATE_LIMIT_PER_IP)],
        window_seconds=settings.INTAKE_RATE_LIMIT_WINDOW_SECONDS,
    )
    return None if verdict.allowed else too_many_requests(verdict, "address")


def require_access(token: ApiToken, *, create: bool = False, read: bool = False) -> None:
    if create and not token.can_create:
        raise ApiError(403, "This token may not create contacts: it is read-only.", team=token.team)
    if read and not token.can_read:
        raise ApiError(
            403, "This token may not read contacts: it only creates them.", team=token.team
        )
