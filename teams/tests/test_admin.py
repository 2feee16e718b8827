"""Teams admin: changelists in a fixed number of queries, permissions that follow every save."""

import pytest
from django import forms
from django.contrib.auth.models import User
from django.urls import reverse

from routing.models import Method, RoutingRule
from teams.access import has_perm
from teams.models import AgentTag, Group, Membership, PermissionProfile, Role, Team
from teams.tests.factories import (
    GroupFactory,
    PermissionProfileFactory,
    UserFactory,
    make_member,
    make_team,
)

# --- helpers shared with the contacts and routing admin tests -------------------


def admin_url(model, view="changelist", *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def assert_changelist_scales(client, max_queries, *, model, add_rows, budget: int) -> None:
    """5 rows, then 10 more: the page answers in the same number of queries."""
    counts = []
    for n in (5, 10):
        add_rows(n)
        with max_queries(budget) as captured:
            response = client.get(admin_url(model))
        assert response.status_code == 200
        counts.append(len(captured))
    assert response.context["cl"].result_count >= 15
    assert counts[0] == counts[1], "the changelist costs more queries with more rows"


def form_data(response) -> dict:
    """What a change page posts back untouched: the main form and its inline formsets."""
    boxes = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        boxes += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in boxes:
        for bound in form:
            value = bound.value()
            if isinstance(bound.field.widget, forms.MultiWidget):  # split date and time
                for i, part in enumerate(bound.field.widget.decompress(value)):
                    data[f"{bound.html_name}_{i}"] = "" if part is None else part
            elif isinstance(bound.field, forms.BooleanField):
                if value:
                    data[bound.html_name] = "on"
            elif value is not None:
                data[bound.html_name] = value
    return data


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def can(user: User, team: Team, perm: str) -> bool:
    """What the user's membership of `team` may do now, as a fresh request sees it."""
    member = Membership.objects.filter(user=user, team=team, is_active=True).first()
    return has_perm(member, perm)


# --- changelists -------------------------------------------------------------------


def add_teams(team, n):
    for _ in range(n):
        make_member(make_team(name="Realty"))


def add_nested_groups(team, n):
    parent = None
    for _ in range(n):
        parent = GroupFactory(team=team, parent=parent)
        make_member(team, groups=[parent])


def add_tagged_members(team, n):
    for _ in range(n):
        make_member(team, tags=[f"tag {AgentTag.objects.count()}"])


def add_members_with_profiles(team, n):
    for _ in range(n):
        make_member(team, profile=PermissionProfileFactory(team=team))


# Every page costs 3 queries before the admin starts (session, user, current
# membership), then 2 counts (filtered and total) and the page of rows.
@pytest.mark.parametrize(
    ("model", "add_rows", "budget"),
    [
        (Team, add_teams, 6),  # member, contact and rule counts are subqueries
        (Group, add_nested_groups, 6),
        (AgentTag, add_tagged_members, 6),
        (PermissionProfile, add_members_with_profiles, 6),
        (Membership, add_members_with_profiles, 8),  # + date hierarchy (2)
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_teams_changelist_queries_do_not_grow_with_rows(
    staff_client, team, django_assert_max_num_queries, model, add_rows, budget
):
    assert_changelist_scales(
        staff_client,
        django_assert_max_num_queries,
        model=model,
        add_rows=lambda n: add_rows(team, n),
        budget=budget,
    )


def test_team_changelist_links_to_the_team_members(staff_client, team, agent, outsider):
    response = staff_client.get(admin_url(Team))
    link = f"{admin_url(Membership)}?team__id__exact={team.pk}"
    assert link.encode() in response.content

    response = staff_client.get(link)
    assert response.status_code == 200
    assert set(response.context["cl"].result_list) == set(team.memberships.all())


# --- change forms -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "row"),
    [
        (Team, lambda team: team),
        (Group, lambda team: GroupFactory(team=team)),
        (AgentTag, lambda team: AgentTag.objects.create(team=team, name="Spanish")),
        (PermissionProfile, lambda team: team.permission_profiles.first()),
        (Membership, lambda team: make_member(team, tags=["Spanish"])),
    ],
)
def test_teams_changeforms_render(staff_client, team, model, row):
    assert staff_client.get(admin_url(model, "add")).status_code == 200
    assert staff_client.get(admin_url(model, "change", row(team).pk)).status_code == 200


def test_team_admin_add_creates_the_default_rule(staff_client):
    data = form_data(staff_client.get(admin_url(Team, "add")))
    data.update(name="Harbor Homes", slug="harbor-homes")

    response = staff_client.post(admin_url(Team, "add"), data)

    assert response.status_code == 302
    rule = RoutingRule.objects.get(team__slug="harbor-homes")
    assert (rule.is_default, rule.method) == (True, Method.ASSIGN_DIRECTLY)


def test_membership_admin_role_change_changes_permissions(staff_client, team):
    admin_profile = team.permission_profiles.get(name="Admin")
    member = make_member(team, role=Role.AGENT, profile=admin_profile)
    assert not can(member.user, team, "manage_routing_rules")
    url = admin_url(Membership, "change", member.pk)

    data = form_data(staff_client.get(url))
    response = staff_client.post(url, {**data, "role": Role.ADMIN})
    assert response.status_code == 302
    assert can(member.user, team, "manage_routing_rules")

    response = staff_client.post(url, {**data, "role": Role.AGENT})
    assert response.status_code == 302
    assert not can(member.user, team, "manage_routing_rules")


def test_membership_admin_add_grants_permissions(staff_client, team):
    user = UserFactory()
    data = form_data(staff_client.get(admin_url(Membership, "add")))
    data.update(
        team=team.pk,
        user=user.pk,
        role=Role.ADMIN,
        permission_profile=team.permission_profiles.get(name="Admin").pk,
    )

    response = staff_client.post(admin_url(Membership, "add"), data)

    assert response.status_code == 302
    assert can(user, team, "manage_team")


def test_membership_admin_rejects_a_profile_of_another_team(staff_client, agent, outsider):
    url = admin_url(Membership, "change", agent.pk)
    data = form_data(staff_client.get(url))
    foreign = outsider.team.permission_profiles.get(name="Admin")

    response = staff_client.post(url, {**data, "permission_profile": foreign.pk})

    assert response.status_code == 200
    assert "From another team" in str(response.context["adminform"].form.errors)
    agent.refresh_from_db()
    assert agent.permission_profile != foreign


def test_membership_admin_rejects_editing_ownership(staff_client, owner, agent):
    url = admin_url(Membership, "change", agent.pk)
    response = staff_client.post(url, {**form_data(staff_client.get(url)), "role": Role.OWNER})
    assert response.status_code == 200
    assert "Ownership is transferred" in str(response.context["adminform"].form.errors)

    url = admin_url(Membership, "change", owner.pk)
    response = staff_client.post(url, {**form_data(staff_client.get(url)), "role": Role.ADMIN})
    assert response.status_code == 200
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_membership_admin_delete_takes_the_permissions(staff_client, team, admin_member):
    assert can(admin_member.user, team, "view_team_contacts")

    response = staff_client.post(admin_url(Membership, "delete", admin_member.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not can(admin_member.user, team, "view_team_contacts")


def test_membership_admin_bulk_delete_takes_permissions_and_keeps_owners(
    staff_client, owner, agent
):
    selected = {
        "action": "delete_selected",
        "_selected_action": [owner.pk, agent.pk],
        "post": "yes",
    }
    response = staff_client.post(admin_url(Membership), selected)
    assert response.status_code == 403  # the owner may not be deleted
    assert Membership.objects.filter(team=owner.team).count() == 2
    assert staff_client.get(admin_url(Membership, "delete", owner.pk)).status_code == 403

    response = staff_client.post(
        admin_url(Membership), {**selected, "_selected_action": [agent.pk]}
    )

    assert response.status_code == 302
    assert list(Membership.objects.filter(team=owner.team)) == [owner]
    assert not can(agent.user, owner.team, "view_team_contacts")


def test_permission_profile_admin_save_changes_members_permissions(
    staff_client, team, admin_member
):
    profile = admin_member.permission_profile
    assert can(admin_member.user, team, "view_routing_logs")
    url = admin_url(PermissionProfile, "change", profile.pk)
    data = form_data(staff_client.get(url))
    del data["view_routing_logs"]

    response = staff_client.post(url, data)

    assert response.status_code == 302
    assert not can(admin_member.user, team, "view_routing_logs")
