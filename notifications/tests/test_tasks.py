"""django-q2 entry points and the schedules `manage.py setup_schedules` installs."""

from io import StringIO

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from notifications import tasks


@pytest.mark.django_db
def test_schedules_for_sweep_and_digest_are_installed_by_setup_schedules():
    call_command("setup_schedules", stdout=StringIO())
    sweep = Schedule.objects.get(name="notifications-sweep")
    assert (sweep.func, sweep.schedule_type, sweep.minutes, sweep.repeats) == (
        "notifications.tasks.sweep",
        Schedule.MINUTES,
        1,
        -1,
    )
    digest = Schedule.objects.get(name="notifications-digest")
    assert (digest.func, digest.schedule_type, digest.repeats) == (
        "notifications.tasks.send_digests",
        Schedule.HOURLY,
        -1,
    )
    installed = list(Schedule.objects.order_by("pk").values())
    call_command("setup_schedules", stdout=StringIO())
    assert list(Schedule.objects.order_by("pk").values()) == installed


@pytest.mark.django_db
def test_tasks_call_their_services():
    assert tasks.sweep() == {"enqueued": 0, "interrupted": 0, "given_up": 0, "released": 0}
    assert tasks.send_digests() == 0
    assert tasks.deliver(123456) == "not due"
    assert tasks.deliver_ids([123456]) == {"not due": 1}
    assert tasks.deliver_keys(["no-such-key"]) == {}
