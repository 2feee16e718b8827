"""CSV import: upload → preview and mapping → errors per row → import (routed or assigned)."""

import re
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts.intake import csv_parse, import_guess_mapping
from contacts.models import Contact, ContactRole, ImportJob, ImportStatus, TimelineEvent
from contacts.tests.factories import ContactFactory
from contacts.tests.intake_helpers import routing_scheduled
from routing.models import ContactRouting, LogEvent, RoutingLog, RoutingStatus
from routing.tests.helpers import agent_of, log_lines, rule
from teams.models import Role
from teams.tests.factories import PermissionProfileFactory, UserFactory, make_member

pytestmark = pytest.mark.django_db

CSV = (
    "First Name,Last Name,E-mail,Phone,Type,Price Max,Tags,Notes\n"
    "Ann,Able,ann@example.net,512-555-0101,Buyer,500000,hot; pool,x\n"
    "Bob,Baker,not-an-email,,Seller,,,\n"
    ",,,,,,,\n"
    "Cy,Cole,,512-555-0103,alien,lots,,\n"
    "Di,Dunn,DI@example.net,,renter,,,\n"
    "Di,Dunn,di@example.net,,renter,,,\n"
    "Eve,Existing,eve@example.net,,,,,\n"
)
MAPPING = {
    "col_0": "first_name",
    "col_1": "last_name",
    "col_2": "email",
    "col_3": "phone",
    "col_4": "contact_type",
    "col_5": "price_max",
    "col_6": "tags",
    "col_7": "",
    "default_source": "Open house",
}


def _upload(client, text=CSV, name="leads.csv"):
    file = SimpleUploadedFile(name, text.encode(), content_type="text/csv")
    return client.post(reverse("contact_import_upload"), {"file": file})


@pytest.fixture
def job(client, admin_member, team):
    ContactFactory(team=team, email="Eve@Example.net")
    client.force_login(admin_member.user)
    response = _upload(client)
    assert response.status_code == 302
    return ImportJob.objects.get()


# --- access -------------------------------------------------------------------------


def _urls(job_id):
    return [
        ("get", reverse("contact_import")),
        ("post", reverse("contact_import_upload")),
        ("get", reverse("contact_import_job", args=[job_id])),
        ("post", reverse("contact_import_map", args=[job_id])),
        ("post", reverse("contact_import_run", args=[job_id])),
    ]


def test_import_pages_anonymous_redirect_to_login(client, job):
    client.logout()
    for method, url in _urls(job.pk):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login"))


def test_import_pages_forbidden_to_agents(client, agent, job):
    client.force_login(agent.user)
    for method, url in _urls(job.pk):
        assert getattr(client, method)(url).status_code == 403, url


def test_import_job_of_other_team_is_404(client, outsider, job):
    client.force_login(outsider.user)
    for method, url in _urls(job.pk)[2:]:
        assert getattr(client, method)(url).status_code == 404, url


def test_import_mutations_answer_get_with_405(client, job):
    for _, url in _urls(job.pk)[1::2] + _urls(job.pk)[4:]:
        assert client.get(url).status_code == 405, url


def test_import_start_page_lists_recent_imports(client, job):
    response = client.get(reverse("contact_import"))

    assert response.status_code == 200
    assert "leads.csv" in response.content.decode()


# --- upload and preview -------------------------------------------------------------


