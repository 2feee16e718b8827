"""Who is next among the members who can take a contact: weighted turns, or least open.

Integer arithmetic in one pass over the members: O(n) for n members, whatever their
weights, so a rule with a thousand agents decides as fast as one with eight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from routing.engine.sources import Candidate


def _weight(c: Candidate) -> int:
    return max(c.weight, 1)  # the database enforces >= 1; never divide by zero if it slips


def pick_round_robin(
    eligible: Sequence[Candidate], counts: Mapping[int, int]
) -> tuple[Candidate, int]:
    """Deficit rotation: whoever is furthest below their weighted share goes next.

    A member skipped while unavailable keeps their turn instead of losing it to a fixed
    cursor, but comes back at most one turn ahead: their count is first raised to one
    of their own turns below the least-served other member's share,
    floor(w_i * min_j(c_j / w_j)) - 1. In an undisturbed rotation every count is already
    at or above that floor, so only members back from an absence are lifted. The next
    member is the smallest (effective + 1) / weight; ties go to the earlier position.

    Returns the chosen member and the count to store for them.
    """
    if not eligible:
        raise ValueError("pick_round_robin needs at least one eligible member")
    ks = [counts.get(c.membership_id, 0) for c in eligible]
    ws = [_weight(c) for c in eligible]
    n = len(eligible)
    if n == 1:
        return eligible[0], ks[0] + 1
    # The two least-served members by k/w (compared as k_a * w_b < k_b * w_a): for
    # everyone but the least-served, "the least-served other" is the least-served;
    # for the least-served themselves it is the runner-up.
    first = min(range(n), key=lambda i: _RatioKey(ks[i], ws[i]))
    second = min((i for i in range(n) if i != first), key=lambda i: _RatioKey(ks[i], ws[i]))
    best = -1
    best_num = best_den = 0
    for i in range(n):
        j = second if i == first else first
        effective = max(ks[i], (ks[j] * ws[i]) // ws[j] - 1)
        num, den = effective + 1, ws[i]
        if best < 0:
            best, best_num, best_den, best_eff = i, num, den, effective
            continue
        left, right = num * best_den, best_num * den
        if left < right or (left == right and _before(eligible[i], eligible[best])):
            best, best_num, best_den, best_eff = i, num, den, effective
    return eligible[best], best_eff + 1


class _RatioKey:
    """Orders k/w fractions by cross-multiplication (no Fraction objects)."""

    __slots__ = ("k", "w")

    def __init__(self, k: int, w: int) -> None:
        self.k, self.w = k, w

    def __lt__(self, other: _RatioKey) -> bool:
        return self.k * other.w < other.k * self.w


def _before(a: Candidate, b: Candidate) -> bool:
    return (a.position, a.membership_id) < (b.position, b.membership_id)


def pick_least_open(
    eligible: Sequence[Candidate],
    open_contacts: Mapping[int, int],
    last_assigned: Mapping[int, datetime],
    never: datetime,
) -> Candidate:
    """Fewest open contacts; on a tie whoever waited longest since their last assignment
    (never assigned = waited longest), then the earlier position."""
    return min(
        eligible,
        key=lambda c: (
            open_contacts.get(c.membership_id, 0),
            last_assigned.get(c.membership_id) or never,
            c.position,
            c.membership_id,
        ),
    )
