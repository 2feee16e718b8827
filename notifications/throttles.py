"""Throttles on what anyone can ask of the site without signing in: password reset emails,
and claim links that fail their signature.

Counted in contacts.ratelimit's fixed windows (the database, or Redis with REDIS_URL),
so every web process shares them, per client IP as INTAKE_TRUSTED_PROXIES says.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from contacts.ratelimit import Verdict, client_ip, ratelimit_hit, ratelimit_hits


def password_reset_throttled(view):
    """A reset request over PASSWORD_RESET_RATE_LIMIT_PER_EMAIL for the address asked for,
    or over PASSWORD_RESET_RATE_LIMIT_PER_IP from the client, is answered 429 and sends
    nothing. Every request counts, whether or not an account has the address, and the
    answer is the same either way: it tells nothing about the address."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "POST":
            by_ip, by_email = ratelimit_hits(
                limits=[
                    (f"pwreset:ip:{client_ip(request)}", settings.PASSWORD_RESET_RATE_LIMIT_PER_IP),
                    _email_limit(request.POST.get("email", "")),
                ],
                window_seconds=settings.PASSWORD_RESET_RATE_LIMIT_WINDOW_SECONDS,
            )
            refused = next((v for v in (by_ip, by_email) if not v.allowed), None)
            if refused is not None:
                response = render(
                    request,
                    "registration/password_reset_throttled.html",
                    {"minutes": retry_minutes(refused)},
                    status=429,
                )
                response["Retry-After"] = str(refused.retry_after)
                return response
        return view(request, *args, **kwargs)

    return wrapper


def _email_limit(email: str) -> tuple[str, int]:
    # Folded as Django's reset form matches addresses, so case and Unicode variants of one
    # address share a count; hashed, so the counter table holds no addresses.
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    if not folded:
        return ("pwreset:email:", 0)  # nothing asked for: only the IP counts
    digest = hashlib.sha256(folded.encode()).hexdigest()
    return (f"pwreset:email:{digest}", settings.PASSWORD_RESET_RATE_LIMIT_PER_EMAIL)


def bad_claim_link_refusal(request: HttpRequest) -> Verdict | None:
    """Count a claim link that failed its signature against the client's address; the
    verdict when the address is now over CLAIM_LINK_FAILURE_LIMIT_PER_IP, else None."""
    verdict = ratelimit_hit(
        bucket=f"bad-claim:ip:{client_ip(request)}",
        limit=settings.CLAIM_LINK_FAILURE_LIMIT_PER_IP,
        window_seconds=settings.CLAIM_LINK_FAILURE_WINDOW_SECONDS,
    )
    return None if verdict.allowed else verdict


def retry_minutes(verdict: Verdict) -> int:
    """The wait a refusal's page states, in whole minutes (rounded up)."""
    return max(1, math.ceil(verdict.retry_after / 60))
