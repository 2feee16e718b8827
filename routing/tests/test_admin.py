"""Routing admin: rules with assignees; offers, rotations and logs view-only."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from routing.groups import GroupAssignee, reassignment_group_create
from routing.models import (
    ContactRouting,
    LogEvent,
    Method,
    Offer,
    OfferKind,
    OfferRecipient,
    OfferStatus,
    ReassignmentAssignee,
    ReassignmentGroup,
    Rotation,
    RoutingLog,
    RoutingRule,
    RoutingStatus,
    RuleAssignee,
)
from routing.tests.helpers import rule
from teams.models import Plan, Team
from teams.tests.factories import make_member, make_team
from teams.tests.test_admin import admin_url, assert_changelist_scales, form_data, messages_of


def add_rules(team, n):
    for _ in range(n):
        rule(team, f"Rule {team.routing_rules.count()}", make_member(team), make_member(team))


def add_groups(team, n):
    for _ in range(n):
        reassignment_group_create(
            actor=None,
            team=team,
            name=f"Group {team.reassignment_groups.count()}",
            default_assignee=make_member(team),
            assignees=[GroupAssignee(membership=make_member(team))],
        )


def make_offer(team, *, claimed=False, group=None) -> Offer:
    member = make_member(team)
    offer = Offer.objects.create(
        contact=ContactFactory(team=team),
        rule=None if group else team.routing_rules.first(),
        reassignment_group=group,
        kind=OfferKind.NEXT_UP,
        status=OfferStatus.CLAIMED if claimed else OfferStatus.OPEN,
        claimed_by=member if claimed else None,
        deadline=timezone.now() + timedelta(minutes=15),
    )
    OfferRecipient.objects.create(offer=offer, membership=member)
    return offer


_turn = itertools.count()


def make_rotation(team) -> Rotation:
    """A new rule's rotation, or a new reassignment group's, in turn, with turns taken."""
    if next(_turn) % 2:
        add_groups(team, 1)
        rotation = team.reassignment_groups.latest("pk").rotation
    else:
        rotation = rule(team, f"Rule {team.routing_rules.count()}").rotation
    rotation.counts = {str(make_member(team).pk): 3, str(make_member(team).pk): 2}
    rotation.turns = 5
    rotation.save()
    return rotation


def make_routing(team, **fields) -> ContactRouting:
    """A contact's routing row (written when the contact is stored), with `fields`."""
    contact = ContactFactory(team=team)
    ContactRouting.objects.filter(contact=contact).update(**fields)
    return ContactRouting.objects.get(contact=contact)


def make_log(team) -> RoutingLog:
    return RoutingLog.objects.create(
        team=team,
        contact=ContactFactory(team=team),
        event=LogEvent.ASSIGNED,
        source_name="Everyone",
        membership=make_member(team),
        reason="assigned",
    )


# --- changelists -------------------------------------------------------------------


