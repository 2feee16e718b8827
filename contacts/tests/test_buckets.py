"""Buckets through their services and selectors: who sees and changes them, placing
contacts (by hand, the API, CSV import, routing), each member's default bucket, and which
conversations a new owner sees after a reassignment."""

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from contacts import buckets as svc
from contacts import signals
from contacts.models import (
    Bucket,
    BucketContact,
    BucketVia,
    Contact,
    DefaultBucket,
    TimelineEvent,
)
from contacts.selectors import contact_timeline
from contacts.selectors_buckets import (
    bucket_for_member,
    bucket_list,
    buckets_visible_to,
    contact_buckets,
    default_bucket_of,
)
from contacts.services import activity_log
from contacts.tests.factories import ContactFactory
from routing.manual import contact_assign_directly
from routing.tests.helpers import assigned_contact
from teams.models import Group, Membership
from teams.tests.factories import UserFactory, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def placed(db):
    """Every contacts_placed announcement: (bucket name, [contact ids], via, actor)."""
    heard = []

    def listen(sender, bucket, contacts, via, actor, **kwargs):
        heard.append((bucket.name, sorted(c.pk for c in contacts), via, actor))

    signals.contacts_placed.connect(listen, dispatch_uid="test_buckets_placed")
    yield heard
    signals.contacts_placed.disconnect(dispatch_uid="test_buckets_placed")


@pytest.fixture
def second(team):
    return make_member(team, user=UserFactory(first_name="Bea", last_name="Second"))


def team_bucket(owner, name="Zillow leads"):
    return svc.bucket_create(actor=owner, name=name)


def events(contact, kind):
    return list(
        TimelineEvent.objects.filter(contact=contact, kind=kind).values_list("message", flat=True)
    )


# --- creating and who sees a bucket ---------------------------------------------------


def test_bucket_create_team_wide_needs_manage_team_or_lead_distribution(
    team, owner, admin_member, agent
):
    assert svc.bucket_create(actor=owner, name="Team").owner is None
    assert svc.bucket_create(actor=admin_member, name="Admin's team bucket").owner is None
    with pytest.raises(PermissionDenied, match="Manage Team"):
        svc.bucket_create(actor=agent, name="Agent's team bucket")
    assert not Bucket.objects.filter(name="Agent's team bucket").exists()


def test_bucket_create_own_bucket_anyone(agent):
    bucket = svc.bucket_create(actor=agent, name="Open house", owner=agent)
    assert (bucket.owner, bucket.team_id) == (agent, agent.team_id)


def test_bucket_create_for_another_member_refused_without_manage_team(agent, second):
    with pytest.raises(PermissionDenied):
        svc.bucket_create(actor=agent, name="Theirs", owner=second)


def test_bucket_create_names_are_unique_per_owner_in_any_case(owner, agent, second):
    team_bucket(owner, "Hot")
    with pytest.raises(ValidationError) as exc:
        team_bucket(owner, " hot ")
    assert "name" in exc.value.message_dict
    svc.bucket_create(actor=agent, name="Hot", owner=agent)  # another owner: fine
    svc.bucket_create(actor=second, name="Hot", owner=second)
    with pytest.raises(ValidationError):
        svc.bucket_create(actor=agent, name="HOT", owner=agent)


@pytest.mark.parametrize("name", ["", "   ", "x" * 81])
def test_bucket_create_bad_name(agent, name):
    with pytest.raises(ValidationError) as exc:
        svc.bucket_create(actor=agent, name=name, owner=agent)
    assert "name" in exc.value.message_dict


def test_bucket_create_team_wide_cannot_be_shared(owner, agent):
    with pytest.raises(ValidationError):
        svc.bucket_create(actor=owner, name="Team", shared_members=[agent])


def test_bucket_share_with_another_teams_member_is_404(agent, outsider):
    with pytest.raises(Http404):
        svc.bucket_create(actor=agent, name="Mine", owner=agent, shared_members=[outsider])


