from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from contacts.models import Activity, Contact
from routing.models import ContactRouting, Method, Rotation, RoutingRule, RoutingStatus
from teams.models import AgentTag, Group, Membership, Plan, Role, Team

pytestmark = pytest.mark.django_db

DEMO_USERS = {"owner", "staff", "admin1", "admin2", *(f"agent{n}" for n in range(1, 9))}


def _seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {
        "teams": Team.objects.count(),
        "users": User.objects.count(),
        "members": Membership.objects.count(),
        "groups": Group.objects.count(),
        "tags": AgentTag.objects.count(),
        "rules": RoutingRule.objects.count(),
        "rotations": Rotation.objects.count(),
        "contacts": Contact.objects.count(),
    }


def test_seed_demo_creates_demo_team():
    _seed()

    team = Team.objects.get(name="Demo Realty")
    assert team.plan == Plan.PREMIER
    assert set(User.objects.values_list("username", flat=True)) == DEMO_USERS
    roles = dict(team.memberships.values_list("user__username", "role"))
    assert roles["owner"] == Role.OWNER
    assert {u for u, r in roles.items() if r == Role.ADMIN} == {"admin1", "admin2"}
    assert sum(r == Role.AGENT for r in roles.values()) == 8
    assert "staff" not in roles
    assert _counts() == {
        "teams": 1,
        "users": 12,
        "members": 11,
        "groups": 3,
        "tags": 4,
        "rules": 6,
        "rotations": 6,
        "contacts": 36,
    }


def test_seed_demo_users_log_in_with_the_printed_password():
    output = _seed()

    assert "switchboard" in output
    for user in User.objects.all():
        assert user.check_password("switchboard"), user.username
    staff = User.objects.get(username="staff")
    assert staff.is_staff
    assert staff.is_superuser


def test_seed_demo_builds_office_hierarchy_and_availability():
    _seed()

    downtown = Group.objects.select_related("parent").get(name="Downtown Team")
    assert downtown.parent.name == "Austin Office"
    assert Group.objects.get(name="Dallas Office").parent is None
    members = {m.user.username: m for m in Membership.objects.select_related("user")}
    assert members["agent5"].paused
    assert members["agent5"].paused_until is not None
    assert members["agent6"].capacity == 5
    assert any(m.is_online for m in members.values())
    assert set(members["agent1"].tags.values_list("name", flat=True)) == {"Buyers", "Spanish"}
    assert members["agent1"].user.get_full_name() == "Maria Garcia"


def test_seed_demo_rules():
    _seed()

    rules = {r.name: r for r in RoutingRule.objects.prefetch_related("assignees")}
    default = rules["Default Rule"]
    assert default.is_default
    assert default.method == Method.ASSIGN_DIRECTLY
    assert default.direct_assignee.user.username == "admin1"
    assert rules["Zillow buyers"].method == Method.ROUND_ROBIN
    assert rules["Zillow buyers"].sources == ["Zillow"]
    luxury = rules["Luxury listings"]
    assert (luxury.method, luxury.claim_window_minutes, luxury.price_min) == (
        Method.NEXT_UP,
        30,
        1_000_000,
    )
    assert sorted(a.membership.user.username for a in luxury.assignees.all()) == [
        "agent3",
        "agent4",
    ]
    assert rules["Website sellers"].method == Method.BLAST
    assert rules["Website sellers"].claim_window_minutes == 10
    spanish = rules["Spanish speakers"]
    assert spanish.is_paused
    assert spanish.method == Method.LEAST_OPEN
    assert [a.agent_tag.name for a in spanish.assignees.all()] == ["Spanish"]
    pool = rules["Open house walk-ins"]
    assert pool.method == Method.MANUAL
    assert [b.name for b in pool.source_buckets.all()] == ["Open house sign-ins"]


def test_seed_demo_routes_every_contact_and_logs_activities():
    output = _seed()

    contacts = Contact.objects.all()
    assert contacts.count() == 36
    assert ContactRouting.objects.filter(contact__in=contacts).count() == 36
    assert not contacts.filter(
        routing__status__in=[RoutingStatus.RECEIVED, RoutingStatus.FAILED]
    ).exists()
    assert contacts.filter(routing__status=RoutingStatus.ASSIGNED).exists()
    assert len(set(contacts.values_list("source", flat=True))) == 4
    assert set(contacts.values_list("city", flat=True)) == {"Austin", "Dallas", "Houston"}
    assert Activity.objects.exists()
    assert "http://" in output
    assert "agent8" in output


def test_seed_demo_is_idempotent():
    _seed()
    first = _counts()
    activities = Activity.objects.count()

    output = _seed()

    assert _counts() == first
    assert Activity.objects.count() == activities
    assert "(0 new)" in output


def test_seed_demo_reset_starts_over():
    _seed()
    old_team = Team.objects.get()
    old_user_ids = set(User.objects.values_list("pk", flat=True))

    output = _seed("--reset")

    assert "Deleted the previous demo team" in output
    new_team = Team.objects.get()
    assert new_team.pk != old_team.pk
    assert new_team.slug == "demo-realty"
    assert set(User.objects.values_list("pk", flat=True)) == old_user_ids
    assert _counts()["rotations"] == 6  # the old team's rotations went with it
    assert Contact.objects.count() == 36


def test_seed_demo_reset_without_demo_team_just_seeds():
    output = _seed("--reset")

    assert "Deleted" not in output
    assert Team.objects.count() == 1


def test_seed_demo_leaves_other_teams_alone(outsider):
    _seed("--reset")
    _seed("--reset")

    assert Team.objects.filter(pk=outsider.team_id).exists()
    assert Team.objects.count() == 2
