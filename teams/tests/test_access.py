"""The one access layer: 404 outside the team, 403 inside it without the permission."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.test import RequestFactory

from teams import access
from teams import permissions as perms
from teams.models import Group
from teams.tests.factories import UserFactory


def _request(user, membership):
    request = RequestFactory().get("/somewhere/")
    request.user, request.membership = user, membership
    return request


@access.member_required(perm=perms.MANAGE_TEAM)
def _team_page(request):
    return HttpResponse(f"hello {request.membership.pk}")


@access.member_required(perm=(perms.MANAGE_ROUTING_RULES, perms.TRIGGER_REASSIGNMENT))
def _either_page(request):
    return HttpResponse("either")


def test_member_required_sends_anonymous_visitors_to_sign_in():
    response = _team_page(_request(AnonymousUser(), None))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/somewhere/")


def test_member_required_is_a_404_for_someone_in_no_team(db):
    with pytest.raises(Http404, match="not a member of a team"):
        _team_page(_request(UserFactory(), None))


def test_member_required_is_a_403_naming_the_missing_permission(agent):
    with pytest.raises(PermissionDenied, match="“Manage Team”"):
        _team_page(_request(agent.user, agent))


def test_member_required_lets_the_holder_in(admin_member):
    assert _team_page(_request(admin_member.user, admin_member)).status_code == 200


def test_member_required_with_several_permissions_needs_one_of_them(agent):
    profile = agent.permission_profile
    profile.trigger_reassignment = True
    profile.save()

    assert _either_page(_request(agent.user, agent)).status_code == 200


def test_a_deactivated_member_holds_nothing(admin_member):
    admin_member.is_active = False

    assert not access.has_perm(admin_member, perms.VIEW_CONTACTS)
    with pytest.raises(Http404):
        access.require_member(admin_member)


def test_require_perm_is_404_for_another_teams_row_before_it_asks_about_permissions(
    agent, outsider
):
    with pytest.raises(Http404):
        access.require_perm(agent, perms.MANAGE_TEAM, team_id=outsider.team_id)
    with pytest.raises(PermissionDenied):
        access.require_perm(agent, perms.MANAGE_TEAM, team_id=agent.team_id)


def test_for_member_returns_only_rows_of_the_members_team(owner, outsider):
    mine = Group.objects.create(team=owner.team, name="North")
    theirs = Group.objects.create(team=outsider.team, name="North")

    assert access.for_member(owner, Group.objects.all(), mine.pk) == mine
    with pytest.raises(Http404):
        access.for_member(owner, Group.objects.all(), theirs.pk)


def test_require_owner_refuses_an_admin_with_every_permission(admin_member, owner):
    assert access.has_perm(admin_member, perms.MANAGE_TEAM)
    with pytest.raises(PermissionDenied, match="Only the team owner can change the plan"):
        access.require_owner(admin_member, "change the plan")
    access.require_owner(owner, "change the plan")


def test_scope_member_ids_reaches_sub_groups_and_none_means_the_whole_team(team, owner, agent):
    from teams.models import DistributionScope
    from teams.tests.factories import PermissionProfileFactory, make_member

    north = Group.objects.create(team=team, name="North")
    below = Group.objects.create(team=team, name="North East", parent=north)
    profile = PermissionProfileFactory(
        team=team, manage_lead_distribution=True, distribution_scope=DistributionScope.GROUP
    )
    lead = make_member(team, role="admin", profile=profile, groups=[north])
    deep = make_member(team, groups=[below])

    assert access.scope_member_ids(lead) == {lead.pk, deep.pk}
    assert access.scope_member_ids(owner) is None
    assert not access.in_scope(lead, agent.pk)
