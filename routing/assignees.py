"""Who a rule or reassignment group distributes to: members and agent tags."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from routing.models import Assignee, Method
from routing.state import routing_version_bump
from teams.models import AgentTag, Membership


@dataclass(frozen=True)
class AssigneeSpec:
    membership: Membership | None = None
    agent_tag: AgentTag | None = None
    weight: int = 1


def assignees_write(
    *, owner, owner_field: str, model: type[Assignee], specs: list[AssigneeSpec]
) -> None:
    """Validate and store `specs` in listed order for a rule or group (`owner`).

    Blast Alert notifies everyone at once, so its weights are stored as 1.
    """
    rows, seen = [], set()
    for position, spec in enumerate(specs):
        target = spec.membership or spec.agent_tag
        if target is None or (spec.membership and spec.agent_tag):
            raise ValidationError("Each assignee is a member or an agent tag.")
        if target.team_id != owner.team_id:
            raise ValidationError(f"“{target}” belongs to another team.")
        if spec.weight < 1:
            raise ValidationError("Weights are whole numbers of at least 1.")
        key = ("member", target.pk) if spec.membership else ("tag", target.pk)
        if key in seen:
            raise ValidationError(f"“{target}” is listed twice.")
        seen.add(key)
        rows.append(
            model(
                **{owner_field: owner},
                membership=spec.membership,
                agent_tag=spec.agent_tag,
                weight=1 if owner.method == Method.BLAST else spec.weight,
                position=position,
            )
        )
    model.objects.bulk_create(rows)  # no post_save: say so to the routers ourselves
    routing_version_bump(team_id=owner.team_id)
