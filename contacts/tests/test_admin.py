"""Contacts admin: routing state in fixed-cost changelists, and re-running routing."""

import re

import pytest

from contacts.models import Activity, Contact, ContactRole, RoleKind, Tag, TimelineEvent
from contacts.services import contact_create, timeline_add
from contacts.tests.factories import ContactFactory
from routing.models import ContactRouting, LogEvent, RoutingRule, RoutingStatus
from routing.rules import default_rule_ensure
from routing.tests.helpers import agent_of, rule
from teams.models import Team
from teams.tests.factories import make_member
from teams.tests.test_admin import admin_url, assert_changelist_scales, form_data, messages_of


def contact_with_agent(team, routing=None, **fields) -> Contact:
    """A contact with a primary Agent; `routing`: fields of its routing row."""
    contact = ContactFactory(team=team, **fields)
    if routing:
        ContactRouting.objects.filter(contact=contact).update(**routing)
    ContactRole.objects.create(contact=contact, membership=make_member(team), kind=RoleKind.AGENT)
    return contact


# --- changelists -------------------------------------------------------------------


def add_contacts(team, n):
    for i in range(n):
        contact_with_agent(team, routing={"error": f"KeyError: {i}" if i % 2 else ""})


def add_tagged_contacts(team, n):
    for _ in range(n):
        tag = Tag.objects.create(team=team, name=f"tag {Tag.objects.count()}")
        ContactFactory(team=team).tags.add(tag)


def add_activities(team, n):
    for _ in range(n):
        Activity.objects.create(
            contact=ContactFactory(team=team), membership=make_member(team), kind="call"
        )


def add_timeline_events(team, n):
    for _ in range(n):
        timeline_add(
            contact=ContactFactory(team=team),
            kind="note",
            message="Called back.",
            actor=make_member(team),
        )


