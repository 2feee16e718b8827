"""What routing would do with a contact, without changing anything.

The answer is the routing engine's own decision (`engine.route`, the function real
routing calls), over the team's rules and the turn counts as they stand; nothing is
locked, advanced or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from routing import engine
from routing.state import simulate_now
from teams.models import Team


@dataclass(frozen=True)
class Simulation:
    decision: engine.Decision
    evaluations: tuple[engine.Step, ...]  # each rule looked at, in order, and why
    rule: engine.Source | None  # the rule that would take it (None: the team owner)
    method_label: str
    next_up: tuple[str, ...]  # who would get it (one name; every name for a blast)
    skipped: tuple[engine.Skip, ...]  # members of that rule who could not take it, and why
    outcome: str  # a sentence for people


def routing_simulate(
    *, team: Team, facts: engine.ContactFacts, now: datetime | None = None
) -> Simulation:
    """Which rule would take this contact and who is next, and why."""
    now = now or timezone.now()
    state, live = simulate_now(team=team, now=now)
    decision = engine.route(state.rules, facts, now, live)
    rule = decision.source
    last = decision.steps[-1] if decision.steps else None
    skipped = last.skipped if last is not None and rule is not None else ()
    label = rule.label if rule is not None else ""
    if decision.action == engine.OFFER:
        names = tuple(state.name(m) for m in decision.recipients)
        verb = "Blast Alert to" if decision.offer_kind == engine.BLAST else "would be offered to"
        outcome = f"“{rule.name}” ({label}) {verb} {', '.join(names)}."
    elif decision.action == engine.HOLD:
        names = ()
        outcome = f"“{rule.name}” would hold it ({decision.reason})."
    elif decision.action == engine.WAIT:
        names = ()
        outcome = f"“{rule.name}” (Manual) would keep it unassigned for an admin to assign."
    elif decision.action == engine.ASSIGN and rule is not None:
        names = (state.name(decision.member_id),)
        outcome = f"“{rule.name}” ({label}) would go to {names[0]}."
    elif decision.action == engine.ASSIGN:
        names = (state.name(decision.member_id),)
        outcome = f"No rule can take it: falls back to the owner, {names[0]}."
    else:
        names = ()
        outcome = f"Nobody can take it: {decision.reason}."
    return Simulation(
        decision=decision,
        evaluations=decision.steps,
        rule=rule,
        method_label=label,
        next_up=names,
        skipped=skipped,
        outcome=outcome,
    )