def test_buckets_visible_to_team_wide_own_and_shared(team, owner, agent, second, outsider):
    office = Group.objects.create(team=team, name="Office")
    desk = Group.objects.create(team=team, name="Desk", parent=office)
    third = make_member(team, groups=[desk])
    shared_team = team_bucket(owner)
    mine = svc.bucket_create(actor=agent, name="Mine", owner=agent)
    to_second = svc.bucket_create(actor=agent, name="For Bea", owner=agent, shared_members=[second])
    to_office = svc.bucket_create(actor=agent, name="Office", owner=agent, shared_groups=[office])
    svc.bucket_create(actor=outsider, name="Other team's")

    def names(member):
        return {b.name for b in buckets_visible_to(member)} - {svc.MY_LEADS}

    assert names(agent) == {shared_team.name, mine.name, to_second.name, to_office.name}
    assert names(second) == {shared_team.name, to_second.name}
    # A member of a group inside the office sees what is shared with the office.
    assert names(third) == {shared_team.name, to_office.name}
    assert names(owner) == {shared_team.name}


def test_bucket_for_member_other_team_and_hidden_are_404(owner, agent, second, outsider):
    mine = svc.bucket_create(actor=agent, name="Mine", owner=agent)
    theirs = svc.bucket_create(actor=outsider, name="Theirs")
    assert bucket_for_member(agent, mine.pk) == mine
    with pytest.raises(Http404):
        bucket_for_member(second, mine.pk)
    with pytest.raises(Http404):
        bucket_for_member(owner, mine.pk)  # a member's own bucket is theirs, even for the owner
    with pytest.raises(Http404):
        bucket_for_member(agent, theirs.pk)


def test_bucket_list_counts_only_contacts_the_member_may_open(team, owner, agent):
    bucket = team_bucket(owner)
    theirs = ContactFactory(team=team)
    mine = assigned_contact(team, agent)
    svc.contacts_place(bucket=bucket, contacts=[theirs, mine], via=BucketVia.HAND, actor=owner)
    counts = {b.name: b.contact_count for b in bucket_list(agent)}
    assert counts[bucket.name] == 1
    assert {b.name: b.contact_count for b in bucket_list(owner)}[bucket.name] == 2


# --- changing, sharing, deleting ---------------------------------------------------------


def test_bucket_update_share_delete_by_its_owner_only(agent, second):
    bucket = svc.bucket_create(actor=agent, name="Mine", owner=agent, shared_members=[second])
    with pytest.raises(PermissionDenied):
        svc.bucket_update(actor=second, bucket=bucket, name="Taken over")
    with pytest.raises(PermissionDenied):
        svc.bucket_delete(actor=second, bucket=bucket)
    svc.bucket_update(actor=agent, bucket=bucket, name="Renamed")
    assert Bucket.objects.get(pk=bucket.pk).name == "Renamed"


def test_team_wide_bucket_changed_only_with_the_permission(owner, agent):
    bucket = team_bucket(owner)
    with pytest.raises(PermissionDenied, match="Manage Lead Distribution"):
        svc.bucket_update(actor=agent, bucket=bucket, name="Mine now")
    with pytest.raises(PermissionDenied):
        svc.bucket_delete(actor=agent, bucket=bucket)
    svc.bucket_delete(actor=owner, bucket=bucket)
    assert not Bucket.objects.filter(pk=bucket.pk).exists()


def test_changing_a_hidden_bucket_is_404(agent, second, outsider):
    bucket = svc.bucket_create(actor=agent, name="Mine", owner=agent)
    with pytest.raises(Http404):
        svc.bucket_update(actor=second, bucket=bucket, name="x")
    with pytest.raises(Http404):
        svc.bucket_delete(actor=outsider, bucket=bucket)


def test_bucket_delete_takes_placements_contacts_stay(team, owner):
    bucket = team_bucket(owner)
    contact = ContactFactory(team=team)
    svc.contacts_place(bucket=bucket, contacts=[contact], via=BucketVia.HAND, actor=owner)
    svc.bucket_delete(actor=owner, bucket=bucket)
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert not BucketContact.objects.filter(contact=contact).exists()