def test_upload_shows_preview_and_guessed_mapping(client, job):
    assert job.header[:3] == ["First Name", "Last Name", "E-mail"]
    assert len(job.rows) == 7
    assert job.mapping == {
        "0": "first_name",
        "1": "last_name",
        "2": "email",
        "3": "phone",
        "4": "contact_type",
        "5": "price_max",
        "6": "tags",
    }

    response = client.get(reverse("contact_import_job", args=[job.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "ann@example.net" in body
    assert "not-an-email" in body
    assert "eve@example.net" not in body  # the preview stops at five rows
    assert response.context["form"]["col_2"].initial == "email"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file needs a header row and at least one contact."),
        ("email\n", "The file needs a header row and at least one contact."),
    ],
)
def test_upload_unusable_file_shows_error(client, admin_member, text, message):
    client.force_login(admin_member.user)

    response = _upload(client, text)

    assert response.status_code == 200
    assert message in response.content.decode() or "The submitted file is empty." in (
        response.content.decode()
    )
    assert not ImportJob.objects.exists()


def test_csv_parse_reads_semicolons_bom_and_windows_1252(settings):
    header, rows = csv_parse(data="\ufeffName;Email\nJosé;j@x.net\n".encode())
    assert (header, rows) == (["Name", "Email"], [["José", "j@x.net"]])

    header, rows = csv_parse(data="Name,Email\nJos\xe9,j@x.net\n".encode("cp1252"))
    assert rows == [["José", "j@x.net"]]

    settings.IMPORT_MAX_ROWS = 1
    with pytest.raises(ValidationError, match="At most 1 contacts"):
        csv_parse(data=b"email\na@x.net\nb@x.net\n")


def test_guess_mapping_takes_each_field_once():
    assert import_guess_mapping(["Email", "email address", "Full Name", "Zip"]) == {
        "0": "email",
        "2": "full_name",
        "3": "zip_code",
    }


# --- mapping and errors per row --------------------------------------------------------


def test_map_then_errors_per_row_with_row_number_field_and_message(client, job):
    response = client.post(reverse("contact_import_map", args=[job.pk]), MAPPING)
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.MAPPED
    assert job.default_source == "Open house"

    page = client.get(reverse("contact_import_job", args=[job.pk]))

    check = page.context["check"]
    assert [row for row, _, _ in check.ready] == [2, 6]
    assert [(e.row, e.field, e.message) for e in check.errors] == [
        (3, "E-mail", "Enter a valid email address."),
        (5, "Type", "“alien” is not one of buyer, seller, renter, investor."),
        (5, "Price Max", "“lots” is not a whole number."),
    ]
    assert [row for row, _ in check.duplicates] == [7, 8]
    assert check.duplicates[0][1] == "same email as row 6"
    assert check.duplicates[1][1].startswith("same email as contact #")
    body = page.content.decode()
    assert "“alien” is not one of buyer, seller, renter, investor." in body
    assert "Import 2 contacts" in body


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"col_2": "", "col_3": ""}, "Map a column to Email or Phone"),
        ({"col_1": "email"}, "Map each field once: Email."),
        ({"col_7": "full_name"}, "Map Full name, or First and Last name, not both."),
    ],
)
def test_map_rejects_bad_mapping(client, job, change, error):
    response = client.post(reverse("contact_import_map", args=[job.pk]), {**MAPPING, **change})

    assert response.status_code == 200
    assert error in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.UPLOADED


# --- import ---------------------------------------------------------------------------


def test_import_routes_contacts_like_any_other(
    client, job, team, agent, django_capture_on_commit_callbacks
):
    rule(team, "Open house", agent, sources=["Open house"])
    client.post(reverse("contact_import_map", args=[job.pk]), MAPPING)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("contact_import_run", args=[job.pk]))

    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.created_count, job.skipped_count) == ("imported", 2, 4)
    ann = Contact.objects.get(email="ann@example.net")
    assert (ann.source, ann.contact_type, ann.price_max) == ("Open house", "buyer", 500000)
    assert sorted(ann.tags.values_list("name", flat=True)) == ["hot", "pool"]
    assert ann.routing.status == RoutingStatus.ASSIGNED
    assert ann.routing.rule.name == "Open house"
    assert agent_of(ann) == agent
    assert ("rule_matched", "Open house") in [line[:2] for line in log_lines(ann)]
    assert ann.timeline.filter(kind="created", message="Contact imported.").exists()
    assert Contact.objects.filter(email="di@example.net").count() == 1


def test_import_runs_once(client, job, django_capture_on_commit_callbacks):
    client.post(reverse("contact_import_map", args=[job.pk]), MAPPING)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("contact_import_run", args=[job.pk]))
        response = client.post(reverse("contact_import_run", args=[job.pk]), follow=True)

    assert "imported already" in response.content.decode()
    assert Contact.objects.count() == 3  # Eve, plus the two ready rows once


def test_import_unmapped_job_cannot_run(client, job):
    response = client.post(reverse("contact_import_run", args=[job.pk]), follow=True)

    assert "not mapped" in response.content.decode()
    assert Contact.objects.count() == 1


def test_import_assigned_to_named_agent_is_not_routed(
    client, job, team, agent, django_capture_on_commit_callbacks
):
    other = make_member(team)
    rule(team, "Would route elsewhere", other)
    client.post(reverse("contact_import_map", args=[job.pk]), {**MAPPING, "assign_to": agent.pk})

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.post(reverse("contact_import_run", args=[job.pk]))

    assert not routing_scheduled(callbacks)
    imported = Contact.objects.filter(source="Open house")
    assert imported.count() == 2
    for contact in imported:
        assert contact.routing.status == RoutingStatus.ASSIGNED
        assert contact.routing.rule is None
        assert agent_of(contact) == agent
        assert list(contact.routing_logs.values_list("event", flat=True)) == [LogEvent.ASSIGNED]
    assert not [
        line for entry in RoutingLog.objects.all() for line in entry.lines if line.kind != "outcome"
    ]  # no rule was looked at: no rule matched, skipped or fell through
    assert "assigned directly by Ada Admin" in imported[0].routing_logs.get().reason


def test_import_team_manager_without_lead_distribution_cannot_assign(client, team, agent):
    profile = PermissionProfileFactory(team=team, manage_team=True)
    manager = make_member(team, role=Role.ADMIN, user=UserFactory(username="mgr"), profile=profile)
    client.force_login(manager.user)
    _upload(client)
    job = ImportJob.objects.get()

    page = client.get(reverse("contact_import_job", args=[job.pk]))
    assert "assign_to" not in page.context["form"].fields

    client.post(reverse("contact_import_map", args=[job.pk]), {**MAPPING, "assign_to": agent.pk})
    job.refresh_from_db()
    assert job.assign_to is None


