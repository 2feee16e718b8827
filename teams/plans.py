"""What each plan includes: the routing methods a team may use.

Plain constants, no ORM: the routing engine reads them, and the plan page shows them.
"""

from __future__ import annotations

ROUND_ROBIN = "round_robin"
NEXT_UP = "next_up"
BLAST = "blast"
LEAST_OPEN = "least_open"
ASSIGN_DIRECTLY = "assign_directly"
MANUAL = "manual"  # a lead pool holds its contacts for an admin to assign

METHOD_LABELS = {
    ROUND_ROBIN: "Round Robin",
    NEXT_UP: "Next Up",
    BLAST: "Blast Alert",
    LEAST_OPEN: "Least open contacts",
    ASSIGN_DIRECTLY: "Assign directly",
    MANUAL: "Manual (lead pool)",
}
# The order the plan page lists them in.
METHODS_IN_ORDER = (ROUND_ROBIN, LEAST_OPEN, NEXT_UP, BLAST)

# Manual distribution (an admin assigns by hand) is in every plan.
_BASIC = frozenset({ROUND_ROBIN, LEAST_OPEN, ASSIGN_DIRECTLY, MANUAL})
PLAN_METHODS: dict[str, frozenset[str]] = {
    "basic": _BASIC,
    "pro": _BASIC | {NEXT_UP},
    "premier": _BASIC | {NEXT_UP, BLAST},
}


def method_allowed(plan: str, method: str) -> bool:
    return method in PLAN_METHODS.get(plan, frozenset())