def test_bucket_share_replaces_shares_and_drops_a_lost_default(team, agent, second):
    bucket = svc.bucket_create(actor=agent, name="Ours", owner=agent, shared_members=[second])
    svc.member_set_default_bucket(membership=second, bucket=bucket)
    svc.bucket_share(actor=agent, bucket=bucket, members=[], groups=[])
    assert list(bucket.shared_with_members.all()) == []
    # Bea no longer sees it: her assigned leads go to her own "My leads" again.
    assert svc.member_default_bucket(membership=second).name == svc.MY_LEADS
    assert svc.member_default_bucket(membership=second).owner == second


# --- placing ------------------------------------------------------------------------------


def test_contacts_place_is_idempotent_and_announces_only_new_contacts(team, owner, placed):
    bucket = team_bucket(owner)
    first, later = ContactFactory(team=team), ContactFactory(team=team)

    assert svc.contacts_place(bucket=bucket, contacts=[first], via=BucketVia.HAND, actor=owner) == [
        first
    ]
    assert svc.contacts_place(
        bucket=bucket, contacts=[first, later], via=BucketVia.HAND, actor=owner
    ) == [later]
    assert (
        svc.contacts_place(bucket=bucket, contacts=[first, later], via=BucketVia.HAND, actor=owner)
        == []
    )

    assert placed == [
        (bucket.name, [first.pk], BucketVia.HAND, owner),
        (bucket.name, [later.pk], BucketVia.HAND, owner),
    ]
    assert BucketContact.objects.filter(bucket=bucket).count() == 2
    assert events(first, "bucket_placed") == ["Placed in bucket “Zillow leads” by Olive Owner."]


def test_contacts_place_records_how_and_who(team, owner):
    bucket = team_bucket(owner)
    contact = ContactFactory(team=team)
    svc.contacts_place(bucket=bucket, contacts=[contact], via=BucketVia.HAND, actor=owner)
    row = BucketContact.objects.get(bucket=bucket, contact=contact)
    assert (row.via, row.placed_by) == (BucketVia.HAND, owner)


@pytest.mark.parametrize(
    ("via", "by"),
    [(BucketVia.API, "by the API"), (BucketVia.IMPORT, "by CSV import")],
)
def test_contacts_place_timeline_says_how(team, owner, via, by):
    bucket = team_bucket(owner)
    contact = ContactFactory(team=team)
    svc.contacts_place(bucket=bucket, contacts=[contact], via=via, actor=None)
    assert events(contact, "bucket_placed") == [f"Placed in bucket “Zillow leads” {by}."]


def test_contacts_place_checks_team_bucket_and_contacts(team, owner, agent, second, outsider):
    bucket = team_bucket(owner)
    hidden = svc.bucket_create(actor=second, name="Bea's", owner=second)
    stranger = ContactFactory(team=outsider.team)
    not_his = ContactFactory(team=team)
    his = assigned_contact(team, agent)
    with pytest.raises(Http404):
        svc.contacts_place(bucket=bucket, contacts=[stranger], via=BucketVia.HAND, actor=None)
    with pytest.raises(Http404):
        svc.contacts_place(bucket=hidden, contacts=[his], via=BucketVia.HAND, actor=agent)
    with pytest.raises(Http404):
        svc.contacts_place(bucket=bucket, contacts=[his, not_his], via=BucketVia.HAND, actor=agent)
    assert not BucketContact.objects.filter(bucket__in=[bucket, hidden]).exists()
    assert svc.contacts_place(bucket=bucket, contacts=[his], via=BucketVia.HAND, actor=agent)


def test_contacts_place_unknown_via_refused(team, owner):
    with pytest.raises(ValidationError):
        svc.contacts_place(
            bucket=team_bucket(owner), contacts=[ContactFactory(team=team)], via="x", actor=None
        )


