"""Failed routing is retried with backoff and never forgotten: after the last attempt,
owners and admins are told (in the app and by email), the lead dashboard says how many,
and "Retry now" routes them again."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from notifications.models import Channel, Kind, OutboxMessage
from routing.models import ContactRouting, LogEvent, RoutingStatus
from routing.sweeps import waiting_sweep
from routing.tests.helpers import agent_of, new_contact, rule
from routing.writer import routing_backoff
from teams.models import PermissionProfile, Role
from teams.tests.factories import make_member

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def routing_of(contact):
    return ContactRouting.objects.get(pk=contact.pk)


@pytest.fixture
def broken(monkeypatch):
    """Routing fails for every contact (a bug, a bad rule, the database in trouble)."""

    def route(*args, **kwargs):
        raise RuntimeError("the rules could not be read")

    monkeypatch.setattr("routing.route.engine.route", route)
    return monkeypatch


def test_backoff_doubles_from_five_seconds_to_six_minutes_riding_out_half_an_hour(settings):
    waits = [routing_backoff(n) for n in range(1, settings.ROUTING_MAX_ATTEMPTS)]
    assert waits[:4] == [timedelta(seconds=s) for s in (5, 10, 20, 40)]
    assert max(waits) == timedelta(minutes=6)
    assert sum(waits, timedelta()) > timedelta(minutes=30)


def test_a_failing_contact_is_retried_after_each_backoff_not_at_once(
    team, agent, broken, capture, settings
):
    rule(team, "Zillow", agent, sources=["Zillow"])
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, capture)
    assert routing_of(contact).attempts == 1
    # Sweeps every few seconds do not burn the attempts: each waits for its backoff.
    with time_machine.travel(T0 + timedelta(seconds=4), tick=False):
        assert waiting_sweep() == 0
    with time_machine.travel(T0 + timedelta(seconds=5), tick=False):
        waiting_sweep()
    routing = routing_of(contact)
    assert (routing.status, routing.attempts) == (RoutingStatus.FAILED, 2)
    assert routing.next_attempt_at == T0 + timedelta(seconds=5) + routing_backoff(2)
    assert "the rules could not be read" in routing.error


def test_after_the_last_attempt_owners_and_admins_are_told(
    team, owner, admin_member, agent, broken, capture, settings
):
    settings.ROUTING_MAX_ATTEMPTS = 3
    # An admin without "Manage Lead Distribution" is not told; an agent never is.
    plain = make_member(
        team,
        role=Role.ADMIN,
        profile=PermissionProfile.objects.create(team=team, name="Reports only"),
    )
    rule(team, "Zillow", agent, sources=["Zillow"])
    now = T0
    with time_machine.travel(now, tick=False):
        contact = new_contact(team, capture)
    for attempt in (2, 3):
        now += routing_backoff(attempt - 1)
        with time_machine.travel(now, tick=False), capture(execute=True):
            waiting_sweep()
        assert routing_of(contact).attempts == attempt
    alerts = OutboxMessage.objects.filter(kind=Kind.ROUTING_FAILED, contact=contact)
    told = {(m.membership_id, m.channel) for m in alerts}
    assert told == {
        (owner.pk, Channel.IN_APP),
        (owner.pk, Channel.EMAIL),
        (admin_member.pk, Channel.IN_APP),
        (admin_member.pk, Channel.EMAIL),
    }
    assert plain.pk not in {m for m, _ in told}
    assert alerts.get(membership=owner, channel=Channel.IN_APP).title.startswith(
        f"Routing gave up on {contact.name}"
    )
    # It is given up: sweeps leave it alone until someone acts.
    with time_machine.travel(now + timedelta(hours=1), tick=False):
        assert waiting_sweep() == 0


def test_the_alert_email_names_the_contact_and_the_error(
    team, owner, agent, broken, capture, settings, mailoutbox
):
    settings.ROUTING_MAX_ATTEMPTS = 1
    owner.user.email = "olive@example.com"
    owner.user.save()
    rule(team, "Zillow", agent, sources=["Zillow"])
    contact = new_contact(team, capture, first_name="Rita", last_name="Lost")
    emails = [m for m in mailoutbox if "Routing gave up" in m.subject]
    assert len(emails) == 1
    assert emails[0].to == ["olive@example.com"]
    assert contact.name in emails[0].subject
    assert "the rules could not be read" in emails[0].body
    assert "/routing/dashboard/?assignment=failed" in emails[0].body


def test_dashboard_banner_counts_and_retry_now_routes_them_again(
    client, team, admin_member, agent, broken, capture, settings
):
    settings.ROUTING_MAX_ATTEMPTS = 1
    rule(team, "Zillow", agent, sources=["Zillow"])
    given_up = new_contact(team, capture, email="gone@x.test")
    client.force_login(admin_member.user)
    dashboard = reverse("routing_pages:dashboard")
    page = client.get(dashboard).content.decode()
    assert "Routing gave up on 1 contact" in page
    assert "Retry now" in page
    listed = client.get(dashboard, {"assignment": "failed"}).content.decode()
    assert given_up.name in listed

    broken.undo()  # the cause is fixed
    with capture(execute=True):
        response = client.post(reverse("routing_pages:failed_retry"), {"next": dashboard})
    assert response.status_code == 302
    assert agent_of(given_up) == agent
    assert routing_of(given_up).status == RoutingStatus.ASSIGNED
    assert given_up.routing_logs.filter(event=LogEvent.ROUTED_AGAIN).exists()
    assert "Routing gave up" not in client.get(dashboard).content.decode()


def test_retry_now_needs_manage_lead_distribution(client, agent):
    client.force_login(agent.user)
    response = client.post(reverse("routing_pages:failed_retry"))
    assert response.status_code == 403
    assert client.get(reverse("routing_pages:failed_retry")).status_code == 405
