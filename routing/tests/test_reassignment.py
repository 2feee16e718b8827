from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from contacts.services import contact_role_add
from routing.groups import (
    GroupAssignee,
    groups_available_to,
    groups_editable_by,
    reassignment_group_create,
    reassignment_group_delete,
    reassignment_group_set_assignees,
    reassignment_group_update,
)
from routing.manual import contact_assign_directly, contact_reroute
from routing.models import (
    ContactRouting,
    Offer,
    OfferStatus,
    ReassignmentGroup,
    RoutingStatus,
)
from routing.offers import offer_claim, offers_sweep
from routing.reassignment import reassignment_start, reassignment_start_bulk
from routing.tests.helpers import agent_of, new_contact, rule
from teams.models import AgentTag, Group
from teams.services import membership_update
from teams.tests.factories import make_member

T0 = datetime(2026, 4, 6, 10, 0, tzinfo=UTC)


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def isa(team):
    """The inside sales agent who qualifies leads first, then hands them on."""
    return make_member(team, role="agent")


@pytest.fixture
def closers(team):
    return [make_member(team) for _ in range(3)]


@pytest.fixture
def isa_contact(team, isa, capture):
    rule(team, "ISA first", isa)
    return new_contact(team, capture)


def group(team, *members, method="round_robin", default=None, **fields):
    return reassignment_group_create(
        actor=None,
        team=team,
        name=fields.pop("name", f"Group {ReassignmentGroup.objects.count() + 1}"),
        method=method,
        default_assignee=default,
        assignees=[GroupAssignee(membership=m) for m in members],
        **fields,
    )


def routing_of(contact) -> ContactRouting:
    """The contact's routing row as it is now."""
    return ContactRouting.objects.get(pk=contact.pk)


def timeline(contact):
    """Its routing history: the placements in the Agent's default bucket left out."""
    events = contact.timeline.exclude(kind="bucket_placed").order_by("created_at", "id")
    return list(events.values_list("kind", "message"))


def test_round_robin_group_reassigns_and_writes_timeline(team, owner, isa, closers, isa_contact):
    closers_group = group(team, *closers, name="Closers")
    assert reassignment_start(actor=owner, contact=isa_contact, group=closers_group) == "assigned"
    isa_contact.refresh_from_db()
    assert agent_of(isa_contact) == closers[0]
    assert not routing_of(isa_contact).reassign_in_progress
    kind, message = timeline(isa_contact)[-1]
    assert kind == "reassigned"
    assert isa.display_name in message
    assert closers[0].display_name in message
    assert "Round Robin" in message
    assert "Closers" in message


def test_current_agent_is_never_offered_the_contact_back(team, owner, isa, closers, isa_contact):
    g = group(team, isa, closers[0])
    reassignment_start(actor=owner, contact=isa_contact, group=g)
    assert agent_of(isa_contact) == closers[0]


def test_next_up_shows_in_progress_and_locks_agent(
    team, owner, admin_member, isa, closers, isa_contact
):
    g = group(team, *closers, method="next_up", default=closers[2])
    assert reassignment_start(actor=owner, contact=isa_contact, group=g) == "offered"
    isa_contact.refresh_from_db()
    assert routing_of(isa_contact).reassign_in_progress
    assert agent_of(isa_contact) == isa  # the role still shows the ISA, marked in progress
    with pytest.raises(ValidationError, match="Re-Assign in progress"):
        contact_assign_directly(actor=admin_member, contact=isa_contact, membership=closers[1])
    with pytest.raises(ValidationError, match="Re-Assign in progress"):
        contact_reroute(actor=admin_member, contact=isa_contact)
    with pytest.raises(
        ValidationError, match="Re-Assign in progress: already being reassigned by Olive Owner"
    ):
        reassignment_start(actor=owner, contact=isa_contact, group=g)
    offer = isa_contact.offers.get(status=OfferStatus.OPEN)
    assert offer_claim(offer_id=offer.pk, membership=closers[0]).claimed
    isa_contact.refresh_from_db()
    assert not routing_of(isa_contact).reassign_in_progress
    assert agent_of(isa_contact) == closers[0]
    assert "claimed Next Up offer" in timeline(isa_contact)[-1][1]


def test_next_up_nobody_claims_goes_to_default_assignee(team, owner, isa, closers, capture):
    rule(team, "ISA first", isa)
    with time_machine.travel(T0, tick=False):
        contact = new_contact(team, capture)
        g = group(team, *closers[:2], method="next_up", default=closers[2], claim_window_minutes=5)
        reassignment_start(actor=owner, contact=contact, group=g)
    for minutes in (5, 10):
        with time_machine.travel(T0 + timedelta(minutes=minutes), tick=False):
            assert offers_sweep() == 1
    contact.refresh_from_db()
    assert agent_of(contact) == closers[2]
    assert not routing_of(contact).reassign_in_progress
    assert "default assignee" in timeline(contact)[-1][1]