def test_contacts_unplace_takes_out_contact_stays(team, owner, placed):
    bucket = team_bucket(owner)
    contact = ContactFactory(team=team)
    svc.contacts_place(bucket=bucket, contacts=[contact], via=BucketVia.HAND, actor=owner)
    assert svc.contacts_unplace(bucket=bucket, contacts=[contact], actor=owner) == [contact]
    assert svc.contacts_unplace(bucket=bucket, contacts=[contact], actor=owner) == []
    assert contact_buckets(contact, owner) == []
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert events(contact, "bucket_removed") == [
        "Removed from bucket “Zillow leads” by Olive Owner."
    ]
    # Placed again: it is new to the bucket again, so it is announced again.
    svc.contacts_place(bucket=bucket, contacts=[contact], via=BucketVia.HAND, actor=owner)
    assert len(placed) == 2


def test_a_contact_can_be_in_several_buckets(team, owner, agent):
    contact = assigned_contact(team, agent)
    one, two = team_bucket(owner, "One"), svc.bucket_create(actor=agent, name="Two", owner=agent)
    svc.contacts_place(bucket=one, contacts=[contact], via=BucketVia.HAND, actor=agent)
    svc.contacts_place(bucket=two, contacts=[contact], via=BucketVia.HAND, actor=agent)
    assert {b.name for b in contact_buckets(contact, agent)} >= {"One", "Two"}
    assert {b.name for b in contact_buckets(contact, owner)} == {"One"}  # Two is Alan's


def test_team_buckets_named_any_case_and_unknown_refused(owner, agent):
    bucket = team_bucket(owner)
    svc.bucket_create(actor=agent, name="Private", owner=agent)
    assert svc.team_buckets_named(
        team_id=owner.team_id, names=["zillow LEADS", "Zillow leads"]
    ) == [bucket]
    with pytest.raises(ValidationError) as exc:
        svc.team_buckets_named(team_id=owner.team_id, names=["Zillow leads", "Private"])
    assert exc.value.message_dict == {
        "buckets": ["The team has no team-wide bucket named “Private”."]
    }


# --- the default bucket ----------------------------------------------------------------


def test_each_member_has_my_leads_as_default_bucket(team, agent):
    bucket = svc.member_default_bucket(membership=agent)
    assert (bucket.name, bucket.owner) == (svc.MY_LEADS, agent)
    assert default_bucket_of(agent) == bucket
    assert svc.member_default_bucket(membership=agent) == bucket


def test_member_default_bucket_made_again_when_missing(team, agent):
    svc.bucket_delete(actor=agent, bucket=svc.member_default_bucket(membership=agent))
    assert default_bucket_of(agent) is None
    again = svc.member_default_bucket(membership=agent)
    assert (again.name, again.owner) == (svc.MY_LEADS, agent)
    assert DefaultBucket.objects.get(membership=agent).bucket == again


def test_member_set_default_bucket_own_shared_or_team_wide(team, owner, agent, second):
    own = svc.bucket_create(actor=agent, name="Fresh", owner=agent)
    shared = svc.bucket_create(actor=second, name="Bea's", owner=second, shared_members=[agent])
    hidden = svc.bucket_create(actor=second, name="Bea's only", owner=second)
    for bucket in (own, shared, team_bucket(owner)):
        svc.member_set_default_bucket(membership=agent, bucket=bucket)
        assert svc.member_default_bucket(membership=agent) == bucket
    with pytest.raises(Http404):
        svc.member_set_default_bucket(membership=agent, bucket=hidden)


def test_one_shared_bucket_can_be_default_of_several_members(team, agent, second):
    shared = svc.bucket_create(actor=agent, name="Ours", owner=agent, shared_members=[second])
    svc.member_set_default_bucket(membership=agent, bucket=shared)
    svc.member_set_default_bucket(membership=second, bucket=shared)
    assert svc.member_default_bucket(membership=agent) == shared
    assert svc.member_default_bucket(membership=second) == shared


