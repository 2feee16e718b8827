"""Rotation rows: each rule's and group's turn counts, read, then written back.

Turns are taken optimistically: a router decides against the counts it last saw (kept
per process, refreshed from the database when missing), then writes the new counts
with one `UPDATE … WHERE turns = <seen> AND epoch = <seen>`. If another router took a
turn meanwhile, nothing is written and the batch is decided again under row locks
(SELECT … FOR UPDATE, rotations in id order, so routers never wait on each other in a
circle). Either way the counts are written in the routing transaction: a rollback
gives every turn back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from routing import engine
from routing.models import Rotation


@dataclass(frozen=True)
class Seen:
    """A rotation as a router read it."""

    turns: int
    epoch: int
    counts: dict[int, int]


# The rotations this process last wrote or read: a trickle of leads through one rule
# reads nothing back. Stale entries only cost a retry (the UPDATE's WHERE catches them).
_seen: dict[int, Seen] = {}


def _remember(rotation: Rotation) -> Seen:
    seen = Seen(rotation.turns, rotation.epoch, rotation.member_counts())
    _seen[rotation.pk] = seen
    return seen


def rotations_read(live: engine.Live, rotation_ids: Iterable[int]) -> dict[int, Seen]:
    """The counts of these rotations into `live`, without locks (one query for any not
    seen before)."""
    ids = sorted({i for i in rotation_ids if i})
    missing = [i for i in ids if i not in _seen]
    if missing:
        for rotation in Rotation.objects.filter(pk__in=missing):
            _remember(rotation)
    found = {i: _seen[i] for i in ids if i in _seen}
    for rotation_id, seen in found.items():
        live.counts[rotation_id] = dict(seen.counts)
    return found


def rotations_lock(live: engine.Live, rotation_ids: Iterable[int]) -> dict[int, Seen]:
    """Lock these rotations (one statement, id order) and read their counts into `live`."""
    ids = sorted({i for i in rotation_ids if i})
    if not ids:
        return {}
    found = {
        r.pk: _remember(r)
        for r in Rotation.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    for rotation_id, seen in found.items():
        live.counts[rotation_id] = dict(seen.counts)
    return found


def rotations_sources(sources: Iterable[engine.Source]) -> set[int]:
    """The rotations of the sources whose method takes turns."""
    return {
        s.rotation_id for s in sources if s.method not in (engine.ASSIGN_DIRECTLY, engine.MANUAL)
    }


def rotations_used(decisions: Iterable[engine.Decision]) -> Counter:
    """Rotation id → turns these decisions take in it."""
    return Counter(d.source.rotation_id for d in decisions if d.uses_rotation)


def rotations_save(
    seen: dict[int, Seen], live: engine.Live, decisions: Iterable[engine.Decision]
) -> bool:
    """Write the counts of the rotations these decisions took turns in, each only if it
    is still as it was seen. False when another router took a turn since (nothing was
    written for that rotation). Several rotations are written only under locks."""
    used = rotations_used(decisions)
    written = {}
    for rotation_id in sorted(used):
        before = seen.get(rotation_id)
        if before is None:
            raise RuntimeError(f"rotation {rotation_id} was used without being read")
        counts = live.counts.get(rotation_id, {})
        updated = Rotation.objects.filter(
            pk=rotation_id, turns=before.turns, epoch=before.epoch
        ).update(
            counts={str(k): v for k, v in counts.items()}, turns=before.turns + used[rotation_id]
        )
        if not updated:
            _seen.pop(rotation_id, None)
            return False
        written[rotation_id] = Seen(before.turns + used[rotation_id], before.epoch, dict(counts))
    if written:
        transaction.on_commit(partial(_seen.update, written))
    return True


def rotation_reset(*, rotation_id: int) -> None:
    """Start the order of distribution again from the top."""
    Rotation.objects.filter(pk=rotation_id).update(
        counts={}, epoch=F("epoch") + 1, reset_at=timezone.now()
    )


def cache_clear() -> None:
    _seen.clear()
