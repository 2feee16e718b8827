"""Team and people pages: access for every persona, every mutation, query budgets."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.core import mail
from django.urls import reverse

from routing.tests.helpers import rule
from teams import permissions as perms
from teams.access import has_perm
from teams.models import AgentTag, Group, Membership, PermissionProfile, Role
from teams.tests.factories import UserFactory, make_member

# Pages (GET) and mutations (POST); "member", "group", "tag" or "profile" when the URL
# takes the id of one, None otherwise.
PAGES = [
    ("overview", None),
    ("members", None),
    ("member_new", None),
    ("member_edit", "member"),
    ("groups", None),
    ("group_edit", "group"),
    ("group_delete_confirm", "group"),
    ("tags", None),
    ("tag_delete_confirm", "tag"),
    ("profiles", None),
    ("profile_new", None),
    ("profile_edit", "profile"),
    ("profile_delete_confirm", "profile"),
]
OWNER_PAGES = [("ownership_transfer_confirm", "member")]
MUTATIONS = [
    ("plan_set", None),
    ("member_create", None),
    ("member_update", "member"),
    ("member_deactivate", "member"),
    ("member_reactivate", "member"),
    ("member_password_link", "member"),
    ("ownership_transfer", "member"),
    ("group_create", None),
    ("group_update", "group"),
    ("group_delete", "group"),
    ("tag_create", None),
    ("tag_rename", "tag"),
    ("tag_delete", "tag"),
    ("profile_create", None),
    ("profile_update", "profile"),
    ("profile_delete", "profile"),
]
WITH_IDS = [(name, kind) for name, kind in PAGES + OWNER_PAGES + MUTATIONS if kind]


@pytest.fixture
def things(team, agent):
    """One of each object a URL can name, all in the personas' team."""
    return {
        "member": agent,
        "group": Group.objects.create(team=team, name="Austin"),
        "tag": AgentTag.objects.create(team=team, name="VIP"),
        "profile": PermissionProfile.objects.create(team=team, name="Spare"),
    }


def url(name, kind=None, things=None):
    return reverse(f"team:{name}", args=[things[kind].pk] if kind else [])


