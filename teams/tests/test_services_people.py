"""Services behind the team and people pages: members, ownership, groups, tags,
permission profiles and the plan."""

import re
from datetime import UTC, datetime

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest

from routing.groups import GroupAssignee, reassignment_group_create
from routing.models import LogEvent, RoutingRule, RoutingStatus
from routing.tests.helpers import agent_of, log_lines, new_contact, reassignment_group, rule
from teams import permissions as perms
from teams import services
from teams.access import has_perm
from teams.models import AgentTag, Group, Membership, PermissionProfile, Role


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def fresh(membership: Membership) -> Membership:
    """As the next request would load it (no cached permission checker)."""
    return Membership.objects.select_related("team", "user", "permission_profile").get(
        pk=membership.pk
    )


def can(membership: Membership, perm: str) -> bool:
    return has_perm(fresh(membership), perm)


# --- membership_invite -------------------------------------------------------------------


def test_membership_invite_emails_set_password_link_after_commit(owner, capture, client):
    group = Group.objects.create(team=owner.team, name="Austin")
    vip = AgentTag.objects.create(team=owner.team, name="VIP")

    with capture(execute=True):
        member = services.membership_invite(
            actor=owner,
            username="nina",
            email="nina@example.com",
            first_name="Nina",
            last_name="New",
            groups=[group],
            tags=[vip],
            new_tags=["Spanish", "vip"],
        )

    assert member.role == Role.AGENT
    assert member.permission_profile.name == "Agent"
    assert list(member.groups.all()) == [group]
    assert sorted(t.name for t in member.tags.all()) == ["Spanish", "VIP"]
    assert not member.user.has_usable_password()
    assert can(member, perms.VIEW_CONTACTS)
    (message,) = mail.outbox
    assert message.to == ["nina@example.com"]
    assert "Acme Realty" in message.subject
    link = re.search(r"https?://\S+(/accounts/reset/\S+)", message.body).group(1)
    page = client.get(link, follow=True)
    assert page.status_code == 200
    response = client.post(
        page.redirect_chain[-1][0],
        {"new_password1": "Sunny-Harbor-72", "new_password2": "Sunny-Harbor-72"},
    )
    assert response.status_code == 302
    # django-axes checks every sign-in against the request it came with.
    assert client.login(request=HttpRequest(), username="nina", password="Sunny-Harbor-72")


def test_membership_invite_with_temporary_password_sends_no_mail(owner, capture):
    with capture(execute=True):
        member = services.membership_invite(
            actor=owner, username="tess", role=Role.ADMIN, password="Quiet-Meadow-58"
        )
    assert mail.outbox == []
    assert member.user.check_password("Quiet-Meadow-58")
    assert member.permission_profile.name == "Admin"
    assert can(member, perms.MANAGE_TEAM)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"username": "agent", "email": "x@example.com"}, "username"),
        ({"username": "AGENT", "email": "x@example.com"}, "username"),
        ({"username": "nobody"}, "email"),
        ({"username": "weak", "password": "123"}, "password"),
        ({"username": "bad name!", "email": "x@example.com"}, "username"),
        ({"username": "boss", "email": "x@example.com", "role": Role.OWNER}, "role"),
    ],
)
def test_membership_invite_refuses_bad_input(owner, agent, fields, field):
    with pytest.raises(ValidationError) as exc:
        services.membership_invite(actor=owner, **fields)
    assert field in exc.value.error_dict
    assert not User.objects.filter(username="nobody").exists()


def test_membership_invite_refuses_groups_of_another_team(owner, outsider):
    theirs = Group.objects.create(team=outsider.team, name="Theirs")
    with pytest.raises(ValidationError):
        services.membership_invite(
            actor=owner, username="nina", email="n@example.com", groups=[theirs]
        )
    assert not User.objects.filter(username="nina").exists()


def test_membership_invite_needs_manage_team(agent):
    with pytest.raises(PermissionDenied):
        services.membership_invite(actor=agent, username="nina", email="n@example.com")


def test_membership_send_password_link_mails_the_member(owner, agent, capture):
    with capture(execute=True):
        services.membership_send_password_link(actor=owner, membership=agent)
    assert mail.outbox[0].to == [agent.user.email]
    assert "/accounts/reset/" in mail.outbox[0].body


def test_membership_send_password_link_refuses_other_team(outsider, agent):
    with pytest.raises(Http404):
        services.membership_send_password_link(actor=outsider, membership=agent)


# --- membership_edit, deactivate, reactivate ------------------------------------------------


