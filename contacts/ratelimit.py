"""Fixed-window rate limits shared by every process through the database.

One upsert per hit (``INSERT … ON CONFLICT DO UPDATE SET hits = hits + 1
RETURNING hits``, on PostgreSQL and SQLite ≥ 3.35 alike) counts and reads in
one atomic statement, so gunicorn workers and hosts see the same count.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from contacts.models import RateLimitCounter


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    hits: int
    limit: int
    retry_after: int  # seconds until the window ends


def ratelimit_hit(
    *, bucket: str, limit: int, window_seconds: int, now: float | None = None
) -> Verdict:
    """Count one hit in `bucket`'s current window; a limit of 0 or less turns the limit off."""
    if limit <= 0:
        return Verdict(allowed=True, hits=0, limit=limit, retry_after=0)
    now = time.time() if now is None else now
    window_start = int(now // window_seconds) * window_seconds
    q = connection.ops.quote_name
    table = q(RateLimitCounter._meta.db_table)
    bucket_col, window_col, hits_col = q("bucket"), q("window_start"), q("hits")
    sql = (
        f"INSERT INTO {table} ({bucket_col}, {window_col}, {hits_col}) VALUES (%s, %s, 1) "
        f"ON CONFLICT ({bucket_col}, {window_col}) "
        f"DO UPDATE SET {hits_col} = {table}.{hits_col} + 1 RETURNING {hits_col}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [bucket[:160], window_start])
        (hits,) = cursor.fetchone()
    retry_after = max(1, math.ceil(window_start + window_seconds - now))
    return Verdict(allowed=hits <= limit, hits=hits, limit=limit, retry_after=retry_after)


def ratelimit_prune(*, now: float | None = None) -> int:
    """Drop windows that ended over an hour ago."""
    now = time.time() if now is None else now
    horizon = now - settings.INTAKE_RATE_LIMIT_WINDOW_SECONDS - 3600
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
