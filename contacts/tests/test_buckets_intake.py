"""Buckets named by the API (`"buckets": [...]` on POST /api/v1/contacts) and by a CSV
import's Buckets column: team-wide buckets by name; an unknown name is a clear error and
stores nothing (API) or skips its row (import)."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts import buckets as svc
from contacts import signals
from contacts.intake import import_guess_mapping
from contacts.models import BucketContact, BucketVia, Contact, ImportJob, RejectedPayload
from contacts.tests.factories import ContactFactory
from contacts.tests.intake_helpers import make_token, post_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(team):
    return make_token(team)


@pytest.fixture
def zillow(owner):
    return svc.bucket_create(actor=owner, name="Zillow leads")


@pytest.fixture
def hot(owner):
    return svc.bucket_create(actor=owner, name="Hot")


@pytest.fixture
def placed(db):
    heard = []

    def listen(sender, bucket, contacts, via, **kwargs):
        heard.append((bucket.name, [c.email for c in contacts], via))

    signals.contacts_placed.connect(listen, dispatch_uid="test_intake_placed")
    yield heard
    signals.contacts_placed.disconnect(dispatch_uid="test_intake_placed")


def names_of(contact) -> set[str]:
    return set(BucketContact.objects.filter(contact=contact).values_list("bucket__name", flat=True))


# --- the API ----------------------------------------------------------------------------


def test_api_lead_placed_in_named_team_buckets(client, token, zillow, hot, placed):
    response = post_lead(
        client, {"email": "ann@example.net", "buckets": ["zillow LEADS", "Hot"]}, token=token
    )
    assert response.status_code == 201
    contact = Contact.objects.get(email="ann@example.net")
    assert names_of(contact) == {"Zillow leads", "Hot"}
    row = BucketContact.objects.get(contact=contact, bucket=zillow)
    assert (row.via, row.placed_by) == (BucketVia.API, None)
    assert contact.timeline.filter(message="Placed in bucket “Hot” by the API.").exists()
    assert ("Zillow leads", ["ann@example.net"], BucketVia.API) in placed


def test_api_unknown_bucket_is_a_400_field_error_and_nothing_is_stored(
    client, token, team, agent, zillow
):
    svc.bucket_create(actor=agent, name="Alan's", owner=agent)  # not team-wide
    response = post_lead(
        client, {"email": "ann@example.net", "buckets": ["Zillow leads", "Alan's"]}, token=token
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "buckets", "message": "The team has no team-wide bucket named “Alan's”."}
    ]
    assert not Contact.objects.filter(email="ann@example.net").exists()
    assert not BucketContact.objects.filter(bucket=zillow).exists()
    assert RejectedPayload.objects.get().status == 400


@pytest.mark.parametrize("buckets", [[""], ["x" * 81], "Hot", [1]])
def test_api_bad_bucket_names_are_field_errors(client, token, hot, buckets):
    response = post_lead(client, {"email": "ann@example.net", "buckets": buckets}, token=token)
    assert response.status_code == 400
    assert all(e["field"].startswith("buckets") for e in response.json()["errors"])
    assert not Contact.objects.exists()


def test_api_repeat_lead_places_the_contact_it_matched(client, token, team, hot, placed):
    known = ContactFactory(team=team, email="ann@example.net")
    response = post_lead(client, {"email": "ANN@example.net", "buckets": ["Hot"]}, token=token)
    assert response.status_code == 200
    assert response.json()["deduplicated"] is True
    assert names_of(known) == {"Hot"}
    # Sent again: already there, not announced again.
    post_lead(client, {"email": "ann@example.net", "buckets": ["Hot"]}, token=token)
    assert placed == [("Hot", ["ann@example.net"], BucketVia.API)]


def test_api_lead_without_buckets_reads_no_bucket(client, token, hot):
    with CaptureQueriesContext(connection) as ctx:
        assert post_lead(client, {"email": "ann@example.net"}, token=token).status_code == 201
    assert not [q for q in ctx.captured_queries if '"contacts_bucket' in q["sql"]]


# --- CSV import ------------------------------------------------------------------------

CSV = (
    "Email,Name,Buckets\n"
    "ann@example.net,Ann Able,Zillow leads; hot\n"
    'bob@example.net,Bob Baker,"hot, Zillow leads"\n'
    "cy@example.net,Cy Cole,Nope\n"
    "di@example.net,Di Dunn,\n"
)
MAPPING = {"col_0": "email", "col_1": "full_name", "col_2": "buckets", "default_source": "CSV"}


@pytest.fixture
def job(client, admin_member, zillow, hot):
    client.force_login(admin_member.user)
    upload = SimpleUploadedFile("leads.csv", CSV.encode(), content_type="text/csv")
    assert client.post(reverse("contact_import_upload"), {"file": upload}).status_code == 302
    return ImportJob.objects.get()


def test_import_guesses_the_buckets_column():
    assert import_guess_mapping(["Email", "Bucket"]) == {"0": "email", "1": "buckets"}
    assert import_guess_mapping(["Buckets"]) == {"0": "buckets"}


def test_import_mapping_offers_buckets(client, job):
    page = client.get(reverse("contact_import_job", args=[job.pk])).text
    assert re.search(r'<option value="buckets"[^>]*>Buckets</option>', page)


def test_import_unknown_bucket_is_a_row_error(client, job):
    client.post(reverse("contact_import_map", args=[job.pk]), MAPPING)
    check = client.get(reverse("contact_import_job", args=[job.pk])).context["check"]
    assert [row for row, _, _ in check.ready] == [2, 3, 5]
    assert [(e.row, e.field, e.message) for e in check.errors] == [
        (4, "Buckets", "The team has no team-wide bucket named “Nope”.")
    ]


def test_import_places_contacts_in_their_rows_buckets(
    client, job, placed, django_capture_on_commit_callbacks
):
    client.post(reverse("contact_import_map", args=[job.pk]), MAPPING)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("contact_import_run", args=[job.pk])).status_code == 302
    ann, bob, di = (Contact.objects.get(email=f"{n}@example.net") for n in ("ann", "bob", "di"))
    # (Routing then assigns them: their Agent's "My leads" holds them too.)
    assert names_of(ann) - {svc.MY_LEADS} == {"Zillow leads", "Hot"}
    assert names_of(bob) - {svc.MY_LEADS} == {"Zillow leads", "Hot"}
    assert names_of(di) - {svc.MY_LEADS} == set()
    assert not Contact.objects.filter(email="cy@example.net").exists()
    assert BucketContact.objects.get(contact=ann, bucket__name="Hot").via == BucketVia.IMPORT
    assert ann.timeline.filter(message="Placed in bucket “Hot” by CSV import.").exists()
    # One announcement per bucket, with every contact placed in it.
    assert sorted((name, sorted(emails)) for name, emails, via in placed if via == "import") == [
        ("Hot", ["ann@example.net", "bob@example.net"]),
        ("Zillow leads", ["ann@example.net", "bob@example.net"]),
    ]