def test_membership_edit_sets_groups_tags_pause_and_grants(owner, agent):
    group = Group.objects.create(team=owner.team, name="Austin")
    until = datetime(2099, 1, 1, tzinfo=UTC)

    services.membership_edit(
        actor=owner,
        membership=agent,
        role=Role.ADMIN,
        permission_profile=owner.team.permission_profiles.get(name="Admin"),
        groups=[group],
        tags=[],
        new_tags=["Luxury"],
        capacity=5,
        paused=True,
        paused_until=until,
    )

    agent = fresh(agent)
    assert agent.role == Role.ADMIN
    assert agent.capacity == 5
    assert list(agent.groups.all()) == [group]
    assert [t.name for t in agent.tags.all()] == ["Luxury"]
    assert agent.paused
    assert agent.paused_until == until
    assert has_perm(agent, perms.MANAGE_TEAM)


def test_membership_edit_refuses_other_team(outsider, agent):
    with pytest.raises(Http404):
        services.membership_edit(actor=outsider, membership=agent, capacity=3)


def test_membership_deactivate_removes_grants_and_reactivate_restores_them(owner, admin_member):
    services.membership_deactivate(actor=owner, membership=admin_member)
    admin_member.refresh_from_db()
    assert not admin_member.is_active
    assert not admin_member.is_online
    assert not can(admin_member, perms.VIEW_CONTACTS)

    services.membership_reactivate(actor=owner, membership=admin_member)
    assert can(admin_member, perms.MANAGE_TEAM)


def test_membership_deactivate_refuses_the_owner(admin_member, owner):
    with pytest.raises(ValidationError, match="owner cannot be deactivated"):
        services.membership_deactivate(actor=admin_member, membership=owner)
    owner.refresh_from_db()
    assert owner.is_active


def test_membership_deactivate_refuses_yourself(admin_member):
    with pytest.raises(ValidationError, match="yourself"):
        services.membership_deactivate(actor=admin_member, membership=admin_member)


@pytest.mark.parametrize(("actor", "refusal"), [("agent", PermissionDenied), ("outsider", Http404)])
def test_membership_deactivate_refuses_non_managers(request, admin_member, actor, refusal):
    with pytest.raises(refusal):
        services.membership_deactivate(
            actor=request.getfixturevalue(actor), membership=admin_member
        )


# --- ownership_transfer ---------------------------------------------------------------------


def test_ownership_transfer_makes_old_owner_an_admin(owner, agent):
    services.ownership_transfer(actor=owner, to=agent)

    owner, agent = fresh(owner), fresh(agent)
    assert agent.role == Role.OWNER
    assert owner.role == Role.ADMIN
    assert owner.permission_profile.name == "Admin"
    assert has_perm(agent, perms.MANAGE_TEAM)
    assert has_perm(owner, perms.MANAGE_ROUTING_RULES)
    assert owner.team.memberships.filter(role=Role.OWNER).count() == 1


def test_ownership_transfer_recreates_a_missing_admin_profile(owner, agent):
    owner.team.permission_profiles.filter(name="Admin").delete()
    services.ownership_transfer(actor=owner, to=agent)
    profile = fresh(owner).permission_profile
    assert profile.name == "Admin"
    assert all(getattr(profile, perm) for perm in perms.PROFILE_PERMISSIONS)


def test_ownership_transfer_is_for_the_owner_only(admin_member, agent):
    with pytest.raises(PermissionDenied):
        services.ownership_transfer(actor=admin_member, to=agent)
    assert fresh(agent).role == Role.AGENT


def test_ownership_transfer_refuses_other_team_inactive_and_self(owner, agent, outsider):
    with pytest.raises(Http404):
        services.ownership_transfer(actor=owner, to=outsider)
    with pytest.raises(ValidationError):
        services.ownership_transfer(actor=owner, to=owner)
    services.membership_deactivate(actor=owner, membership=agent)
    with pytest.raises(ValidationError):
        services.ownership_transfer(actor=owner, to=agent)
    assert fresh(owner).role == Role.OWNER


# --- groups -----------------------------------------------------------------------------------


@pytest.fixture
def tree(team):
    """Austin > Downtown > Lofts, and Dallas."""
    austin = Group.objects.create(team=team, name="Austin")
    downtown = Group.objects.create(team=team, name="Downtown", parent=austin)
    lofts = Group.objects.create(team=team, name="Lofts", parent=downtown)
    dallas = Group.objects.create(team=team, name="Dallas")
    return {"austin": austin, "downtown": downtown, "lofts": lofts, "dallas": dallas}


