"""Routing a new contact costs the same few statements whatever the number of rules or agents.

The route task reads the team's rules and members once per routing version (routing.state)
and the turn counts it last wrote (routing.rotations, remembered when the route commits),
so after a warm-up route, routing one new contact is: clear the team's wake flag, claim the
contact's row, write the turn counts (if no other router took a turn meanwhile), the role,
the routing row, the log row and the timeline event, the placement in the Agent's default
bucket (one statement per batch), and the outbox row notifications add
in the same transaction, inside one savepoint (a transaction outside tests).
"""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from routing import tasks
from routing.models import (
    ContactRouting,
    Rotation,
    RoutingRule,
    RoutingStatus,
    RuleAssignee,
    TeamRouting,
)
from routing.state import routing_version_bump
from routing.tests.helpers import agent_of, rule
from teams.tests.factories import UserFactory, make_member, make_team

BUDGET = 11
SIZES = [(1, 8), (50, 8), (500, 8), (1, 200)]  # (rules, agents)
# What the warm cache saves: none of these is read again while the routing version holds.
STATE_TABLES = ("routing_routingrule", "routing_ruleassignee", "teams_membership", "auth_user")


def _rules_not_matching(team, agents, n: int) -> None:
    """n rules with one assignee each, for sources no contact here has (in bulk: the rule
    service takes as long as the rest of the test for hundreds of them)."""
    rotations = Rotation.objects.bulk_create([Rotation() for _ in range(n)])
    rules = RoutingRule.objects.bulk_create(
        RoutingRule(
            team=team, name=f"Miss {i}", position=i + 1, sources=[f"Nowhere{i}"], rotation=rotation
        )
        for i, rotation in enumerate(rotations)
    )
    RuleAssignee.objects.bulk_create(
        RuleAssignee(rule=r, membership=agents[i % len(agents)]) for i, r in enumerate(rules)
    )
    routing_version_bump(team_id=team.pk)  # bulk writes send no signal


def _route_new_contact(capture, n_rules: int, n_agents: int) -> list[str]:
    """The statements of the route task routing one new contact through a Round Robin rule
    that comes after n_rules - 1 rules it does not match."""
    name = f"r{n_rules}-a{n_agents}"
    team = make_team(name=name, owner=UserFactory(username=f"{name}-owner"))
    agents = [make_member(team) for _ in range(n_agents)]
    _rules_not_matching(team, agents, n_rules - 1)
    rule(team, "Zillow", *agents, sources=["Zillow"])
    # The warm-up contact takes the whole way: committed, the team's router woken, routed by
    # the task; its commit leaves the team's state and the rotation's counts remembered.
    with capture(execute=True):
        warm_up = Contact.objects.create(team=team, first_name="Warm", source="Zillow")
    assert agent_of(warm_up) == agents[0]
    # Queued as every intake path queues it (post_save); the route task is called directly.
    version = TeamRouting.objects.get(team=team).version
    contact = Contact.objects.create(team=team, first_name="Measured", source="Zillow")
    with CaptureQueriesContext(connection) as ctx:
        assert tasks.route_team(team.pk) == 1
    statements = [q["sql"] for q in ctx.captured_queries]
    listing = f"{len(statements)} statements for {n_rules} rules, {n_agents} agents:\n" + "\n".join(
        statements
    )
    assert len(statements) <= BUDGET, listing
    assert ContactRouting.objects.get(pk=contact.pk).status == RoutingStatus.ASSIGNED
    assert agent_of(contact) == agents[1]
    assert TeamRouting.objects.get(team=team).version == version  # nothing invalidated it
    assert not [s for s in statements if any(f'"{t}"' in s for t in STATE_TABLES)], (
        "the team's state was loaded again: " + listing
    )
    return statements


def test_routing_a_new_contact_costs_at_most_twelve_statements_flat_in_rules_and_agents(
    db, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    counts = {size: len(_route_new_contact(capture, *size)) for size in SIZES}
    assert len(set(counts.values())) == 1, f"statements per route grow with the team: {counts}"
