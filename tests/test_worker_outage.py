"""An outage delays a timeout but never loses it, and never runs it twice."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django_q.models import Schedule

from routing import tasks
from routing.models import LogEvent, Offer, OfferStatus
from routing.tests.helpers import new_contact, rule
from teams.tests.factories import make_member

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_deadline_passed_during_outage_is_advanced_once_by_sweeper(
    team, django_capture_on_commit_callbacks
):
    first, second = make_member(team), make_member(team)
    rule(team, "Next up", first, second, method="next_up", claim_window_minutes=15)
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, django_capture_on_commit_callbacks)
    offer = Offer.objects.get(contact=contact)
    # The deadline lives in the database alone: no task waits for it.
    assert not Schedule.objects.filter(name__startswith="expire-offer").exists()

    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        call_command("routing_sweeper", "--once")
        call_command("routing_sweeper", "--once")
        # The workers come back and run the backstop sweep: nothing left to do for it.
        assert tasks.sweep()["offers_expired"] == 0

    offer.refresh_from_db()
    assert offer.status == OfferStatus.EXPIRED
    assert contact.routing_logs.filter(event=LogEvent.OFFER_EXPIRED).count() == 1
    current = Offer.objects.get(contact=contact, status=OfferStatus.OPEN)
    assert list(current.recipients.all()) == [second]


@pytest.mark.django_db
def test_sweeper_and_log_prune_schedules_are_installed_by_setup_schedules():
    call_command("setup_schedules", stdout=StringIO())
    assert set(Schedule.objects.values_list("name", flat=True)) == {
        "routing-sweep",
        "routing-log-prune",
        "intake-prune",
        "listings-alert-digests",
        "notifications-sweep",
        "notifications-digest",
    }
    sweep = Schedule.objects.get(name="routing-sweep")
    assert (sweep.func, sweep.schedule_type, sweep.minutes, sweep.repeats) == (
        "routing.tasks.sweep",
        Schedule.MINUTES,
        1,
        -1,
    )
    prune = Schedule.objects.get(name="routing-log-prune")
    assert (prune.func, prune.schedule_type, prune.repeats) == (
        "routing.tasks.prune_logs",
        Schedule.DAILY,
        -1,
    )
    intake = Schedule.objects.get(name="intake-prune")
    assert (intake.func, intake.schedule_type) == ("contacts.intake.intake_prune", Schedule.HOURLY)
    # Idempotent: deploys run it every time, and a second run changes nothing.
    installed = list(Schedule.objects.order_by("pk").values())
    out = StringIO()
    call_command("setup_schedules", stdout=out)
    assert list(Schedule.objects.order_by("pk").values()) == installed
    assert "created" not in out.getvalue()


@pytest.mark.django_db
def test_routing_logs_kept_for_retention_then_pruned(
    team, settings, django_capture_on_commit_callbacks
):
    from routing.sweeps import routing_logs_prune

    settings.ROUTING_LOG_RETENTION_DAYS = 30
    rule(team, "All", make_member(team))
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, django_capture_on_commit_callbacks)
    kept = contact.routing_logs.count()
    assert kept > 0
    assert routing_logs_prune(now=T0 + timedelta(days=29, hours=23)) == 0
    assert routing_logs_prune(now=T0 + timedelta(days=30, minutes=1)) == kept
