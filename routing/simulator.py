"""What routing would do with a contact, without changing anything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from routing import engine
from routing.selectors import team_routing_load, with_rotation_state
from teams.models import Membership, Team


@dataclass(frozen=True)
class Simulation:
    evaluations: tuple[engine.RuleEvaluation, ...]
    rule: engine.Rule | None
    method_label: str
    next_up: tuple[str, ...]  # who would get it (one name; every name for a blast)
    skipped: tuple[engine.Skip, ...]
    outcome: str  # a sentence for people


def routing_simulate(
    *, team: Team, facts: engine.ContactFacts, now: datetime | None = None
) -> Simulation:
    """Which rule would take this contact and who is next, and why. Reads only:
    no rotation row is locked or advanced, no offer or log is written."""
    now = now or timezone.now()
    state = team_routing_load(team=team, now=now)
    selection = engine.select_rule(state.rules, facts, now, plan=team.plan)
    rule = selection.rule
    if rule is None:
        owner = state.owner.display_name if state.owner else "nobody"
        return Simulation(
            selection.evaluations, None, "", (owner,), (), f"Falls back to the owner, {owner}."
        )
    if rule.is_default:
        rule = engine.default_rule_pool(rule, [r for r in state.rules if not r.is_default])
    if rule.method != engine.ASSIGN_DIRECTLY:
        rule = with_rotation_state(rule, rotation_id=state.rotation_ids[rule.id])
    label = engine.METHOD_LABELS.get(rule.method, rule.method)
    if rule.method == engine.BLAST:
        pick = engine.blast_recipients(rule, now)
        names = tuple(c.name for c in pick.eligible)
        outcome = (
            f"Blast Alert to {', '.join(names)}." if names else "Nobody eligible: falls through."
        )
        return Simulation(selection.evaluations, rule, label, names, pick.skipped, outcome)
    pick = engine.pick_next(rule, now)
    if pick.chosen is None:
        who = _member_name(state.members, rule.direct_assignee_id) or _owner_name(state)
        outcome = f"Nobody in “{rule.name}” can take it: falls through (eventually {who})."
        return Simulation(selection.evaluations, rule, label, (), pick.skipped, outcome)
    verb = "would be offered to" if rule.method == engine.NEXT_UP else "would go to"
    outcome = f"“{rule.name}” ({label}) {verb} {pick.chosen.name}."
    return Simulation(
        selection.evaluations, rule, label, (pick.chosen.name,), pick.skipped, outcome
    )


def _member_name(members: dict[int, Membership], member_id: int | None) -> str:
    member = members.get(member_id) if member_id else None
    return member.display_name if member else ""


def _owner_name(state) -> str:
    return state.owner.display_name if state.owner else "nobody"