_STATEMENT = re.compile(
    r'^(?:DECLARE "\w+" NO SCROLL CURSOR (?:WITH HOLD )?FOR )?'  # PostgreSQL: .iterator()
    r'(SELECT|INSERT(?: OR IGNORE)? INTO|UPDATE|DELETE FROM|(?:RELEASE )?SAVEPOINT)\s+"?(\w*)'
)


def _shapes(queries) -> Counter:
    """Statements by kind and table (savepoint names aside)."""
    shapes = Counter()
    for query in queries:
        match = _STATEMENT.match(query["sql"])
        assert match, query["sql"]
        verb, table = match.groups()
        shapes[(verb, "" if "SAVEPOINT" in verb else table)] += 1
    return shapes


def _bulk_csv(count: int, first: int) -> str:
    rows = "".join(
        f"Lead{n},Row,lead{n}@example.net,hot; pool\n" for n in range(first, first + count)
    )
    return "First Name,Last Name,Email,Tags\n" + rows


def _run_assigned_import(client, agent, count, first, capture):
    """Upload, map to `agent` and import `count` rows; the statements the import ran."""
    _upload(client, _bulk_csv(count, first), name=f"{count}.csv")
    job = ImportJob.objects.get(filename=f"{count}.csv")
    mapping = {"col_0": "first_name", "col_1": "last_name", "col_2": "email", "col_3": "tags"}
    client.post(
        reverse("contact_import_map", args=[job.pk]),
        {**mapping, "default_source": "Bulk", "assign_to": agent.pk},
    )
    with CaptureQueriesContext(connection) as queries, capture(execute=False) as callbacks:
        response = client.post(reverse("contact_import_run", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.created_count) == (ImportStatus.IMPORTED, count)
    return _shapes(queries.captured_queries), callbacks


def test_import_assigned_to_one_agent_costs_the_same_statements_for_5_or_50_rows(
    client, job, team, agent, django_capture_on_commit_callbacks
):
    other = make_member(team)
    elsewhere = rule(team, "Would route elsewhere", other)

    # A first import warms what any import does once (tags created, routing state cached).
    _run_assigned_import(client, agent, 1, 1, django_capture_on_commit_callbacks)
    small, small_callbacks = _run_assigned_import(
        client, agent, 5, 100, django_capture_on_commit_callbacks
    )
    large, large_callbacks = _run_assigned_import(
        client, agent, 50, 200, django_capture_on_commit_callbacks
    )

    # One batch whatever the number of rows: the same statements for 50 rows as for 5.
    assert set(large) == set(small)
    grew = {shape: large[shape] - small[shape] for shape in large if large[shape] != small[shape]}
    if connection.vendor == "postgresql":
        assert grew == {}
    else:
        # SQLite caps a statement at 999 parameters, so Django splits a bulk insert of
        # many rows (here the 150 outbox rows: 3 a contact, and the routing rows) into a
        # few statements, more as the rows gain columns.
        assert {verb for verb, _ in grew} <= {"INSERT INTO", "INSERT OR IGNORE INTO"}, grew
        assert sum(grew.values()) <= 6, grew
    assert len(large_callbacks) == len(small_callbacks)
    assert not routing_scheduled(large_callbacks)
    imported = Contact.objects.filter(source="Bulk")
    assert imported.count() == 56
    routings = ContactRouting.objects.filter(contact__in=imported)
    assert routings.count() == 56
    assert set(routings.values_list("status", "rule", "assigned_by")) == {
        (RoutingStatus.ASSIGNED, None, agent.team.memberships.get(user__username="admin").pk)
    }
    roles = ContactRole.objects.filter(contact__in=imported, kind="agent")
    assert roles.count() == 56
    assert set(roles.values_list("membership", flat=True)) == {agent.pk}
    assigned = TimelineEvent.objects.filter(contact__in=imported, kind="assigned")
    assert assigned.count() == 56
    assert {e.message for e in assigned} == {
        "Assigned to Alan Agent — imported and assigned directly by Ada Admin."
    }
    logs = RoutingLog.objects.filter(contact__in=imported)
    assert logs.count() == 56
    assert {(e.event, e.membership_id, e.rule_id, repr(e.steps)) for e in logs} == {
        (LogEvent.ASSIGNED, agent.pk, None, "[]")
    }
    # Nobody was routed by a rule: the rule that would have taken them took no turn.
    elsewhere.rotation.refresh_from_db()
    assert (elsewhere.rotation.turns, elsewhere.rotation.counts) == (0, {})
    assert sorted(imported.first().tags.values_list("name", flat=True)) == ["hot", "pool"]