def test_group_add_refuses_sibling_names_at_any_level(owner, tree):
    with pytest.raises(ValidationError) as exc:
        services.group_add(actor=owner, name=" austin ")
    assert "name" in exc.value.error_dict
    with pytest.raises(ValidationError):
        services.group_add(actor=owner, name="Downtown", parent=tree["austin"])
    assert services.group_add(actor=owner, name="Downtown", parent=tree["dallas"]).pk


def test_group_add_refuses_parent_of_other_team_and_non_managers(owner, agent, outsider):
    theirs = Group.objects.create(team=outsider.team, name="Theirs")
    with pytest.raises(ValidationError):
        services.group_add(actor=owner, name="Mine", parent=theirs)
    with pytest.raises(PermissionDenied):
        services.group_add(actor=agent, name="Mine")


@pytest.mark.parametrize("target", ["austin", "downtown", "lofts"])
def test_group_update_refuses_cycles(owner, tree, target):
    with pytest.raises(ValidationError) as exc:
        services.group_update(actor=owner, group=tree["austin"], name="Austin", parent=tree[target])
    assert "parent" in exc.value.error_dict
    tree["austin"].refresh_from_db()
    assert tree["austin"].parent is None


def test_group_update_moves_and_renames(owner, tree):
    services.group_update(
        actor=owner, group=tree["downtown"], name="Downtown Austin", parent=tree["dallas"]
    )
    tree["downtown"].refresh_from_db()
    assert tree["downtown"].name == "Downtown Austin"
    assert tree["downtown"].parent == tree["dallas"]
    services.group_update(actor=owner, group=tree["downtown"], name="Downtown", parent=None)
    tree["downtown"].refresh_from_db()
    assert tree["downtown"].parent is None


def test_group_update_refuses_other_team(outsider, tree):
    with pytest.raises(Http404):
        services.group_update(actor=outsider, group=tree["austin"], name="Mine", parent=None)


def test_group_delete_takes_sub_groups_and_keeps_members(owner, tree, agent):
    agent.groups.add(tree["lofts"])
    assert services.group_delete(actor=owner, group=tree["austin"]) == 3
    assert list(Group.objects.filter(team=owner.team)) == [tree["dallas"]]
    assert Membership.objects.filter(pk=agent.pk, is_active=True).exists()


def test_group_delete_refused_while_a_reassignment_group_is_available_to_it(owner, tree, agent):
    reassignment_group_create(
        actor=None,
        team=owner.team,
        name="Closers",
        method="round_robin",
        assignees=[GroupAssignee(membership=agent)],
        available_to=[tree["lofts"]],
    )
    with pytest.raises(ValidationError, match="Closers"):
        services.group_delete(actor=owner, group=tree["austin"])
    assert Group.objects.filter(team=owner.team).count() == 4


# --- agent tags -------------------------------------------------------------------------------


def test_agent_tag_create_rename_and_delete(owner, agent):
    tag = services.agent_tag_create(actor=owner, name="  Luxury  homes ")
    assert tag.name == "Luxury homes"
    with pytest.raises(ValidationError):
        services.agent_tag_create(actor=owner, name="luxury HOMES")
    agent.tags.add(tag)
    services.agent_tag_rename(actor=owner, tag=tag, name="Luxury")
    assert AgentTag.objects.get(pk=tag.pk).name == "Luxury"
    services.agent_tag_delete(actor=owner, tag=tag)
    assert not AgentTag.objects.filter(pk=tag.pk).exists()
    assert agent.tags.count() == 0


def test_agent_tag_delete_refused_while_a_rule_assigns_by_it(owner, team):
    tag = services.agent_tag_create(actor=owner, name="Spanish")
    rule(team, "Spanish speakers", tags=[tag])
    with pytest.raises(ValidationError, match="Spanish speakers"):
        services.agent_tag_delete(actor=owner, tag=tag)
    assert AgentTag.objects.filter(pk=tag.pk).exists()


def test_agent_tag_delete_refused_while_a_reassignment_group_assigns_by_it(owner, team):
    tag = services.agent_tag_create(actor=owner, name="Closers")
    reassignment_group_create(
        actor=None,
        team=team,
        name="ISA handoff",
        method="round_robin",
        assignees=[GroupAssignee(agent_tag=tag)],
    )
    with pytest.raises(ValidationError, match="reassignment group ISA handoff"):
        services.agent_tag_delete(actor=owner, tag=tag)
    assert AgentTag.objects.filter(pk=tag.pk).exists()


def test_agent_tag_services_refuse_other_team(outsider, team):
    tag = AgentTag.objects.create(team=team, name="VIP")
    with pytest.raises(Http404):
        services.agent_tag_rename(actor=outsider, tag=tag, name="Mine")
    with pytest.raises(Http404):
        services.agent_tag_delete(actor=outsider, tag=tag)


