"""A routing log entry's steps, stored as data, and rendered as lines for people.

A decision is one log row whatever the number of rules and agents: its `steps`
hold, per rule (or reassignment group) visited, whether it matched and why, and
per member who could not take the contact, the reason. Pages and the API turn
them into the lines people read: "Rule did not match: Zillow — source 'Facebook'
is not one of: Zillow", "Candidate skipped: Bob: paused or on vacation", …
"""

from __future__ import annotations

from dataclasses import dataclass

from routing import engine

CODES = {
    engine.MATCHED: "rule_matched",
    engine.NOT_MATCHED: "rule_not_matched",
    engine.SKIPPED: "rule_skipped",
    engine.FELL_THROUGH: "rule_matched",
    engine.HELD: "rule_matched",
    engine.WAITING: "rule_matched",
}
LINE_LABELS = {
    engine.MATCHED: "Rule matched",
    engine.NOT_MATCHED: "Rule did not match",
    engine.SKIPPED: "Rule skipped",
    engine.FELL_THROUGH: "Rule matched",
    engine.HELD: "Rule matched",
    engine.WAITING: "Rule matched",
}
MARKS = {
    engine.MATCHED: "yes",
    engine.FELL_THROUGH: "yes",
    engine.HELD: "yes",
    engine.WAITING: "yes",
    engine.NOT_MATCHED: "no",
    engine.SKIPPED: "skip",
}


@dataclass(frozen=True)
class Line:
    label: str  # "Rule matched", "Candidate skipped", "Assigned", …
    source: str  # the rule or group it is about, as it was named then
    text: str
    mark: str = ""  # "yes" / "no" / "skip" for a rule's Y/N, "" otherwise
    kind: str = "step"  # "step", "member", "note" or "outcome"
    code: str = ""  # the event as the API names it: rule_matched, candidate_skipped, …
    member_id: int | None = None


def steps_data(steps: tuple[engine.Step, ...]) -> list[dict]:
    """A decision's steps as JSON for the log row."""
    return [
        {
            "kind": s.kind,
            "id": s.source_id,
            "name": s.name,
            "outcome": s.outcome,
            "reason": s.reason,
            **({"criterion": s.criterion} if s.criterion else {}),
            **(
                {"skipped": [[k.membership_id, k.name, k.reason] for k in s.skipped]}
                if s.skipped
                else {}
            ),
            **({"available": s.available} if s.available else {}),
            **({"note": s.note} if s.note else {}),
            **({"bucket": s.bucket} if s.bucket else {}),
        }
        for s in steps
    ]


def _source_name(step: dict) -> str:
    if step.get("kind") == engine.GROUP:
        return f"Reassignment group “{step['name']}”"
    return step.get("name", "")


def step_lines(step: dict) -> list[Line]:
    outcome = step.get("outcome", "")
    name = _source_name(step)
    if step.get("kind") == engine.GROUP:
        head = Line("Reassignment group", name, step.get("reason", ""), "yes", code="group")
    elif step.get("bucket"):
        # A lead pool matched: say so, and through which source bucket.
        text = f"Matched lead pool “{name}” (source bucket “{step['bucket']}”)"
        head = Line("Matched lead pool", name, text, MARKS.get(outcome, ""), code="pool_matched")
    else:
        label = LINE_LABELS.get(outcome, outcome)
        head = Line(
            label, name, step.get("reason", ""), MARKS.get(outcome, ""), code=CODES.get(outcome, "")
        )
    lines = [head]
    for member_id, member_name, reason in step.get("skipped", []):
        text = f"{member_name}: {engine.REASON_TEXT.get(reason, reason)}"
        lines.append(
            Line(
                "Candidate skipped",
                name,
                text,
                kind="member",
                code="candidate_skipped",
                member_id=member_id,
            )
        )
    available = step.get("available", 0)
    if outcome == engine.MATCHED and available > 1:
        text = f"{available} members could take it; the method chose among them"
        lines.append(
            Line("Candidates available", name, text, kind="member", code="candidates_available")
        )
    if outcome == engine.FELL_THROUGH:
        lines.append(
            Line("Fell through", name, step.get("note", ""), kind="note", code="fell_through")
        )
    return lines


def entry_lines(entry) -> list[Line]:
    """Every line of a log entry: its steps, then what it decided or recorded."""
    lines: list[Line] = []
    for step in entry.steps or []:
        lines.extend(step_lines(step))
    lines.append(
        Line(
            entry.get_event_display(),
            entry.source_name,
            entry.reason,
            kind="outcome",
            code=entry.event,
            member_id=entry.membership_id,
        )
    )
    return lines
