"""Rotation rows: locked in id order before deciding, written back with the new turns.

Every router that may distribute through a rule or group locks its rotation row first
(rows in ascending id, so several routers never wait on each other in a circle), reads
the turn counts into `Live`, decides, and writes the counts back in the same
transaction: a rollback gives every turn back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.db.models import F
from django.utils import timezone

from routing import engine
from routing.models import Rotation


def rotations_lock(live: engine.Live, rotation_ids: Iterable[int]) -> dict[int, Rotation]:
    """Lock these rotations (one statement, id order) and read their counts into `live`."""
    ids = sorted({i for i in rotation_ids if i})
    if not ids:
        return {}
    locked = {
        r.pk: r for r in Rotation.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    for rotation_id, rotation in locked.items():
        live.counts[rotation_id] = rotation.member_counts()
    return locked


def rotations_sources(sources: Iterable[engine.Source]) -> set[int]:
    """The rotations of the sources whose method takes turns (or counts open contacts)."""
    return {s.rotation_id for s in sources if s.method != engine.ASSIGN_DIRECTLY}


def rotations_save(
    locked: dict[int, Rotation], live: engine.Live, decisions: Iterable[engine.Decision]
) -> None:
    """Write back the counts of the rotations these decisions took turns in."""
    turns = Counter(d.source.rotation_id for d in decisions if d.uses_rotation)
    changed = []
    for rotation_id, n in turns.items():
        rotation = locked.get(rotation_id)
        if rotation is None:
            raise RuntimeError(f"rotation {rotation_id} was used without being locked")
        rotation.counts = {str(k): v for k, v in live.counts.get(rotation_id, {}).items()}
        rotation.turns += n
        changed.append(rotation)
    if changed:
        Rotation.objects.bulk_update(changed, ["counts", "turns"])


def rotation_reset(*, rotation_id: int) -> None:
    """Start the order of distribution again from the top."""
    Rotation.objects.filter(pk=rotation_id).update(
        counts={}, epoch=F("epoch") + 1, reset_at=timezone.now()
    )