# 3 queries before the admin starts (session, user, current membership), then
# 2 counts (filtered and total) and the page of rows.
@pytest.mark.parametrize(
    ("model", "add_rows", "budget"),
    [
        (Contact, add_contacts, 9),  # + agent roles prefetch, date hierarchy (2)
        (Tag, add_tagged_contacts, 6),
        (ContactRole, add_contacts, 6),
        (Activity, add_activities, 8),  # + date hierarchy (2)
        (TimelineEvent, add_timeline_events, 8),  # + kind filter, date hierarchy (2), no total
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_contacts_changelist_queries_do_not_grow_with_rows(
    staff_client, team, django_assert_max_num_queries, model, add_rows, budget
):
    assert_changelist_scales(
        staff_client,
        django_assert_max_num_queries,
        model=model,
        add_rows=lambda n: add_rows(team, n),
        budget=budget,
    )


def test_contact_changelist_shows_routing_state_and_agent(staff_client, team):
    contact = contact_with_agent(
        team, routing={"status": RoutingStatus.FAILED, "error": "ValidationError: no owner"}
    )

    response = staff_client.get(admin_url(Contact))

    html = response.content.decode()
    assert agent_of(contact).display_name in html
    assert "ValidationError: no owner" in html
    assert "Failed" in html


# --- change forms -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "row"),
    [
        (Contact, contact_with_agent),
        (Tag, lambda team: Tag.objects.create(team=team, name="Hot")),
        (ContactRole, lambda team: contact_with_agent(team).roles.get()),
    ],
)
def test_contacts_changeforms_render(staff_client, team, model, row):
    assert staff_client.get(admin_url(model, "add")).status_code == 200
    assert staff_client.get(admin_url(model, "change", row(team).pk)).status_code == 200


def test_contact_admin_role_inline_adds_through_the_service(staff_client, team, agent):
    contact = ContactFactory(team=team)
    url = admin_url(Contact, "change", contact.pk)
    data = form_data(staff_client.get(url))
    data.update(
        {
            "roles-TOTAL_FORMS": 1,
            "roles-0-kind": RoleKind.ASSISTANT,
            "roles-0-membership": agent.pk,
            "roles-0-contact": contact.pk,
        }
    )

    response = staff_client.post(url, data)

    assert response.status_code == 302
    assert contact.roles.get().membership == agent
    assert contact.timeline.filter(kind="role_added").exists()


@pytest.mark.parametrize(
    ("kind", "member", "error"),
    [
        (RoleKind.AGENT, lambda agent, _: agent, "set by routing"),
        (RoleKind.LENDER, lambda _, outsider: outsider, "From another team"),
    ],
)
def test_contact_admin_role_inline_rejects(
    staff_client, team, agent, outsider, kind, member, error
):
    contact = ContactFactory(team=team)
    url = admin_url(Contact, "change", contact.pk)
    data = form_data(staff_client.get(url))
    data.update(
        {
            "roles-TOTAL_FORMS": 1,
            "roles-0-kind": kind,
            "roles-0-membership": member(agent, outsider).pk,
            "roles-0-contact": contact.pk,
        }
    )

    response = staff_client.post(url, data)

    assert response.status_code == 200
    [roles] = [
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.prefix == "roles"
    ]
    assert error in str(roles.errors)
    assert not contact.roles.exists()


@pytest.mark.parametrize(
    ("model", "row"),
    [
        (Activity, lambda team, member: Activity.objects.create(
            contact=ContactFactory(team=team), membership=member, kind="note"
        )),
        (TimelineEvent, lambda team, member: timeline_add(
            contact=ContactFactory(team=team), kind="note", message="Hi", actor=member
        )),
    ],
)  # fmt: skip
def test_contacts_system_records_are_view_only(staff_client, team, agent, model, row):
    obj = row(team, agent)
    assert staff_client.get(admin_url(model, "add")).status_code == 403
    assert staff_client.get(admin_url(model, "delete", obj.pk)).status_code == 403
    response = staff_client.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 200
    assert not response.context["has_change_permission"]
    assert b"delete_selected" not in staff_client.get(admin_url(model)).content


# --- re-run routing -------------------------------------------------------------


def test_contact_rerun_routing_action_routes_again(
    staff_client, team, django_capture_on_commit_callbacks
):
    agent = make_member(team, is_online=True)
    rule(team, "Everyone", agent)
    with django_capture_on_commit_callbacks(execute=True):
        contact = contact_create(team=team, first_name="Lead", source="Zillow")
    assert agent_of(contact) == agent
    assignments = contact.routing_logs.filter(event=LogEvent.ASSIGNED).count()

    response = staff_client.post(
        admin_url(Contact),
        {"action": "rerun_routing", "_selected_action": [contact.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert messages_of(response) == ["Re-ran routing for 1 contact(s): 1 assigned."]
    contact.routing.refresh_from_db()
    assert contact.routing.status == RoutingStatus.ASSIGNED
    assert agent_of(contact) == agent
    assert contact.routing_logs.filter(event=LogEvent.ASSIGNED).count() == assignments + 1


def test_contact_rerun_routing_action_reports_failures_with_their_text(staff_client, team):
    # A team made without the service has no owner to fall back to, so routing fails.
    orphan = Team.objects.create(name="No Owner", slug="no-owner")
    default_rule_ensure(team=orphan)
    failing = ContactFactory(team=orphan, first_name="Stray", last_name="Lead")
    routed = ContactFactory(team=team)

    response = staff_client.post(
        admin_url(Contact),
        {"action": "rerun_routing", "_selected_action": [failing.pk, routed.pk]},
        follow=True,
    )

    shown = messages_of(response)
    assert shown[0] == "Re-ran routing for 1 contact(s): 1 assigned."
    assert shown == [
        "Re-ran routing for 1 contact(s): 1 assigned.",
        "Routing failed for 1 contact(s): Stray Lead: "
        "no rule could take the contact and the team has no owner",
    ]
    failing.routing.refresh_from_db()
    assert failing.routing.status == RoutingStatus.FAILED


# --- assign directly ---------------------------------------------------------------


def test_contact_assign_directly_action_asks_then_assigns(
    staff_client, team, django_capture_on_commit_callbacks
):
    first, second = make_member(team), make_member(team)
    rule(team, "Everyone", first)
    with django_capture_on_commit_callbacks(execute=True):
        contact = contact_create(team=team, first_name="Lead", source="Zillow")
    assert agent_of(contact) == first
    selected = {"action": "assign_directly", "_selected_action": [contact.pk]}

    ask = staff_client.post(admin_url(Contact), selected)
    assert ask.status_code == 200
    assert second.display_name in ask.content.decode()
    assert agent_of(contact) == first  # the first step changes nothing

    response = staff_client.post(
        admin_url(Contact), {**selected, "membership": second.pk, "apply": "Assign"}, follow=True
    )
    assert messages_of(response) == [f"Assigned 1 contact(s) to {second.display_name}."]
    assert agent_of(contact) == second
    assert "assigned directly by staff" in contact.timeline.filter(kind="assigned").first().message


def test_contact_assign_directly_action_refuses_mixed_teams_and_foreign_members(
    staff_client, team, outsider
):
    mine, theirs = ContactFactory(team=team), ContactFactory(team=outsider.team)
    mixed = staff_client.post(
        admin_url(Contact),
        {"action": "assign_directly", "_selected_action": [mine.pk, theirs.pk]},
        follow=True,
    )
    assert messages_of(mixed) == ["Select contacts of one team at a time."]
    foreign = staff_client.post(
        admin_url(Contact),
        {
            "action": "assign_directly",
            "_selected_action": [mine.pk],
            "membership": outsider.pk,
            "apply": "Assign",
        },
    )
    assert foreign.status_code == 200  # asked again: that member is not in this team
    assert agent_of(mine) is None


def test_contact_changeform_shows_routing_state_read_only(staff_client, team, agent):
    pool = rule(team, "Holding pool", agent)
    contact = contact_with_agent(team, routing={"status": RoutingStatus.HELD, "rule": pool})

    response = staff_client.get(admin_url(Contact, "change", contact.pk))

    [routing] = [
        inline
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model is ContactRouting
    ]
    assert not routing.has_change_permission
    assert not routing.has_add_permission
    html = response.content.decode()
    section = html[html.index('id="routing-group"') :]
    section = section[: section.index('id="roles-group"')]
    assert re.search(r'<label>Status:</label>\s*<div class="readonly">Held</div>', section)
    assert (
        f'<div class="readonly"><a href="{admin_url(RoutingRule, "change", pool.pk)}">'
        "Holding pool</a></div>" in section
    )


def test_contact_changelist_filters_by_routing_status(staff_client, team):
    held = contact_with_agent(team, routing={"status": RoutingStatus.HELD})
    contact_with_agent(team, routing={"status": RoutingStatus.ASSIGNED})

    response = staff_client.get(admin_url(Contact), {"routing__status__exact": "held"})

    assert list(response.context["cl"].result_list) == [held]
    assert "Held" in response.content.decode()