def test_blast_group_first_claim_wins_else_default(team, owner, isa, closers, capture):
    rule(team, "ISA first", isa)
    g = group(team, *closers, method="blast", default=owner, claim_window_minutes=5)
    with time_machine.travel(T0, tick=False):
        claimed, lapsed = new_contact(team, capture), new_contact(team, capture)
        reassignment_start(actor=owner, contact=claimed, group=g)
        reassignment_start(actor=owner, contact=lapsed, group=g)
        offer = claimed.offers.get(status=OfferStatus.OPEN)
        assert set(offer.recipients.all()) == set(closers)
        assert offer_claim(offer_id=offer.pk, membership=closers[1]).claimed
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        offers_sweep()
    assert agent_of(claimed) == closers[1]
    assert agent_of(lapsed) == owner


def test_nobody_eligible_goes_to_default_assignee(team, owner, isa, closers, isa_contact):
    for c in closers:
        c.paused = True
        c.save()
    g = group(team, *closers, default=closers[0])
    reassignment_start(actor=owner, contact=isa_contact, group=g)
    assert agent_of(isa_contact) == closers[0]


def test_tag_assignees_resolve_at_trigger_time(team, owner, closers, isa_contact):
    tag = AgentTag.objects.create(team=team, name="Closers")
    g = reassignment_group_create(
        actor=None, team=team, name="By tag", assignees=[GroupAssignee(agent_tag=tag)]
    )
    closers[1].tags.add(tag)
    reassignment_start(actor=owner, contact=isa_contact, group=g)
    assert agent_of(isa_contact) == closers[1]


def test_only_the_primary_agent_role_is_reassigned(team, owner, isa, closers, isa_contact):
    contact_role_add(contact=isa_contact, membership=closers[2], kind="lender")
    reassignment_start(actor=owner, contact=isa_contact, group=group(team, closers[0]))
    roles = sorted(isa_contact.roles.values_list("kind", "membership_id"))
    assert roles == [("agent", closers[0].pk), ("lender", closers[2].pk)]


def test_trigger_needs_permission_and_an_assigned_contact(team, agent, owner, closers, capture):
    g = group(team, *closers)
    contact = new_contact(team, capture)
    with pytest.raises(PermissionDenied):
        reassignment_start(actor=agent, contact=contact, group=g)
    rule(team, "Next", closers[0], method="next_up")
    offered = new_contact(team, capture)
    assert routing_of(offered).status == RoutingStatus.OFFERED
    with pytest.raises(ValidationError, match="no primary Agent"):
        reassignment_start(actor=owner, contact=offered, group=g)


def test_trigger_refused_for_other_team(team, outsider, closers, isa_contact):
    with pytest.raises(Http404):
        reassignment_start(actor=outsider, contact=isa_contact, group=group(team, *closers))


def test_available_to_limits_who_sees_the_group(team, owner, admin_member, agent):
    austin = Group.objects.create(team=team, name="Austin")
    downtown = Group.objects.create(team=team, name="Downtown", parent=austin)
    dallas = Group.objects.create(team=team, name="Dallas")
    austin_only = group(team, name="Austin only", available_to=[austin])
    everyone = group(team, name="Everyone")
    agent.groups.add(downtown)
    admin_member.groups.add(dallas)
    assert set(groups_available_to(membership=agent)) == {austin_only, everyone}
    assert set(groups_available_to(membership=admin_member)) == {everyone}
    assert set(groups_available_to(membership=owner)) == {austin_only, everyone}


def test_trigger_refused_when_group_not_available_to_actor(
    team, admin_member, closers, isa_contact
):
    dallas = Group.objects.create(team=team, name="Dallas")
    hidden = group(team, *closers, available_to=[dallas])
    with pytest.raises(PermissionDenied, match="not available"):
        reassignment_start(actor=admin_member, contact=isa_contact, group=hidden)


def test_group_scope_admin_edits_only_their_groups(team, admin_member, owner):
    austin = Group.objects.create(team=team, name="Austin")
    downtown = Group.objects.create(team=team, name="Downtown", parent=austin)
    dallas = Group.objects.create(team=team, name="Dallas")
    admin_member.groups.add(austin)
    profile = admin_member.permission_profile
    profile.distribution_scope = "group"
    profile.save()
    mine = group(team, name="Downtown group", available_to=[downtown])
    theirs = group(team, name="Dallas group", available_to=[dallas])
    company_wide = group(team, name="Everyone")
    assert set(groups_editable_by(membership=admin_member)) == {mine}
    reassignment_group_update(actor=admin_member, group=mine, name="Renamed")
    for other in (theirs, company_wide):
        with pytest.raises(PermissionDenied):
            reassignment_group_update(actor=admin_member, group=other, name="Nope")
    with pytest.raises(PermissionDenied):
        reassignment_group_create(actor=admin_member, team=team, name="X", available_to=[dallas])
    created = reassignment_group_create(
        actor=admin_member, team=team, name="Y", available_to=[downtown]
    )
    assert created in groups_editable_by(membership=admin_member)
    assert set(groups_editable_by(membership=owner)) == set(
        ReassignmentGroup.objects.filter(team=team)
    )


