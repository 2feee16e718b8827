"""Unknown API tokens counted per client IP: past the limit every API call from the address
is answered 429, before a token could be tried, and a good request costs nothing more."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import RateLimitCounter
from contacts.ratelimit import ratelimit_count, ratelimit_hit, ratelimit_prune
from contacts.tests.intake_helpers import CONTACTS_URL, make_token, post_lead
from teams.models import ApiToken

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a window boundary (600 s windows)
BAD = "sb_unknown-token-0000000000000000000000000"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.API_TOKEN_FAILURE_LIMIT_PER_IP = 3
    settings.API_TOKEN_FAILURE_WINDOW_SECONDS = 600


@pytest.fixture
def token(team):
    return make_token(team)


def read(client, token, **extra):
    return client.get(CONTACTS_URL, HTTP_AUTHORIZATION=f"Bearer {token}", **extra)


def test_bad_token_flood_is_answered_429_json_with_retry_after(client, team):
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        codes = [
            post_lead(client, {"email": f"{i}@x.net"}, token=BAD).status_code for i in range(3)
        ]
        refused = post_lead(client, {"email": "4@x.net"}, token=BAD)
        read_refused = read(client, "sb_another-guess")

    assert codes == [401, 401, 401]
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/json"
    assert refused.json()["detail"].startswith("Too many unknown or revoked API tokens")
    assert refused["Retry-After"] == "570"
    assert read_refused.status_code == 429
    assert RateLimitCounter.objects.get(bucket="bad-token:ip:127.0.0.1").hits == 5


def test_bad_token_flood_refuses_a_valid_token_from_the_address_until_the_window_ends(
    client, token
):
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            read(client, BAD)
        locked = read(client, token)
        other_address = read(client, token, REMOTE_ADDR="10.0.0.9")
    with time_machine.travel(T0 + timedelta(seconds=600), tick=False):
        later = read(client, token)

    assert locked.status_code == 429  # a guesser learns nothing from a right guess
    assert other_address.status_code == 200
    assert later.status_code == 200


def test_bad_token_lockout_refuses_before_the_token_is_used(client, token):
    ApiToken.objects.update(last_used_at=None)
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            read(client, BAD)
        with CaptureQueriesContext(connection) as ctx:
            response = read(client, token)

    assert response.status_code == 429
    # One statement: the lookup, which reads the address's failures too; the token is
    # not marked used and no endpoint ran.
    (statement,) = [q["sql"] for q in ctx.captured_queries]
    assert 'FROM "teams_apitoken"' in statement
    assert '"contacts_ratelimitcounter"' in statement
    assert ApiToken.objects.get().last_used_at is None


def test_good_token_reads_the_failure_count_inside_its_lookup(client, token):
    with time_machine.travel(T0, tick=False):
        read(client, token)  # last_used_at is fresh: steady state
        with CaptureQueriesContext(connection) as ctx:
            response = read(client, token)

    assert response.status_code == 200
    counter_statements = [q["sql"] for q in ctx.captured_queries if "ratelimitcounter" in q["sql"]]
    assert len(counter_statements) == 1
    assert 'FROM "teams_apitoken"' in counter_statements[0]
    assert not RateLimitCounter.objects.filter(bucket__startswith="bad-token:").exists()


def test_bad_token_limit_zero_turns_it_off(client, db, settings):
    settings.API_TOKEN_FAILURE_LIMIT_PER_IP = 0
    with time_machine.travel(T0, tick=False):
        codes = {read(client, BAD).status_code for _ in range(5)}

    assert codes == {401}
    assert not RateLimitCounter.objects.exists()


@pytest.fixture
def redis_rate_limits(settings):
    settings.REDIS_URL = "redis://rate-limits.invalid:6379/0"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def test_bad_token_flood_counted_in_the_cache_with_redis(client, token, redis_rate_limits):
    with time_machine.travel(T0, tick=False):
        codes = [read(client, BAD).status_code for _ in range(4)]
        locked = read(client, token)

    assert codes == [401, 401, 401, 429]
    assert locked.status_code == 429
    assert not RateLimitCounter.objects.exists()


# --- the limiter -------------------------------------------------------------------------


def test_ratelimit_count_reads_without_counting(db, django_assert_num_queries):
    now = T0.timestamp()
    for _ in range(2):
        ratelimit_hit(bucket="b", limit=5, window_seconds=60, now=now)

    with django_assert_num_queries(1):  # the counts ride in the query they annotate
        counts = list(
            RateLimitCounter.objects.annotate(
                current=ratelimit_count(bucket="b", window_seconds=60, now=now + 1),
                next_window=ratelimit_count(bucket="b", window_seconds=60, now=now + 60),
            ).values_list("current", "next_window")
        )

    assert counts == [(2, 0)]
    assert RateLimitCounter.objects.get().hits == 2


def test_ratelimit_count_in_the_cache(db, redis_rate_limits, django_assert_num_queries):
    now = T0.timestamp()
    for _ in range(2):
        ratelimit_hit(bucket="b", limit=5, window_seconds=60, now=now)

    with django_assert_num_queries(0):
        current = ratelimit_count(bucket="b", window_seconds=60, now=now + 1)
        next_window = ratelimit_count(bucket="b", window_seconds=60, now=now + 60)

    assert (current.value, next_window.value) == (2, 0)


def test_ratelimit_prune_keeps_the_longest_window(db, settings):
    settings.PASSWORD_RESET_RATE_LIMIT_WINDOW_SECONDS = 7200
    now = T0.timestamp()
    RateLimitCounter.objects.create(bucket="live", window_start=int(now) - 7200 - 3600 + 10)
    RateLimitCounter.objects.create(bucket="gone", window_start=int(now) - 7200 - 3600 - 10)

    assert ratelimit_prune(now=now) == 1
    assert RateLimitCounter.objects.get().bucket == "live"