def test_assigned_lead_lands_in_the_agents_default_bucket(team, agent, placed):
    contact = assigned_contact(team, agent)
    my_leads = svc.member_default_bucket(membership=agent)
    row = BucketContact.objects.get(contact=contact)
    assert (row.bucket, row.via, row.placed_by) == (my_leads, BucketVia.ROUTING, None)
    # The assignment is on the timeline; a line per lead for its default bucket is not.
    assert events(contact, "bucket_placed") == []
    assert placed == [(svc.MY_LEADS, [contact.pk], BucketVia.ROUTING, None)]


def test_assigned_leads_follow_a_changed_default_bucket(team, owner, agent):
    before = assigned_contact(team, agent)
    hot = svc.bucket_create(actor=agent, name="Hot", owner=agent)
    svc.member_set_default_bucket(membership=agent, bucket=hot)
    after = assigned_contact(team, agent)
    assert [b.name for b in contact_buckets(before, agent)] == [svc.MY_LEADS]
    assert [b.name for b in contact_buckets(after, agent)] == ["Hot"]


def test_reassigned_lead_lands_in_the_new_agents_default_bucket(team, owner, agent, second):
    contact = assigned_contact(team, agent)
    contact_assign_directly(actor=owner, contact=contact, membership=second)
    assert BucketContact.objects.filter(
        contact=contact, bucket=svc.member_default_bucket(membership=second)
    ).exists()


def _app_of(sql: str) -> str:
    found = re.search(r'(?:INTO|FROM|UPDATE) "([a-z]+)_', sql)
    return found.group(1) if found else ""


def test_contacts_place_assigned_is_one_statement_per_batch(team, agent, second, placed):
    contacts = [ContactFactory(team=team) for _ in range(4)]
    for member in (agent, second):
        svc.member_default_bucket(membership=member)
    pairs = [(agent.pk, contacts[0]), (agent.pk, contacts[1]), (second.pk, contacts[2])]
    pairs.append((second.pk, contacts[3]))
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        placed_now = svc.contacts_place_assigned(assignments=pairs)
    # Its own statements: the apps listening to contacts_placed add theirs.
    ours = [q["sql"] for q in ctx.captured_queries if _app_of(q["sql"]) == "contacts"]
    assert len(ours) == 1, ours
    assert sorted(c.pk for c in placed_now) == sorted(c.pk for c in contacts)
    assert sorted(placed) == sorted(
        [
            (svc.MY_LEADS, sorted([contacts[0].pk, contacts[1].pk]), BucketVia.ROUTING, None),
            (svc.MY_LEADS, sorted([contacts[2].pk, contacts[3].pk]), BucketVia.ROUTING, None),
        ]
    )
    # Again: already there, nothing new, nobody told.
    assert svc.contacts_place_assigned(assignments=pairs) == []
    assert len(placed) == 2


def test_contacts_place_assigned_makes_a_missing_default_bucket(team):
    # Members created in bulk (no post_save) have no default bucket yet.
    user = UserFactory()
    (member,) = Membership.objects.bulk_create([Membership(team=team, user=user)])
    contact = ContactFactory(team=team)
    assert svc.contacts_place_assigned(assignments=[(member.pk, contact)]) == [contact]
    bucket = default_bucket_of(member)
    assert (bucket.name, bucket.owner_id) == (svc.MY_LEADS, member.pk)
    assert BucketContact.objects.filter(bucket=bucket, contact=contact).exists()


# --- conversations after a reassignment ---------------------------------------------------


@pytest.fixture
def handed_over(team, owner, agent, second):
    """A lead Alan worked (a call and a note), then reassigned to Bea, who adds a note."""
    contact = assigned_contact(team, agent, first_name="Rita")
    activity_log(contact=contact, membership=agent, kind="call", body="Alan's call")
    activity_log(contact=contact, membership=agent, kind="note", body="Alan's note")
    contact_assign_directly(actor=owner, contact=contact, membership=second)
    activity_log(contact=contact, membership=second, kind="note", body="Bea's note")
    return contact


def bodies(contact, viewer):
    return {e.data.get("body") for e in contact_timeline(contact=contact, viewer=viewer)} - {None}


