"""The contact profile: roles, timeline, activities, segment/tags and the reassign flow."""

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import Activity, ContactRole, TimelineEvent
from contacts.services import contact_role_add
from contacts.tests.factories import ContactFactory
from routing.manual import contact_assign_directly
from routing.models import ContactRouting, Offer, OfferStatus, Rotation
from routing.offers import offer_claim
from routing.reassignment import reassignment_start
from routing.tests.helpers import agent_of, assigned_contact, reassignment_group
from teams.models import Group
from teams.tests.factories import make_member

MUTATIONS = [
    "details_update",
    "activity_add",
    "segment_set",
    "tags_set",
    "role_add",
    "reassign_start",
    "assign_directly",
]


def url(name, contact, *args):
    return reverse(f"contact_pages:{name}", args=[contact.pk, *args])


@pytest.fixture
def isa(team):
    return make_member(team, role="agent")


@pytest.fixture
def closers(team):
    return [make_member(team) for _ in range(2)]


@pytest.fixture
def contact(team, isa):
    return assigned_contact(team, isa, first_name="Rita", last_name="Lead")


def login(client, membership):
    client.force_login(membership.user)
    return client


def in_progress(contact) -> bool:
    return ContactRouting.objects.get(contact=contact).reassign_in_progress


class _FormInputs(HTMLParser):
    """The named inputs of the form posting to `action`, as a browser would submit them."""

    def __init__(self, action: str):
        super().__init__()
        self.action, self.inside, self.data = action, False, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("action") == self.action
        elif tag == "input" and self.inside and attrs.get("name"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.data.append((attrs["name"], attrs.get("value") or ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def form_post_data(html: str, action: str, **choices) -> dict[str, list[str]]:
    """What submitting the page's form to `action` posts (every input, repeats kept),
    with `choices` for its selects."""
    parser = _FormInputs(action)
    parser.feed(html)
    assert parser.data, f"no form posts to {action}"
    data: dict[str, list[str]] = {}
    for name, value in parser.data:
        data.setdefault(name, []).append(value)
    return {**data, **{k: [str(v)] for k, v in choices.items()}}


# --- who may open the profile ---------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin_member"])
def test_profile_allowed_for_owner_and_admin(client, request, contact, persona):
    login(client, request.getfixturevalue(persona))
    response = client.get(url("profile", contact))
    assert response.status_code == 200
    assert "Rita Lead" in response.text
    assert response["Vary"].count("HX-Request") == 1


def test_profile_allowed_for_the_primary_agent(client, contact, isa):
    response = login(client, isa).get(url("profile", contact))
    assert response.status_code == 200
    assert "Edit details" in response.text  # the primary Agent works the contact


def test_profile_allowed_for_agent_with_an_open_offer(client, team, owner, agent, contact):
    reassignment_start(
        actor=owner, contact=contact, group=reassignment_group(team, agent, method="next_up")
    )
    response = login(client, agent).get(url("profile", contact))
    assert response.status_code == 200
    assert "You have an open Next Up offer" in response.text
    assert "Edit details" not in response.text  # offered, not yet the Agent


def test_profile_agent_without_role_or_offer_is_404(client, agent, contact):
    assert login(client, agent).get(url("profile", contact)).status_code == 404


def test_profile_other_team_is_404(client, outsider, contact):
    assert login(client, outsider).get(url("profile", contact)).status_code == 404


def test_profile_anonymous_redirects_to_login(client, contact):
    response = client.get(url("profile", contact))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", MUTATIONS)
def test_mutations_answer_get_with_405(client, owner, contact, name):
    assert login(client, owner).get(url(name, contact)).status_code == 405


def test_role_remove_answers_get_with_405(client, owner, agent, contact):
    role = contact_role_add(contact=contact, membership=agent, kind="lender")
    assert login(client, owner).get(url("role_remove", contact, role.pk)).status_code == 405


@pytest.mark.parametrize("name", MUTATIONS)
def test_mutations_anonymous_redirect_to_login(client, contact, name):
    response = client.post(url(name, contact))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", MUTATIONS)
def test_mutations_other_team_is_404(client, outsider, contact, name):
    assert login(client, outsider).post(url(name, contact)).status_code == 404


# --- roles ------------------------------------------------------------------------------


def test_profile_shows_roles_primary_agent_first(client, owner, agent, isa, contact):
    contact_role_add(contact=contact, membership=agent, kind="lender")
    contact_role_add(contact=contact, membership=owner, kind="custom", custom_name="Coordinator")
    text = login(client, owner).get(url("profile", contact)).text
    roles = text[text.index('id="roles"') :]
    assert roles.index(isa.display_name) < roles.index("Lender") < roles.index("Coordinator")


def test_role_add_and_remove(client, owner, agent, contact):
    login(client, owner)
    response = client.post(url("role_add", contact), {"membership": agent.pk, "kind": "assistant"})
    assert response.status_code == 302
    role = ContactRole.objects.get(contact=contact, kind="assistant")
    assert role.membership == agent
    response = client.post(url("role_remove", contact, role.pk), follow=True)
    assert "removed as Assistant" in response.text
    assert not ContactRole.objects.filter(pk=role.pk).exists()
    kinds = set(contact.timeline.values_list("kind", flat=True))
    assert {"role_added", "role_removed"} <= kinds


def test_role_add_custom_needs_a_name(client, owner, agent, contact):
    login(client, owner)
    response = client.post(url("role_add", contact), {"membership": agent.pk, "kind": "custom"})
    assert response.status_code == 422
    assert "Name the custom role." in response.text
    response = client.post(
        url("role_add", contact),
        {"membership": agent.pk, "kind": "custom", "custom_name": "Stager"},
    )
    assert ContactRole.objects.get(contact=contact, kind="custom").custom_name == "Stager"


def test_role_add_cannot_make_a_primary_agent(client, owner, agent, isa, contact):
    response = login(client, owner).post(
        url("role_add", contact), {"membership": agent.pk, "kind": "agent"}
    )
    assert response.status_code == 422
    assert agent_of(contact) == isa


def test_primary_agent_role_cannot_be_removed(client, owner, isa, contact):
    role = ContactRole.objects.get(contact=contact, kind="agent")
    response = login(client, owner).post(url("role_remove", contact, role.pk), follow=True)
    assert "changed through routing or reassignment" in response.text
    assert agent_of(contact) == isa


def test_role_edit_forbidden_for_agent_holding_a_secondary_role(client, agent, contact):
    lender = contact_role_add(contact=contact, membership=agent, kind="lender")
    login(client, agent)
    assert client.get(url("profile", contact)).status_code == 200
    assert client.post(url("role_remove", contact, lender.pk)).status_code == 403
    response = client.post(url("role_add", contact), {"membership": agent.pk, "kind": "assistant"})
    assert response.status_code == 403
    assert client.post(url("details_update", contact), {"first_name": "X"}).status_code == 403


def test_role_of_another_contact_is_404(client, team, owner, agent, isa, contact):
    other = assigned_contact(team, isa)
    role = contact_role_add(contact=other, membership=agent, kind="lender")
    assert login(client, owner).post(url("role_remove", contact, role.pk)).status_code == 404


# --- details, activities, segment and tags ----------------------------------------------


def test_details_update_saves_and_writes_timeline(client, isa, contact):
    data = {"first_name": "Rita", "last_name": "Lead", "email": "rita@example.com"}
    data |= {"status": "active", "phone": "", "contact_type": "seller"}
    response = login(client, isa).post(url("details_update", contact), data)
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.email, contact.status, contact.contact_type) == (
        "rita@example.com",
        "active",
        "seller",
    )
    assert contact.timeline.filter(kind="details_updated").exists()


def test_details_update_invalid_shows_errors(client, owner, contact):
    data = {"first_name": "Rita", "email": "not-an-email", "status": "new"}
    data |= {"price_min": "500", "price_max": "100"}
    response = login(client, owner).post(url("details_update", contact), data)
    assert response.status_code == 422
    assert "Enter a valid email address." in response.text
    contact.refresh_from_db()
    assert contact.email != "not-an-email"


@pytest.mark.parametrize("kind", ["call", "text", "email", "note"])
def test_activity_logged_on_timeline(client, isa, contact, kind):
    response = login(client, isa).post(url("activity_add", contact), {"kind": kind, "body": "Hi"})
    assert response.status_code == 302
    assert Activity.objects.filter(contact=contact, kind=kind, membership=isa).exists()
    event = contact.timeline.order_by("-id").first()
    assert event.kind == f"activity_{kind}"
    contact.refresh_from_db()
    assert contact.last_contacted_at is not None


def test_activity_unknown_kind_is_refused(client, isa, contact):
    response = login(client, isa).post(url("activity_add", contact), {"kind": "segment_change"})
    assert response.status_code == 422
    assert not Activity.objects.filter(contact=contact).exists()


@pytest.fixture
def offered(team, owner, agent, contact):
    """`agent` holds an open Next Up offer on the contact, through a reassignment group."""
    reassignment_start(
        actor=owner, contact=contact, group=reassignment_group(team, agent, method="next_up")
    )
    return contact


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("activity_add", {"kind": "call", "body": "Left a voicemail"}),
        ("segment_set", {"segment": "Hot"}),
        ("tags_set", {"tags": "buyer, pre-approved"}),
    ],
)
def test_working_the_contact_claims_a_next_up_offer(client, agent, offered, name, data):
    response = login(client, agent).post(url(name, offered), data, follow=True)
    assert "You claimed the contact" in response.text
    assert agent_of(offered) == agent
    assert not in_progress(offered)
    assert Offer.objects.get(contact=offered).status == OfferStatus.CLAIMED


