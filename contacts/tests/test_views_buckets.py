"""Bucket pages, the profile's Buckets card, the contacts list's "Add to bucket", the
default bucket form on My contacts, and the profile's conversations after a reassignment."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts import buckets as svc
from contacts.models import Bucket, BucketContact, BucketVia
from contacts.selectors_buckets import default_bucket_of
from contacts.services import activity_log
from contacts.tests.factories import ContactFactory
from routing.manual import contact_assign_directly
from routing.tests.helpers import assigned_contact
from teams.models import Group
from teams.tests.factories import UserFactory, make_member

pytestmark = pytest.mark.django_db

LIST = reverse("buckets:list")


@pytest.fixture
def second(team):
    return make_member(team, user=UserFactory(first_name="Bea", last_name="Second"))


@pytest.fixture
def team_bucket(owner):
    return svc.bucket_create(actor=owner, name="Zillow leads")


@pytest.fixture
def own_bucket(agent):
    return svc.bucket_create(actor=agent, name="Alan's picks", owner=agent)


def login(client, member):
    client.force_login(member.user)
    return client


def in_bucket(bucket, contact) -> bool:
    return BucketContact.objects.filter(bucket=bucket, contact=contact).exists()


# --- access ----------------------------------------------------------------------------


def _pages(bucket):
    return [
        ("get", LIST),
        ("post", reverse("buckets:create")),
        ("post", reverse("buckets:default_set")),
        ("get", reverse("buckets:detail", args=[bucket.pk])),
        ("post", reverse("buckets:update", args=[bucket.pk])),
        ("get", reverse("buckets:confirm_delete", args=[bucket.pk])),
        ("post", reverse("buckets:delete", args=[bucket.pk])),
        ("post", reverse("buckets:remove_contacts", args=[bucket.pk])),
    ]


def test_bucket_pages_anonymous_go_to_login(client, team_bucket):
    for method, url in _pages(team_bucket):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login"))


def test_bucket_pages_of_another_team_are_404(client, outsider, team_bucket):
    login(client, outsider)
    for method, url in _pages(team_bucket)[3:]:
        assert getattr(client, method)(url).status_code == 404, url


def test_a_hidden_bucket_is_404(client, second, own_bucket):
    login(client, second)
    for method, url in _pages(own_bucket)[3:]:
        assert getattr(client, method)(url).status_code == 404, url


def test_bucket_mutations_answer_get_with_405(client, owner, team_bucket):
    login(client, owner)
    for method, url in _pages(team_bucket):
        if method == "post":
            assert client.get(url).status_code == 405, url


def test_nav_links_to_buckets(client, agent):
    assert f'href="{LIST}"' in login(client, agent).get(reverse("home")).text


# --- the list and creating --------------------------------------------------------------


def test_bucket_list_shows_visible_buckets_with_counts(
    client, team, owner, agent, second, team_bucket, own_bucket
):
    svc.bucket_create(actor=second, name="Bea's secret", owner=second)
    mine = assigned_contact(team, agent)
    svc.contacts_place(
        bucket=team_bucket, contacts=[mine, ContactFactory(team=team)], via="hand", actor=None
    )
    page = login(client, agent).get(LIST).text
    assert "Zillow leads" in page
    assert "Alan&#x27;s picks" in page
    assert "Bea&#x27;s secret" not in page
    # One of the two contacts in the team bucket is Alan's to open.
    row = page[page.index(">Zillow leads</a>") :]
    assert '<td data-label="Contacts">1</td>' in row[: row.index("</tr>")]


def test_agent_creates_own_bucket_shared_with_a_member_and_a_group(client, team, agent, second):
    office = Group.objects.create(team=team, name="Office")
    response = login(client, agent).post(
        reverse("buckets:create"),
        {"name": "Open house", "shared_members": [second.pk], "shared_groups": [office.pk]},
    )
    bucket = Bucket.objects.get(name="Open house")
    assert response.status_code == 302
    assert response.url == reverse("buckets:detail", args=[bucket.pk])
    assert bucket.owner == agent
    assert list(bucket.shared_with_members.all()) == [second]
    assert list(bucket.shared_with_groups.all()) == [office]


def test_agent_cannot_create_a_team_wide_bucket_403(client, agent):
    page = login(client, agent).get(LIST).text
    assert "Team-wide: everyone" not in page  # not offered
    response = client.post(reverse("buckets:create"), {"name": "Sneaky", "scope": "team"})
    assert response.status_code == 403
    assert "Manage Team" in response.text
    assert not Bucket.objects.filter(name="Sneaky").exists()
    client.post(reverse("buckets:create"), {"name": "Mine", "scope": "mine"})
    assert Bucket.objects.get(name="Mine").owner == agent


def test_owner_creates_team_wide_bucket(client, owner):
    login(client, owner).post(reverse("buckets:create"), {"name": "Website", "scope": "team"})
    assert Bucket.objects.get(name="Website").owner is None


def test_create_with_a_taken_name_shows_the_error(client, owner, team_bucket):
    response = login(client, owner).post(
        reverse("buckets:create"), {"name": "zillow LEADS", "scope": "team"}
    )
    assert response.status_code == 422
    assert "There is a bucket “zillow LEADS” in the team already." in response.text
    assert Bucket.objects.filter(owner=None).count() == 1


def test_create_team_wide_and_shared_is_refused(client, owner, agent):
    response = login(client, owner).post(
        reverse("buckets:create"), {"name": "X", "scope": "team", "shared_members": [agent.pk]}
    )
    assert response.status_code == 422
    assert "A team-wide bucket is seen by everyone" in response.text
    assert not Bucket.objects.filter(name="X").exists()


def test_bucket_list_query_budget_does_not_grow(client, team, owner, agent):
    def queries():
        login(client, agent)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(LIST).status_code == 200
        return len(ctx)

    few = queries()
    for i in range(15):
        bucket = svc.bucket_create(actor=owner, name=f"Team {i}")
        svc.contacts_place(
            bucket=bucket, contacts=[assigned_contact(team, agent)], via="hand", actor=None
        )
        svc.bucket_create(actor=agent, name=f"Mine {i}", owner=agent)
    assert queries() == few


# --- one bucket ---------------------------------------------------------------------------


def test_bucket_page_lists_the_contacts_the_member_may_open(client, team, agent, team_bucket):
    mine = assigned_contact(team, agent, first_name="Mona")
    other = ContactFactory(team=team, first_name="Otto")
    svc.contacts_place(bucket=team_bucket, contacts=[mine, other], via="hand", actor=None)
    page = login(client, agent).get(reverse("buckets:detail", args=[team_bucket.pk])).text
    assert "Mona" in page
    assert "Otto" not in page


def test_bucket_page_paginates(client, team, owner, team_bucket):
    contacts = [ContactFactory(team=team) for _ in range(55)]
    svc.contacts_place(bucket=team_bucket, contacts=contacts, via="hand", actor=None)
    url = reverse("buckets:detail", args=[team_bucket.pk])
    first = login(client, owner).get(url).text
    assert "Page 1 of 2" in first
    second_page = client.get(url, {"page": 2}, HTTP_HX_REQUEST="true")
    assert second_page.text.count('name="contacts"') == 5
    assert "<html" not in second_page.text


def test_bucket_page_query_budget_does_not_grow(client, team, owner, agent, second, own_bucket):
    url = reverse("buckets:detail", args=[own_bucket.pk])

    def queries():
        login(client, agent)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx)

    svc.contacts_place(
        bucket=own_bucket, contacts=[assigned_contact(team, agent)], via="hand", actor=None
    )
    svc.bucket_share(actor=agent, bucket=own_bucket, members=[second], groups=[])
    few = queries()
    contacts = [assigned_contact(team, agent) for _ in range(20)]
    svc.contacts_place(bucket=own_bucket, contacts=contacts, via="hand", actor=None)
    svc.bucket_share(
        actor=agent,
        bucket=own_bucket,
        members=[second, make_member(team)],
        groups=[Group.objects.create(team=team, name="G")],
    )
    assert queries() == few


def test_owner_of_the_bucket_edits_and_shares_it(client, agent, second, own_bucket):
    response = login(client, agent).post(
        reverse("buckets:update", args=[own_bucket.pk]),
        {"name": "Alan's best", "shared_members": [second.pk]},
    )
    assert response.status_code == 302
    own_bucket.refresh_from_db()
    assert own_bucket.name == "Alan's best"
    assert list(own_bucket.shared_with_members.all()) == [second]


def test_member_it_is_shared_with_cannot_edit_it_403(client, agent, second):
    bucket = svc.bucket_create(actor=agent, name="Ours", owner=agent, shared_members=[second])
    login(client, second)
    assert client.get(reverse("buckets:detail", args=[bucket.pk])).status_code == 200
    response = client.post(reverse("buckets:update", args=[bucket.pk]), {"name": "Bea's"})
    assert response.status_code == 403
    assert client.post(reverse("buckets:delete", args=[bucket.pk])).status_code == 403
    assert Bucket.objects.get(pk=bucket.pk).name == "Ours"


def test_agent_cannot_edit_a_team_wide_bucket_403(client, agent, team_bucket):
    response = login(client, agent).post(
        reverse("buckets:update", args=[team_bucket.pk]), {"name": "Mine"}
    )
    assert response.status_code == 403


def test_edit_with_a_taken_name_shows_the_error(client, agent, own_bucket):
    svc.bucket_create(actor=agent, name="Taken", owner=agent)
    response = login(client, agent).post(
        reverse("buckets:update", args=[own_bucket.pk]), {"name": "taken"}
    )
    assert response.status_code == 422
    assert "among your buckets already" in response.text
    assert Bucket.objects.get(pk=own_bucket.pk).name == "Alan's picks"


def test_delete_asks_then_deletes_contacts_stay(client, team, owner, team_bucket):
    contact = ContactFactory(team=team)
    svc.contacts_place(bucket=team_bucket, contacts=[contact], via="hand", actor=None)
    login(client, owner)
    confirm = client.get(reverse("buckets:confirm_delete", args=[team_bucket.pk]))
    assert "Delete “Zillow leads”?" in confirm.text
    assert "the contacts stay in the team" in confirm.text
    response = client.post(reverse("buckets:delete", args=[team_bucket.pk]))
    assert response.url == LIST
    assert not Bucket.objects.filter(pk=team_bucket.pk).exists()
    contact.refresh_from_db()


def test_take_contacts_out_of_the_bucket(client, team, owner, team_bucket):
    contact = ContactFactory(team=team)
    svc.contacts_place(bucket=team_bucket, contacts=[contact], via="hand", actor=None)
    response = login(client, owner).post(
        reverse("buckets:remove_contacts", args=[team_bucket.pk]),
        {"contacts": [contact.pk]},
        follow=True,
    )
    assert "1 contact taken out of “Zillow leads”." in response.text
    assert not in_bucket(team_bucket, contact)


# --- the default bucket -----------------------------------------------------------------


def test_my_contacts_page_changes_the_default_bucket(client, team, agent, own_bucket):
    my_contacts = reverse("routing_pages:my_contacts")
    page = login(client, agent).get(my_contacts).text
    assert "Your default bucket" in page
    response = client.post(
        reverse("buckets:default_set"), {"bucket": own_bucket.pk, "next": my_contacts}
    )
    assert response.url == my_contacts
    assert default_bucket_of(agent) == own_bucket
    contact = assigned_contact(team, agent)
    assert in_bucket(own_bucket, contact)


def test_default_bucket_cannot_be_a_hidden_one(client, agent, second):
    hidden = svc.bucket_create(actor=second, name="Bea's", owner=second)
    response = login(client, agent).post(
        reverse("buckets:default_set"), {"bucket": hidden.pk}, follow=True
    )
    assert "Select a valid choice" in response.text
    assert default_bucket_of(agent).name == svc.MY_LEADS


def test_default_bucket_redirect_stays_on_this_site(client, agent, own_bucket):
    response = login(client, agent).post(
        reverse("buckets:default_set"), {"bucket": own_bucket.pk, "next": "https://evil.example"}
    )
    assert response.url == LIST


def test_my_contacts_query_budget_with_buckets_does_not_grow(client, team, owner, agent):
    url = reverse("routing_pages:my_contacts")

    def queries():
        login(client, agent)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx)

    few = queries()
    for i in range(10):
        svc.bucket_create(actor=owner, name=f"Team {i}")
        svc.bucket_create(actor=agent, name=f"Mine {i}", owner=agent)
    assert queries() == few


# --- the profile's Buckets card ----------------------------------------------------------


def profile(contact):
    return reverse("contact_pages:profile", args=[contact.pk])


def test_profile_card_adds_and_removes(client, team, agent, team_bucket, own_bucket):
    contact = assigned_contact(team, agent)
    login(client, agent)
    page = client.get(profile(contact)).text
    assert 'id="buckets"' in page
    assert "Alan&#x27;s picks" in page
    response = client.post(
        reverse("contact_pages:bucket_add", args=[contact.pk]),
        {"bucket": team_bucket.pk},
        follow=True,
    )
    assert "1 contact placed in “Zillow leads”." in response.text
    assert in_bucket(team_bucket, contact)
    placement = BucketContact.objects.get(bucket=team_bucket, contact=contact)
    assert (placement.via, placement.placed_by) == (BucketVia.HAND, agent)
    response = client.post(
        reverse("contact_pages:bucket_remove", args=[contact.pk, team_bucket.pk]), follow=True
    )
    assert "Taken out of “Zillow leads”." in response.text
    assert not in_bucket(team_bucket, contact)


def test_profile_card_refuses_a_hidden_bucket(client, team, agent, second):
    contact = assigned_contact(team, agent)
    hidden = svc.bucket_create(actor=second, name="Bea's", owner=second)
    response = login(client, agent).post(
        reverse("contact_pages:bucket_add", args=[contact.pk]), {"bucket": hidden.pk}, follow=True
    )
    assert "No such bucket for you." in response.text
    assert not in_bucket(hidden, contact)
    remove = reverse("contact_pages:bucket_remove", args=[contact.pk, hidden.pk])
    assert client.post(remove).status_code == 404


def test_profile_card_on_another_teams_contact_is_404(client, outsider, team, team_bucket):
    contact = ContactFactory(team=team)
    response = login(client, outsider).post(
        reverse("contact_pages:bucket_add", args=[contact.pk]), {"bucket": team_bucket.pk}
    )
    assert response.status_code == 404


def test_profile_card_mutations_answer_get_with_405(client, team, owner, team_bucket):
    contact = ContactFactory(team=team)
    login(client, owner)
    assert client.get(reverse("contact_pages:bucket_add", args=[contact.pk])).status_code == 405
    remove = reverse("contact_pages:bucket_remove", args=[contact.pk, team_bucket.pk])
    assert client.get(remove).status_code == 405
    assert client.get(reverse("contact_pages:bulk_bucket")).status_code == 405


# --- the contacts list's "Add to bucket" --------------------------------------------------


def test_bulk_add_to_bucket(client, team, owner, team_bucket):
    contacts = [ContactFactory(team=team) for _ in range(3)]
    svc.contacts_place(bucket=team_bucket, contacts=contacts[:1], via="hand", actor=None)
    login(client, owner)
    assert "Add to bucket" in client.get(reverse("contact_pages:list")).text
    response = client.post(
        reverse("contact_pages:bulk_bucket"),
        {"contacts": [c.pk for c in contacts], "bucket": team_bucket.pk},
        follow=True,
    )
    assert "2 contacts placed in “Zillow leads”. 1 was in it already." in response.text
    assert all(in_bucket(team_bucket, c) for c in contacts)


def test_bulk_add_only_contacts_the_member_may_open(client, team, agent, team_bucket):
    not_his = ContactFactory(team=team)
    response = login(client, agent).post(
        reverse("contact_pages:bulk_bucket"),
        {"contacts": [not_his.pk], "bucket": team_bucket.pk},
        follow=True,
    )
    assert "No such contact for you." in response.text
    assert not in_bucket(team_bucket, not_his)


def test_bulk_add_needs_contacts_and_a_bucket(client, owner):
    response = login(client, owner).post(reverse("contact_pages:bulk_bucket"), {}, follow=True)
    assert "Select at least one contact." in response.text
    assert "Choose a bucket." in response.text


# --- conversations after a reassignment, on the profile -----------------------------------


@pytest.fixture
def handed_over(team, owner, agent, second):
    contact = assigned_contact(team, agent, first_name="Rita")
    activity_log(contact=contact, membership=agent, kind="note", body="Alan's private note")
    contact_assign_directly(actor=owner, contact=contact, membership=second)
    activity_log(contact=contact, membership=second, kind="call", body="Bea's call")
    return contact


def test_profile_new_owner_sees_own_conversations_and_assignments(client, handed_over, second):
    page = login(client, second).get(profile(handed_over)).text
    assert "Bea&#x27;s call" in page
    assert "Alan&#x27;s private note" not in page
    assert "Reassigned from Alan Agent to Bea Second" in page


def test_profile_new_owner_sees_previous_ones_through_a_shared_bucket(
    client, handed_over, agent, second
):
    ours = svc.bucket_create(actor=agent, name="Ours", owner=agent, shared_members=[second])
    svc.contacts_place(bucket=ours, contacts=[handed_over], via="hand", actor=None)
    page = login(client, second).get(profile(handed_over)).text
    assert "Alan&#x27;s private note" in page


def test_profile_owner_sees_every_conversation(client, handed_over, owner):
    page = login(client, owner).get(profile(handed_over)).text
    assert "Alan&#x27;s private note" in page
    assert "Bea&#x27;s call" in page


def test_profile_timeline_pages_keep_the_rule(client, handed_over, second):
    response = login(client, second).get(profile(handed_over), {"tpage": 1}, HTTP_HX_REQUEST="true")
    assert "Bea&#x27;s call" in response.text
    assert "Alan&#x27;s private note" not in response.text


def test_profile_history_queries_do_not_grow_with_buckets_and_groups(
    client, team, owner, agent, second, handed_over, django_assert_num_queries
):
    office = Group.objects.create(team=team, name="Office")
    first = svc.bucket_create(
        actor=agent, name="First", owner=agent, shared_members=[second], shared_groups=[office]
    )
    svc.contacts_place(bucket=first, contacts=[handed_over], via="hand", actor=None)
    login(client, second)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(profile(handed_over)).status_code == 200
    few = len(ctx)
    for i in range(8):
        group = Group.objects.create(team=team, name=f"Desk {i}", parent=office)
        member = make_member(team, groups=[group])
        activity_log(contact=handed_over, membership=member, kind="note", body=f"note {i}")
        bucket = svc.bucket_create(
            actor=member, name=f"B{i}", owner=member, shared_members=[agent], shared_groups=[office]
        )
        svc.contacts_place(bucket=bucket, contacts=[handed_over], via="hand", actor=None)
    second.groups.add(office)
    with django_assert_num_queries(few):
        page = client.get(profile(handed_over)).text
    assert "note 7" in page  # shared through the office Bea is in