def kinds(contact, viewer):
    return {e.kind for e in contact_timeline(contact=contact, viewer=viewer)}


def test_new_owner_sees_only_own_conversations_without_a_shared_bucket(handed_over, second):
    assert bodies(handed_over, second) == {"Bea's note"}
    # The timeline of assignments stays.
    assert "assigned" in kinds(handed_over, second)
    assert any(
        "Bea Second" in e.message for e in contact_timeline(contact=handed_over, viewer=second)
    )


def test_previous_owner_does_not_see_the_new_owners_conversations_either(handed_over, agent):
    # Alan can no longer open the contact, but the read itself is symmetrical.
    assert bodies(handed_over, agent) == {"Alan's call", "Alan's note"}


def test_new_owner_sees_previous_conversations_in_a_bucket_both_can_open(
    handed_over, agent, second
):
    ours = svc.bucket_create(actor=agent, name="Ours", owner=agent, shared_members=[second])
    svc.contacts_place(bucket=ours, contacts=[handed_over], via=BucketVia.HAND, actor=None)
    assert bodies(handed_over, second) == {"Alan's call", "Alan's note", "Bea's note"}


def test_a_bucket_only_one_of_them_can_open_does_not_share(handed_over, agent, second):
    alans = svc.bucket_create(actor=agent, name="Alan's", owner=agent)
    svc.contacts_place(bucket=alans, contacts=[handed_over], via=BucketVia.HAND, actor=None)
    assert bodies(handed_over, second) == {"Bea's note"}


def test_a_team_wide_bucket_shares(handed_over, owner, second):
    bucket = team_bucket(owner)
    svc.contacts_place(bucket=bucket, contacts=[handed_over], via=BucketVia.HAND, actor=None)
    assert bodies(handed_over, second) == {"Alan's call", "Alan's note", "Bea's note"}


def test_a_bucket_shared_with_the_new_owners_group_shares(team, handed_over, agent, second):
    office = Group.objects.create(team=team, name="Office")
    desk = Group.objects.create(team=team, name="Desk", parent=office)
    second.groups.add(desk)
    bucket = svc.bucket_create(actor=agent, name="Office", owner=agent, shared_groups=[office])
    svc.contacts_place(bucket=bucket, contacts=[handed_over], via=BucketVia.HAND, actor=None)
    assert bodies(handed_over, second) == {"Alan's call", "Alan's note", "Bea's note"}


def test_a_bucket_shared_between_others_does_not_share(team, handed_over, agent, second):
    third = make_member(team)
    bucket = svc.bucket_create(actor=agent, name="Alan+3", owner=agent, shared_members=[third])
    svc.contacts_place(bucket=bucket, contacts=[handed_over], via=BucketVia.HAND, actor=None)
    assert bodies(handed_over, second) == {"Bea's note"}


@pytest.mark.parametrize("viewer", ["owner", "admin_member"])
def test_owner_and_admin_see_every_conversation(request, handed_over, viewer):
    member = request.getfixturevalue(viewer)
    assert bodies(handed_over, member) == {"Alan's call", "Alan's note", "Bea's note"}


def test_tag_and_segment_changes_are_not_conversations(team, owner, agent, second):
    contact = assigned_contact(team, agent)
    activity_log(contact=contact, membership=agent, kind="segment_change", body="Segment: hot")
    contact_assign_directly(actor=owner, contact=contact, membership=second)
    assert "Segment: hot" in bodies(contact, second)


def test_migration_gives_existing_members_my_leads(team, agent, run_data_migration):
    (bare,) = Membership.objects.bulk_create([Membership(team=team, user=UserFactory())])
    chose = svc.bucket_create(actor=agent, name="Chosen", owner=agent)
    svc.member_set_default_bucket(membership=agent, bucket=chose)
    run_data_migration("contacts.migrations.0004_default_buckets", "give_members_my_leads")
    assert default_bucket_of(bare).name == svc.MY_LEADS
    assert default_bucket_of(agent) == chose  # a choice already made stays