def test_segment_and_tags_saved(client, isa, contact):
    login(client, isa)
    client.post(url("segment_set", contact), {"segment": "Nurture 90"})
    client.post(url("tags_set", contact), {"tags": "vip, relocation , vip"})
    contact.refresh_from_db()
    assert contact.segment == "Nurture 90"
    assert sorted(contact.tags.values_list("name", flat=True)) == ["relocation", "vip"]
    text = client.get(url("profile", contact)).text
    assert "Segment: — → Nurture 90" in text
    assert "Tags: relocation, vip" in text


# --- timeline ---------------------------------------------------------------------------


def _add_events(contact, n):
    now = timezone.now()
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            contact=contact, kind="note", message=f"Event {i:03d}", created_at=now + timedelta(i)
        )
        for i in range(n)
    )


def test_timeline_newest_first_and_paginated(client, owner, contact):
    _add_events(contact, 60)
    login(client, owner)
    first = client.get(url("profile", contact)).text
    assert first.index("Event 059") < first.index("Event 058")
    assert "Event 005" not in first
    assert "Page 1 of 2" in first
    fragment = client.get(url("profile", contact) + "?tpage=2", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text
    assert 'id="timeline"' in fragment.text
    assert "Event 005" in fragment.text
    assert "Event 059" not in fragment.text


# --- the primary Agent role: reassign and assign directly ---------------------------------


def test_reassign_choose_shows_only_available_groups(client, team, admin_member, closers, contact):
    dallas = Group.objects.create(team=team, name="Dallas")
    reassignment_group(team, *closers, name="Everyone's group")
    reassignment_group(team, *closers, name="Dallas only", available_to=[dallas])
    response = login(client, admin_member).get(url("reassign", contact))
    assert response.status_code == 200
    assert "Reassign the primary Agent" in response.text
    assert "Everyone&#x27;s group" in response.text
    assert "Dallas only" not in response.text


def test_reassign_round_robin_through_the_views(client, team, owner, isa, closers, contact):
    group = reassignment_group(team, *closers, name="Closers")
    login(client, owner)
    profile = client.get(url("profile", contact)).text
    assert url("reassign", contact) in profile
    confirm = client.get(url("reassign", contact), {"group": group.pk})
    assert "Are you sure?" in confirm.text
    assert agent_of(contact) == isa  # confirming is not doing
    response = client.post(
        url("reassign_start", contact), {"group": group.pk, "confirm": "yes"}, follow=True
    )
    assert agent_of(contact) == closers[0]
    assert "Reassigned through “Closers”" in response.text
    text = response.text
    timeline = text[text.index('id="timeline"') :]
    assert f"Reassigned from {isa.display_name} to {closers[0].display_name}" in timeline
    assert "Re-Assign in progress" not in text


def test_reassign_next_up_shows_in_progress_and_refuses_assign_directly(
    client, team, admin_member, isa, closers, contact
):
    group = reassignment_group(team, *closers, method="next_up", name="Next up closers")
    login(client, admin_member)
    response = client.post(
        url("reassign_start", contact), {"group": group.pk, "confirm": "yes"}, follow=True
    )
    text = response.text
    roles = text[text.index('id="roles"') : text.index("</section>", text.index('id="roles"'))]
    assert "Re-Assign in progress" in roles
    assert "Assign directly" not in roles  # no edit controls while it runs
    assert url("reassign", contact) not in roles
    assert url("assign_directly", contact) not in roles
    response = client.post(url("assign_directly", contact), {"membership": closers[1].pk})
    assert response.status_code == 302
    page = client.get(response["Location"]).text
    assert (
        f"Re-Assign in progress: already being reassigned by {admin_member.display_name} "
        "through “Next up closers”; the Agent cannot be changed until it finishes." in page
    )
    assert agent_of(contact) == isa
    # the offered closer claims: the profile shows them and the timeline record
    offer = Offer.objects.get(contact=contact, status=OfferStatus.OPEN)
    assert offer_claim(offer_id=offer.pk, membership=closers[0]).claimed
    text = client.get(url("profile", contact)).text
    assert "Re-Assign in progress" not in text
    assert f"Reassigned from {isa.display_name} to {closers[0].display_name}" in text


def test_reassign_start_needs_confirmation(client, team, owner, isa, closers, contact):
    group = reassignment_group(team, *closers)
    response = login(client, owner).post(url("reassign_start", contact), {"group": group.pk})
    assert response.status_code == 302
    assert response["Location"] == url("reassign", contact)
    assert agent_of(contact) == isa


def test_reassign_group_not_available_is_refused(client, team, admin_member, isa, contact):
    dallas = Group.objects.create(team=team, name="Dallas")
    hidden = reassignment_group(team, isa, available_to=[dallas])
    login(client, admin_member)
    response = client.get(url("reassign", contact), {"group": hidden.pk})
    assert "Are you sure?" not in response.text
    assert "Choose one of the reassignment groups shown." in response.text
    client.post(url("reassign_start", contact), {"group": hidden.pk, "confirm": "yes"})
    assert not in_progress(contact)


def test_reassign_already_in_progress_shows_the_message(client, team, owner, closers, contact):
    group = reassignment_group(team, *closers, method="next_up")
    reassignment_start(actor=owner, contact=contact, group=group)
    login(client, owner)
    assert "already distributing" in client.get(url("reassign", contact)).text
    response = client.post(
        url("reassign_start", contact), {"group": group.pk, "confirm": "yes"}, follow=True
    )
    assert f"Re-Assign in progress: already being reassigned by {owner.display_name}" in (
        response.text
    )


def test_reassign_unassigned_contact_is_refused(client, team, owner, closers):
    contact = ContactFactory(team=team)  # still routing: no primary Agent
    group = reassignment_group(team, *closers)
    login(client, owner)
    assert "no primary Agent yet" in client.get(url("reassign", contact)).text
    response = client.post(
        url("reassign_start", contact), {"group": group.pk, "confirm": "yes"}, follow=True
    )
    assert "no primary Agent yet" in response.text


def test_reassign_and_assign_forbidden_without_permission(client, team, isa, closers, contact):
    group = reassignment_group(team, *closers)
    login(client, isa)  # the primary Agent, but the Agent profile grants no trigger
    text = client.get(url("profile", contact)).text
    assert url("reassign", contact) not in text
    assert "Assign directly" not in text
    assert client.get(url("reassign", contact)).status_code == 403
    data = {"group": group.pk, "confirm": "yes"}
    assert client.post(url("reassign_start", contact), data).status_code == 403
    assert client.post(url("assign_directly", contact), {"membership": isa.pk}).status_code == 403
    assert agent_of(contact) == isa


def test_assign_directly(client, admin_member, agent, contact):
    response = login(client, admin_member).post(
        url("assign_directly", contact), {"membership": agent.pk}, follow=True
    )
    assert f"{agent.display_name} is now the primary Agent." in response.text
    assert agent_of(contact) == agent


def test_assign_directly_member_of_other_team_is_refused(client, admin_member, outsider, contact):
    response = login(client, admin_member).post(
        url("assign_directly", contact), {"membership": outsider.pk}
    )
    assert response.status_code == 422


# --- the Agent the page showed (expected_agent) ----------------------------------------------


def _nothing_changed(contact, agent, timeline: list[int], rotations: list) -> None:
    assert agent_of(contact) == agent
    assert not in_progress(contact)
    assert not Offer.objects.filter(contact=contact).exists()
    assert list(contact.timeline.values_list("pk", flat=True)) == timeline
    assert list(Rotation.objects.order_by("pk").values_list("pk", "turns", "counts")) == rotations


def _snapshot(contact):
    return (
        list(contact.timeline.values_list("pk", flat=True)),
        list(Rotation.objects.order_by("pk").values_list("pk", "turns", "counts")),
    )


def test_reassign_confirmation_posts_the_agent_shown(client, team, owner, isa, closers, contact):
    group = reassignment_group(team, *closers, name="Closers")
    login(client, owner)

    confirm = client.get(url("reassign", contact), {"group": group.pk}).text
    data = form_post_data(confirm, url("reassign_start", contact))

    assert data == {
        "csrfmiddlewaretoken": data["csrfmiddlewaretoken"],
        "group": [str(group.pk)],
        "expected_agent": [str(isa.pk)],
        "confirm": ["yes"],
    }
    response = client.post(url("reassign_start", contact), data, follow=True)
    assert "Reassigned through “Closers”" in response.text
    assert agent_of(contact) == closers[0]


def test_reassign_refused_when_the_agent_changed_meanwhile(
    client, team, owner, admin_member, isa, agent, closers, contact
):
    group = reassignment_group(team, *closers, name="Closers")
    login(client, owner)
    confirm = client.get(url("reassign", contact), {"group": group.pk}).text
    data = form_post_data(confirm, url("reassign_start", contact))
    # Meanwhile an admin gives the contact to someone else.
    contact_assign_directly(actor=admin_member, contact=contact, membership=agent)
    assert agent_of(contact) == agent
    timeline, rotations = _snapshot(contact)

    response = client.post(url("reassign_start", contact), data, follow=True)

    assert (
        f"The Agent changed while you were looking: {agent.display_name} holds the contact now "
        f"(by {admin_member.display_name}). Reload the profile to see it, then try again."
        in response.text
    )
    assert "Reassigned through" not in response.text
    _nothing_changed(contact, agent, timeline, rotations)


def test_assign_directly_form_posts_the_agent_shown(client, team, admin_member, isa, agent):
    assigned = assigned_contact(team, isa)
    unassigned = ContactFactory(team=team)
    login(client, admin_member)

    shown = form_post_data(
        client.get(url("profile", assigned)).text,
        url("assign_directly", assigned),
        membership=agent.pk,
    )
    nobody = form_post_data(
        client.get(url("profile", unassigned)).text,
        url("assign_directly", unassigned),
        membership=agent.pk,
    )

    assert shown["expected_agent"] == [str(isa.pk)]
    assert nobody["expected_agent"] == ["none"]  # "nobody was its Agent": checked too
    response = client.post(url("assign_directly", assigned), shown, follow=True)
    assert f"{agent.display_name} is now the primary Agent." in response.text
    assert agent_of(assigned) == agent


def test_assign_directly_refused_when_the_agent_changed_meanwhile(
    client, team, owner, admin_member, isa, agent, closers, contact
):
    login(client, admin_member)
    data = form_post_data(
        client.get(url("profile", contact)).text,
        url("assign_directly", contact),
        membership=closers[1].pk,
    )
    # Meanwhile the owner gives the contact to someone else.
    contact_assign_directly(actor=owner, contact=contact, membership=agent)
    assert agent_of(contact) == agent
    timeline, rotations = _snapshot(contact)
    routing = ContactRouting.objects.values("assigned_at", "assigned_by").get(contact=contact)

    response = client.post(url("assign_directly", contact), data, follow=True)

    assert (
        f"The Agent changed while you were looking: {agent.display_name} holds the contact now "
        f"(by {owner.display_name}). Reload the profile to see it, then try again." in response.text
    )
    assert "is now the primary Agent" not in response.text
    _nothing_changed(contact, agent, timeline, rotations)
    assert ContactRouting.objects.values("assigned_at", "assigned_by").get(contact=contact) == (
        routing
    )


# --- query budget -----------------------------------------------------------------------


def _profile_queries(client, contact) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url("profile", contact))
    assert response.status_code == 200
    return len(ctx)


def test_profile_query_budget_does_not_grow(
    client, team, owner, isa, closers, django_assert_max_num_queries
):
    small = assigned_contact(team, isa)
    big = assigned_contact(team, isa)
    reassignment_group(team, *closers)
    for i in range(12):
        member = make_member(team)
        contact_role_add(contact=big, membership=member, kind="custom", custom_name=f"Role {i}")
        contact_role_add(contact=big, membership=member, kind="lender")
    _add_events(big, 200)
    login(client, owner)
    few = _profile_queries(client, small)
    with django_assert_max_num_queries(15):
        many = _profile_queries(client, big)
    assert many == few
