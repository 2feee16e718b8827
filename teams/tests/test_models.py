from datetime import time, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from teams.models import Group, Membership, Role
from teams.tests.factories import UserFactory, make_team


def test_membership_one_owner_per_team(team, owner):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(team=team, user=UserFactory(), role=Role.OWNER)


def test_membership_owner_may_own_several_teams(owner):
    other = make_team(name="Second Realty", owner=owner.user)

    assert other.memberships.get(role=Role.OWNER).user == owner.user


def test_membership_unique_user_per_team(team, agent):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(team=team, user=agent.user, role=Role.ADMIN)


def test_membership_same_user_in_two_teams_allowed(agent, outsider):
    other = Membership.objects.create(team=outsider.team, user=agent.user, role=Role.AGENT)

    assert set(agent.user.memberships.values_list("team_id", flat=True)) == {
        agent.team_id,
        other.team_id,
    }


@pytest.mark.parametrize(("start", "end"), [(time(9), None), (None, time(17))])
def test_membership_work_hours_pair_rejects_half(team, start, end):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(team=team, user=UserFactory(), work_start=start, work_end=end)


@pytest.mark.parametrize(("start", "end"), [(time(9), time(17)), (None, None), (time(22), time(6))])
def test_membership_work_hours_pair_accepts_both_or_neither(team, start, end):
    member = Membership.objects.create(
        team=team, user=UserFactory(), work_start=start, work_end=end
    )

    assert member.pk


def test_group_not_own_parent(team):
    group = Group.objects.create(team=team, name="Austin Office")

    group.parent_id = group.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        group.save()


def test_group_unique_name_under_one_parent(team):
    austin = Group.objects.create(team=team, name="Austin Office")
    Group.objects.create(team=team, name="Downtown", parent=austin)

    with pytest.raises(IntegrityError), transaction.atomic():
        Group.objects.create(team=team, name="Downtown", parent=austin)


def test_group_same_name_under_other_parent_allowed(team):
    austin = Group.objects.create(team=team, name="Austin Office")
    dallas = Group.objects.create(team=team, name="Dallas Office")
    Group.objects.create(team=team, name="Downtown", parent=austin)

    assert Group.objects.create(team=team, name="Downtown", parent=dallas).pk


def test_membership_display_name_falls_back_to_username(team):
    member = Membership.objects.create(
        team=team, user=UserFactory(username="jdoe", first_name="", last_name="")
    )

    assert member.display_name == "jdoe"
    assert str(member) == "jdoe"


def test_membership_is_paused_at(agent):
    now = timezone.now()
    assert not agent.is_paused_at(now)

    agent.paused = True
    assert agent.is_paused_at(now)  # no end: paused until resumed

    agent.paused_until = now + timedelta(hours=1)
    assert agent.is_paused_at(now)
    assert not agent.is_paused_at(now + timedelta(hours=1))
