"""The reassignment group editor: fields, assignees with weights, "Available To" groups.

Choices come from lists the view loaded once (members, agent tags, the team's
group tree); the services in routing.reassignment check them again.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms

from routing import engine
from routing.groups import GroupAssignee
from routing.models import Method, ReassignmentGroup
from teams.models import AgentTag, Group, Membership, Team

MAX_WEIGHT = 100
GROUP_OPTIONS = ("only_online", "skip_paused", "respect_capacity")
NBSP = "\u00a0"


def group_tree(groups: list[Group]) -> list[tuple[Group, int]]:
    """The team's groups in hierarchy order (parents before children) with their depth."""
    children: dict[int | None, list[Group]] = {}
    ids = {g.pk for g in groups}
    for g in groups:
        parent = g.parent_id if g.parent_id in ids else None
        children.setdefault(parent, []).append(g)
    ordered: list[tuple[Group, int]] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for g in sorted(children.get(parent_id, []), key=lambda g: g.name.lower()):
            ordered.append((g, depth))
            walk(g.pk, depth + 1)

    walk(None, 0)
    return ordered


def _indented(name: str, depth: int) -> str:
    """An option label showing the hierarchy: non-breaking spaces survive in <option>."""
    return f"{NBSP * 4 * (depth - 1)}{NBSP * 2}└{NBSP}{name}" if depth else name


def _key(assignee) -> tuple[str, int]:
    if assignee.membership_id:
        return ("m", assignee.membership_id)
    return ("t", assignee.agent_tag_id)


@dataclass
class AssigneeRow:
    """One line of the assignee table: a member or an agent tag, its checkbox and weight."""

    target: Membership | AgentTag
    include: forms.BoundField
    weight: forms.BoundField


class ReassignmentGroupForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120)
    method = forms.ChoiceField(label="Distribution method")
    claim_window_minutes = forms.IntegerField(
        label="Claim window (minutes)",
        min_value=1,
        max_value=7 * 24 * 60,
        initial=15,
        help_text="Next Up and Blast Alert: how long an offer waits before it moves on.",
    )
    only_online = forms.BooleanField(
        label="Only agents who are online", required=False, initial=False
    )
    skip_paused = forms.BooleanField(
        label="Skip agents who are paused or on vacation", required=False, initial=True
    )
    respect_capacity = forms.BooleanField(
        label="Skip agents at their capacity of open contacts", required=False, initial=True
    )

    def __init__(
        self,
        *args,
        team: Team,
        members: list[Membership],
        tags: list[AgentTag],
        tree: list[tuple[Group, int]],
        group: ReassignmentGroup | None = None,
        **kwargs,
    ):
        self.team, self.group = team, group
        current = list(group.assignees.all()) if group else []
        if group is not None:
            kwargs.setdefault("initial", self._initial(group))
        super().__init__(*args, **kwargs)
        self._members = {m.pk: m for m in members}
        self._tags = {t.pk: t for t in tags}
        self._groups = {g.pk: g for g, _ in tree}
        self.fields["method"].choices = self._method_choices(team, group)
        self.fields["default_assignee"] = forms.TypedChoiceField(
            label="Default assignee",
            coerce=int,
            required=False,
            empty_value=None,
            choices=[("", "The team owner"), *((m.pk, m.display_name) for m in members)],
            help_text="Gets the contact if nobody in the distribution claims it.",
        )
        self.fields["available_to"] = forms.TypedMultipleChoiceField(
            label="Available To",
            coerce=int,
            required=False,
            choices=[(g.pk, _indented(g.name, depth)) for g, depth in tree],
            help_text="Members of these groups (and their sub-groups) can send contacts to "
            "this reassignment group. Leave empty for everyone in the team.",
            widget=forms.SelectMultiple(attrs={"size": min(max(len(tree), 3), 10)}),
        )
        self._current = [(*_key(a), a.weight) for a in current]
        weights = {("m", a.membership_id): a.weight for a in current if a.membership_id}
        weights |= {("t", a.agent_tag_id): a.weight for a in current if a.agent_tag_id}
        # A current assignee no longer in the team (inactive member) drops out on save.
        pools = {"m": self._members, "t": self._tags}
        self._order = [key for key in map(_key, current) if key[1] in pools[key[0]]]
        for kind, pool in (("m", members), ("t", tags)):
            for target in pool:
                key = (kind, target.pk)
                name = target.display_name if kind == "m" else f"tag “{target.name}”"
                self.fields[f"{kind}{target.pk}"] = forms.BooleanField(
                    label=f"Include {name}", required=False, initial=key in weights
                )
                self.fields[f"{kind}{target.pk}_weight"] = forms.IntegerField(
                    label=f"Weight for {name}",
                    min_value=1,
                    max_value=MAX_WEIGHT,
                    initial=weights.get(key, 1),
                    required=False,
                )
                if key not in self._order:
                    self._order.append(key)

    @staticmethod
    def _initial(group: ReassignmentGroup) -> dict:
        return {
            "name": group.name,
            "method": group.method,
            "claim_window_minutes": group.claim_window_minutes,
            "default_assignee": group.default_assignee_id,
            "available_to": [g.pk for g in group.available_to.all()],
            **{name: getattr(group, name) for name in GROUP_OPTIONS},
        }

    @staticmethod
    def _method_choices(team: Team, group: ReassignmentGroup | None) -> list[tuple[str, str]]:
        current = group.method if group else None
        return [
            (
                m.value,
                m.label if engine.method_allowed(team.plan, m) else f"{m.label} (not in plan)",
            )
            for m in Method
            if m not in (Method.ASSIGN_DIRECTLY, Method.MANUAL)
            and (engine.method_allowed(team.plan, m) or m == current)
        ]

    # --- the assignee table -------------------------------------------------------

    def assignee_rows(self, kind: str) -> list[AssigneeRow]:
        """Current assignees first, in their order; then everyone else."""
        pool = self._members if kind == "m" else self._tags
        return [
            AssigneeRow(pool[pk], self[f"{k}{pk}"], self[f"{k}{pk}_weight"])
            for k, pk in self._order
            if k == kind
        ]

    def member_rows(self) -> list[AssigneeRow]:
        return self.assignee_rows("m")

    def tag_rows(self) -> list[AssigneeRow]:
        return self.assignee_rows("t")

    # --- cleaned values for the services ------------------------------------------

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if not self.assignees():
            self.add_error(None, "Choose at least one assignee: a member or an agent tag.")
        return data

    def assignees(self) -> list[GroupAssignee]:
        chosen = []
        for kind, pk in self._order:
            if not self.cleaned_data.get(f"{kind}{pk}"):
                continue
            weight = self.cleaned_data.get(f"{kind}{pk}_weight") or 1
            if kind == "m":
                chosen.append(GroupAssignee(membership=self._members[pk], weight=weight))
            else:
                chosen.append(GroupAssignee(agent_tag=self._tags[pk], weight=weight))
        return chosen

    def assignees_changed(self) -> bool:
        chosen = [
            ("m", a.membership.pk, a.weight) if a.membership else ("t", a.agent_tag.pk, a.weight)
            for a in self.assignees()
        ]
        return chosen != self._current

    def group_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"].strip(),
            "method": data["method"],
            "claim_window_minutes": data["claim_window_minutes"],
            "default_assignee": self._members.get(data["default_assignee"]),
            **{name: data[name] for name in GROUP_OPTIONS},
        }

    def available_to(self) -> list[Group]:
        return [self._groups[pk] for pk in self.cleaned_data["available_to"]]
