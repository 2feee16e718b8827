"""Due times of plan steps: pure, no database."""

from datetime import UTC, datetime, time

import pytest

from plans.timing import (
    DAYS,
    HOURS,
    MINUTES,
    START,
    Delay,
    add_delay,
    due_times,
    next_working_start,
)
from routing.engine.hours import WorkingHours

NY = "America/New_York"
WEEKDAYS_9_TO_5_NY = WorkingHours(frozenset({0, 1, 2, 3, 4}), time(9), time(17), NY)
NIGHTS_FRI_UTC = WorkingHours(frozenset({4}), time(22), time(6), "UTC")
# Monday 2 March 2026, 13:00 UTC = 08:00 in New York (EST).
MONDAY_8AM_NY = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delays", "expected"),
    [
        ([Delay(0, MINUTES)], [MONDAY_8AM_NY]),
        (
            [Delay(0, MINUTES), Delay(30, MINUTES), Delay(2, HOURS)],
            [MONDAY_8AM_NY, at(2026, 3, 2, 13, 30), at(2026, 3, 2, 15, 30)],
        ),
        # After the start, not after the previous step.
        (
            [Delay(3, DAYS), Delay(1, DAYS, after=START)],
            [at(2026, 3, 5, 13, 0), at(2026, 3, 3, 13, 0)],
        ),
    ],
)
def test_due_times_add_each_delay_to_the_previous_step_or_the_start(delays, expected):
    assert due_times(start=MONDAY_8AM_NY, delays=delays, hours=None, zone=NY) == expected


def test_days_keep_the_wall_clock_across_daylight_saving():
    # 08:00 EST on Friday 6 March; clocks go forward on Sunday 8 March.
    friday = at(2026, 3, 6, 13, 0)
    assert add_delay(friday, 3, DAYS, NY) == at(2026, 3, 9, 12, 0)  # 08:00 EDT
    assert add_delay(friday, 72, HOURS, NY) == at(2026, 3, 9, 13, 0)  # 09:00 EDT


def test_working_hours_move_a_step_to_the_agents_next_start():
    delays = [Delay(0, MINUTES, working_hours_only=True), Delay(2, HOURS)]
    due = due_times(start=MONDAY_8AM_NY, delays=delays, hours=WEEKDAYS_9_TO_5_NY, zone=NY)
    # 09:00 New York, and the next step counts from there (11:00).
    assert due == [at(2026, 3, 2, 14, 0), at(2026, 3, 2, 16, 0)]


def test_a_step_without_the_limit_ignores_working_hours():
    due = due_times(
        start=MONDAY_8AM_NY, delays=[Delay(0, MINUTES)], hours=WEEKDAYS_9_TO_5_NY, zone=NY
    )
    assert due == [MONDAY_8AM_NY]


@pytest.mark.parametrize(
    ("hours", "moment", "expected"),
    [
        (None, MONDAY_8AM_NY, MONDAY_8AM_NY),
        (WEEKDAYS_9_TO_5_NY, at(2026, 3, 2, 15, 0), at(2026, 3, 2, 15, 0)),  # inside
        (WEEKDAYS_9_TO_5_NY, at(2026, 3, 2, 22, 30), at(2026, 3, 3, 14, 0)),  # after 17:00
        (WEEKDAYS_9_TO_5_NY, at(2026, 3, 6, 23, 0), at(2026, 3, 9, 13, 0)),  # Fri night → Mon
        (NIGHTS_FRI_UTC, at(2026, 3, 7, 3, 0), at(2026, 3, 7, 3, 0)),  # Friday's shift
        (NIGHTS_FRI_UTC, at(2026, 3, 7, 7, 0), at(2026, 3, 13, 22, 0)),  # next Friday
    ],
)
def test_next_working_start(hours, moment, expected):
    assert next_working_start(hours, moment) == expected


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="aware"):
        due_times(start=datetime(2026, 3, 2, 8), delays=[Delay(0, MINUTES)], hours=None, zone=NY)
