"""Fairness report: each agent's target share of a rule against what they got."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count

from routing.models import LogEvent, RoutingLog, RoutingRule
from routing.state import team_state_now


@dataclass(frozen=True)
class ShareRow:
    membership_id: int
    name: str
    target: float  # 0..1, from the rule's weights (equal for Blast Alert)
    actual: float  # 0..1 of contacts assigned through the rule in the period
    count: int


def rule_fairness(*, rule: RoutingRule, since: datetime, until: datetime) -> list[ShareRow]:
    """Target vs actual share per current assignee, plus anyone who got contacts then."""
    state = team_state_now(team=rule.team)
    engine_rule = state.rule(rule.pk)
    counts = dict(
        RoutingLog.objects.filter(
            rule=rule, event=LogEvent.ASSIGNED, created_at__gte=since, created_at__lt=until
        )
        .values("membership_id")
        .annotate(n=Count("id"))
        .values_list("membership_id", "n")
    )
    total = sum(counts.values())
    weights = {
        c.membership_id: (1 if rule.method == "blast" else c.weight) for c in engine_rule.candidates
    }
    weight_sum = sum(weights.values()) or 1
    ids = list(weights) + [m for m in counts if m not in weights and m is not None]
    return [
        ShareRow(
            membership_id=member_id,
            name=state.members[member_id].name if member_id in state.members else "(removed)",
            target=weights.get(member_id, 0) / weight_sum,
            actual=(counts.get(member_id, 0) / total) if total else 0.0,
            count=counts.get(member_id, 0),
        )
        for member_id in ids
    ]