def add_rule_assignees(team, n):
    add_rules(team, -(-n // 2))


def add_offers(team, n):
    add_groups(team, 1)
    group = team.reassignment_groups.latest("pk")
    for i in range(n):
        make_offer(team, claimed=bool(i % 2), group=None if i % 3 else group)


def add_rotations(team, n):
    for _ in range(n):
        make_rotation(team)


def add_routings(team, n):
    pool = rule(team, f"Rule {team.routing_rules.count()}")
    for i in range(n):
        make_routing(team, status=RoutingStatus.FAILED if i % 2 else RoutingStatus.HELD, rule=pool)


def add_logs(team, n):
    for _ in range(n):
        make_log(team)


# 3 queries before the admin starts (session, user, current membership), then
# 2 counts (filtered and total) and the page of rows.
@pytest.mark.parametrize(
    ("model", "add_rows", "budget"),
    [
        (RoutingRule, add_rules, 6),  # assignee count is an annotation
        (RuleAssignee, add_rule_assignees, 6),
        (ReassignmentGroup, add_groups, 6),  # assignee and in-progress counts are subqueries
        (ReassignmentAssignee, add_groups, 6),
        (Offer, add_offers, 8),  # + date hierarchy (2)
        (OfferRecipient, add_offers, 6),
        (Rotation, add_rotations, 6),
        (RoutingLog, add_logs, 7),  # + date hierarchy (2), no total count
        (ContactRouting, add_routings, 7),  # + date hierarchy (2), no total count
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_routing_changelist_queries_do_not_grow_with_rows(
    staff_client, team, django_assert_max_num_queries, model, add_rows, budget
):
    assert_changelist_scales(
        staff_client,
        django_assert_max_num_queries,
        model=model,
        add_rows=lambda n: add_rows(team, n),
        budget=budget,
    )


def test_routing_rule_changelist_orders_by_team_default_last_then_position(staff_client):
    teams = [make_team(name="Beta"), make_team(name="Alpha")]
    for team in teams:
        add_rules(team, 2)

    response = staff_client.get(admin_url(RoutingRule))

    listed = [(r.team.name, r.is_default, r.position) for r in response.context["cl"].result_list]
    assert listed == [
        ("Alpha", False, 1),
        ("Alpha", False, 2),
        ("Alpha", True, 0),
        ("Beta", False, 1),
        ("Beta", False, 2),
        ("Beta", True, 0),
    ]
    assert [r.n_assignees for r in response.context["cl"].result_list] == [2, 2, 0] * 2


# --- rules --------------------------------------------------------------------------


def test_routing_rule_changeform_renders(staff_client, team, agent):
    assert staff_client.get(admin_url(RoutingRule, "add")).status_code == 200
    rules = [rule(team, "Everyone", agent), team.routing_rules.get(is_default=True)]
    for row in rules:
        assert staff_client.get(admin_url(RoutingRule, "change", row.pk)).status_code == 200


def test_routing_rule_admin_add_gives_the_rule_a_rotation(staff_client, team, agent):
    data = form_data(staff_client.get(admin_url(RoutingRule, "add")))
    data.update(
        {
            "team": team.pk,
            "name": "Zillow buyers",
            "method": Method.ROUND_ROBIN,
            "position": 1,
            "assignees-TOTAL_FORMS": 1,
            "assignees-0-membership": agent.pk,
            "assignees-0-weight": 1,
            "assignees-0-position": 0,
        }
    )

    response = staff_client.post(admin_url(RoutingRule, "add"), data)

    assert response.status_code == 302
    added = team.routing_rules.get(name="Zillow buyers")
    assert added.rotation_id is not None
    assert [a.membership for a in added.assignees.all()] == [agent]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda _: {"method": Method.ASSIGN_DIRECTLY}, "routing_rule_assign_directly_default_only"),
        (lambda outsider: {"assignees-0-membership": outsider.pk}, "From another team"),
    ],
)
def test_routing_rule_admin_rejects(staff_client, team, agent, outsider, change, error):
    everyone = rule(team, "Everyone", agent)
    url = admin_url(RoutingRule, "change", everyone.pk)
    data = {**form_data(staff_client.get(url)), **change(outsider)}

    response = staff_client.post(url, data)

    assert response.status_code == 200
    errors = response.context["errors"]
    assert error in str(errors)
    everyone.refresh_from_db()
    assert everyone.method == Method.ROUND_ROBIN
    assert [a.membership for a in everyone.assignees.all()] == [agent]


@pytest.mark.parametrize(
    ("model", "make", "error"),
    [
        (RoutingRule, lambda team: rule(team, "Everyone"), "not available on the Basic plan"),
        (ReassignmentGroup, lambda team: add_groups(team, 1) or team.reassignment_groups.get(),
         "not in the Basic plan"),
    ],
)  # fmt: skip
def test_routing_admin_obeys_the_plan(staff_client, team, model, make, error):
    row = make(team)
    Team.objects.filter(pk=team.pk).update(plan=Plan.BASIC)
    url = admin_url(model, "change", row.pk)

    response = staff_client.post(url, {**form_data(staff_client.get(url)), "method": Method.BLAST})

    assert response.status_code == 200
    assert error in str(response.context["errors"])
    row.refresh_from_db()
    assert row.method == Method.ROUND_ROBIN


def test_routing_rule_admin_assignee_change_resets_the_rotation(staff_client, team, agent):
    everyone = rule(team, "Everyone", agent)
    Rotation.objects.filter(pk=everyone.rotation_id).update(counts={str(agent.pk): 4})
    url = admin_url(RoutingRule, "change", everyone.pk)
    data = form_data(staff_client.get(url))

    response = staff_client.post(url, {**data, "name": "Everyone, renamed"})
    assert response.status_code == 302
    assert Rotation.objects.get(pk=everyone.rotation_id).member_counts() == {agent.pk: 4}

    newcomer = make_member(team)
    data.update(
        {
            "assignees-TOTAL_FORMS": 2,
            "assignees-1-membership": newcomer.pk,
            "assignees-1-weight": 1,
            "assignees-1-position": 1,
            "assignees-1-rule": everyone.pk,
        }
    )
    response = staff_client.post(url, data)

    assert response.status_code == 302
    everyone.rotation.refresh_from_db()
    assert everyone.rotation.member_counts() == {}
    assert everyone.rotation.epoch == 1


def test_routing_rule_admin_keeps_the_default_rule(staff_client, team, agent):
    default = team.routing_rules.get(is_default=True)
    everyone = rule(team, "Everyone", agent)
    assert staff_client.get(admin_url(RoutingRule, "delete", default.pk)).status_code == 403

    selected = {"action": "delete_selected", "_selected_action": [default.pk], "post": "yes"}
    response = staff_client.post(admin_url(RoutingRule), selected)
    assert response.status_code == 403
    assert RoutingRule.objects.filter(pk=default.pk).exists()

    response = staff_client.post(
        admin_url(RoutingRule), {**selected, "_selected_action": [everyone.pk]}, follow=True
    )
    assert list(team.routing_rules.all()) == [default]
    assert not Rotation.objects.filter(pk=everyone.rotation_id).exists()
    assert messages_of(response) == ["Successfully deleted 1 routing rule."]


def test_rule_assignee_admin_delete_resets_the_rotation(staff_client, team, agent):
    everyone = rule(team, "Everyone", agent, make_member(team))
    Rotation.objects.filter(pk=everyone.rotation_id).update(counts={str(agent.pk): 4})
    assignee = everyone.assignees.get(membership=agent)
    assert staff_client.get(admin_url(RuleAssignee, "add")).status_code == 403

    response = staff_client.post(admin_url(RuleAssignee, "delete", assignee.pk), {"post": "yes"})

    assert response.status_code == 302
    assert everyone.assignees.count() == 1
    everyone.rotation.refresh_from_db()
    assert everyone.rotation.member_counts() == {}
    assert everyone.rotation.epoch == 1


# --- reassignment groups ------------------------------------------------------------


def test_reassignment_group_changeform_renders(staff_client, team):
    add_groups(team, 1)
    assert staff_client.get(admin_url(ReassignmentGroup, "add")).status_code == 200
    group = team.reassignment_groups.get()
    assert staff_client.get(admin_url(ReassignmentGroup, "change", group.pk)).status_code == 200


def test_reassignment_group_admin_add_gives_the_group_a_rotation(staff_client, team, agent):
    data = form_data(staff_client.get(admin_url(ReassignmentGroup, "add")))
    data.update(
        {
            "team": team.pk,
            "name": "Stale leads",
            "method": Method.ROUND_ROBIN,
            "assignees-TOTAL_FORMS": 1,
            "assignees-0-membership": agent.pk,
            "assignees-0-weight": 1,
            "assignees-0-position": 0,
        }
    )

    response = staff_client.post(admin_url(ReassignmentGroup, "add"), data)

    assert response.status_code == 302
    group = team.reassignment_groups.get(name="Stale leads")
    assert group.rotation_id is not None
    assert [a.membership for a in group.assignees.all()] == [agent]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda _: {"method": Method.ASSIGN_DIRECTLY}, "reassignment_group_method"),
        (lambda outsider: {"default_assignee": outsider.pk}, "belongs to another team"),
        (lambda outsider: {"assignees-0-agent_tag": "", "assignees-0-membership": outsider.pk},
         "From another team"),
    ],
)  # fmt: skip
def test_reassignment_group_admin_rejects(staff_client, team, outsider, change, error):
    add_groups(team, 1)
    group = team.reassignment_groups.get()
    url = admin_url(ReassignmentGroup, "change", group.pk)
    data = {**form_data(staff_client.get(url)), **change(outsider)}

    response = staff_client.post(url, data)

    assert response.status_code == 200
    assert error in str(response.context["errors"])
    group.refresh_from_db()
    assert group.method == Method.ROUND_ROBIN
    assert group.default_assignee.team_id == team.pk


