"""Fixed-window rate limits shared by every process.

All the buckets a request counts in (its client IP, its token or lead source) are
counted and read in one step, shared by every gunicorn worker and host:

- in the database, one multi-row upsert (``INSERT … VALUES (…), (…) ON CONFLICT DO
  UPDATE SET hits = hits + 1 RETURNING bucket, hits``, on PostgreSQL and SQLite ≥ 3.35
  alike);
- in the Django cache when ``REDIS_URL`` is set (the cache is Redis then): ``incr``,
  or ``add`` for a window's first hit, and no SQL at all.

A count can also be read without counting a hit (``ratelimit_count``), as part of a
query the caller makes anyway: API token checks refuse an address that sent too many
unknown tokens within the token lookup itself.

Intake, password reset requests, unknown API tokens and bad claim links all count here,
each in its own buckets and window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Expression, IntegerField, Subquery, Value
from django.db.models.functions import Coalesce

from contacts.models import RateLimitCounter

BUCKET_MAX = 160  # RateLimitCounter.bucket's length
# The settings holding the window of some limit counted here: pruning keeps the longest.
WINDOW_SETTINGS = (
    "INTAKE_RATE_LIMIT_WINDOW_SECONDS",
    "PASSWORD_RESET_RATE_LIMIT_WINDOW_SECONDS",
    "API_TOKEN_FAILURE_WINDOW_SECONDS",
    "CLAIM_LINK_FAILURE_WINDOW_SECONDS",
)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    hits: int
    limit: int
    retry_after: int  # seconds until the window ends


def ratelimit_hits(
    *, limits: Sequence[tuple[str, int]], window_seconds: int, now: float | None = None
) -> list[Verdict]:
    """Count one hit in each (bucket, limit)'s current window, in one step; a verdict per
    pair, in their order. A limit of 0 or less turns that bucket off (not counted)."""
    now = time.time() if now is None else now
    window_start = _window_start(now, window_seconds)
    buckets = sorted({bucket[:BUCKET_MAX] for bucket, limit in limits if limit > 0})
    if not buckets:
        hits = {}
    elif _in_cache():
        hits = _count_in_cache(buckets, window_start, window_seconds)
    else:
        hits = _count_in_database(buckets, window_start)
    retry_after = ratelimit_retry_after(window_seconds=window_seconds, now=now)
    verdicts = []
    for bucket, limit in limits:
        if limit <= 0:
            verdicts.append(Verdict(allowed=True, hits=0, limit=limit, retry_after=0))
            continue
        count = hits[bucket[:BUCKET_MAX]]
        verdicts.append(
            Verdict(allowed=count <= limit, hits=count, limit=limit, retry_after=retry_after)
        )
    return verdicts


def ratelimit_hit(
    *, bucket: str, limit: int, window_seconds: int, now: float | None = None
) -> Verdict:
    """Count one hit in `bucket`'s current window; a limit of 0 or less turns the limit off."""
    (verdict,) = ratelimit_hits(limits=[(bucket, limit)], window_seconds=window_seconds, now=now)
    return verdict


def ratelimit_retry_after(*, window_seconds: int, now: float | None = None) -> int:
    """Seconds until the current window ends (at least 1)."""
    now = time.time() if now is None else now
    return max(1, math.ceil(_window_start(now, window_seconds) + window_seconds - now))


def ratelimit_count(*, bucket: str, window_seconds: int, now: float | None = None) -> Expression:
    """The hits counted so far in `bucket`'s current window, without counting one, as an
    expression to annotate onto a query the caller runs anyway: with the database, a
    subquery of the window's counter row, so reading it costs no statement of its own;
    with Redis, the cached count (no SQL at all)."""
    now = time.time() if now is None else now
    window_start = _window_start(now, window_seconds)
    bucket = bucket[:BUCKET_MAX]
    if _in_cache():
        return Value(cache.get(_cache_key(bucket, window_start), 0), output_field=IntegerField())
    row = RateLimitCounter.objects.filter(bucket=bucket, window_start=window_start)
    return Coalesce(Subquery(row.values("hits")[:1]), 0, output_field=IntegerField())


def _window_start(now: float, window_seconds: int) -> int:
    return int(now // window_seconds) * window_seconds


def _in_cache() -> bool:
    return bool(getattr(settings, "REDIS_URL", ""))


def _cache_key(bucket: str, window_start: int) -> str:
    return f"ratelimit:{window_start}:{quote(bucket, safe=':.[]')}"


def _count_in_database(buckets: list[str], window_start: int) -> dict[str, int]:
    # Rows in a fixed (sorted) order: two requests sharing buckets lock them in the same
    # order and cannot deadlock.
    q = connection.ops.quote_name
    table = q(RateLimitCounter._meta.db_table)
    bucket_col, window_col, hits_col = q("bucket"), q("window_start"), q("hits")
    sql = (
        f"INSERT INTO {table} ({bucket_col}, {window_col}, {hits_col}) VALUES "
        + ", ".join(["(%s, %s, 1)"] * len(buckets))
        + f" ON CONFLICT ({bucket_col}, {window_col}) "
        f"DO UPDATE SET {hits_col} = {table}.{hits_col} + 1 RETURNING {bucket_col}, {hits_col}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for bucket in buckets for value in (bucket, window_start)])
        return dict(cursor.fetchall())


def _count_in_cache(buckets: list[str], window_start: int, window_seconds: int) -> dict[str, int]:
    # A window's key outlives the window a little, then expires: nothing to prune.
    timeout = window_seconds + 60
    hits = {}
    for bucket in buckets:
        key = _cache_key(bucket, window_start)
        try:
            hits[bucket] = cache.incr(key)
        except ValueError:  # the window's first hit (or a racing first hit: add fails)
            hits[bucket] = 1 if cache.add(key, 1, timeout) else cache.incr(key)
    return hits


def ratelimit_prune(*, now: float | None = None) -> int:
    """Drop windows that ended over an hour ago: older than the longest window plus an hour."""
    now = time.time() if now is None else now
    longest = max(getattr(settings, name) for name in WINDOW_SETTINGS)
    horizon = now - longest - 3600
    deleted, _ = RateLimitCounter.objects.filter(window_start__lt=horizon).delete()
    return deleted


def client_ip(request) -> str:
    """REMOTE_ADDR, or the address the trusted proxies saw when there are some."""
    proxies = settings.INTAKE_TRUSTED_PROXIES
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.headers.get("X-Forwarded-For", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")
