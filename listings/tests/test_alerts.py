"""Property alerts: new and price-reduced listings that match a saved search are emailed
to the contact from their primary Agent, at once or in a daily or weekly digest, never
twice for the same listing, held until routing is complete, stopped by unsubscribe."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from contacts.services import contact_archive
from contacts.tests.factories import ContactFactory
from listings import services
from listings.models import AlertListing, ContactSearch, Listing
from listings.tests.factories import listing_row, search_for, store
from notifications.models import Kind, OutboxMessage, Status
from notifications.optout import contact_unsubscribe
from routing.manual import contact_assign_directly
from routing.tests.helpers import assigned_contact

pytestmark = pytest.mark.django_db

# Tuesday 1 December 2026, 10:00 UTC; the team works in UTC, so digests are due at 8:00.
TUESDAY_10 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def alert_emails(address: str = "jane@example.net") -> list:
    return [m for m in mail.outbox if address in m.to and m.subject.startswith("Property alert")]


def alert_rows(contact) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.filter(contact=contact, kind=Kind.CONTACT_EMAIL).order_by("id")
    )


@pytest.fixture
def jane(team, agent):
    return assigned_contact(team, agent, first_name="Jane", email="jane@example.net")


def test_a_new_matching_listing_is_emailed_at_once_from_the_agent(
    team, agent, owner, jane, capture
):
    search = search_for(jane, owner)
    with capture(execute=True):
        result = store(
            team,
            listing_row(external_id="A", address="1 Lamar Blvd"),
            listing_row(external_id="B", address="2 Congress Ave"),
            listing_row(external_id="C", city="Dallas"),  # another city
            listing_row(external_id="D", property_type="house"),  # another type
            listing_row(external_id="E", status="pending"),  # not for sale any more
        )

    assert (result.created, result.alerts) == (5, 2)
    [email] = alert_emails()
    assert email.subject == "Property alert: 2 listings for “Austin condos”"
    assert email.from_email.startswith("Alan Agent <")
    assert email.reply_to == [agent.user.email]
    assert "NEW LISTING: 1 Lamar Blvd" in email.body
    assert "NEW LISTING: 2 Congress Ave" in email.body
    assert "Dallas" not in email.body
    [row] = alert_rows(jane)
    assert row.data["origin"] == "alert"
    assert row.data["ref"].startswith(f"search:{search.pk}:listings:")
    timeline = [e.message for e in jane.timeline.all()]
    assert any(m.startswith("Property alert “Austin condos”: 2 listings") for m in timeline)


def test_a_price_reduction_is_alerted_once_and_the_listing_never_again(team, owner, jane, capture):
    search_for(jane, owner)
    with capture(execute=True):
        store(team, listing_row(external_id="A", price=500000))
        store(team, listing_row(external_id="A", price=520000))  # up: nothing
        store(team, listing_row(external_id="A", price=480000))  # below what was sent
        store(team, listing_row(external_id="A", price=470000))  # lower again: sent already
        store(team, listing_row(external_id="A", status="pending", price=470000))
        store(team, listing_row(external_id="A", price=470000))  # back on the market

    first, second = alert_emails()
    assert "NEW LISTING" in first.body
    assert "$500,000 · 2 beds" in first.body
    assert second.subject == "Property alert: 1 listing for “Austin condos”"
    assert "PRICE REDUCED: 1200 Barton Springs Rd #4" in second.body
    assert "$480,000 (was $500,000)" in second.body
    assert list(AlertListing.objects.values_list("reason", "price").order_by("id")) == [
        ("new", 500000),
        ("price_reduced", 480000),
    ]


def test_a_reduction_of_a_listing_stored_before_the_search_is_alerted(team, owner, jane, capture):
    store(team, listing_row(external_id="A", price=500000))
    search_for(jane, owner)
    with capture(execute=True):
        store(team, listing_row(external_id="A", price=500000, beds=3))  # no new price
        store(team, listing_row(external_id="A", price=450000))

    [email] = alert_emails()
    assert "PRICE REDUCED" in email.body
    assert "$450,000 (was $500,000)" in email.body


def test_listings_stored_before_the_search_are_not_sent(team, owner, jane, capture):
    store(team, listing_row(external_id="A"))
    with capture(execute=True):
        search_for(jane, owner)
        store(team, listing_row(external_id="A"))
    assert alert_emails() == []


def test_an_admin_price_edit_is_a_price_reduction(team, owner, jane, staff_client, capture):
    store(team, listing_row(external_id="A", price=500000))
    search_for(jane, owner)
    listing = Listing.objects.get()
    form = staff_client.get(f"/admin/listings/listing/{listing.pk}/change/")
    assert form.status_code == 200
    data = {
        "external_id": "A",
        "address": listing.address,
        "city": "Austin",
        "state": "TX",
        "zip_code": "78704",
        "price": "455000",
        "beds": "2",
        "baths": "2",
        "property_type": "condo",
        "status": "active",
        "listing_url": listing.listing_url,
        "photo_url": "",
        "listed_at_0": "",
        "listed_at_1": "",
        "price_changes-TOTAL_FORMS": "0",
        "price_changes-INITIAL_FORMS": "0",
    }
    with capture(execute=True):
        response = staff_client.post(f"/admin/listings/listing/{listing.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    listing.refresh_from_db()
    assert (listing.price, listing.previous_price) == (455000, 500000)
    assert list(listing.price_changes.values_list("old_price", "new_price", "via")) == [
        (500000, 455000, "admin")
    ]
    [email] = alert_emails()
    assert "$455,000 (was $500,000)" in email.body


def test_the_alert_waits_until_the_contact_is_routed_then_goes_from_the_agent(
    team, agent, owner, capture
):
    jane = ContactFactory(team=team, first_name="Jane", email="jane@example.net")  # not routed
    search_for(jane, owner)
    with capture(execute=True):
        store(team, listing_row())

    [row] = alert_rows(jane)
    assert (row.status, row.held) == (Status.PENDING, True)
    assert alert_emails() == []

    with capture(execute=True):
        contact_assign_directly(actor=None, contact=jane, membership=agent)

    [email] = alert_emails()
    assert email.from_email.startswith("Alan Agent <")
    assert email.reply_to == [agent.user.email]


def test_unsubscribing_stops_the_alert_and_the_next_ones(team, agent, owner, capture):
    jane = ContactFactory(team=team, first_name="Jane", email="jane@example.net")
    search_for(jane, owner)
    with capture(execute=True):
        store(team, listing_row(external_id="A"))
    contact_unsubscribe(contact=jane)

    with capture(execute=True):
        contact_assign_directly(actor=None, contact=jane, membership=agent)
        store(team, listing_row(external_id="B"))

    assert alert_emails() == []
    [row] = alert_rows(jane)  # nothing scheduled for B
    assert (row.status, row.last_error) == (Status.SKIPPED, "the contact unsubscribed")


@pytest.mark.parametrize(
    "change",
    [
        {"unsubscribed_at": timezone.now()},
        {"email": ""},
    ],
)
def test_nothing_is_scheduled_for_a_contact_alerts_cannot_reach(team, agent, owner, change):
    jane = assigned_contact(team, agent, first_name="Jane", email="jane@example.net")
    search = search_for(jane, owner)
    type(jane).objects.filter(pk=jane.pk).update(**change)
    store(team, listing_row())
    assert alert_rows(jane) == []
    assert not search.alerts.exists()


def test_an_archived_contacts_searches_are_not_matched(team, agent, owner):
    jane = assigned_contact(team, agent, first_name="Jane", email="jane@example.net")
    search_for(jane, owner)
    contact_archive(contact=jane)
    store(team, listing_row())
    assert alert_rows(jane) == []


def test_an_inactive_search_is_not_matched(team, owner, jane):
    search = search_for(jane, owner, is_active=False)
    store(team, listing_row())
    assert not search.alerts.exists()


# --- digests ----------------------------------------------------------------------------


def test_a_daily_digest_gathers_the_days_listings_and_sends_each_once(team, owner, jane, capture):
    with time_machine.travel(TUESDAY_10, tick=False):
        search = search_for(jane, owner, frequency="daily")
        assert search.next_digest_at == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
        with capture(execute=True):
            store(team, listing_row(external_id="A", address="1 Lamar Blvd", price=500000))
            store(team, listing_row(external_id="B", address="2 Congress Ave"))
            store(team, listing_row(external_id="A", address="1 Lamar Blvd", price=490000))
            store(team, listing_row(external_id="B", address="2 Congress Ave", status="sold"))
        assert alert_emails() == []
        assert alert_rows(jane) == []

    with time_machine.travel(TUESDAY_10 + timedelta(hours=21, minutes=59), tick=False):
        assert services.alert_digests_send() == 0
    with (
        time_machine.travel(TUESDAY_10 + timedelta(hours=22, minutes=3), tick=False),
        capture(execute=True),
    ):
        assert services.alert_digests_send() == 1
        assert services.alert_digests_send() == 0

    [email] = alert_emails()
    assert email.subject == "Property alert: 1 listing for “Austin condos”"
    assert "NEW LISTING: 1 Lamar Blvd" in email.body
    assert "$490,000 (was $500,000)" in email.body
    assert "Congress" not in email.body
    search.refresh_from_db()
    assert search.next_digest_at == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)

    # The next day: a lower price goes out once more, the same listing otherwise never.
    with time_machine.travel(datetime(2026, 12, 2, 12, 0, tzinfo=UTC), tick=False):
        store(team, listing_row(external_id="A", address="1 Lamar Blvd", price=490000, beds=3))
        store(team, listing_row(external_id="A", address="1 Lamar Blvd", price=480000))
    with (
        time_machine.travel(datetime(2026, 12, 3, 8, 1, tzinfo=UTC), tick=False),
        capture(execute=True),
    ):
        assert services.alert_digests_send() == 1
    with time_machine.travel(datetime(2026, 12, 3, 12, 0, tzinfo=UTC), tick=False):
        store(team, listing_row(external_id="A", address="1 Lamar Blvd", price=450000))
    with (
        time_machine.travel(datetime(2026, 12, 4, 8, 1, tzinfo=UTC), tick=False),
        capture(execute=True),
    ):
        assert services.alert_digests_send() == 0

    _, second = alert_emails()
    assert "PRICE REDUCED: 1 Lamar Blvd" in second.body
    assert "$480,000 (was $490,000)" in second.body


def test_a_weekly_digest_goes_out_on_monday_in_the_team_time_zone(team, owner, jane, capture):
    team.time_zone = "America/Chicago"
    team.save()
    with time_machine.travel(TUESDAY_10, tick=False):
        search = search_for(jane, owner, frequency="weekly")
        store(team, listing_row(external_id="A"))
    # Monday 7 December, 8:00 in Chicago is 14:00 UTC.
    assert search.next_digest_at == datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    with time_machine.travel(datetime(2026, 12, 7, 13, 59, tzinfo=UTC), tick=False):
        assert services.alert_digests_send() == 0
    with (
        time_machine.travel(datetime(2026, 12, 7, 14, 1, tzinfo=UTC), tick=False),
        capture(execute=True),
    ):
        assert services.alert_digests_send() == 1
    assert len(alert_emails()) == 1
    search.refresh_from_db()
    assert search.next_digest_at == datetime(2026, 12, 14, 14, 0, tzinfo=UTC)


def test_a_digest_for_a_contact_who_unsubscribed_sends_nothing(team, owner, jane, capture):
    with time_machine.travel(TUESDAY_10, tick=False):
        search_for(jane, owner, frequency="daily")
        store(team, listing_row())
        contact_unsubscribe(contact=jane)
    with (
        time_machine.travel(datetime(2026, 12, 2, 8, 1, tzinfo=UTC), tick=False),
        capture(execute=True),
    ):
        assert services.alert_digests_send() == 0
    assert alert_rows(jane) == []
    assert not AlertListing.objects.exists()


def test_a_digest_search_made_instant_sends_what_waits_at_once(team, owner, jane, capture):
    search = search_for(jane, owner, frequency="daily")
    store(team, listing_row())
    values = {name: getattr(search, name) for name in ("name", "cities", "property_types")}
    with capture(execute=True):
        services.contact_search_update(actor=owner, search=search, **values, frequency="instant")
    assert len(alert_emails()) == 1
    search.refresh_from_db()
    assert search.next_digest_at is None
    assert not search.alerts.filter(message_key="").exists()


def test_the_digest_schedule_is_installed(db):
    from django.core.management import call_command
    from django_q.models import Schedule

    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    schedule = Schedule.objects.get(name="listings-alert-digests")
    assert (schedule.func, schedule.minutes) == ("listings.tasks.send_digests", 5)
    assert ContactSearch.objects.count() == 0