def test_company_scope_admin_edits_all(team, admin_member):
    dallas = Group.objects.create(team=team, name="Dallas")
    g = group(team, name="Dallas group", available_to=[dallas])
    assert admin_member.permission_profile.distribution_scope == "company"
    reassignment_group_update(actor=admin_member, group=g, method="least_open")


def test_agent_cannot_edit_groups(team, agent):
    with pytest.raises(PermissionDenied):
        reassignment_group_create(actor=agent, team=team, name="Nope")
    g = group(team, name="G")
    with pytest.raises(PermissionDenied):
        reassignment_group_update(actor=agent, group=g, name="Nope")
    membership_update(actor=None, membership=agent, role="admin")
    assert groups_editable_by(membership=agent).count() == 0  # the Agent profile grants nothing


def test_no_limit_on_number_of_groups(team):
    for i in range(40):
        group(team, name=f"G{i}")
    assert ReassignmentGroup.objects.filter(team=team).count() == 40


def test_group_methods_gated_by_plan(team):
    team.plan = "basic"
    team.save()
    with pytest.raises(ValidationError):
        group(team, name="Blast", method="blast")
    with pytest.raises(ValidationError):
        group(team, name="Direct", method="assign_directly")


def test_group_delete_refused_while_reassigning(team, owner, closers, isa_contact):
    g = group(team, *closers, method="next_up")
    reassignment_start(actor=owner, contact=isa_contact, group=g)
    with pytest.raises(ValidationError, match="being reassigned"):
        reassignment_group_delete(actor=owner, group=g)


def test_membership_change_does_not_reset_group_rotation(team, owner, isa, closers, capture):
    """Groups finish the current round; routing rules start over (the opposite)."""
    rule(team, "ISA first", isa)
    a, b, c = closers
    d = make_member(team)
    g = group(team, a, b, c)
    contacts = [new_contact(team, capture) for _ in range(6)]
    got = []
    for contact in contacts[:2]:
        reassignment_start(actor=owner, contact=contact, group=g)
        got.append(agent_of(contact))
    assert got == [a, b]
    reassignment_group_set_assignees(
        actor=None, group=g, assignees=[GroupAssignee(membership=m) for m in (a, b, c, d)]
    )
    for contact in contacts[2:]:
        reassignment_start(actor=owner, contact=contact, group=g)
        got.append(agent_of(contact))
    # c completes the round, then the newcomer, then the next round starts from a.
    assert got == [a, b, c, d, a, b]


def test_membership_change_resets_routing_rule_order(team, closers, capture):
    from routing.rules import AssigneeSpec, rule_set_assignees

    a, b, c = closers
    d = make_member(team)
    r = rule(team, "Rule", a, b, c)
    got = [agent_of(new_contact(team, capture)) for _ in range(2)]
    rule_set_assignees(
        actor=None, rule=r, assignees=[AssigneeSpec(membership=m) for m in (a, b, c, d)]
    )
    got += [agent_of(new_contact(team, capture)) for _ in range(2)]
    assert got == [a, b, a, b]


def test_bulk_reassignment_distributes_each_in_turn(team, owner, isa, closers, capture):
    rule(team, "ISA first", isa)
    contacts = [new_contact(team, capture) for _ in range(6)]
    g = group(team, *closers)
    outcomes = reassignment_start_bulk(actor=owner, contacts=contacts, group=g)
    assert set(outcomes.values()) == {"assigned"}
    assert Counter(agent_of(c).pk for c in contacts) == {m.pk: 2 for m in closers}


def test_bulk_reports_per_contact_errors(team, owner, isa, closers, capture):
    rule(team, "ISA first", isa)
    ok = new_contact(team, capture)
    busy = new_contact(team, capture)
    g_next = group(team, *closers, method="next_up")
    reassignment_start(actor=owner, contact=busy, group=g_next)
    outcomes = reassignment_start_bulk(
        actor=owner, contacts=[busy, ok], group=group(team, *closers)
    )
    assert "Re-Assign in progress: already being reassigned" in outcomes[busy.pk]
    assert outcomes[ok.pk] == "assigned"
    assert Offer.objects.filter(contact=busy, status=OfferStatus.OPEN).count() == 1


def test_group_reassignment_notifies_new_and_previous_agent(team, owner, isa, closers, capture):
    from django.core import mail

    from notifications.models import Channel, Kind, OutboxMessage

    rule(team, "ISA first", isa)
    contact = new_contact(team, capture, first_name="Gail")
    mail.outbox.clear()
    with capture(execute=True):
        reassignment_start(actor=owner, contact=contact, group=group(team, *closers))
    to = {m.to[0]: m.subject for m in mail.outbox}
    assert to[closers[0].user.email] == "Gail was reassigned to you"
    assert to[isa.user.email] == f"Gail was reassigned to {closers[0].display_name}"
    in_app = dict(
        OutboxMessage.objects.filter(
            contact=contact, channel=Channel.IN_APP, kind__startswith="reassigned"
        ).values_list("membership_id", "kind")
    )
    assert in_app == {closers[0].pk: Kind.REASSIGNED_TO, isa.pk: Kind.REASSIGNED_FROM}
