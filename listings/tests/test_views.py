"""The listings pages (list, one listing, CSV import, alert wording) and the saved
searches card of a contact's profile: allowed, other team (404), anonymous, refused."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts.services import contact_role_add
from contacts.tests.factories import ContactFactory
from listings.models import AlertTemplate, ContactSearch, Listing
from listings.tests.factories import listing_row, search_for, store
from routing.tests.helpers import assigned_contact
from teams.models import Role
from teams.tests.factories import make_member

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
LIST = reverse("listings:list")
IMPORT = reverse("listings:import")
TEMPLATE = reverse("listings:alert_template")
TEMPLATE_SAVE = reverse("listings:alert_template_save")

CSV = (
    "MLS #,Street Address,City,State,Zip,List Price,Bedrooms,Bathrooms,Type,Status,URL,Notes\n"
    'A1,1 Lamar Blvd,Austin,TX,78704,"$465,000",2,2,Condo,Active,https://x.example/a1,nice\n'
    "A2,2 Congress Ave,Austin,TX,78701,cheap,2,2,Condo,Active,,\n"
    ",,,,,,,,,,,\n"
    "A3,3 Rainey St,Austin,TX,78701,500000,2,1.5,igloo,Active,ftp://x.example/a3,\n"
    "A4,4 Elm St,Austin,TX,78702,425000,,,House,,,\n"
    "A1,1 Lamar Blvd,Austin,TX,78704,455000,2,2,Condo,Active,,\n"
)


def _upload(client, text=CSV, name="feed.csv"):
    file = SimpleUploadedFile(name, text.encode(), content_type="text/csv")
    return client.post(IMPORT, {"file": file})


# --- the list and one listing -----------------------------------------------------------


def test_listing_list_shows_the_teams_listings(client, admin_member, team, outsider):
    store(team, listing_row(external_id="A", address="1 Lamar Blvd", price=1250000))
    store(outsider.team, listing_row(external_id="X", address="9 Other Rd"))
    client.force_login(admin_member.user)

    response = client.get(LIST)

    assert response.status_code == 200
    page = response.content.decode()
    assert "1 Lamar Blvd" in page
    assert "$1,250,000" in page
    assert "9 Other Rd" not in page
    assert 'href="/listings/"' in page  # in the navigation


def test_listing_list_filters_and_answers_htmx_with_the_rows(client, owner, team):
    store(team, listing_row(external_id="A", address="1 Lamar Blvd"))
    store(team, listing_row(external_id="B", address="2 Congress Ave", status="sold"))
    client.force_login(owner.user)

    response = client.get(LIST, {"q": "lamar"}, **HTMX)

    page = response.content.decode()
    assert page.lstrip().startswith('<div id="listing-results">')
    assert "1 Lamar Blvd" in page
    assert "Congress" not in page
    assert "HX-Request" in response["Vary"]
    page = client.get(LIST, {"status": "sold"}).content.decode()
    assert "2 Congress Ave" in page
    assert "1 Lamar Blvd" not in page


def test_listing_list_query_budget(client, owner, team, django_assert_max_num_queries):
    for n in range(30):
        store(team, listing_row(external_id=str(n)))
    client.force_login(owner.user)
    with django_assert_max_num_queries(12):
        assert client.get(LIST).status_code == 200


def test_listing_pages_are_refused_to_agents_and_anonymous_visitors(client, agent, team):
    store(team, listing_row(external_id="A"))
    listing = Listing.objects.get()
    assert client.get(LIST).status_code == 302
    client.force_login(agent.user)
    assert client.get(LIST).status_code == 403
    assert client.get(reverse("listings:detail", args=[listing.pk])).status_code == 403
    assert _upload(client).status_code == 403


def test_listing_detail_shows_price_history_and_is_404_for_another_team(
    client, owner, team, outsider
):
    store(team, listing_row(external_id="A", price=500000))
    store(team, listing_row(external_id="A", price=480000))
    store(outsider.team, listing_row(external_id="X"))
    mine, theirs = Listing.objects.get(team=team), Listing.objects.get(team=outsider.team)
    client.force_login(owner.user)

    page = client.get(reverse("listings:detail", args=[mine.pk])).content.decode()
    assert "$480,000 (was $500,000)" in page
    assert "Price history" in page
    assert client.get(reverse("listings:detail", args=[theirs.pk])).status_code == 404


# --- CSV import ---------------------------------------------------------------------


def test_csv_import_stores_the_good_rows_and_lists_the_bad_ones(client, admin_member, team):
    client.force_login(admin_member.user)

    response = _upload(client)

    assert response.status_code == 200
    page = " ".join(response.content.decode().split())
    assert "Stored 2 listings: 2 new, 0 updated, 0 unchanged. 3 rows skipped." in page
    assert "Columns not read: Notes." in page
    assert "<td>3</td><td>A2</td><td>List Price</td><td>“cheap” is not an amount.</td>" in page
    assert "<td>5</td><td>A3</td><td>Type</td>" in page
    assert "<td>5</td><td>A3</td><td>URL</td>" in page
    assert "<td>7</td><td>A1</td><td>MLS #</td><td>The same external id as row 2.</td>" in page
    listings = {x.external_id: x for x in Listing.objects.filter(team=team)}
    assert set(listings) == {"A1", "A4"}
    assert (listings["A1"].price, listings["A1"].beds) == (465000, 2)
    assert (listings["A4"].status, listings["A4"].beds) == ("active", None)


def test_csv_import_refuses_a_file_without_the_needed_columns(client, owner):
    client.force_login(owner.user)
    response = _upload(client, "Address,City\n1 Main St,Austin\n")
    assert response.status_code == 422
    assert "The file needs a column for each of: external id, state, zip, price, type" in (
        response.content.decode()
    )
    assert not Listing.objects.exists()


def test_csv_import_answers_get_with_405(client, owner):
    client.force_login(owner.user)
    assert client.get(IMPORT).status_code == 405


# --- the team's alert wording ----------------------------------------------------------


def test_alert_template_is_saved_checked_and_reset(client, owner, team):
    client.force_login(owner.user)
    assert "{{ listings }}" in client.get(TEMPLATE).content.decode()

    refused = client.post(
        TEMPLATE_SAVE, {"subject": "New for {{ contact.email }}", "body": "No listings here"}
    )
    assert refused.status_code == 422
    page = refused.content.decode()
    assert "placeholders are single names" in page
    assert "Put {{ listings }} in the message" in page
    looping = client.post(
        TEMPLATE_SAVE, {"subject": "Hi", "body": "{% for x in listings %}{{ x }}{% endfor %}"}
    )
    assert "is not allowed" in looping.content.decode()
    assert not AlertTemplate.objects.exists()

    saved = client.post(
        TEMPLATE_SAVE,
        {
            "subject": "{{ listing_count }} homes for {{ contact_first_name }}",
            "body": "{{ listings }}",
        },
    )
    assert saved.status_code == 302
    assert AlertTemplate.objects.get(team=team).subject.startswith("{{ listing_count }} homes")

    assert client.post(reverse("listings:alert_template_reset")).status_code == 302
    assert not AlertTemplate.objects.exists()


def test_alert_template_needs_manage_team(client, team):
    dispatcher = make_member(team, role=Role.ADMIN)
    dispatcher.permission_profile.manage_team = False
    dispatcher.permission_profile.save()
    client.force_login(dispatcher.user)
    assert client.get(LIST).status_code == 200  # lead distribution is enough for the list
    assert client.get(TEMPLATE).status_code == 403
    assert client.post(TEMPLATE_SAVE, {"subject": "x", "body": "{{ listings }}"}).status_code == 403
    assert client.get(TEMPLATE_SAVE).status_code == 405


def test_the_teams_wording_is_what_the_contact_gets(client, owner, agent, team, capture):
    from django.core import mail

    client.force_login(owner.user)
    client.post(
        TEMPLATE_SAVE,
        {
            "subject": "{{ listing_count }} homes for {{ contact_first_name }}",
            "body": "{{ listings }}",
        },
    )
    jane = assigned_contact(team, agent, first_name="Jane", email="jane@example.net")
    search_for(jane, owner)
    with capture(execute=True):
        store(team, listing_row(address="1 Lamar Blvd"))
    [email] = [m for m in mail.outbox if m.subject == "1 homes for Jane"]
    assert email.body.startswith("NEW LISTING: 1 Lamar Blvd")


# --- a contact's saved searches ----------------------------------------------------------


def _card_url(contact):
    return reverse("listings:contact_searches", args=[contact.pk])


SEARCH_POST = {
    "new-name": "Austin condos",
    "new-cities": "Austin, Round Rock",
    "new-zip_codes": "",
    "new-states": "TX",
    "new-price_min": "300,000",
    "new-price_max": "$500,000",
    "new-beds_min": "2",
    "new-baths_min": "1.5",
    "new-property_types": ["condo", "townhouse"],
    "new-frequency": "daily",
    "new-is_active": "on",
}


def test_the_profile_loads_the_saved_searches_card(client, owner, team):
    contact = ContactFactory(team=team)
    client.force_login(owner.user)
    page = client.get(reverse("contact_pages:profile", args=[contact.pk])).content.decode()
    assert f'hx-get="{_card_url(contact)}"' in page


def test_saved_searches_are_added_changed_and_removed_on_the_card(client, agent, team):
    jane = assigned_contact(team, agent, first_name="Jane", email="jane@example.net")
    client.force_login(agent.user)

    card = client.get(_card_url(jane), **HTMX)
    assert card.content.decode().lstrip().startswith("<section")
    assert "No saved searches yet." in card.content.decode()

    added = client.post(
        reverse("listings:contact_search_create", args=[jane.pk]), SEARCH_POST, **HTMX
    )
    assert added.status_code == 200
    search = ContactSearch.objects.get(contact=jane)
    assert (search.cities, search.states, search.price_min, search.price_max) == (
        ["Austin", "Round Rock"],
        ["TX"],
        300000,
        500000,
    )
    assert (search.beds_min, search.property_types, search.frequency) == (
        2,
        ["condo", "townhouse"],
        "daily",
    )
    assert search.created_by == agent
    page = added.content.decode()
    assert "Saved search “Austin condos” added." in page
    assert "Daily digest, next" in page
    assert "$300,000 \N{EN DASH} $500,000" in page
    assert jane.timeline.filter(kind="search_added").exists()

    prefix = f"s{search.pk}-"
    changed = client.post(
        reverse("listings:contact_search_update", args=[jane.pk, search.pk]),
        {prefix + "name": "Cheaper", prefix + "cities": "Austin", prefix + "price_max": "400000",
         prefix + "frequency": "instant", prefix + "is_active": "on"},
    )  # fmt: skip
    assert changed.status_code == 302
    search.refresh_from_db()
    assert (search.name, search.price_max, search.next_digest_at) == ("Cheaper", 400000, None)

    removed = client.post(
        reverse("listings:contact_search_delete", args=[jane.pk, search.pk]), **HTMX
    )
    assert "Saved search “Cheaper” removed." in removed.content.decode()
    assert not ContactSearch.objects.exists()


def test_a_search_with_bad_input_comes_back_with_its_errors(client, agent, team):
    jane = assigned_contact(team, agent, first_name="Jane", email="jane@example.net")
    client.force_login(agent.user)
    url = reverse("listings:contact_search_create", args=[jane.pk])

    empty = client.post(url, {"new-frequency": "instant"}, **HTMX)
    assert empty.status_code == 200  # htmx swaps it in
    assert "Give at least one thing to look for" in empty.content.decode()
    upside_down = client.post(url, {**SEARCH_POST, "new-price_max": "100000"})
    assert upside_down.status_code == 422
    assert "Must not be below the price from." in upside_down.content.decode()
    assert not ContactSearch.objects.exists()


def test_saved_searches_are_404_outside_what_the_member_may_open(
    client, agent, owner, team, outsider
):
    jane = assigned_contact(team, owner, first_name="Jane", email="jane@example.net")
    search = search_for(jane, owner)
    other = ContactFactory(team=team)
    client.force_login(agent.user)  # holds nothing on Jane
    assert client.get(_card_url(jane)).status_code == 404
    assert (
        client.post(
            reverse("listings:contact_search_create", args=[jane.pk]), SEARCH_POST
        ).status_code
        == 404
    )

    client.force_login(outsider.user)
    assert client.get(_card_url(jane)).status_code == 404
    delete = reverse("listings:contact_search_delete", args=[jane.pk, search.pk])
    assert client.post(delete).status_code == 404

    client.force_login(owner.user)  # the search is Jane's, not the other contact's
    wrong = reverse("listings:contact_search_delete", args=[other.pk, search.pk])
    assert client.post(wrong).status_code == 404
    assert ContactSearch.objects.filter(pk=search.pk).exists()


def test_a_member_who_may_only_look_cannot_change_searches(client, agent, owner, team):
    jane = assigned_contact(team, owner, first_name="Jane", email="jane@example.net")
    search = search_for(jane, owner)
    contact_role_add(contact=jane, membership=agent, kind="assistant", actor=None)
    client.force_login(agent.user)

    card = client.get(_card_url(jane)).content.decode()
    assert "Austin condos" in card
    assert "Add a saved search" not in card
    delete = reverse("listings:contact_search_delete", args=[jane.pk, search.pk])
    assert client.post(delete).status_code == 403
    assert (
        client.post(
            reverse("listings:contact_search_create", args=[jane.pk]), SEARCH_POST
        ).status_code
        == 403
    )


def test_search_mutations_answer_get_with_405_and_anonymous_with_login(client, owner, team):
    jane = ContactFactory(team=team)
    search = search_for(jane, owner)
    assert client.get(_card_url(jane)).status_code == 302
    client.force_login(owner.user)
    for url in (
        reverse("listings:contact_search_create", args=[jane.pk]),
        reverse("listings:contact_search_update", args=[jane.pk, search.pk]),
        reverse("listings:contact_search_delete", args=[jane.pk, search.pk]),
    ):
        assert client.get(url).status_code == 405
