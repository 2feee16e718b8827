"""Lead pools through the services: routing rules with source buckets.

Placing an existing contact in a pool's source bucket routes it through the pool; a
Manual pool keeps its leads for an admin (who is told); routing's own placements never
start a pass; a pool costs routing one statement per batch, whatever the number of
contacts or rules.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.buckets import contacts_place, member_set_default_bucket
from contacts.models import Bucket, BucketVia, Contact
from contacts.services import contact_create
from notifications import content
from notifications.models import Channel, Kind, OutboxMessage
from routing import tasks
from routing.manual import contact_assign_directly
from routing.models import (
    ContactRouting,
    LogEvent,
    Method,
    Offer,
    OfferStatus,
    RoutingLog,
    RoutingStatus,
    TeamRouting,
)
from routing.reassignment import reassignment_start
from routing.rules import rule_delete, rule_update
from routing.tests.helpers import (
    agent_of,
    assigned_contact,
    log_lines,
    new_contact,
    reassignment_group,
    rule,
)
from teams.models import Role
from teams.tests.factories import UserFactory, make_member, make_team


@pytest.fixture
def open_house(team):
    return Bucket.objects.create(team=team, name="Open house")


@pytest.fixture
def members(team):
    return [
        make_member(team, user=UserFactory(username="ann", first_name="Ann", last_name="A")),
        make_member(team, user=UserFactory(username="bob", first_name="Bob", last_name="B")),
    ]


def pool(team, bucket, *assignees, name="Open house pool", method=Method.ROUND_ROBIN, **fields):
    return rule(team, name, *assignees, method=method, source_buckets=[bucket], **fields)


def place(capture, bucket, contacts, *, via=BucketVia.HAND, actor=None):
    """Place contacts as a person (or the API) does, and let routing run after commit."""
    with capture(execute=True):
        placed = contacts_place(bucket=bucket, contacts=contacts, via=via, actor=actor)
    return placed


def status_of(contact) -> str:
    return ContactRouting.objects.get(pk=contact.pk).status


# --- placing an existing contact ---------------------------------------------------------------


def test_placing_assigned_contacts_in_a_source_bucket_routes_them_round_robin_through_the_pool(
    team, owner, agent, members, open_house, capture
):
    ann, bob = members
    zillow = rule(team, "Zillow", agent, sources=["Zillow"])  # matches them, but is not a pool
    walk_ins = pool(team, open_house, ann, bob)
    contacts = [assigned_contact(team, agent) for _ in range(3)]

    placed = place(capture, open_house, contacts, actor=owner)

    assert placed == contacts
    assert [agent_of(c) for c in contacts] == [ann, bob, ann]
    routing = ContactRouting.objects.get(pk=contacts[0].pk)
    assert (routing.status, routing.rule_id, routing.placed_in) == (
        RoutingStatus.ASSIGNED,
        walk_ins.pk,
        None,
    )
    lines = log_lines(contacts[0])
    assert (
        "routed_again",
        "",
        "placed in bucket “Open house” (by hand by Olive Owner): routed again through "
        "the lead pools it is a source bucket of",
    ) in lines
    assert (
        "pool_matched",
        "Open house pool",
        "Matched lead pool “Open house pool” (source bucket “Open house”)",
    ) in lines
    assert not [line for line in lines if line[1] == zillow.name]  # only the bucket's pools
    timeline = contacts[0].timeline.filter(kind="assigned").order_by("-id").first()
    assert timeline.message == (
        "Reassigned from Alan Agent to Ann A — Round Robin (lead pool “Open house pool”)."
    )


def test_a_placed_contact_nobody_in_the_pool_can_take_stays_with_its_agent(
    team, agent, members, open_house, capture
):
    ann, _bob = members
    ann.paused = True
    ann.save()
    pool(team, open_house, ann)
    contact = assigned_contact(team, agent)

    place(capture, open_house, [contact])

    assert agent_of(contact) == agent
    assert status_of(contact) == RoutingStatus.ASSIGNED
    assert ContactRouting.objects.get(pk=contact.pk).placed_in is None
    entry = RoutingLog.objects.filter(contact=contact).latest("id")
    assert (entry.event, entry.reason) == (
        LogEvent.STAYED,
        "no lead pool of bucket “Open house” could take it: stays with Alan Agent",
    )


def test_a_paused_pool_routes_nothing(team, agent, members, open_house, capture):
    walk_ins = pool(team, open_house, *members)
    rule_update(actor=None, rule=walk_ins, is_paused=True)
    contact = assigned_contact(team, agent)
    logged = RoutingLog.objects.filter(contact=contact).count()

    place(capture, open_house, [contact])

    assert agent_of(contact) == agent
    assert RoutingLog.objects.filter(contact=contact).count() == logged  # not even tried


def test_a_bucket_that_is_no_pools_source_routes_nothing(team, agent, members, capture):
    other = Bucket.objects.create(team=team, name="Newsletter")
    contact = assigned_contact(team, agent)

    place(capture, other, [contact])

    assert agent_of(contact) == agent
    assert not RoutingLog.objects.filter(contact=contact, event=LogEvent.ROUTED_AGAIN).exists()


def test_placing_cancels_an_open_offer_and_the_pool_takes_it(
    team, agent, members, open_house, capture
):
    rule(team, "Claim it", agent, method=Method.NEXT_UP)
    contact = new_contact(team, capture)
    offer = Offer.objects.get(contact=contact, status=OfferStatus.OPEN)
    pool(team, open_house, members[0])

    place(capture, open_house, [contact])

    offer.refresh_from_db()
    assert offer.status == OfferStatus.CANCELLED
    assert agent_of(contact) == members[0]


def test_contacts_not_routed_yet_are_left_to_routing_which_sees_their_bucket(
    team, agent, members, open_house, capture
):
    rule(team, "Everyone", agent)
    pool(team, open_house, members[1])
    with capture(execute=True):
        # As the API and CSV import create a contact with its buckets: one transaction.
        contact = contact_create(team=team, first_name="New", source="Zillow")
        contacts_place(bucket=open_house, contacts=[contact], via=BucketVia.API, actor=None)

    # Routed once, as new contacts are: rule order decides, and "Everyone" comes first.
    assert agent_of(contact) == agent
    assert not RoutingLog.objects.filter(contact=contact, event=LogEvent.ROUTED_AGAIN).exists()


def test_a_new_contact_in_a_source_bucket_matches_the_pool_in_its_turn(
    team, agent, members, open_house, capture
):
    pool(team, open_house, members[1])
    rule(team, "Everyone", agent)
    with capture(execute=True):
        contact = contact_create(team=team, first_name="New", source="Zillow")
        contacts_place(bucket=open_house, contacts=[contact], via=BucketVia.IMPORT, actor=None)
        outside = contact_create(team=team, first_name="Other", source="Zillow")

    assert agent_of(contact) == members[1]
    assert agent_of(outside) == agent  # not in the bucket: the pool does not match


def test_a_contact_being_reassigned_is_not_rerouted_by_a_placement(
    team, owner, agent, members, open_house, capture
):
    group = reassignment_group(team, agent, method=Method.NEXT_UP)
    contact = assigned_contact(team, members[1])
    reassignment_start(actor=owner, contact=contact, group=group)
    pool(team, open_house, members[0])

    place(capture, open_house, [contact])

    assert agent_of(contact) == members[1]
    assert ContactRouting.objects.get(pk=contact.pk).reassigning_to == group


def test_placements_made_by_routing_never_route_again(team, agent, members, open_house, capture):
    """Routing puts each assigned lead in its Agent's default bucket; a pool of that
    bucket does not take it from them (nor loop)."""
    ann, bob = members
    member_set_default_bucket(membership=ann, bucket=open_house)
    pool(team, open_house, bob)
    rule(team, "To Ann", ann, sources=["Facebook"])

    contact = new_contact(team, capture, source="Facebook")

    assert agent_of(contact) == ann
    assert contact.buckets.filter(pk=open_house.pk).exists()
    events = list(RoutingLog.objects.filter(contact=contact).values_list("event", flat=True))
    assert events == [LogEvent.ASSIGNED]


def test_deleting_a_pools_only_source_bucket_pauses_the_pool(team, members, open_house):
    other = Bucket.objects.create(team=team, name="Zillow leads")
    only = pool(team, open_house, members[0])
    both = rule(team, "Both", members[0], source_buckets=[open_house, other])

    open_house.delete()

    only.refresh_from_db()
    both.refresh_from_db()
    # It would otherwise match every contact, with no source bucket left.
    assert only.is_paused
    assert list(only.source_buckets.all()) == []
    assert not both.is_paused
    assert list(both.source_buckets.all()) == [other]


# --- Manual distribution ------------------------------------------------------------------------


def test_a_manual_pool_keeps_a_placed_lead_unassigned_for_an_admin(
    team, owner, admin_member, agent, open_house, capture
):
    walk_ins = pool(
        team, open_house, method=Method.MANUAL, name="Walk-ins", follow_up_reminder_hours=4
    )
    outside = new_contact(team, capture)  # in no bucket: the Default Rule takes it
    assert status_of(outside) == RoutingStatus.ASSIGNED

    contacts = [assigned_contact(team, agent), outside]
    place(capture, open_house, contacts, actor=owner)

    for contact in contacts:
        routing = ContactRouting.objects.get(pk=contact.pk)
        assert (routing.status, routing.rule_id) == (RoutingStatus.WAITING, walk_ins.pk)
        assert routing.held_since is not None
        entry = RoutingLog.objects.filter(contact=contact).latest("id")
        assert (entry.event, entry.reason) == (
            LogEvent.WAITING,
            "waiting in pool “Walk-ins” for an admin to assign",
        )
    lines = log_lines(contacts[0])
    assert (
        "pool_matched",
        "Walk-ins",
        "Matched lead pool “Walk-ins” (source bucket “Open house”)",
    ) in lines
    assert lines[-1] == (
        "waiting",
        "Walk-ins",
        "waiting in pool “Walk-ins” for an admin to assign",
    )
    # The Agent each had keeps it until an admin assigns it.
    assert agent_of(contacts[0]) == agent
    assert agent_of(contacts[1]) == owner

    contact_assign_directly(actor=admin_member, contact=contacts[0], membership=admin_member)

    routing = ContactRouting.objects.get(pk=contacts[0].pk)
    assert (routing.status, routing.rule_id, routing.held_since, routing.placed_in) == (
        RoutingStatus.ASSIGNED,
        walk_ins.pk,  # the pool it came through is kept (its filter, its reminder)
        None,
        None,
    )
    assert agent_of(contacts[0]) == admin_member
    # The pool's follow-up reminder is set for the member the admin chose.
    reminder = OutboxMessage.objects.get(kind=Kind.FOLLOW_UP_REMINDER, contact=contacts[0])
    assert (reminder.membership, reminder.data["hours"]) == (admin_member, 4)


def test_admins_who_manage_lead_distribution_are_told_once_per_batch(
    team, owner, admin_member, agent, open_house, capture
):
    pool(team, open_house, method=Method.MANUAL, name="Walk-ins")
    contacts = [assigned_contact(team, agent) for _ in range(3)]

    place(capture, open_house, contacts, actor=owner)

    told = OutboxMessage.objects.filter(kind=Kind.POOL_WAITING)
    assert sorted((m.membership_id, m.channel) for m in told) == sorted(
        [
            (owner.pk, Channel.IN_APP),
            (owner.pk, Channel.EMAIL),
            (admin_member.pk, Channel.IN_APP),
            (admin_member.pk, Channel.EMAIL),
        ]
    )
    in_app = told.get(membership=admin_member, channel=Channel.IN_APP)
    assert in_app.title == "3 leads are waiting in lead pool “Walk-ins” for you to assign"
    assert in_app.url.endswith("?assignment=waiting&rule=" + str(contacts[0].routing.rule_id))

    email = told.get(membership=admin_member, channel=Channel.EMAIL)
    built = content.build_pool_waiting_email(email, email.created_at)
    assert built.subject == "3 leads waiting in lead pool “Walk-ins” for you to assign"
    assert all(c.name in built.body for c in contacts)
    assert "?assignment=waiting" in built.body

    for contact in contacts:
        contact_assign_directly(actor=owner, contact=contact, membership=agent)
    with pytest.raises(content.Skip, match="assigned since"):
        content.build_pool_waiting_email(email, email.created_at)


def test_members_without_lead_distribution_are_not_told(team, agent, open_house, capture):
    pool(team, open_house, method=Method.MANUAL, name="Walk-ins")

    place(capture, open_house, [assigned_contact(team, agent)])

    assert not OutboxMessage.objects.filter(kind=Kind.POOL_WAITING, membership=agent).exists()


# --- what a pool costs routing ------------------------------------------------------------------


def _route_statements(capture, n_pools: int, n_contacts: int) -> int:
    """Statements of the route task routing `n_contacts` placed in a bucket through the
    last of `n_pools` pools (the others are pools of other buckets). One member takes
    them all: what others do per Agent (their default buckets) is not routing's cost."""
    name = f"p{n_pools}-c{n_contacts}"
    team = make_team(name=name, owner=UserFactory(username=f"{name}-owner"))
    agents = [make_member(team, role=Role.AGENT)]
    for i in range(n_pools - 1):
        other = Bucket.objects.create(team=team, name=f"Other {i}")
        pool(team, other, agents[0], name=f"Other {i}")
    bucket = Bucket.objects.create(team=team, name="Measured")
    pool(team, bucket, *agents, name="Measured pool")
    owner = team.memberships.get(role=Role.OWNER)
    warm = [assigned_contact(team, owner) for _ in range(n_contacts)]
    place(capture, bucket, warm[:1])  # warms the team's state and the rotation
    contacts = warm[1:] or [assigned_contact(team, owner)]
    with capture(execute=False):
        contacts_place(bucket=bucket, contacts=contacts, via=BucketVia.HAND, actor=None)
    TeamRouting.objects.filter(team=team).update(wake_pending=False)
    with CaptureQueriesContext(connection) as ctx:
        assert tasks.route_team(team.pk) == len(contacts)
    assert {agent_of(c) for c in contacts} <= set(agents)
    return len(ctx.captured_queries)


