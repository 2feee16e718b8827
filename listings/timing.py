"""When a search's digest is due: daily at 8:00, weekly on Mondays at 8:00, in the team's
time zone. Pure: callers pass the moment to count from."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta

DIGEST_TIME = time(8, 0)
WEEKLY_DAY = 0  # Monday
DAILY = "daily"
WEEKLY = "weekly"


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def next_digest_at(frequency: str, *, after: datetime, time_zone: str) -> datetime:
    """The first digest moment strictly after `after` (an aware datetime), in UTC.

    Built from the local calendar date, so it stays 8:00 across daylight-saving changes
    (and a local 8:00 that does not exist is taken as the clock shows it after the jump).
    """
    if frequency not in (DAILY, WEEKLY):
        raise ValueError(f"{frequency!r} has no digest")
    tz = zone(time_zone)
    local = after.astimezone(tz)
    day = local.date()
    for offset in range(8 + 1):
        candidate_day = day + timedelta(days=offset)
        if frequency == WEEKLY and candidate_day.weekday() != WEEKLY_DAY:
            continue
        candidate = datetime.combine(candidate_day, DIGEST_TIME, tzinfo=tz)
        if candidate > local:
            return candidate.astimezone(zoneinfo.ZoneInfo("UTC"))
    raise AssertionError("a digest moment comes within eight days")  # pragma: no cover