def test_reassignment_group_admin_keeps_a_group_in_use(staff_client, team):
    add_groups(team, 2)
    busy, idle = team.reassignment_groups.order_by("pk")
    make_routing(team, reassigning_to=busy)
    assert staff_client.get(admin_url(ReassignmentGroup, "delete", busy.pk)).status_code == 403

    response = staff_client.post(admin_url(ReassignmentGroup, "delete", idle.pk), {"post": "yes"})

    assert response.status_code == 302
    assert list(team.reassignment_groups.all()) == [busy]
    assert not Rotation.objects.filter(pk=idle.rotation_id).exists()


# --- system records -----------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "row"),
    [
        (Offer, make_offer),
        (OfferRecipient, lambda team: make_offer(team).offer_recipients.get()),
        (Rotation, make_rotation),
        (RoutingLog, make_log),
        (ContactRouting, lambda team: make_routing(team, status=RoutingStatus.HELD)),
    ],
)
def test_routing_system_records_are_view_only(staff_client, team, model, row):
    obj = row(team)
    assert staff_client.get(admin_url(model, "add")).status_code == 403
    assert staff_client.get(admin_url(model, "delete", obj.pk)).status_code == 403
    response = staff_client.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 200
    assert not response.context["has_change_permission"]
    assert b"delete_selected" not in staff_client.get(admin_url(model)).content


