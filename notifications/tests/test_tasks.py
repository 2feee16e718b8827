"""django-q2 entry points and the schedules the migrations install."""

import pytest
from django_q.models import Schedule

from notifications import tasks


def test_schedules_for_sweep_and_digest_are_installed_by_migrations(run_data_migration):
    run_data_migration("notifications.migrations.0002_schedules", "add_schedules")
    sweep = Schedule.objects.get(name="notifications-sweep")
    assert (sweep.func, sweep.schedule_type, sweep.minutes, sweep.repeats) == (
        "notifications.tasks.sweep",
        Schedule.MINUTES,
        1,
        -1,
    )
    digest = Schedule.objects.get(name="notifications-digest")
    assert (digest.func, digest.schedule_type) == ("notifications.tasks.send_digests", "H")


@pytest.mark.django_db
def test_tasks_call_their_services():
    assert tasks.sweep() == {"enqueued": 0, "interrupted": 0}
    assert tasks.send_digests() == 0
    assert tasks.deliver(123456) == "not due"
