"""When each step of a plan is due: pure functions over plain values (no ORM, no clock).

Minutes and hours are exact elapsed time; days keep the wall-clock time in the zone
given (the Agent's, else the team's), so "2 days later" at 10:00 is 10:00 across a
daylight-saving change. A step limited to working hours that falls outside them
moves to the next start of the Agent's working hours; the steps after it count
from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from routing.engine.hours import WorkingHours, within_hours

MINUTES, HOURS, DAYS = "minutes", "hours", "days"
PREVIOUS, START = "previous", "start"


@dataclass(frozen=True)
class Delay:
    amount: int
    unit: str  # MINUTES, HOURS or DAYS
    after: str = PREVIOUS  # PREVIOUS step or the plan's START
    working_hours_only: bool = False


def _aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be an aware datetime")


def add_delay(moment: datetime, amount: int, unit: str, zone: str) -> datetime:
    _aware(moment, "moment")
    if unit == MINUTES:
        return moment + timedelta(minutes=amount)
    if unit == HOURS:
        return moment + timedelta(hours=amount)
    if unit == DAYS:
        # Aware arithmetic in a ZoneInfo zone is wall-clock arithmetic.
        local = moment.astimezone(ZoneInfo(zone)) + timedelta(days=amount)
        return local.astimezone(UTC)
    raise ValueError(f"unknown delay unit {unit!r}")


def next_working_start(hours: WorkingHours | None, moment: datetime) -> datetime:
    """`moment` if it is within the working hours (or there are none), else the next
    moment they start."""
    _aware(moment, "moment")
    if hours is None or within_hours(hours, moment):
        return moment
    zone = ZoneInfo(hours.tz)
    today = moment.astimezone(zone).date()
    # A weekly window starts within 8 days; the day before counts for shifts
    # that cross midnight (checked by within_hours above).
    for offset in range(9):
        day = today + timedelta(days=offset)
        if hours.days and day.weekday() not in hours.days:
            continue
        start = datetime.combine(day, hours.start, tzinfo=zone)
        if start > moment:
            # A start inside a daylight-saving gap (02:30 on the spring-forward
            # night) is read with the offset before the change: 03:30, as clocks say.
            return start.astimezone(UTC)
    raise ValueError(f"working hours {hours.describe()} never start")


def due_times(
    *,
    start: datetime,
    delays: Sequence[Delay],
    hours: WorkingHours | None,
    zone: str,
) -> list[datetime]:
    """The due time of each step, in order, for a plan (re)started at `start`."""
    _aware(start, "start")
    due: list[datetime] = []
    previous = start
    for delay in delays:
        anchor = start if delay.after == START else previous
        moment = add_delay(anchor, delay.amount, delay.unit, zone)
        if delay.working_hours_only:
            moment = next_working_start(hours, moment)
        due.append(moment)
        previous = moment
    return due