# --- what routing adds to the admin -------------------------------------------------


def test_rotation_admin_shows_the_turn_counts(staff_client, team, agent, admin_member):
    everyone = rule(team, "Everyone", agent, admin_member)
    Rotation.objects.filter(pk=everyone.rotation_id).update(
        counts={str(agent.pk): 3, str(admin_member.pk): 1}, turns=4
    )

    listing = staff_client.get(admin_url(Rotation), {"q": "Everyone"})
    change = staff_client.get(admin_url(Rotation, "change", everyone.rotation_id))

    [row] = listing.context["cl"].result_list
    assert row.pk == everyone.rotation_id
    html = listing.content.decode()
    assert (
        f'<a href="{admin_url(RoutingRule, "change", everyone.pk)}">Acme Realty: Everyone</a>'
        in html
    )
    assert '<td class="field-member_count">2</td>' in html
    body = change.content.decode()
    assert f"&quot;{agent.pk}&quot;: 3" in body
    assert f"&quot;{admin_member.pk}&quot;: 1" in body


def test_team_admin_counts_contacts_and_rules_with_links(staff_client, team, agent, outsider):
    rule(team, "Everyone", agent)
    ContactFactory.create_batch(3, team=team)
    ContactFactory(team=outsider.team)

    response = staff_client.get(admin_url(Team))

    [ours] = [t for t in response.context["cl"].result_list if t.pk == team.pk]
    assert (ours.n_contacts, ours.n_rules) == (3, 2)  # the Default Rule counts
    html = response.content.decode()
    assert f"{admin_url(Contact)}?team__id__exact={team.pk}" in html
    assert f"{admin_url(RoutingRule)}?team__id__exact={team.pk}" in html


def test_contact_routing_admin_lists_state_and_filters_by_status(staff_client, team, agent):
    pool = rule(team, "Pool", agent)
    held = make_routing(team, status=RoutingStatus.HELD, rule=pool)
    make_routing(team, status=RoutingStatus.FAILED, error="boom")

    response = staff_client.get(admin_url(ContactRouting), {"status__exact": "held"})

    assert list(response.context["cl"].result_list) == [held]
    html = response.content.decode()
    assert "Held" in html
    assert "Pool" in html
