"""Real worker processes against the test database (PostgreSQL): routing never waits for
delivery, two clusters on one Redis route fairly without losing or doubling a lead, and
offers expire within a tick of their deadline."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf
from django_q.tasks import async_task

from contacts.models import Contact, ContactRole
from contacts.services import contact_create
from notifications.models import OutboxMessage, Status
from routing.models import ContactRouting, Offer, OfferStatus, RoutingStatus
from routing.tests.helpers import rule
from teams.tests.factories import UserFactory, make_member, make_team

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
REDIS_TEST_URL = "redis://127.0.0.1:6379/14"


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Workers:
    """Child processes (qcluster, the sweeper) on the test database; stopped at the end."""

    def __init__(self, tmp_path, **env):
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "DJANGO_SETTINGS_MODULE": "tests.settings_workers",
            "DEBUG": "0",
            # Tasks are signed: the workers read them with the test process's key.
            "SECRET_KEY": settings.SECRET_KEY,
            "HTTPS": "0",  # the links they send point at a plain-HTTP SITE_URL
            "Q_SYNC": "0",
            **env,
        }
        self.tmp_path, self.procs = tmp_path, []

    def start(self, name: str, *args: str, stop=signal.SIGINT, **env) -> None:
        log = open(self.tmp_path / f"{name}.log", "wb")  # noqa: SIM115 (closed in stop)
        proc = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append((proc, stop, log))

    def stop(self) -> None:
        for proc, stop, _ in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, stop)
        for proc, _, log in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.tmp_path.glob("*.log"))


@pytest.fixture
def workers(tmp_path):
    started = []

    def make(**env) -> Workers:
        w = Workers(tmp_path, **env)
        started.append(w)
        return w

    yield make
    for w in started:
        w.stop()


def _wait(condition, seconds: float, workers: Workers, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} did not happen within {seconds} s:\n{workers.logs()}")


def _store_lead(team, i: int) -> Contact:
    with transaction.atomic():  # committed, then the router is woken (a task in the broker)
        return contact_create(team=team, first_name=f"L{i}", email=f"l{i}@x.test", source="Zillow")


def _assigned(contact) -> bool:
    return ContactRouting.objects.filter(pk=contact.pk, status=RoutingStatus.ASSIGNED).exists()


def test_a_hanging_mail_server_does_not_delay_routing(workers, monkeypatch):
    team = make_team(owner=UserFactory())
    rule(team, "Zillow", *(make_member(team) for _ in range(3)), sources=["Zillow"])
    monkeypatch.setattr(Conf, "SYNC", False)  # this process queues tasks like the web does
    w = workers(TEST_EMAIL_BACKEND="tests.hanging_mail.HangingBackend", Q_DELIVERY_WORKERS="1")
    w.start("routing", "qcluster")
    w.start("delivery", "qcluster", Q_CLUSTER_NAME=settings.DELIVERY_CLUSTER)
    first = _store_lead(team, 0)
    _wait(lambda: _assigned(first), 20, w, "the first lead's assignment")
    welcome = OutboxMessage.objects.filter(contact=first, kind="welcome_email")
    _wait(lambda: welcome.filter(status=Status.SENDING).exists(), 20, w, "the hanging send")
    # The delivery worker is stuck in a send: every new lead is still routed at once.
    delays = []
    for i in range(1, 6):
        contact = _store_lead(team, i)
        started = time.monotonic()
        _wait(lambda c=contact: _assigned(c), 10, w, f"lead {i}'s assignment")
        delays.append(time.monotonic() - started)
    assert max(delays) < 2.0, delays
    assert welcome.get().status == Status.SENDING  # still hanging: it was never in the way


def test_two_clusters_on_one_redis_route_fairly_and_lose_nothing(workers, monkeypatch):
    store = redis.Redis.from_url(REDIS_TEST_URL)
    store.flushdb()
    team = make_team(owner=UserFactory())
    agents = [make_member(team) for _ in range(4)]
    r = rule(team, "All", *agents)
    contacts = Contact.objects.bulk_create(
        [Contact(team=team, first_name=f"L{i}", source="Zillow") for i in range(200)]
    )
    ContactRouting.objects.bulk_create([ContactRouting(contact=c, team=team) for c in contacts])
    # Small batches and short task budgets: the routers contend for the same rows and turns.
    w = workers(REDIS_URL=REDIS_TEST_URL, ROUTING_BATCH_SIZE="5", Q_WORKERS="2")
    w.start("cluster-a", "qcluster")
    w.start("cluster-b", "qcluster")
    monkeypatch.setattr(Conf, "REDIS", REDIS_TEST_URL)
    broker = Redis(list_key=settings.ROUTING_CLUSTER)
    for _ in range(8):
        async_task("routing.tasks.route_team", team.pk, broker=broker, sync=False)
    routing = ContactRouting.objects.filter(team=team)
    _wait(
        lambda: routing.filter(status=RoutingStatus.ASSIGNED).count() == 200,
        60,
        w,
        "routing all 200 leads",
    )
    held = Counter(ContactRole.objects.filter(kind="agent").values_list("membership_id", flat=True))
    assert sum(held.values()) == 200  # none lost
    assert ContactRole.objects.filter(kind="agent").values("contact_id").distinct().count() == 200
    assert max(held.values()) - min(held.values()) <= 1
    r.rotation.refresh_from_db()
    assert r.rotation.member_counts() == dict(held)
    assert store.llen(f"django_q:{settings.ROUTING_CLUSTER}:q") == 0


def test_offers_expire_within_a_tick_of_their_deadline(workers):
    team = make_team(owner=UserFactory(), plan="pro")
    agents = [make_member(team) for _ in range(3)]
    rule(team, "Next up", *agents, method="next_up", sources=["Zillow"])
    from routing.route import contact_route

    contacts = []
    for i in range(12):
        contact = contact_create(team=team, first_name=f"O{i}", source="Zillow")
        contact_route(contact_id=contact.pk)
        contacts.append(contact)
    soon = timezone.now() + timedelta(seconds=2)
    offers = Offer.objects.filter(contact__in=contacts, status=OfferStatus.OPEN)
    assert offers.count() == 12
    for i, offer in enumerate(offers):
        Offer.objects.filter(pk=offer.pk).update(deadline=soon + timedelta(milliseconds=150 * i))
    w = workers()
    w.start("sweeper", "routing_sweeper", "--interval", "60", stop=signal.SIGTERM)
    _wait(
        lambda: (
            not Offer.objects.filter(
                pk__in=[o.pk for o in offers], status=OfferStatus.OPEN
            ).exists()
        ),
        15,
        w,
        "every offer lapsing",
    )
    lateness = [
        (o.resolved_at - o.deadline).total_seconds()
        for o in Offer.objects.filter(pk__in=[o.pk for o in offers])
    ]
    assert min(lateness) >= 0
    assert max(lateness) < 1.5, lateness  # a 0.5 s tick, plus the time to expire them
