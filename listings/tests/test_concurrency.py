"""The same new listings posted by several requests at once: stored once, alerted once.
PostgreSQL, real threads, real commits."""

import threading

import pytest
from django.db import connections
from django.test import Client

from contacts.tests.intake_helpers import make_token, post_lead
from listings.models import AlertListing, Listing
from listings.tests.factories import search_for
from listings.tests.test_api import feed_listing
from notifications.models import Kind, OutboxMessage
from routing.tests.helpers import assigned_contact
from teams.tests.factories import UserFactory, make_member, make_team

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

N = 6


def test_concurrent_posts_of_the_same_new_listings_store_and_alert_them_once():
    team = make_team(owner=UserFactory())
    agent = make_member(team)
    jane = assigned_contact(team, agent, first_name="Jane", email="jane@example.net")
    search_for(jane, team.memberships.get(role="owner"))
    token = make_token(team)
    rows = [feed_listing(external_id="A"), feed_listing(external_id="B", address="2 Elm St")]
    barrier = threading.Barrier(N)
    answers, errors = [None] * N, []

    def post(i):
        try:
            client = Client()
            barrier.wait()
            answers[i] = post_lead(client, rows, token=token, url="/api/v1/listings")
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(N)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    assert [a.status_code for a in answers] == [200] * N
    assert sorted(a.json()["created"] for a in answers) == [0] * (N - 1) + [2]
    assert all(a.json()["stored"] == 2 for a in answers)
    assert Listing.objects.filter(team=team).count() == 2
    assert AlertListing.objects.count() == 2
    assert OutboxMessage.objects.filter(contact=jane, kind=Kind.CONTACT_EMAIL).count() == 1
