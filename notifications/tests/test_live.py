"""The live stream: who may open it, what it says, and how fast it hears of a change:
by polling (SQLite, or PostgreSQL when the listener is down) and by LISTEN/NOTIFY."""

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection, connections
from django.test import AsyncClient
from django.urls import reverse
from django.utils import timezone

from contacts.services import contact_create
from notifications import live, services
from notifications.models import Channel, Kind, OutboxMessage, Status
from routing.offers import offer_claim, offer_expire
from routing.tests.helpers import new_contact, rule
from teams.tests.factories import UserFactory, make_member

URL = reverse("notifications:live")


@pytest.fixture(autouse=True)
def _quick(monkeypatch):
    """Short waits, so a stream that hears nothing says so (a keep-alive) quickly."""
    monkeypatch.setattr(live, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(live, "KEEPALIVE_SECONDS", 0.5)
    yield
    live.shutdown()


@pytest.fixture(scope="session", autouse=True)
def _listener_closed(django_db_setup):
    """No LISTEN connection may outlive the tests: the test database is dropped next."""
    yield
    live.shutdown()


@pytest.fixture
def polling(monkeypatch):
    monkeypatch.setattr(live, "listening", lambda: False)


@pytest.fixture
def beth(team):
    return make_member(team, user=UserFactory(username="beth", first_name="Beth"))


def parse(chunk: bytes):
    """One frame as (event, data, id); a keep-alive comment as ("keep-alive", None, None)."""
    text = chunk.decode()
    if text.startswith(":"):
        return ("keep-alive", None, None)
    fields = dict(line.split(": ", 1) for line in text.strip().splitlines())
    return (fields["event"], json.loads(fields["data"]), fields["id"])


def get(client, *args, **kwargs):
    """client.get, in a thread of its own when an event loop runs in this one (pytest-
    playwright's, in transactional tests once a browser test has run): the test client
    calls an async view through async_to_sync, which refuses to run there."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return client.get(*args, **kwargs)

    def request():
        try:
            return client.get(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(request).result()


@pytest.fixture
def open_stream(client, db):
    """`open_stream(member, data=None, **headers)`: the member's stream, read frame by frame
    in this thread (WSGI); closed at the end of the test."""
    responses = []

    def open_(member, data=None, **headers):
        client.force_login(member.user)
        response = get(client, URL, data, **headers)
        assert response.status_code == 200
        responses.append(response)
        return map(parse, response.streaming_content)

    yield open_
    for response in responses:
        response.close()


def in_app_row(member, **fields):
    """A notification for the member (in-app unless told otherwise)."""
    fields = {"channel": Channel.IN_APP, "status": Status.SENT, **fields}
    return OutboxMessage.objects.create(
        team_id=member.team_id,
        key=f"test:{time.monotonic_ns()}:{member.pk}",
        kind=Kind.ASSIGNED,
        membership=member,
        title="New contact assigned to you",
        **fields,
    )


# --- who may open it --------------------------------------------------------------------


def test_stream_anonymous_is_sent_to_login(client, db):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_stream_user_without_a_team_is_404(client, db):
    client.force_login(UserFactory())

    assert client.get(URL).status_code == 404


def test_stream_answers_post_with_405(client, agent):
    client.force_login(agent.user)

    assert client.post(URL).status_code == 405


# --- what it says -----------------------------------------------------------------------


def test_stream_says_hello_with_the_members_own_counts(client, team, agent, beth, capture, polling):
    rule(team, "Next up", agent, method="next_up", claim_window_minutes=15)
    new_contact(team, capture, first_name="Nora")
    in_app_row(beth)
    in_app_row(beth)

    client.force_login(agent.user)
    response = client.get(URL)

    assert response["Content-Type"] == "text/event-stream"
    assert "no-cache" in response["Cache-Control"]
    assert response["X-Accel-Buffering"] == "no"
    first = next(response.streaming_content)
    assert first.startswith(f"retry: {live.RETRY_MS}\n".encode())
    assert b"Nora" not in first
    event, data, event_id = parse(first.split(b"\n", 1)[1])
    assert event == "hello"
    assert data == {"unread": 1, "offers": 1, "changed": False}  # beth's two are not counted
    assert abs(float(event_id) - time.time()) < 5
    response.close()


def test_stream_polling_says_changed_on_a_new_in_app_row(open_stream, agent, polling):
    stream = open_stream(agent)
    assert next(stream)[:2] == ("hello", {"unread": 0, "offers": 0, "changed": False})

    in_app_row(agent)

    assert next(stream)[:2] == ("changed", {"unread": 1, "offers": 0})


def test_stream_says_nothing_of_other_members_changes(open_stream, agent, beth, polling):
    stream = open_stream(agent)
    next(stream)

    in_app_row(beth)
    in_app_row(agent, channel=Channel.EMAIL, status=Status.PENDING)

    assert next(stream) == ("keep-alive", None, None)


def test_stream_polling_says_changed_when_another_agent_claims_a_blast(
    open_stream, team, agent, beth, capture, polling
):
    rule(team, "Blast", agent, beth, method="blast", claim_window_minutes=10)
    offer = new_contact(team, capture).offers.get()
    stream = open_stream(beth)
    assert next(stream)[1]["offers"] == 1

    with capture(execute=True):
        assert offer_claim(offer_id=offer.pk, membership=agent).claimed

    assert next(stream)[:2] == ("changed", {"unread": 1, "offers": 0})


def test_stream_polling_says_changed_when_an_offer_lapses(
    open_stream, team, agent, beth, capture, polling
):
    rule(team, "Next up", agent, beth, method="next_up", claim_window_minutes=10)
    offer = new_contact(team, capture).offers.get()
    first = offer.recipients.get()
    stream = open_stream(first)
    assert next(stream)[1]["offers"] == 1

    with capture(execute=True):
        assert offer_expire(offer_id=offer.pk, now=offer.deadline + timedelta(seconds=1))

    assert next(stream)[:2] == ("changed", {"unread": 1, "offers": 0})


def test_stream_counts_read_notifications_out(open_stream, agent, polling):
    row = in_app_row(agent)
    stream = open_stream(agent)
    assert next(stream)[1]["unread"] == 1

    services.notification_mark_read(membership=agent, message_id=row.pk)

    assert next(stream)[:2] == ("changed", {"unread": 0, "offers": 0})


def test_stream_hello_says_what_changed_since_the_last_event(open_stream, agent, polling):
    in_app_row(agent, created_at=timezone.now() - timedelta(hours=1))
    before, after = f"{time.time() - 7200:.6f}", f"{time.time() - 600:.0f}"

    missed = open_stream(agent, HTTP_LAST_EVENT_ID=before)
    seen = open_stream(agent, {"since": after})
    header_wins = open_stream(agent, {"since": before}, HTTP_LAST_EVENT_ID=after)
    garbage = open_stream(agent, HTTP_LAST_EVENT_ID="nan")

    assert next(missed)[1]["changed"] is True
    assert next(seen)[1]["changed"] is False
    assert next(header_wins)[1]["changed"] is False
    assert next(garbage)[1]["changed"] is False


def test_stream_ends_after_its_lifetime(open_stream, agent, polling, monkeypatch):
    monkeypatch.setattr(live, "STREAM_SECONDS", 0.3)
    started = time.monotonic()

    frames = list(open_stream(agent))

    assert frames[0][0] == "hello"
    assert 0.2 < time.monotonic() - started < 3


def test_stream_ends_when_the_membership_is_deactivated(open_stream, agent, polling):
    stream = open_stream(agent)
    next(stream)

    agent.is_active = False
    agent.save(update_fields=["is_active"])

    assert list(stream) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        ("1772463600.5", datetime(2026, 3, 2, 15, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_since_from_reads_an_epoch_or_nothing(raw, expected):
    now = datetime(2026, 3, 2, 15, 0, 1, tzinfo=UTC)
    assert live.since_from(last_event_id=raw, query=None, now=now) == expected


def test_since_from_keeps_within_a_day_and_not_after_now():
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

    assert live.since_from(last_event_id="0", query=None, now=now) == now - live.CATCH_UP_LIMIT
    assert live.since_from(last_event_id=None, query="9999999999", now=now) == now


# --- PostgreSQL: LISTEN/NOTIFY ------------------------------------------------------------


def timed_next(stream):
    started = time.monotonic()
    frame = next(stream)
    return frame, time.monotonic() - started


@pytest.fixture
def slow_keepalive(monkeypatch):
    """With LISTEN nothing polls: a frame before this long came from a NOTIFY."""
    monkeypatch.setattr(live, "KEEPALIVE_SECONDS", 10)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_listen_triggers_notify_the_members_concerned(team, agent, beth):
    rule(team, "Blast", agent, beth, method="blast", claim_window_minutes=10)
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as listener:
        listener.execute(f'LISTEN "{live.CHANNEL}"')

        def heard() -> list[str]:
            return sorted(n.payload for n in listener.notifies(timeout=0.5))

        offer = contact_create(team=team, first_name="Bea", source="Zillow").offers.get()
        assert heard() == sorted([str(agent.pk), str(beth.pk)])  # the offer's in-app rows

        in_app_row(agent, channel=Channel.EMAIL, status=Status.PENDING)
        assert heard() == []

        offer_claim(offer_id=offer.pk, membership=beth)
        # Offer closed (both recipients), and beth's "assigned" notification.
        assert heard() == sorted([str(agent.pk), str(beth.pk)])

        row = OutboxMessage.objects.filter(membership=agent, channel=Channel.IN_APP).first()
        services.notification_mark_read(membership=agent, message_id=row.pk)
        assert heard() == [str(agent.pk)]

        offer.contact.delete()
        assert set(heard()) == {str(agent.pk), str(beth.pk)}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_listen_new_offer_reaches_the_stream_at_once(open_stream, team, agent, slow_keepalive):
    rule(team, "Next up", agent, method="next_up", claim_window_minutes=15)
    stream = open_stream(agent)
    assert next(stream)[1]["offers"] == 0
    assert live.LISTENER.ready

    contact_create(team=team, first_name="Nora", source="Zillow")

    frame, waited = timed_next(stream)
    assert frame[:2] == ("changed", {"unread": 1, "offers": 1})
    assert waited < 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_listen_blast_claimed_by_another_reaches_the_stream(
    open_stream, team, agent, beth, slow_keepalive
):
    rule(team, "Blast", agent, beth, method="blast", claim_window_minutes=10)
    offer = contact_create(team=team, first_name="Bea", source="Zillow").offers.get()
    stream = open_stream(beth)
    assert next(stream)[1]["offers"] == 1

    assert offer_claim(offer_id=offer.pk, membership=agent).claimed

    frame, waited = timed_next(stream)
    assert frame[:2] == ("changed", {"unread": 1, "offers": 0})
    assert waited < 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_listen_lapsed_offer_reaches_both_agents(open_stream, team, agent, beth, slow_keepalive):
    rule(team, "Next up", agent, beth, method="next_up", claim_window_minutes=10)
    offer = contact_create(team=team, first_name="Nora", source="Zillow").offers.get()
    first = offer.recipients.get()
    second = beth if first == agent else agent
    first_stream = open_stream(first)
    second_stream = open_stream(second)
    assert next(first_stream)[1]["offers"] == 1
    assert next(second_stream)[1]["offers"] == 0

    assert offer_expire(offer_id=offer.pk, now=offer.deadline + timedelta(seconds=1))

    frame, waited = timed_next(first_stream)
    assert frame[:2] == ("changed", {"unread": 1, "offers": 0})
    assert waited < 1
    frame, waited = timed_next(second_stream)  # it moved on to the next agent
    assert frame[:2] == ("changed", {"unread": 1, "offers": 1})
    assert waited < 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_listen_stream_holds_no_connection_while_it_waits(open_stream, agent, slow_keepalive):
    stream = open_stream(agent)
    next(stream)

    assert connection.connection is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_listen_listener_closes_when_no_stream_is_left(client, agent, monkeypatch):
    monkeypatch.setattr(live, "LINGER_SECONDS", 0.1)
    client.force_login(agent.user)
    response = get(client, URL)
    next(response.streaming_content)
    run = live.LISTENER._run
    assert run.ready.is_set()

    response.close()

    run.thread.join(timeout=5)
    assert not run.thread.is_alive()
    assert not live.LISTENER.ready


# --- ASGI (uvicorn): the same stream as an asynchronous iterator ------------------------


def run_async(coroutine):
    """In a thread of its own: pytest-playwright may keep a loop running in this one."""
    result = {}

    def target():
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the test's thread
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=30)
    if "error" in result:
        raise result["error"]
    return result["value"]


@pytest.mark.django_db(transaction=True)
def test_stream_under_asgi_is_asynchronous_and_hears_a_new_row(agent, monkeypatch):
    from asgiref.sync import sync_to_async

    monkeypatch.setattr(live, "KEEPALIVE_SECONDS", 10)

    async def scenario():
        client = AsyncClient()
        await client.aforce_login(agent.user)
        response = await client.get(URL)
        frames = aiter(response.streaming_content)
        hello = (await anext(frames)).decode()
        await sync_to_async(in_app_row)(agent)
        started = time.monotonic()
        changed = (await asyncio.wait_for(anext(frames), 5)).decode()
        waited = time.monotonic() - started
        await frames.aclose()
        return response, hello, changed, waited

    response, hello, changed, waited = run_async(scenario())

    assert response.is_async
    assert "event: hello" in hello
    assert "event: changed" in changed
    assert '"unread": 1' in changed
    assert waited < 1  # LISTEN on PostgreSQL, polling every POLL_SECONDS on SQLite


def test_snapshot_is_one_query(agent, django_assert_num_queries):
    since = timezone.now() - timedelta(minutes=1)

    with django_assert_num_queries(1):
        snap = live.snapshot(membership_id=agent.pk, since=since)

    assert snap == live.Snapshot(latest=None, unread=0, offers=0, newest_offer=None)


def test_snapshot_of_a_missing_member_is_none(db):
    assert live.snapshot(membership_id=987654) is None