# --- permission profiles ----------------------------------------------------------------------


def test_permission_profile_create_and_delete_unused(owner):
    profile = services.permission_profile_create(
        actor=owner, name="ISA", view_routing_logs=True, trigger_reassignment=True
    )
    assert profile.team == owner.team
    assert profile.view_routing_logs
    with pytest.raises(ValidationError):
        services.permission_profile_create(actor=owner, name="ISA")
    services.permission_profile_delete(actor=owner, profile=profile)
    assert not PermissionProfile.objects.filter(pk=profile.pk).exists()


def test_permission_profile_delete_refused_while_in_use(owner, agent):
    profile = agent.permission_profile
    services.membership_deactivate(actor=owner, membership=agent)  # still holds it
    with pytest.raises(ValidationError, match="1 member holds"):
        services.permission_profile_delete(actor=owner, profile=profile)
    assert PermissionProfile.objects.filter(pk=profile.pk).exists()


def test_permission_profile_delete_refuses_non_managers(agent, outsider):
    profile = PermissionProfile.objects.create(team=agent.team, name="Spare")
    for actor, refusal in ((agent, PermissionDenied), (outsider, Http404)):
        with pytest.raises(refusal):
            services.permission_profile_delete(actor=actor, profile=profile)


def test_permission_profile_save_grants_agents_logs_but_never_routing(owner, agent):
    profile = agent.permission_profile
    profile.view_routing_logs = True
    profile.manage_routing_rules = True
    services.permission_profile_save(actor=owner, profile=profile)
    assert can(agent, perms.VIEW_ROUTING_LOGS)
    assert not can(agent, perms.MANAGE_ROUTING_RULES)


# --- plan -------------------------------------------------------------------------------------


def test_team_set_plan_is_for_the_owner_only(admin_member, team):
    with pytest.raises(PermissionDenied):
        services.team_set_plan(actor=admin_member, plan="basic")
    team.refresh_from_db()
    assert team.plan == "premier"


def test_team_set_plan_refuses_unknown_plans(owner):
    with pytest.raises(ValidationError):
        services.team_set_plan(actor=owner, plan="platinum")


def test_team_set_plan_records_each_change(owner, team):
    services.team_set_plan(actor=owner, plan="pro")
    services.team_set_plan(actor=owner, plan="pro")  # no change, nothing recorded
    entries = LogEntry.objects.filter(object_id=str(team.pk))
    assert [e.change_message for e in entries] == ["Plan changed from Premier to Pro."]
    assert entries[0].user == owner.user


def test_plan_downgrade_keeps_rules_and_routing_skips_them(owner, team, agent, capture):
    blast = rule(team, "Blast everyone", agent, method="blast")
    next_up = rule(team, "Next up", agent, method="next_up")
    rule(team, "Round robin", agent)

    skipped_rules, skipped_groups = services.team_set_plan(actor=owner, plan="basic")

    assert {r.pk for r in skipped_rules} == {blast.pk, next_up.pk}
    assert skipped_groups == []
    assert RoutingRule.objects.filter(pk__in=[blast.pk, next_up.pk]).count() == 2
    contact = new_contact(team, capture)
    assert contact.routing.status == RoutingStatus.ASSIGNED
    assert agent_of(contact) == agent
    lines = log_lines(contact)
    assert lines[0][:2] == ("rule_skipped", "Blast everyone")
    assert "not in the Basic plan" in lines[0][2]
    assert lines[1][:2] == ("rule_skipped", "Next up")
    assert ("rule_matched", "Round robin") in [line[:2] for line in lines]
    assert lines[-1][0] == LogEvent.ASSIGNED


def test_plan_downgrade_lists_reassignment_groups_whose_method_the_plan_lacks(
    owner, team, agent, outsider
):
    blast = reassignment_group(team, agent, method="blast", name="Blast closers")
    next_up = reassignment_group(team, agent, method="next_up", name="Next up closers")
    reassignment_group(team, agent, name="Round robin closers")
    reassignment_group(outsider.team, outsider, method="blast", name="Not ours")

    assert services.team_set_plan(actor=owner, plan="pro") == ([], [blast])
    skipped_rules, skipped_groups = services.team_set_plan(actor=owner, plan="basic")

    assert skipped_rules == []
    assert {g.pk for g in skipped_groups} == {blast.pk, next_up.pk}
    assert services.plan_unavailable_methods(team=team) == (skipped_rules, skipped_groups)


def test_plan_upgrade_lists_nothing(owner, team, agent):
    services.team_set_plan(actor=owner, plan="basic")
    assert services.team_set_plan(actor=owner, plan="premier") == ([], [])
