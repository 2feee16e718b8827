"""Intake rules: dedup, idempotency keys, rate limits, pruning."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django_q.models import Schedule

from contacts.intake import (
    IdempotencyInFlight,
    Lead,
    idempotency_begin,
    intake_prune,
    lead_intake,
    normalize_email,
    normalize_phone,
    request_fingerprint,
)
from contacts.models import (
    Contact,
    IdempotencyKey,
    IdempotencyState,
    RateLimitCounter,
    RejectedPayload,
)
from contacts.ratelimit import client_ip, ratelimit_hit, ratelimit_hits
from contacts.services import contact_create
from contacts.tests.factories import ContactFactory
from contacts.tests.intake_helpers import (
    CONTACTS_URL,
    LEAD,
    make_token,
    post_lead,
    routing_scheduled,
)
from routing.models import ContactRouting, LogEvent, RoutingStatus
from routing.tests.helpers import agent_of, rule
from teams.services import membership_deactivate
from teams.tests.factories import UserFactory, make_member

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


# --- normalising (no database) -----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [(" Lena@Example.NET ", "lena@example.net"), ("", ""), ("a.b@gmail.com", "a.b@gmail.com")],
)
def test_normalize_email(raw, normal):
    assert normalize_email(raw) == normal


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("+1 (512) 555-0100", "5125550100"),
        ("512.555.0100", "5125550100"),
        ("5125550100", "5125550100"),
        ("", ""),
        ("555-0100", "5550100"),
    ],
)
def test_normalize_phone(raw, normal):
    assert normalize_phone(raw) == normal


# --- dedup --------------------------------------------------------------------------


@pytest.fixture
def token(team):
    return make_token(team)


@pytest.fixture
def assigned(team, agent, token, client, django_capture_on_commit_callbacks):
    """A lead that came in and was routed to the agent."""
    rule(team, "Everyone", agent)
    with django_capture_on_commit_callbacks(execute=True):
        contact_id = post_lead(client, LEAD, token=token).json()["id"]
    contact = Contact.objects.get(pk=contact_id)
    assert contact.routing.status == RoutingStatus.ASSIGNED
    return contact


def test_dedup_by_email_attaches_inquiry_and_keeps_agent(
    client, token, assigned, agent, django_capture_on_commit_callbacks
):
    repeat = {"email": " LENA@example.net", "source": "Facebook", "message": "Still looking!"}

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_lead(client, repeat, token=token)

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["deduplicated"], body["matched_by"]) == (assigned.pk, True, "email")
    assert body["primary_agent"]["id"] == agent.pk
    assert Contact.objects.count() == 1
    assert not routing_scheduled(callbacks)
    inquiry = assigned.timeline.filter(kind="inquiry").first()
    assert inquiry.message == "New inquiry from Facebook."
    assert inquiry.data["text"] == "Still looking!"
    log = assigned.routing_logs.get(event=LogEvent.DEDUPLICATED)
    assert log.membership == agent
    assert log.reason == (
        "New inquiry from Facebook matched by email: stays with Alan Agent, not routed again."
    )
    assert assigned.routing_logs.filter(event=LogEvent.ASSIGNED).count() == 1


@pytest.fixture
def backup(team):
    return make_member(team, user=UserFactory(username="bea", first_name="Bea", last_name="Backup"))


def _deactivate(owner, agent):
    membership_deactivate(actor=owner, membership=agent)


def _delete(owner, agent):
    agent.delete()  # staff removed the membership (Django admin)


@pytest.mark.parametrize(
    ("gone", "why", "still_a_member"),
    [
        (_deactivate, "Alan Agent is deactivated", True),
        (_delete, "its Agent left the team", False),
    ],
    ids=["deactivated", "membership deleted"],
)
def test_repeat_lead_whose_agent_is_gone_is_routed_again_like_a_new_lead(
    client,
    token,
    team,
    owner,
    agent,
    backup,
    django_capture_on_commit_callbacks,
    gone,
    why,
    still_a_member,
):
    everyone = rule(team, "Everyone", agent, backup)
    with django_capture_on_commit_callbacks(execute=True):
        contact = Contact.objects.get(pk=post_lead(client, LEAD, token=token).json()["id"])
    assert agent_of(contact) == agent
    agent_id = agent.pk
    with django_capture_on_commit_callbacks(execute=True):
        gone(owner, agent)
    repeat = {"email": "lena@example.net", "source": "Facebook", "message": "Still looking!"}

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_lead(client, repeat, token=token)

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["deduplicated"]) == (contact.pk, True)
    assert Contact.objects.count() == 1
    assert routing_scheduled(callbacks)  # queued again, routed after commit
    again = contact.routing_logs.get(event=LogEvent.ROUTED_AGAIN)
    assert again.reason == (
        f"New inquiry from Facebook matched by email: {why}, so it is routed again like a new lead."
    )
    assert again.membership_id == (agent_id if still_a_member else None)
    assert not contact.routing_logs.filter(event=LogEvent.DEDUPLICATED).exists()
    # Routed again like a new lead: the rule's next active member took it, replacing the role.
    events = list(
        contact.routing_logs.order_by("created_at", "id").values_list("event", "membership")
    )
    assert events == [
        (LogEvent.ASSIGNED, agent_id if still_a_member else None),
        (LogEvent.ROUTED_AGAIN, agent_id if still_a_member else None),
        (LogEvent.ASSIGNED, backup.pk),
    ]
    assert list(contact.roles.filter(kind="agent").values_list("membership", flat=True)) == [
        backup.pk
    ]
    routing = ContactRouting.objects.get(pk=contact.pk)
    assert (routing.status, routing.rule) == (RoutingStatus.ASSIGNED, everyone)
    latest = contact.timeline.filter(kind="assigned").first()
    assert latest.data["assignee"] == backup.pk
    if still_a_member:
        assert latest.message.startswith("Reassigned from Alan Agent to Bea Backup")
        assert latest.data["previous"] == agent_id
    detail = client.get(f"{CONTACTS_URL}/{contact.pk}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert detail.json()["primary_agent"]["id"] == backup.pk


def test_repeat_lead_for_a_paused_agent_stays_with_them(
    client, token, team, agent, backup, django_capture_on_commit_callbacks
):
    # Only an Agent who has left loses the contact; an active one (paused, offline) keeps it.
    rule(team, "Everyone", agent, backup)
    with django_capture_on_commit_callbacks(execute=True):
        contact = Contact.objects.get(pk=post_lead(client, LEAD, token=token).json()["id"])
    agent.paused = True
    agent.is_online = False
    agent.save()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        post_lead(client, {"email": "lena@example.net", "source": "Facebook"}, token=token)

    assert not routing_scheduled(callbacks)
    assert agent_of(contact) == agent
    log = contact.routing_logs.get(event=LogEvent.DEDUPLICATED)
    assert log.reason == (
        "New inquiry from Facebook matched by email: stays with Alan Agent, not routed again."
    )
    assert not contact.routing_logs.filter(event=LogEvent.ROUTED_AGAIN).exists()
    assert contact.routing_logs.filter(event=LogEvent.ASSIGNED).count() == 1


def test_dedup_by_phone_and_name(client, token, assigned):
    repeat = {"first_name": "lena", "last_name": "LEAD", "phone": "512.555.0100"}

    response = post_lead(client, repeat, token=token)

    assert response.status_code == 200
    assert response.json()["matched_by"] == "phone and name"
    assert response.json()["id"] == assigned.pk


@pytest.mark.parametrize(
    "other",
    [
        {"first_name": "Someone", "last_name": "Else", "phone": "512.555.0100"},
        {"first_name": "Lena", "last_name": "Lead", "phone": "512.555.0199"},
        {"email": "other@example.net"},
    ],
)
def test_no_match_is_a_new_contact(client, token, assigned, other):
    response = post_lead(client, other, token=token)

    assert response.status_code == 201
    assert response.json()["deduplicated"] is False
    assert Contact.objects.count() == 2


def test_dedup_does_not_cross_teams(client, assigned, outsider):
    response = post_lead(client, LEAD, token=make_token(outsider.team))

    assert response.status_code == 201
    assert Contact.objects.filter(team=outsider.team).count() == 1


def test_dedup_fills_blank_fields_only(team):
    existing = ContactFactory(team=team, email="lena@example.net", phone="", city="Austin")
    lead = Lead(fields={"email": "lena@example.net", "phone": "5125550100", "city": "Dallas"})

    result = lead_intake(team=team, lead=lead)

    existing.refresh_from_db()
    assert result.deduplicated
    assert result.contact == existing
    assert (existing.phone, existing.city) == ("5125550100", "Austin")
    assert existing.timeline.get(kind="inquiry").data["filled"] == ["phone"]


def test_dedup_of_unrouted_contact_says_so(team):
    existing = ContactFactory(team=team, email="lena@example.net")
    ContactRouting.objects.filter(contact=existing).update(status=RoutingStatus.FAILED)

    lead_intake(team=team, lead=Lead(fields={"email": "lena@example.net", "source": "Zillow"}))

    log = existing.routing_logs.get(event=LogEvent.DEDUPLICATED)
    assert log.membership is None
    assert "stays as it is (routing failed), not routed again" in log.reason


# --- idempotency ---------------------------------------------------------------------


def test_same_key_same_body_replays_first_response(client, token, team):
    first = post_lead(client, LEAD, token=token, key="order-1")
    # Same JSON, other key order and spacing: the same request.
    same = json.dumps(dict(reversed(LEAD.items())), indent=2)
    again = post_lead(client, same, token=token, key="order-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Contact.objects.count() == 1
    assert IdempotencyKey.objects.get().state == IdempotencyState.DONE


def test_same_key_different_body_is_422(client, token):
    post_lead(client, LEAD, token=token, key="order-1")

    response = post_lead(client, {**LEAD, "city": "Dallas"}, token=token, key="order-1")

    assert response.status_code == 422
    assert Contact.objects.count() == 1
    assert RejectedPayload.objects.get().status == 422


def test_same_key_while_first_in_flight_is_409(client, token, team):
    fingerprint = request_fingerprint(path=CONTACTS_URL, data=LEAD)
    IdempotencyKey.objects.create(team=team, key="order-1", fingerprint=fingerprint)

    response = post_lead(client, LEAD, token=token, key="order-1")

    assert response.status_code == 409
    assert not Contact.objects.exists()


def test_key_of_a_request_that_died_is_taken_over(team, settings):
    settings.INTAKE_IDEMPOTENCY_IN_FLIGHT_SECONDS = 60
    IdempotencyKey.objects.create(team=team, key="k", fingerprint="f", created_at=T0)

    later = T0 + timedelta(seconds=61)
    with pytest.raises(IdempotencyInFlight):
        idempotency_begin(team=team, key="k", fingerprint="f", now=T0 + timedelta(seconds=59))
    assert idempotency_begin(team=team, key="k", fingerprint="f", now=later) is None  # go ahead
    assert IdempotencyKey.objects.get().created_at == later


def test_keys_are_per_team(client, token, outsider):
    post_lead(client, LEAD, token=token, key="order-1")

    response = post_lead(client, LEAD, token=make_token(outsider.team), key="order-1")

    assert response.status_code == 201
    assert Contact.objects.count() == 2


def test_key_is_released_when_the_intake_fails(client, token, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("api.contacts.lead_intake", broken)
    response = post_lead(client, LEAD, token=token, key="order-1")

    assert response.status_code == 500
    assert not IdempotencyKey.objects.exists()  # a retry may run


def test_keys_kept_24_hours_then_pruned(client, token):
    with time_machine.travel(T0, tick=False):
        post_lead(client, LEAD, token=token, key="order-1")

    assert intake_prune(now=T0 + timedelta(hours=23, minutes=59))["idempotency_keys"] == 0
    with time_machine.travel(T0 + timedelta(hours=23, minutes=59), tick=False):
        replay = post_lead(client, LEAD, token=token, key="order-1")
    assert replay["Idempotent-Replayed"] == "true"
    assert intake_prune(now=T0 + timedelta(hours=24, minutes=1))["idempotency_keys"] == 1


def test_prune_schedule_is_installed_by_setup_schedules(db):
    call_command("setup_schedules", stdout=StringIO())
    schedule = Schedule.objects.get(name="intake-prune")
    assert (schedule.func, schedule.repeats) == ("contacts.intake.intake_prune", -1)
    assert schedule.schedule_type == Schedule.HOURLY


def test_prune_drops_old_rejected_payloads(db, settings):
    settings.INTAKE_REJECTED_KEEP_DAYS = 30
    RejectedPayload.objects.create(endpoint="/x", status=400, reason="old", created_at=T0)
    RejectedPayload.objects.create(
        endpoint="/x", status=400, reason="new", created_at=T0 + timedelta(days=29)
    )

    assert intake_prune(now=T0 + timedelta(days=31))["rejected_payloads"] == 1
    assert RejectedPayload.objects.get().reason == "new"


# --- rate limits -----------------------------------------------------------------------


def test_ratelimit_counts_in_fixed_windows(db):
    hits = [
        ratelimit_hit(bucket="b", limit=2, window_seconds=60, now=T0.timestamp() + s)
        for s in (0, 1, 2, 59.5, 60)
    ]

    assert [v.allowed for v in hits] == [True, True, False, False, True]
    assert hits[2].retry_after == 58
    assert hits[3].retry_after == 1
    assert RateLimitCounter.objects.get(bucket="b", window_start=T0.timestamp()).hits == 4


def test_ratelimit_zero_is_off(db):
    assert ratelimit_hit(bucket="b", limit=0, window_seconds=60).allowed
    assert not RateLimitCounter.objects.exists()


def test_token_rate_limit_429_with_retry_after(client, token, team, settings):
    settings.INTAKE_RATE_LIMIT_PER_TOKEN = 2
    with time_machine.travel(T0, tick=False):
        codes = [post_lead(client, {"email": f"{i}@x.net"}, token=token) for i in range(3)]
    assert [r.status_code for r in codes] == [201, 201, 429]
    assert codes[2]["Retry-After"] == "60"
    assert not RejectedPayload.objects.exists()  # floods are not stored

    with time_machine.travel(T0 + timedelta(seconds=60), tick=False):
        assert post_lead(client, {"email": "later@x.net"}, token=token).status_code == 201
    # Another token of the team has its own count.
    with time_machine.travel(T0, tick=False):
        assert post_lead(client, {"email": "o@x.net"}, token=make_token(team)).status_code == 201


def test_ip_rate_limit_stops_bad_tokens_before_they_are_stored(client, team, settings):
    settings.INTAKE_RATE_LIMIT_PER_IP = 2
    with time_machine.travel(T0, tick=False):
        codes = [
            post_lead(client, {"email": f"{i}@x.net"}, token="sb_unknown").status_code
            for i in range(3)
        ]
        other_ip = post_lead(client, {"email": "o@x.net"}, REMOTE_ADDR="10.0.0.9").status_code

    assert codes == [401, 401, 429]
    assert other_ip == 401
    assert RejectedPayload.objects.count() == 3  # the 429 was not stored
    assert RateLimitCounter.objects.get(bucket="ip:127.0.0.1").hits == 3


def test_ip_rate_limit_counts_with_the_token(client, token, settings):
    settings.INTAKE_RATE_LIMIT_PER_IP = 2
    with time_machine.travel(T0, tick=False):
        codes = [post_lead(client, {"email": f"{i}@x.net"}, token=token) for i in range(3)]

    assert [r.status_code for r in codes] == [201, 201, 429]
    assert codes[2].json()["detail"].startswith("Too many requests from this address")
    assert Contact.objects.count() == 2


def test_ratelimit_hits_counts_every_bucket_in_one_statement(db, django_assert_num_queries):
    now = T0.timestamp()
    limits = [("ip:10.0.0.1", 5), ("token:7", 1), ("off", 0)]

    with django_assert_num_queries(1):
        first = ratelimit_hits(limits=limits, window_seconds=60, now=now)
    second = ratelimit_hits(limits=limits, window_seconds=60, now=now + 1)

    assert [(v.allowed, v.hits) for v in first] == [(True, 1), (True, 1), (True, 0)]
    assert [(v.allowed, v.hits) for v in second] == [(True, 2), (False, 2), (True, 0)]
    assert set(RateLimitCounter.objects.values_list("bucket", "hits")) == {
        ("ip:10.0.0.1", 2),
        ("token:7", 2),
    }


@pytest.fixture
def redis_rate_limits(settings):
    """REDIS_URL set: counters live in the Django cache (Redis in production; an
    in-memory cache here, which is what the code sees through the cache API)."""
    settings.REDIS_URL = "redis://rate-limits.invalid:6379/0"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def test_ratelimit_in_the_cache_when_redis_is_set(db, redis_rate_limits, django_assert_num_queries):
    with django_assert_num_queries(0):
        hits = [
            ratelimit_hit(bucket="ip:::1", limit=2, window_seconds=60, now=T0.timestamp() + s)
            for s in (0, 1, 2, 59.5, 60)
        ]

    assert [v.allowed for v in hits] == [True, True, False, False, True]
    assert [v.hits for v in hits] == [1, 2, 3, 4, 1]
    assert hits[2].retry_after == 58
    assert not RateLimitCounter.objects.exists()


def test_token_rate_limit_in_the_cache_429(client, token, settings, redis_rate_limits):
    settings.INTAKE_RATE_LIMIT_PER_TOKEN = 2
    with time_machine.travel(T0, tick=False):
        codes = [post_lead(client, {"email": f"{i}@x.net"}, token=token) for i in range(3)]

    assert [r.status_code for r in codes] == [201, 201, 429]
    assert codes[2]["Retry-After"] == "60"
    assert not RateLimitCounter.objects.exists()


# --- validation ----------------------------------------------------------------------


def test_contact_create_checks_the_price_range_without_a_query(team, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(ValidationError) as caught:
        contact_create(team=team, email="a@example.net", price_min=500, price_max=400)

    assert caught.value.message_dict == {"price_max": ["Must not be below the price from."]}
    assert not Contact.objects.exists()


def test_client_ip_trusts_forwarded_for_only_behind_proxies(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")

    settings.INTAKE_TRUSTED_PROXIES = 0
    assert client_ip(request) == "10.0.0.1"
    settings.INTAKE_TRUSTED_PROXIES = 1
    assert client_ip(request) == "203.0.113.7"


# --- admin --------------------------------------------------------------------------


def test_rejected_payloads_are_inspectable_in_admin(admin_client, client):
    post_lead(client, {**LEAD, "email": "nope"}, token="sb_wrong")
    rejected = RejectedPayload.objects.get()

    changelist = admin_client.get("/admin/contacts/rejectedpayload/")
    detail = admin_client.get(f"/admin/contacts/rejectedpayload/{rejected.pk}/change/")

    assert changelist.status_code == 200
    assert "Missing, unknown or revoked API token." in changelist.content.decode()
    assert detail.status_code == 200
    assert "nope" in detail.content.decode()


def test_lead_source_admin_offers_a_fresh_secret(admin_client):
    response = admin_client.get("/admin/contacts/leadsource/add/")

    assert response.status_code == 200
    assert len(response.context["adminform"].form.initial["secret"]) >= 40
