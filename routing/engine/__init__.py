"""Contact routing decisions over plain dataclasses.

Pure on purpose: no ORM and no clock. Services load rows, build these dataclasses, pass
`now` and write back what the engine decided, so every decision is table-testable
without a database. `route` and `reassign` (in `decide`) make the whole decision;
the other modules hold its parts: working hours, criteria, sources and candidates,
and the rotation.
"""

from routing.engine.criteria import (
    ContactFacts,
    Criteria,
    CriterionResult,
    SourceBucket,
    match_criteria,
    pool_bucket,
)
from routing.engine.decide import (
    ASSIGN,
    FELL_THROUGH,
    HELD,
    HOLD,
    MATCHED,
    NOBODY,
    NOT_MATCHED,
    OFFER,
    OWNER_HOW,
    SKIPPED,
    STAY,
    WAIT,
    WAITING,
    Decision,
    Distribution,
    Step,
    TeamRules,
    advance,
    default_rule_pool,
    distribute,
    reachable,
    reassign,
    route,
)
from routing.engine.hours import WorkingHours, within_hours
from routing.engine.rotation import pick_least_open, pick_round_robin
from routing.engine.sources import (
    GROUP,
    REASON_SHORT,
    REASON_TEXT,
    RULE,
    TEMPORARY,
    Candidate,
    Live,
    Skip,
    SkipReason,
    Source,
    eligibility,
    screen,
    unavailable_summary,
)
from teams.plans import (
    ASSIGN_DIRECTLY,
    BLAST,
    LEAST_OPEN,
    MANUAL,
    METHOD_LABELS,
    NEXT_UP,
    PLAN_METHODS,
    ROUND_ROBIN,
    method_allowed,
)

__all__ = [
    "ASSIGN", "ASSIGN_DIRECTLY", "BLAST", "FELL_THROUGH", "GROUP", "HELD", "HOLD",
    "LEAST_OPEN", "MANUAL", "MATCHED", "METHOD_LABELS", "NEXT_UP", "NOBODY", "NOT_MATCHED",
    "OFFER", "OWNER_HOW", "PLAN_METHODS", "REASON_SHORT", "REASON_TEXT", "ROUND_ROBIN", "RULE",
    "SKIPPED", "STAY", "TEMPORARY", "WAIT", "WAITING", "Candidate", "ContactFacts", "Criteria",
    "CriterionResult", "Decision", "Distribution", "Live", "Skip", "SkipReason", "Source",
    "SourceBucket", "Step", "TeamRules", "WorkingHours", "advance", "default_rule_pool",
    "distribute", "eligibility", "match_criteria", "method_allowed", "pick_least_open",
    "pick_round_robin", "pool_bucket", "reachable", "reassign", "route", "screen",
    "unavailable_summary", "within_hours",
]  # fmt: skip