# SQLite caps a statement at 999 parameters, so Django splits the bulk update of the
# routing rows (20-odd columns each) past ten contacts: the budget is PostgreSQL's.
@pytest.mark.postgres
def test_routing_placed_contacts_costs_the_same_statements_whatever_their_number_or_the_pools(
    db, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    counts = {
        size: _route_statements(capture, *size) for size in [(1, 2), (1, 11), (20, 2), (20, 11)]
    }
    assert len(set(counts.values())) == 1, counts


def _new_contact_statements(capture, *, pools: int) -> int:
    team = make_team(name=f"n{pools}", owner=UserFactory(username=f"n{pools}-owner"))
    agents = [make_member(team, role=Role.AGENT) for _ in range(3)]
    for i in range(pools):
        pool(team, Bucket.objects.create(team=team, name=f"B{i}"), agents[0], name=f"Pool {i}")
    rule(team, "Zillow", *agents, sources=["Zillow"])
    with capture(execute=True):
        Contact.objects.create(team=team, first_name="Warm", source="Zillow")
    Contact.objects.create(team=team, first_name="Measured", source="Zillow")
    with CaptureQueriesContext(connection) as ctx:
        assert tasks.route_team(team.pk) == 1
    return len(ctx.captured_queries)


def test_lead_pools_cost_a_new_contact_one_statement_flat_in_the_number_of_pools(
    db, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    without = _new_contact_statements(capture, pools=0)
    # One read of the contacts' buckets per batch, only when the team has an active pool.
    assert _new_contact_statements(capture, pools=1) == without + 1
    assert _new_contact_statements(capture, pools=30) == without + 1


def _waiting_pair(team, agent, bucket, capture):
    """Two leads a Manual pool keeps: one its Agent had already, one new (no Agent)."""
    had = assigned_contact(team, agent)
    place(capture, bucket, [had])
    with capture(execute=True):
        new = contact_create(team=team, first_name="New", source="Web")
        contacts_place(bucket=bucket, contacts=[new], via=BucketVia.API, actor=None)
    assert status_of(had) == status_of(new) == RoutingStatus.WAITING
    assert agent_of(new) is None
    return had, new


def test_deleting_a_manual_pool_lets_its_waiting_leads_go_on(
    team, owner, agent, open_house, capture
):
    walk_ins = pool(team, open_house, method=Method.MANUAL, name="Walk-ins")
    had, new = _waiting_pair(team, agent, open_house, capture)

    with capture(execute=True):
        rule_delete(actor=owner, rule=walk_ins)

    assert (status_of(had), agent_of(had)) == (RoutingStatus.ASSIGNED, agent)
    assert RoutingLog.objects.filter(contact=had).latest("id").reason == (
        "lead pool “Walk-ins” was deleted: it is no longer waiting for an admin and stays "
        "with its Agent"
    )
    # No pool left: the Default Rule (assign directly, to the owner) takes the new one.
    assert (status_of(new), agent_of(new)) == (RoutingStatus.ASSIGNED, owner)


def test_a_manual_pool_switched_to_round_robin_distributes_its_waiting_leads(
    team, owner, agent, members, open_house, capture
):
    walk_ins = pool(team, open_house, *members, method=Method.MANUAL, name="Walk-ins")
    had, new = _waiting_pair(team, agent, open_house, capture)

    with capture(execute=True):
        rule_update(actor=owner, rule=walk_ins, method=Method.ROUND_ROBIN)

    assert agent_of(had) == agent  # it had an Agent: it keeps them
    assert agent_of(new) == members[0]  # routed again: the pool distributes it now
