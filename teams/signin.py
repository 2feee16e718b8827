"""Sign-in throttling with django-axes: a lock per username and address, and one per address.

axes records every failed sign-in (the login page's and the Django admin's) as an
AccessAttempt row per username, address and browser, in the database, so all web
processes share the counts. Two counts decide, over the failures of the last
AXES_COOLOFF_TIME:

- one username from one address: locked at AXES_FAILURE_LIMIT. Other addresses can still
  sign in as that user, so nobody can lock a colleague out from afar;
- every username from one address: locked at SIGNIN_FAILURE_LIMIT_PER_IP (higher), so a
  guesser cannot try a few passwords on each of many usernames.

A refused attempt is a failure too (axes moves the row's time on), so a lock lasts the
cool-off from the last attempt. Deleting the rows unlocks: the admin's Unlock action,
`manage.py axes_reset_username`, or a new password set through a reset link.
"""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db.models import Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

# Set on the request by the handler when the address, not the username, is over its limit.
LOCKED_BY_ADDRESS = "signin_locked_by_address"


class SigninHandler(AxesDatabaseHandler):
    """axes' database handler, with the per-address limit of its own."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        """The failures that count against AXES_FAILURE_LIMIT: this username's from this
        address, or the limit itself once the address is over its own limit (every
        username from it is locked then). axes only compares this with the limit."""
        username = get_client_username(request, credentials)
        totals = AccessAttempt.objects.filter(
            ip_address=request.axes_ip_address,
            attempt_time__gte=get_cool_off_threshold(request),
        ).aggregate(
            address=Sum("failures_since_start"),
            account=Sum("failures_since_start", filter=Q(username=username)),
        )
        account = totals["account"] or 0
        limit = get_failure_limit(request, credentials)
        by_address = (totals["address"] or 0) >= settings.SIGNIN_FAILURE_LIMIT_PER_IP
        setattr(request, LOCKED_BY_ADDRESS, by_address)
        return max(account, limit) if by_address else account


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """The page a refused sign-in gets (axes' middleware swaps it in): 429, how long, and
    how to get back in."""
    cool_off = get_cool_off(request)
    minutes = round(cool_off.total_seconds() / 60)
    response = render(
        request,
        "registration/locked_out.html",
        {"minutes": minutes, "by_address": getattr(request, LOCKED_BY_ADDRESS, False)},
        status=429,
    )
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's page for a new password from a reset link, which also lifts the lock on
    the username: whoever can read the account's mail could sign in with the new
    password anyway. A lock on the address stays."""

    def form_valid(self, form):
        response = super().form_valid(form)
        AxesProxyHandler.reset_attempts(username=form.user.get_username())
        return response
