"""Reassignment groups pages: list, editor, read-only view, delete, permissions."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts.tests.factories import ContactFactory
from routing.groups import GroupAssignee, reassignment_group_create
from routing.manual import contact_assign_directly
from routing.models import ReassignmentAssignee, ReassignmentGroup, Rotation
from routing.reassignment import reassignment_start
from teams.models import AgentTag, Group, PermissionProfile
from teams.services import membership_update
from teams.tests.factories import make_member

LIST = reverse("reassignment_groups:list")
NEW = reverse("reassignment_groups:new")
CREATE = reverse("reassignment_groups:create")


def url(name, group):
    return reverse(f"reassignment_groups:{name}", args=[group.pk])


def make_group(team, *members, method="round_robin", **fields):
    return reassignment_group_create(
        actor=None,
        team=team,
        name=fields.pop("name", f"Group {ReassignmentGroup.objects.count() + 1}"),
        method=method,
        assignees=[GroupAssignee(membership=m) for m in members],
        **fields,
    )


def login(client, membership):
    client.force_login(membership.user)
    return client


@pytest.fixture
def closers(team):
    return [make_member(team) for _ in range(3)]


@pytest.fixture
def offices(team):
    austin = Group.objects.create(team=team, name="Austin")
    downtown = Group.objects.create(team=team, name="Downtown", parent=austin)
    dallas = Group.objects.create(team=team, name="Dallas")
    return {"austin": austin, "downtown": downtown, "dallas": dallas}


@pytest.fixture
def triggerer(team):
    """An agent whose profile lets them trigger reassignments, nothing more."""
    profile = PermissionProfile.objects.create(team=team, name="ISA", trigger_reassignment=True)
    return make_member(team, profile=profile)


@pytest.fixture
def group_admin(team, offices):
    """An admin limited to "User's Group" for Austin (and Downtown below it)."""
    profile = PermissionProfile.objects.create(
        team=team,
        name="Office admin",
        manage_lead_distribution=True,
        trigger_reassignment=True,
        distribution_scope="group",
    )
    return make_member(team, role="admin", profile=profile, groups=[offices["austin"]])


def form_data(closers, **overrides):
    data = {
        "name": "Closers",
        "method": "round_robin",
        "claim_window_minutes": 15,
        "skip_paused": "on",
        "respect_capacity": "on",
        "default_assignee": closers[2].pk,
    }
    for i, member in enumerate(closers[:2]):
        data[f"m{member.pk}"] = "on"
        data[f"m{member.pk}_weight"] = i + 1
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- access ------------------------------------------------------------------------------


def test_list_anonymous_redirects(client, db):
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_list_forbidden_for_agent_without_permissions(client, agent):
    assert login(client, agent).get(LIST).status_code == 403


@pytest.mark.parametrize("persona", ["owner", "admin_member"])
def test_list_manager_sees_and_edits_all(client, request, team, closers, offices, persona):
    make_group(team, *closers, name="Everyone")
    make_group(team, closers[0], name="Dallas team", available_to=[offices["dallas"]])
    text = login(client, request.getfixturevalue(persona)).get(LIST).text
    assert "Everyone" in text
    assert "Dallas team" in text
    assert "(view only)" not in text
    assert "+ Add New" in text


def test_list_triggerer_sees_available_groups_read_only(client, team, triggerer, offices, closers):
    triggerer.groups.add(offices["downtown"])
    everyone = make_group(team, *closers, name="Everyone")
    make_group(team, closers[0], name="Austin team", available_to=[offices["austin"]])
    make_group(team, closers[0], name="Dallas team", available_to=[offices["dallas"]])
    login(client, triggerer)
    text = client.get(LIST).text
    assert "Everyone" in text
    assert "Austin team" in text
    assert "Dallas team" not in text
    assert text.count("(view only)") == 2
    assert "+ Add New" not in text
    detail = client.get(url("detail", everyone))
    assert detail.status_code == 200
    assert 'name="name"' not in detail.text  # read-only
    assert closers[0].display_name in detail.text
    assert client.get(NEW).status_code == 403
    assert client.post(url("update", everyone), form_data(closers)).status_code == 403
    assert client.get(url("confirm_delete", everyone)).status_code == 403
    assert client.post(url("delete", everyone)).status_code == 403


def test_group_scope_admin_edits_only_their_groups(client, team, group_admin, offices, closers):
    mine = make_group(team, *closers, name="Downtown team", available_to=[offices["downtown"]])
    theirs = make_group(team, *closers, name="Dallas team", available_to=[offices["dallas"]])
    everyone = make_group(team, *closers, name="Everyone")
    login(client, group_admin)
    text = client.get(LIST).text
    assert "Downtown team" in text
    assert "Everyone" not in text  # available to them, but the list is what they edit
    assert "Dallas team" not in text
    assert "your group and its sub-groups" in text
    assert client.get(url("detail", mine)).status_code == 200
    assert 'name="name"' in client.get(url("detail", mine)).text
    assert 'name="name"' not in client.get(url("detail", everyone)).text
    assert client.get(url("detail", theirs)).status_code == 404
    assert client.post(url("update", everyone), form_data(closers)).status_code == 403
    assert client.post(url("update", theirs), form_data(closers)).status_code == 404
    # Available To choices are limited to their reach; empty is refused by the service
    editor = client.get(NEW).text
    assert "Downtown" in editor
    assert ">Dallas<" not in editor
    response = client.post(CREATE, form_data(closers, name="No groups"))
    assert response.status_code == 422
    assert "your group or its sub-groups" in response.text
    response = client.post(
        CREATE, form_data(closers, name="Austin only", available_to=[offices["austin"].pk])
    )
    assert response.status_code == 302
    assert ReassignmentGroup.objects.filter(name="Austin only").exists()


def test_other_team_group_is_404(client, team, outsider, closers):
    group = make_group(team, *closers)
    login(client, outsider)
    assert client.get(url("detail", group)).status_code == 404
    assert client.post(url("update", group), form_data(closers)).status_code == 404
    assert client.get(url("confirm_delete", group)).status_code == 404
    assert client.post(url("delete", group)).status_code == 404
    assert "Group 1" not in client.get(LIST).text


@pytest.mark.parametrize("name", ["update", "delete"])
def test_mutations_answer_get_with_405(client, team, owner, closers, name):
    group = make_group(team, *closers)
    assert login(client, owner).get(url(name, group)).status_code == 405


def test_create_answers_get_with_405(client, owner):
    assert login(client, owner).get(CREATE).status_code == 405


@pytest.mark.parametrize("name", ["update", "delete"])
def test_mutations_anonymous_redirect(client, team, closers, name):
    group = make_group(team, *closers)
    response = client.post(url(name, group))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_mutations_forbidden_for_agent(client, team, agent, closers):
    group = make_group(team, *closers)
    login(client, agent)
    assert client.get(NEW).status_code == 403
    assert client.post(CREATE, form_data(closers)).status_code == 403
    assert client.get(url("detail", group)).status_code == 403
    assert client.post(url("update", group), form_data(closers)).status_code == 403
    assert client.post(url("delete", group)).status_code == 403
    assert ReassignmentGroup.objects.count() == 1


# --- the editor ----------------------------------------------------------------------------


def test_editor_shows_hierarchy_note_and_plan_methods(client, team, owner, offices, closers):
    team.plan = "pro"
    team.save()
    text = login(client, owner).get(NEW).text
    assert "Adding or removing users continues the current round (no reset)" in text
    assert ">Austin</option>" in text
    assert "\u00a0\u00a0└\u00a0Downtown</option>" in text
    assert text.index(">Austin<") < text.index("Downtown</option>") < text.index(">Dallas<")
    assert 'value="next_up"' in text
    assert 'value="blast"' not in text  # Premier only
    assert 'value="assign_directly"' not in text
    for closer in closers:
        assert f"Include {closer.display_name}" in text or closer.display_name in text


def test_create_group_with_members_tags_weights_and_available_to(
    client, team, owner, closers, offices
):
    tag = AgentTag.objects.create(team=team, name="Luxury")
    data = form_data(
        closers,
        method="next_up",
        claim_window_minutes=5,
        only_online="on",
        available_to=[offices["austin"].pk, offices["dallas"].pk],
    )
    data |= {f"t{tag.pk}": "on", f"t{tag.pk}_weight": 3}
    response = login(client, owner).post(CREATE, data)
    assert response.status_code == 302
    group = ReassignmentGroup.objects.get(name="Closers")
    assert (group.method, group.claim_window_minutes, group.only_online) == ("next_up", 5, True)
    assert group.default_assignee == closers[2]
    assert set(group.available_to.all()) == {offices["austin"], offices["dallas"]}
    rows = set(group.assignees.values_list("membership_id", "agent_tag_id", "weight"))
    assert rows == {(closers[0].pk, None, 1), (closers[1].pk, None, 2), (None, tag.pk, 3)}


def test_create_refuses_method_outside_plan_and_no_assignees(client, team, owner, closers):
    team.plan = "basic"
    team.save()
    login(client, owner)
    response = client.post(CREATE, form_data(closers, method="blast"))
    assert response.status_code == 422
    assert "Select a valid choice" in response.text
    data = form_data(closers)
    data = {k: v for k, v in data.items() if not k.startswith("m")}
    data["method"] = "round_robin"
    response = client.post(CREATE, data)
    assert response.status_code == 422
    assert "Choose at least one assignee" in response.text
    assert not ReassignmentGroup.objects.exists()


def test_create_duplicate_name_shows_the_error(client, team, owner, closers):
    make_group(team, *closers, name="Closers")
    response = login(client, owner).post(CREATE, form_data(closers))
    assert response.status_code == 422
    assert "already exists" in response.text


def test_update_changes_fields_and_keeps_the_rotation(client, team, owner, closers, capture_route):
    group = make_group(team, *closers[:2], name="Closers")
    capture_route(group, owner, 2)  # two turns taken
    rotation = Rotation.objects.get(pk=group.rotation_id)
    counts = rotation.member_counts()
    assert sum(counts.values()) == 2
    data = form_data(closers, name="Closers 2", method="least_open")
    data |= {f"m{closers[2].pk}": "on", f"m{closers[2].pk}_weight": 1}
    response = login(client, owner).post(url("update", group), data)
    assert response.status_code == 302
    group.refresh_from_db()
    assert (group.name, group.method) == ("Closers 2", "least_open")
    assert list(group.assignees.values_list("membership_id", flat=True)) == [c.pk for c in closers]
    rotation.refresh_from_db()
    assert (rotation.epoch, rotation.turns) == (0, 2)
    assert rotation.member_counts() == counts


def test_editor_prefills_current_values_in_order(client, team, owner, closers):
    group = make_group(team, closers[2], closers[0], name="Ordered")
    text = login(client, owner).get(url("detail", group)).text
    assert 'value="Ordered"' in text
    # current assignees first, in their order
    assert text.index(closers[2].display_name) < text.index(closers[0].display_name)
    assert text.index(closers[0].display_name) < text.index(closers[1].display_name)


# --- delete --------------------------------------------------------------------------------


def test_delete_with_confirmation(client, team, owner, closers):
    group = make_group(team, *closers)
    login(client, owner)
    confirm = client.get(url("confirm_delete", group))
    assert "Are you sure?" in confirm.text
    response = client.post(url("delete", group), follow=True)
    assert "deleted" in response.text
    assert not ReassignmentGroup.objects.filter(pk=group.pk).exists()
    assert not ReassignmentAssignee.objects.exists()


def test_delete_refused_while_contacts_are_reassigning(client, team, owner, closers):
    group = make_group(team, *closers, method="next_up")
    contact = ContactFactory(team=team)
    contact_assign_directly(actor=None, contact=contact, membership=owner)
    reassignment_start(actor=owner, contact=contact, group=group)
    login(client, owner)
    assert "1 contact is being reassigned" in client.get(url("confirm_delete", group)).text
    response = client.post(url("delete", group), follow=True)
    assert "1 contact(s) are being reassigned through this group" in response.text
    assert ReassignmentGroup.objects.filter(pk=group.pk).exists()


# --- query budget --------------------------------------------------------------------------


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(LIST)
    assert response.status_code == 200
    return len(ctx)


@pytest.mark.parametrize("persona", ["owner", "group_admin", "triggerer"])
def test_list_query_budget_does_not_grow(
    client, request, team, closers, offices, persona, django_assert_max_num_queries
):
    member = request.getfixturevalue(persona)
    member.groups.add(offices["downtown"])
    tag = AgentTag.objects.create(team=team, name="Tag")
    contact = ContactFactory(team=team)
    contact_assign_directly(actor=None, contact=contact, membership=closers[0])

    def add(n):
        for _ in range(n):
            group = make_group(team, *closers, method="next_up", available_to=[offices["downtown"]])
            group.assignees.create(agent_tag=tag, position=9)
            group.available_to.add(offices["austin"])

    add(2)
    login(client, member)
    few = _list_queries(client)
    add(25)
    owner = team.memberships.get(role="owner")
    reassignment_start(actor=owner, contact=contact, group=ReassignmentGroup.objects.last())
    with django_assert_max_num_queries(15):
        many = _list_queries(client)
    assert many == few


@pytest.fixture
def capture_route(django_capture_on_commit_callbacks):
    """Send `n` fresh contacts through a group (round robin), taking turns."""

    def run(group, actor, n):
        for _ in range(n):
            contact = ContactFactory(team=group.team)
            contact_assign_directly(actor=None, contact=contact, membership=actor)
            reassignment_start(actor=actor, contact=contact, group=group)

    return run


def test_group_admin_promoted_scope_company_edits_everything(client, team, group_admin, closers):
    profile = group_admin.permission_profile
    profile.distribution_scope = "company"
    profile.save()
    membership_update(actor=None, membership=group_admin, permission_profile=profile)
    group = make_group(team, *closers, name="Anywhere")
    assert 'name="name"' in login(client, group_admin).get(url("detail", group)).text
