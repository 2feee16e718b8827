import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from teams import access
from teams import permissions as perms
from teams.models import Membership, PermissionProfile, Role
from teams.selectors import membership_for
from teams.services import membership_update, permission_profile_save
from teams.tests.factories import PermissionProfileFactory, UserFactory, make_member

ALL = frozenset(perms.ALL_PERMISSIONS)


def _granted(membership) -> set[str]:
    """What the member may do as the next request sees it (the row loaded again)."""
    fresh = Membership.objects.select_related("permission_profile").get(pk=membership.pk)
    return {perm for perm in perms.ALL_PERMISSIONS if access.has_perm(fresh, perm)}


def _all_on_profile(team) -> PermissionProfile:
    return PermissionProfileFactory(
        team=team,
        name="Everything",
        manage_routing_rules=True,
        manage_lead_distribution=True,
        view_routing_logs=True,
        trigger_reassignment=True,
        manage_team=True,
    )


def test_effective_permissions_owner_all(owner):
    assert perms.effective_permissions(owner) == ALL
    assert _granted(owner) == ALL


def test_effective_permissions_owner_all_without_profile(owner):
    assert owner.permission_profile is None
    assert perms.effective_permissions(owner) == ALL


def test_effective_permissions_admin_with_admin_profile(admin_member):
    assert admin_member.permission_profile.name == "Admin"
    assert perms.effective_permissions(admin_member) == ALL
    assert _granted(admin_member) == ALL


def test_effective_permissions_agent_with_agent_profile_only_views_contacts(agent):
    assert agent.permission_profile.name == "Agent"
    assert perms.effective_permissions(agent) == {perms.VIEW_CONTACTS}
    assert _granted(agent) == {perms.VIEW_CONTACTS}


def test_effective_permissions_agent_never_manages_routing(team):
    agent = make_member(team, role=Role.AGENT, profile=_all_on_profile(team))

    expected = {perms.VIEW_CONTACTS, perms.VIEW_ROUTING_LOGS, perms.TRIGGER_REASSIGNMENT}
    assert perms.effective_permissions(agent) == expected
    assert _granted(agent) == expected
    assert not agent.user.has_perm("teams.manage_routing_rules", team)


def test_effective_permissions_admin_with_agent_profile(team):
    admin = make_member(team, role=Role.ADMIN, profile=team.permission_profiles.get(name="Agent"))

    assert perms.effective_permissions(admin) == {perms.VIEW_CONTACTS}


def test_effective_permissions_deactivated_member_none(admin_member):
    membership_update(actor=None, membership=admin_member, is_active=False)

    assert perms.effective_permissions(admin_member) == frozenset()
    assert _granted(admin_member) == set()


def test_membership_update_promotion_grants_at_once(team, agent):
    membership_update(
        actor=None, membership=agent, role=Role.ADMIN, permission_profile=_all_on_profile(team)
    )

    assert _granted(agent) == ALL


def test_permission_profile_save_changes_what_members_may_do(team, agent, admin_member):
    profile = agent.permission_profile
    profile.view_routing_logs = True
    profile.manage_routing_rules = True

    permission_profile_save(actor=admin_member, profile=profile)

    assert _granted(agent) == {perms.VIEW_CONTACTS, perms.VIEW_ROUTING_LOGS}

    profile.view_routing_logs = False
    permission_profile_save(actor=None, profile=profile)

    assert _granted(agent) == {perms.VIEW_CONTACTS}


def test_permission_profile_save_changes_only_its_members(team, agent, admin_member):
    admin_profile = admin_member.permission_profile
    admin_profile.manage_team = False

    permission_profile_save(actor=None, profile=admin_profile)

    assert perms.MANAGE_TEAM not in _granted(admin_member)
    assert _granted(agent) == {perms.VIEW_CONTACTS}


def test_permission_profile_save_needs_manage_team(agent):
    with pytest.raises(PermissionDenied):
        permission_profile_save(actor=agent, profile=agent.permission_profile)


def test_permission_profile_save_refuses_other_team(outsider, agent):
    with pytest.raises(Http404):
        permission_profile_save(actor=outsider, profile=agent.permission_profile)


def test_outsider_has_no_perms_on_team(team, outsider):
    assert _granted(outsider) == ALL  # on their own team
    with pytest.raises(Http404):
        access.require_perm(outsider, perms.VIEW_CONTACTS, team_id=team.pk)


def test_django_permissions_grant_nothing_on_a_team(team, db):
    user = UserFactory(username="global", is_staff=True, is_superuser=True)

    assert user.has_perm("auth.change_user")  # Django's own, for the admin
    assert membership_for(user=user) is None
    assert not any(access.has_perm(None, perm) for perm in perms.ALL_PERMISSIONS)


def test_a_member_of_two_teams_holds_each_teams_permissions(team, agent, outsider):
    second = make_member(outsider.team, role=Role.ADMIN, user=agent.user)

    assert _granted(agent) == {perms.VIEW_CONTACTS}
    assert _granted(second) == ALL


@pytest.mark.parametrize(
    ("persona", "scope"), [("owner", "company"), ("admin_member", "company"), ("agent", "group")]
)
def test_distribution_scope(request, persona, scope):
    assert perms.distribution_scope(request.getfixturevalue(persona)) == scope
