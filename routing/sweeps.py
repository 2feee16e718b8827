"""The backstop: what the routing sweeper does every few seconds (and django-q2 once a
minute, in case the sweeper is not running).

Lapsed offers are expired (their deadline task may have been lost), contacts left
waiting are routed (their wake-up may have been lost, or their retry is due), and
teams with held contacts are looked at again (working hours begin, pauses end, and
a hold's longest wait runs out with nobody doing anything).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from contacts.models import ContactStatus
from routing.models import ContactRouting, RoutingLog, RoutingStatus
from routing.offers import offers_sweep
from routing.route import team_route

STALE = timedelta(seconds=10)
TEAMS_PER_SWEEP = 200


def waiting_sweep(*, now: datetime | None = None) -> int:
    """Route contacts whose router never came (or whose retry is due). Returns routed."""
    now = now or timezone.now()
    due = (
        ContactRouting.objects.filter(
            Q(status=RoutingStatus.RECEIVED, queued_at__lte=now - STALE)
            | Q(status=RoutingStatus.FAILED),
            next_attempt_at__lte=now,
            attempts__lt=settings.ROUTING_MAX_ATTEMPTS,
        )
        .exclude(contact__status=ContactStatus.ARCHIVED)
        .values_list("team_id", flat=True)
        .distinct()[:TEAMS_PER_SWEEP]
    )
    return sum(team_route(team_id=team_id, now=now) for team_id in list(due))


def holds_sweep(*, now: datetime | None = None) -> int:
    """Look again at every team's held contacts (time moves availability, and holds end)."""
    now = now or timezone.now()
    teams = (
        ContactRouting.objects.filter(status=RoutingStatus.HELD)
        .values_list("team_id", flat=True)
        .distinct()[:TEAMS_PER_SWEEP]
    )
    return sum(team_route(team_id=team_id, now=now, held=True) for team_id in list(teams))


def routing_sweep(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    return {
        "offers_expired": offers_sweep(now=now),
        "holds_checked": holds_sweep(now=now),
        "contacts_routed": waiting_sweep(now=now),
    }


def routing_logs_prune(*, now: datetime | None = None) -> int:
    """Delete routing log rows older than the retention (at least 1 day; 30 by default)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=max(settings.ROUTING_LOG_RETENTION_DAYS, 1))
    deleted, _ = RoutingLog.objects.filter(created_at__lt=cutoff).delete()
    return deleted
