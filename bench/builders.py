"""Teams, agents and rules for the benchmarks, through the real services."""

from __future__ import annotations

from django.contrib.auth.models import User

from routing.assignees import AssigneeSpec
from routing.rules import rule_create
from teams.models import Membership, Team
from teams.services import membership_add, team_create


def user(username: str) -> User:
    return User.objects.create_user(username=username, first_name=username.title())


def bench_team(name: str, *, n_rules: int = 1, n_agents: int = 8) -> tuple[Team, list[Membership]]:
    """A team whose last of `n_rules` rules (Round Robin over every agent) takes source
    Zillow; the rules before it match other sources and never take a contact."""
    team = team_create(name=name, owner=user(f"{name}-owner"), plan="premier")
    agents = [
        membership_add(team=team, user=user(f"{name}-a{i}"), role="agent") for i in range(n_agents)
    ]
    for i in range(n_rules - 1):
        rule_create(
            actor=None,
            team=team,
            name=f"Miss {i}",
            sources=[f"Nowhere{i}"],
            assignees=[AssigneeSpec(membership=agents[i % n_agents])],
        )
    rule_create(
        actor=None,
        team=team,
        name="Zillow",
        sources=["Zillow"],
        assignees=[AssigneeSpec(membership=a) for a in agents],
    )
    return team, agents
