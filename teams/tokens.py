"""API tokens: created and revoked by members who manage the team, checked on each API call.

A token is `sb_` and 43 random URL-safe characters. Only its SHA-256 is stored:
the token has 256 bits of entropy, so a fast hash is enough and the lookup is a
single indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Expression
from django.utils import timezone

from teams import access
from teams import permissions as perms
from teams.models import ApiToken, ApiTokenAccess, Membership, Team

TOKEN_PREFIX = "sb_"
# last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_hash(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def _check_actor(actor: Membership | None, team_id: int) -> None:
    if actor is None:
        return
    access.require_perm(actor, perms.MANAGE_TEAM, team_id=team_id)


@transaction.atomic
def api_token_create(
    *,
    actor: Membership | None,
    team: Team,
    name: str,
    access: str = ApiTokenAccess.FULL,
) -> tuple[ApiToken, str]:
    """A new token and its plain text, which is never stored and never shown again."""
    _check_actor(actor, team.pk)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        team=team,
        name=name.strip(),
        access=access,
        prefix=plain[:10],
        token_hash=token_hash(plain),
        created_by=actor,
    )
    token.full_clean()
    token.save()
    return token, plain


def api_token_revoke(*, actor: Membership | None, token: ApiToken) -> bool:
    """Revoke at once; False when it was revoked already."""
    _check_actor(actor, token.team_id)
    now = timezone.now()
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    if revoked:
        token.revoked_at = now
    return bool(revoked)


def api_token_authenticate(*, plain: str, now: datetime | None = None) -> ApiToken | None:
    """The active token with this text, or None."""
    token = api_token_find(plain=plain)
    if token is not None:
        api_token_touch(token=token, now=now)
    return token


def api_token_find(
    *, plain: str, annotations: Mapping[str, Expression] | None = None
) -> ApiToken | None:
    """The active token with this text (with its team), or None; not marked as used.

    `annotations` ride along in the same statement (the API reads the caller's recent
    failures that way): they are attributes of the token returned."""
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > 100:
        return None
    tokens = ApiToken.objects.select_related("team").filter(
        token_hash=token_hash(plain), revoked_at__isnull=True
    )
    if annotations:
        tokens = tokens.annotate(**annotations)
    return tokens.first()


def api_token_touch(*, token: ApiToken, now: datetime | None = None) -> None:
    """Record that the token was just used, at most once per LAST_USED_RESOLUTION."""
    now = now or timezone.now()
    if token.last_used_at is None or token.last_used_at <= now - LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