def login(client, membership):
    client.force_login(membership.user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def fresh(membership: Membership) -> Membership:
    return Membership.objects.select_related("team", "user", "permission_profile").get(
        pk=membership.pk
    )


# --- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin_member"])
@pytest.mark.parametrize(("name", "kind"), PAGES)
def test_page_allowed_for_owner_and_admin(client, request, things, persona, name, kind):
    response = login(client, request.getfixturevalue(persona)).get(url(name, kind, things))
    assert response.status_code == 200
    assert response.templates[0].name.startswith("teams/people/")


@pytest.mark.parametrize(("name", "kind"), PAGES + OWNER_PAGES)
def test_page_forbidden_for_agent(client, agent, things, name, kind):
    response = login(client, agent).get(url(name, kind, things))
    assert response.status_code == 403
    assert "Manage Team" in response.text


@pytest.mark.parametrize(("name", "kind"), PAGES + OWNER_PAGES + MUTATIONS)
def test_anonymous_is_sent_to_login(client, things, name, kind):
    target = url(name, kind, things)
    response = client.post(target) if (name, kind) in MUTATIONS else client.get(target)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={target}"


@pytest.mark.parametrize(("name", "kind"), WITH_IDS)
def test_other_teams_ids_are_404(client, outsider, things, name, kind):
    target = url(name, kind, things)
    login(client, outsider)
    response = client.post(target) if (name, kind) in MUTATIONS else client.get(target)
    assert response.status_code == 404


def test_outsider_sees_only_own_team_members(client, outsider, agent):
    text = login(client, outsider).get(url("members")).text
    assert "Other Realty" in text
    assert agent.user.username not in text


def test_transfer_page_is_for_the_owner_only(client, admin_member, things):
    response = login(client, admin_member).get(url("ownership_transfer_confirm", "member", things))
    assert response.status_code == 403
    assert "Only the team owner" in response.text


@pytest.mark.parametrize(("name", "kind"), MUTATIONS)
def test_mutation_answers_get_with_405(client, owner, things, name, kind):
    assert login(client, owner).get(url(name, kind, things)).status_code == 405


@pytest.mark.parametrize(("name", "kind"), MUTATIONS)
def test_mutation_forbidden_for_agent(client, agent, things, name, kind):
    assert login(client, agent).post(url(name, kind, things), {"name": "x"}).status_code == 403


def test_deactivated_manager_is_no_longer_in_the_team(client, owner, admin_member):
    from teams.services import membership_deactivate

    membership_deactivate(actor=owner, membership=admin_member)
    assert login(client, admin_member).get(url("members")).status_code == 404


# --- overview and plan ------------------------------------------------------------------------


def test_overview_shows_team_plan_counts_and_links(client, owner, agent, admin_member):
    text = login(client, owner).get(url("overview")).text
    assert "Acme Realty" in text
    assert "UTC" in text
    assert 'data-testid="team-plan">Premier<' in text
    assert "Includes Round Robin, Least open contacts." in text
    assert "(adds Next Up)" in text
    assert "(adds Blast Alert)" in text
    assert reverse("api_tokens") in text
    for page in ("members", "groups", "tags", "profiles"):
        assert url(page) in text
    assert 'name="plan"' in text


def test_overview_plan_is_read_only_for_admins(client, admin_member):
    text = login(client, admin_member).get(url("overview")).text
    assert 'name="plan"' not in text
    assert "Only the team owner can change the plan." in text


def test_plan_downgrade_warns_about_skipped_rules_and_records(client, team, owner, agent):
    rule(team, "Blast everyone", agent, method="blast")
    response = login(client, owner).post(url("plan_set"), {"plan": "basic"}, follow=True)
    team.refresh_from_db()
    assert team.plan == "basic"
    notes = messages_of(response)
    assert "Your team is on the Basic plan." in notes
    assert any("rule “Blast everyone”" in n and "nothing was deleted" in n for n in notes)
    assert "Rule “Blast everyone” (Blast Alert)" in response.text  # the lasting warning
    assert "Plan changed from Premier to Basic." in response.text
    assert LogEntry.objects.filter(object_id=str(team.pk)).count() == 1


def test_plan_change_by_admin_is_forbidden(client, team, admin_member):
    response = login(client, admin_member).post(url("plan_set"), {"plan": "basic"})
    assert response.status_code == 403
    team.refresh_from_db()
    assert team.plan == "premier"


def test_plan_change_unknown_plan_shows_error(client, owner):
    response = login(client, owner).post(url("plan_set"), {"plan": "gold"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.text


# --- members ----------------------------------------------------------------------------------


def test_members_list_shows_people_and_their_settings(client, team, owner, admin_member):
    austin = Group.objects.create(team=team, name="Austin")
    make_member(
        team,
        user=UserFactory(username="zed", first_name="Zed", last_name="Zulu"),
        tags=["Spanish"],
        groups=[austin],
        capacity=7,
        is_online=True,
    )
    text = login(client, owner).get(url("members")).text
    row = re.search(r'<tr id="member-\d+">(?:(?!</tr>).)*Zed Zulu.*?</tr>', text, re.S).group(0)
    for expected in ("Agent", "Austin", "Spanish", "Online", "7"):
        assert expected in row
    assert "Ada Admin" in text
    assert "All permissions" in text  # the owner's row


def invite_data(**overrides):
    data = {
        "username": "nina",
        "first_name": "Nina",
        "last_name": "New",
        "email": "nina@example.com",
        "role": "agent",
        "permission_profile": "",
        "new_tags": "",
        "password": "",
    }
    data.update(overrides)
    return data


def test_member_create_adds_agent_with_tag_and_group(
    client, team, owner, django_capture_on_commit_callbacks
):
    vip = AgentTag.objects.create(team=team, name="VIP")
    austin = Group.objects.create(team=team, name="Austin")
    with django_capture_on_commit_callbacks(execute=True):
        response = login(client, owner).post(
            url("member_create"),
            invite_data(tags=[vip.pk], groups=[austin.pk], new_tags="Spanish"),
            follow=True,
        )
    member = Membership.objects.get(user__username="nina")
    assert member.role == Role.AGENT
    assert member.permission_profile.name == "Agent"
    assert {t.name for t in member.tags.all()} == {"VIP", "Spanish"}
    assert list(member.groups.all()) == [austin]
    assert messages_of(response) == [
        "Added Nina New. A link to set their password is on its way to nina@example.com."
    ]
    assert mail.outbox[0].to == ["nina@example.com"]


def test_member_create_with_temporary_password(client, owner):
    login(client, owner).post(
        url("member_create"),
        invite_data(role="admin", email="", password="Quiet-Meadow-58"),
    )
    member = Membership.objects.get(user__username="nina")
    assert member.role == Role.ADMIN
    assert member.permission_profile.name == "Admin"
    assert member.user.check_password("Quiet-Meadow-58")
    assert mail.outbox == []


def test_member_create_errors_show_next_to_fields_and_keep_input(client, owner, agent):
    response = login(client, owner).post(
        url("member_create"), invite_data(username="agent", first_name="Keep Me")
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["username"] == ["That username is taken."]
    assert 'value="Keep Me"' in response.text
    assert 'aria-invalid="true"' in response.text

    response = client.post(url("member_create"), invite_data(email=""))
    assert "email" in response.context["form"].errors
    assert not Membership.objects.filter(user__username="nina").exists()


def test_member_edit_saves_role_profile_groups_tags_hours_and_pause(client, team, owner, agent):
    austin = Group.objects.create(team=team, name="Austin")
    admin_profile = team.permission_profiles.get(name="Admin")
    data = {
        "role": "admin",
        "permission_profile": admin_profile.pk,
        "groups": [austin.pk],
        "new_tags": "Luxury",
        "capacity": "12",
        "time_zone": "America/Chicago",
        "work_days": ["0", "2"],
        "work_start": "09:00",
        "work_end": "17:30",
        "paused": "on",
        "paused_until": "2099-01-01",
    }
    response = login(client, owner).post(url("member_update", "member", {"member": agent}), data)
    assert response.status_code == 302
    agent = fresh(agent)
    assert agent.role == Role.ADMIN
    assert agent.permission_profile == admin_profile
    assert list(agent.groups.all()) == [austin]
    assert [t.name for t in agent.tags.all()] == ["Luxury"]
    assert agent.capacity == 12
    assert agent.time_zone == "America/Chicago"
    assert agent.work_days == "0,2"
    assert (agent.work_start.hour, agent.work_end.minute) == (9, 30)
    assert agent.paused
    assert agent.paused_until.isoformat() == "2099-01-01T06:00:00+00:00"  # Chicago midnight
    assert has_perm(agent, perms.MANAGE_TEAM)


def test_member_edit_errors_keep_input_and_save_nothing(client, owner, agent):
    data = {"role": "agent", "time_zone": "UTC", "work_start": "09:00", "capacity": "4"}
    response = login(client, owner).post(url("member_update", "member", {"member": agent}), data)
    assert response.status_code == 200
    assert response.context["form"].errors["work_end"] == [
        "Give both a start and an end, or neither."
    ]
    assert 'value="4"' in response.text
    assert fresh(agent).capacity is None


def test_member_edit_of_owner_has_no_role_field(client, owner, admin_member):
    page = login(client, admin_member).get(url("member_edit", "member", {"member": owner}))
    assert "role" not in page.context["form"].fields
    assert "The owner cannot be deactivated." in page.text
    response = client.post(
        url("member_update", "member", {"member": owner}), {"time_zone": "Europe/London"}
    )
    assert response.status_code == 302
    assert fresh(owner).time_zone == "Europe/London"
    assert fresh(owner).role == Role.OWNER


def test_member_deactivate_and_reactivate(client, owner, agent):
    login(client, owner).post(url("member_deactivate", "member", {"member": agent}))
    assert not fresh(agent).is_active
    text = client.get(url("members")).text
    assert "Deactivated" in text
    assert "Reactivate<span" in text
    client.post(url("member_reactivate", "member", {"member": agent}))
    assert fresh(agent).is_active


def test_member_deactivate_refuses_owner_with_message(client, owner, admin_member):
    response = login(client, admin_member).post(
        url("member_deactivate", "member", {"member": owner}), follow=True
    )
    assert "The owner cannot be deactivated: transfer ownership first." in messages_of(response)
    assert fresh(owner).is_active


def test_member_password_link_emails_member(
    client, owner, agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        login(client, owner).post(url("member_password_link", "member", {"member": agent}))
    assert mail.outbox[0].to == [agent.user.email]


def test_ownership_transfer_needs_confirmation(client, owner, agent):
    target = url("ownership_transfer", "member", {"member": agent})
    page = login(client, owner).get(url("ownership_transfer_confirm", "member", {"member": agent}))
    assert "I understand: Alan Agent will own the team" in page.text

    response = client.post(target, {})
    assert response.context["form"].errors["confirm"] == ["Tick the box to confirm."]
    assert fresh(agent).role == Role.AGENT

    client.post(target, {"confirm": "on"})
    assert fresh(agent).role == Role.OWNER
    assert fresh(owner).role == Role.ADMIN


def test_ownership_transfer_by_admin_is_forbidden(client, admin_member, agent):
    target = url("ownership_transfer", "member", {"member": agent})
    assert login(client, admin_member).post(target, {"confirm": "on"}).status_code == 403
    assert fresh(agent).role == Role.AGENT


# --- groups -----------------------------------------------------------------------------------


@pytest.fixture
def tree(team):
    austin = Group.objects.create(team=team, name="Austin")
    downtown = Group.objects.create(team=team, name="Downtown", parent=austin)
    lofts = Group.objects.create(team=team, name="Lofts", parent=downtown)
    dallas = Group.objects.create(team=team, name="Dallas")
    return {"austin": austin, "downtown": downtown, "lofts": lofts, "dallas": dallas}


def test_groups_page_shows_nested_tree(client, owner, tree):
    text = login(client, owner).get(url("groups")).text
    tree_html = re.sub(r"\s+", " ", text[text.index('id="group-tree"') :])
    names = re.findall(r'class="group-name">([^<]+)<', tree_html)
    assert names == ["Austin", "Downtown", "Lofts", "Dallas"]
    assert tree_html.count("<ul") == 2  # two nested lists inside the tree
    # Lofts ends both nested lists; Dallas is back at the top level.
    assert tree_html.index("Lofts") < tree_html.index("</li></ul></li></ul></li>")
    assert tree_html.index("</li></ul></li></ul></li>") < tree_html.index("Dallas")
    assert "Austin / Downtown / Lofts" in text  # the parent choices


def test_group_create_top_level_and_sub_group(client, owner, tree):
    login(client, owner).post(url("group_create"), {"name": "Houston", "parent": ""})
    houston = Group.objects.get(name="Houston")
    assert houston.parent is None
    client.post(url("group_create"), {"name": "Heights", "parent": houston.pk})
    assert Group.objects.get(name="Heights").parent == houston


def test_group_create_duplicate_name_shows_error(client, owner, tree):
    response = login(client, owner).post(url("group_create"), {"name": "austin", "parent": ""})
    assert response.status_code == 200
    assert "There is already a group called austin at the top level." in str(
        response.context["form"].errors["name"]
    )


def test_group_edit_offers_no_parent_below_itself(client, owner, tree):
    page = login(client, owner).get(url("group_edit", "group", {"group": tree["austin"]}))
    choices = dict(page.context["form"].fields["parent"].choices)
    assert set(choices.values()) == {"None (top level)", "Dallas"}


def test_group_update_moves_group_and_refuses_cycle(client, owner, tree):
    target = url("group_update", "group", {"group": tree["austin"]})
    response = login(client, owner).post(target, {"name": "Austin", "parent": tree["lofts"].pk})
    assert response.status_code == 200
    assert "parent" in response.context["form"].errors
    tree["austin"].refresh_from_db()
    assert tree["austin"].parent is None

    client.post(target, {"name": "Austin metro", "parent": tree["dallas"].pk})
    tree["austin"].refresh_from_db()
    assert (tree["austin"].name, tree["austin"].parent) == ("Austin metro", tree["dallas"])


def test_group_delete_confirmation_lists_sub_groups_then_deletes(client, owner, tree):
    page = login(client, owner).get(url("group_delete_confirm", "group", {"group": tree["austin"]}))
    assert "Austin / Downtown / Lofts" in page.text
    client.post(url("group_delete", "group", {"group": tree["austin"]}))
    assert list(Group.objects.filter(team=owner.team)) == [tree["dallas"]]


# --- agent tags -------------------------------------------------------------------------------


def test_tags_page_counts_members(client, team, owner):
    make_member(team, tags=["VIP"])
    make_member(team, tags=["VIP", "Spanish"])
    text = re.sub(r"\s+", " ", login(client, owner).get(url("tags")).text)
    assert re.search(r'VIP</span></th> <td data-label="Members"><span>2<', text)
    assert re.search(r'Spanish</span></th> <td data-label="Members"><span>1<', text)


def test_tag_create_rename_delete(client, team, owner):
    login(client, owner).post(url("tag_create"), {"name": "Luxury"})
    tag = AgentTag.objects.get(team=team, name="Luxury")
    client.post(url("tag_rename", "tag", {"tag": tag}), {f"tag-{tag.pk}-name": "Lux"})
    tag.refresh_from_db()
    assert tag.name == "Lux"
    client.post(url("tag_delete", "tag", {"tag": tag}))
    assert not AgentTag.objects.filter(pk=tag.pk).exists()


def test_tag_rename_clash_keeps_input_next_to_field(client, team, owner):
    AgentTag.objects.create(team=team, name="VIP")
    tag = AgentTag.objects.create(team=team, name="Luxury")
    response = login(client, owner).post(
        url("tag_rename", "tag", {"tag": tag}), {f"tag-{tag.pk}-name": "vip"}
    )
    assert response.status_code == 200
    assert "There is already a tag called vip." in response.text
    assert 'value="vip"' in response.text
    assert '<details class="cx-disclosure" open>' in response.text


def test_tag_delete_refused_while_rule_uses_it(client, team, owner):
    tag = AgentTag.objects.create(team=team, name="Spanish")
    rule(team, "Spanish speakers", tags=[tag])
    page = login(client, owner).get(url("tag_delete_confirm", "tag", {"tag": tag}))
    assert "rule Spanish speakers" in page.text
    response = client.post(url("tag_delete", "tag", {"tag": tag}), follow=True)
    assert any("Spanish speakers" in m for m in messages_of(response))
    assert AgentTag.objects.filter(pk=tag.pk).exists()


# --- permission profiles ----------------------------------------------------------------------

PROFILE_LABELS = (
    "Contact Routing Rule Management",
    "Manage Lead Distribution",
    "View Routing Logs",
    "Trigger Reassignment",
    "Manage Team",
)


def test_profile_editor_has_the_five_permissions_and_scope(client, team, owner):
    agent_profile = team.permission_profiles.get(name="Agent")
    text = login(client, owner).get(url("profile_edit", "profile", {"profile": agent_profile})).text
    for label in PROFILE_LABELS:
        assert re.search(rf'<label for="id_\w+">{label}</label>', text)
    assert "Entire Company" in text
    assert "User&#x27;s Group" in text
    assert "Agents never get" in text


def test_profile_update_grants_logs_to_its_agents_at_once(client, team, owner, agent):
    profile = agent.permission_profile
    data = {"name": "Agent", "view_routing_logs": "on", "distribution_scope": "group"}
    response = login(client, owner).post(
        url("profile_update", "profile", {"profile": profile}), data
    )
    assert response.status_code == 302
    assert has_perm(fresh(agent), perms.VIEW_ROUTING_LOGS)
    client.force_login(agent.user)
    assert "Routing logs" in client.get(reverse("home")).text


def test_profile_create_and_name_clash(client, team, owner):
    data = {"name": "ISA", "trigger_reassignment": "on", "distribution_scope": "company"}
    login(client, owner).post(url("profile_create"), data)
    assert PermissionProfile.objects.get(team=team, name="ISA").trigger_reassignment
    response = client.post(url("profile_create"), {**data, "name": "isa"})
    assert response.context["form"].errors["name"] == ["There is already a profile called isa."]


def test_profile_delete_refused_while_in_use(client, team, owner, agent):
    profile = agent.permission_profile
    page = login(client, owner).get(url("profile_delete_confirm", "profile", {"profile": profile}))
    assert "Alan Agent" in page.text
    response = client.post(url("profile_delete", "profile", {"profile": profile}), follow=True)
    assert any("give them another profile first" in m for m in messages_of(response))
    assert PermissionProfile.objects.filter(pk=profile.pk).exists()


def test_profile_delete_unused(client, owner, things):
    login(client, owner).post(url("profile_delete", "profile", things))
    assert not PermissionProfile.objects.filter(pk=things["profile"].pk).exists()


# --- query budgets ----------------------------------------------------------------------------


def _populate(team, n: int, start: int = 0) -> None:
    """n more agents, each in a new group (chained: a deep tree), with a tag of their own
    and a shared one, and n more profiles."""
    parent = Group.objects.filter(team=team).order_by("-pk").first()
    for i in range(start, start + n):
        parent = Group.objects.create(team=team, name=f"Group {i}", parent=parent)
        profile = PermissionProfile.objects.create(team=team, name=f"Profile {i}")
        make_member(team, tags=[f"Tag {i}", "Shared"], groups=[parent], profile=profile)


@pytest.mark.parametrize("page", ["members", "groups", "tags", "profiles", "overview"])
def test_list_page_query_budget_does_not_grow_with_rows(
    client, team, owner, django_assert_max_num_queries, page
):
    login(client, owner)
    _populate(team, 2)
    client.get(url(page))  # warm per-process caches (content types)
    with django_assert_max_num_queries(15) as few:
        assert client.get(url(page)).status_code == 200

    _populate(team, 30, start=2)
    with django_assert_max_num_queries(15) as many:
        response = client.get(url(page))
    assert "Group 31" in response.text or page not in ("members", "groups")
    assert len(many) == len(few)
