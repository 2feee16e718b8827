"""Working hours: a weekly window in a time zone, possibly crossing midnight."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class WorkingHours:
    days: frozenset[int]  # 0=Monday..6=Sunday; empty means every day
    start: time
    end: time  # end < start: the window crosses midnight; end == start: the whole day
    tz: str

    def describe(self) -> str:
        days = ", ".join(DAY_NAMES[d] for d in sorted(self.days)) or "every day"
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.tz}"


def within_hours(hours: WorkingHours | None, now: datetime) -> bool:
    if hours is None:
        return True
    if now.tzinfo is None:
        # A naive datetime would silently be read as server-local time.
        raise ValueError("within_hours needs an aware datetime")
    local = now.astimezone(ZoneInfo(hours.tz))
    t, today = local.time(), local.date()
    if hours.start == hours.end:
        started = today
    elif hours.start < hours.end:
        if not hours.start <= t < hours.end:
            return False
        started = today
    elif t >= hours.start:
        started = today
    elif t < hours.end:
        # 02:00 inside a Friday 22:00-06:00 shift belongs to Friday, not Saturday.
        started = today - timedelta(days=1)
    else:
        return False
    return not hours.days or started.weekday() in hours.days
