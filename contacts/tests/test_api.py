"""The JSON API: create (store first, route after), read, list, auth and bad input."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from contacts.models import Contact, ContactStatus, RejectedPayload
from contacts.tests.factories import ContactFactory
from contacts.tests.intake_helpers import (
    CONTACTS_URL,
    LEAD,
    make_token,
    post_lead,
    routing_scheduled,
)
from routing import engine
from routing.models import ContactRouting, LogEvent, RoutingStatus
from routing.sweeps import waiting_sweep
from routing.tests.helpers import rule
from teams.tokens import api_token_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(team):
    return make_token(team)


@pytest.fixture
def routed_to_agent(team, agent):
    return rule(team, "Website leads", agent, sources=["Website"])


def _auth(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# --- create ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_contact_create_stores_routes_and_answers_201(client, token, agent, routed_to_agent):
    # Real commits: the contact commits, routing runs on commit (django-q2 in sync
    # mode here). The answer says what was committed, from memory: not routed yet.
    response = post_lead(client, LEAD, token=token)

    assert response.status_code == 201
    body = response.json()
    contact = Contact.objects.get()
    assert body["id"] == contact.pk
    assert response["Location"] == f"{CONTACTS_URL}/{contact.pk}"
    assert body["deduplicated"] is False
    assert (body["routing_status"], body["primary_agent"]) == (RoutingStatus.RECEIVED, None)
    assert body["email"] == "lena@example.net"
    assert body["tags"] == ["hot"]
    assert (body["price_min"], body["price_max"]) == (300000, 450000)
    assert contact.timeline.filter(kind="inquiry", data__text=LEAD["message"]).exists()
    # Routing ran after the commit: reading the contact shows its agent.
    detail = client.get(response["Location"], **_auth(token)).json()
    assert detail["routing_status"] == RoutingStatus.ASSIGNED
    assert detail["primary_agent"] == {
        "id": agent.pk,
        "name": "Alan Agent",
        "email": agent.user.email,
    }
    # Built from memory, the rest of the body is what a read of the stored contact gives.
    stored = (set(body) & set(detail)) - {"routing_status", "primary_agent", "assigned_at"}
    assert {k: body[k] for k in stored} == {k: detail[k] for k in stored}
    assert len(stored) == 15


def test_contact_create_commits_before_routing_runs(
    client, token, routed_to_agent, django_capture_on_commit_callbacks
):
    # Routing is queued on commit; here the queue is not run, as when the worker is down.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_lead(client, LEAD, token=token)

    assert response.status_code == 201
    assert response.json()["routing_status"] == RoutingStatus.RECEIVED
    assert response.json()["primary_agent"] is None
    assert Contact.objects.filter(pk=response.json()["id"]).exists()
    # The routing task is enqueued only after the commit.
    assert routing_scheduled(callbacks)


@pytest.mark.django_db(transaction=True)
def test_contact_create_routing_failure_leaves_contact_failed_then_swept(
    client, token, agent, routed_to_agent, monkeypatch
):
    real_route = engine.route

    def broken(*args, **kwargs):
        raise RuntimeError("rules table on fire")

    monkeypatch.setattr(engine, "route", broken)
    response = post_lead(client, LEAD, token=token)

    assert response.status_code == 201
    contact = Contact.objects.get(pk=response.json()["id"])
    assert contact.routing.status == RoutingStatus.FAILED
    assert "RuntimeError: rules table on fire" in contact.routing.error
    assert contact.routing_logs.filter(event=LogEvent.FAILED).exists()
    assert response.json()["routing_status"] == RoutingStatus.RECEIVED  # as committed
    detail = client.get(f"{CONTACTS_URL}/{contact.pk}", **_auth(token)).json()
    assert detail["routing_status"] == RoutingStatus.FAILED

    monkeypatch.setattr(engine, "route", real_route)
    waiting_sweep(now=datetime.now(tz=UTC) + timedelta(minutes=5))
    contact.routing.refresh_from_db()
    assert contact.routing.status == RoutingStatus.ASSIGNED


def test_contact_create_without_source_is_api(client, token):
    response = post_lead(client, {"email": "a@example.net"}, token=token)

    assert response.status_code == 201
    assert response.json()["source"] == "API"


# --- authentication and access --------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "Bearer sb_unknown-token-0000000000000000000000000", "Basic dXNlcjpwdw==", "Bearer"],
)
def test_contact_create_without_valid_token_is_401_and_kept(client, db, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}

    response = post_lead(client, LEAD, **extra)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"] == "Missing, unknown or revoked API token."
    assert not Contact.objects.exists()
    rejected = RejectedPayload.objects.get()
    assert (rejected.status, rejected.team, rejected.endpoint) == (401, None, CONTACTS_URL)
    assert "lena@example.net" in rejected.body


def test_revoked_token_is_401(client, team):
    token = make_token(team)
    api_token_revoke(actor=None, token=team.api_tokens.get())

    assert post_lead(client, LEAD, token=token).status_code == 401
    assert client.get(CONTACTS_URL, **_auth(token)).status_code == 401


def test_read_only_token_cannot_create_403(client, team):
    response = post_lead(client, LEAD, token=make_token(team, access="read"))

    assert response.status_code == 403
    assert not Contact.objects.exists()
    assert RejectedPayload.objects.get().team == team


def test_intake_only_token_cannot_read_403(client, team):
    token = make_token(team, access="intake")
    contact = ContactFactory(team=team)

    assert client.get(CONTACTS_URL, **_auth(token)).status_code == 403
    assert client.get(f"{CONTACTS_URL}/{contact.pk}", **_auth(token)).status_code == 403
    assert post_lead(client, LEAD, token=token).status_code == 201


# --- bad input ------------------------------------------------------------------------


def test_contact_create_invalid_fields_400_with_field_errors(client, token, team):
    data = {**LEAD, "email": "not-an-email", "price_min": -5, "contact_type": "alien", "x": 1}

    response = post_lead(client, data, token=token)

    assert response.status_code == 400
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(errors) == {"email", "price_min", "contact_type", "x"}
    assert errors["email"].endswith("Enter a valid email address.")
    assert not Contact.objects.exists()
    rejected = RejectedPayload.objects.get()
    assert (rejected.status, rejected.team) == (400, team)
    assert {e["field"] for e in rejected.errors} == set(errors)
    assert "not-an-email" in rejected.body


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"first_name": "No Way To Reach"}, "email"),
        ({"email": "a@example.net", "price_min": 5, "price_max": 4}, "price_max"),
        ({"phone": "12"}, "phone"),
        ({"email": "a@example.net", "tags": [""]}, "tags.0"),
        ({"email": "a@example.net", "first_name": "x" * 81}, "first_name"),
        ({"email": "a@example.net", "city": "Nul\x00City"}, "city"),
        ([LEAD], "body"),
    ],
)
def test_contact_create_field_errors(client, token, data, field):
    response = post_lead(client, data, token=token)

    assert response.status_code == 400
    assert field in {e["field"] for e in response.json()["errors"]}


def test_contact_create_invalid_json_400(client, token):
    response = post_lead(client, b'{"email": ', token=token)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body"
    assert RejectedPayload.objects.get().body == '{"email": '


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "application/xml"]
)
def test_contact_create_wrong_content_type_415(client, token, content_type):
    response = post_lead(client, "email=a@example.net", token=token, content_type=content_type)

    assert response.status_code == 415
    assert RejectedPayload.objects.get().content_type == content_type


def test_contact_create_accepts_json_with_charset(client, token):
    response = post_lead(client, LEAD, token=token, content_type="application/json; charset=utf-8")

    assert response.status_code == 201


def test_contact_create_body_too_large_413(client, token, settings):
    settings.INTAKE_MAX_BODY_BYTES = 100

    response = post_lead(client, LEAD, token=token)

    assert response.status_code == 413
    assert RejectedPayload.objects.get().status == 413


def test_rejected_payload_body_is_capped(client, settings):
    settings.INTAKE_REJECTED_BODY_BYTES = 10

    post_lead(client, LEAD)

    rejected = RejectedPayload.objects.get()
    assert len(rejected.body) == 10
    assert rejected.body_truncated


# --- read -----------------------------------------------------------------------------


def test_contact_detail_shows_agent_and_routing_log(
    client, token, agent, routed_to_agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        contact_id = post_lead(client, LEAD, token=token).json()["id"]

    response = client.get(f"{CONTACTS_URL}/{contact_id}", **_auth(token))

    assert response.status_code == 200
    body = response.json()
    assert body["routing_status"] == "assigned"
    assert body["primary_agent"]["id"] == agent.pk
    events = [entry["event"] for entry in body["routing_log"]]
    assert events == ["rule_matched", "assigned"]
    assert body["routing_log"][-1]["agent_id"] == agent.pk
    assert body["routing_log"][0]["rule"] == "Website leads"


def test_contact_detail_unassigned_has_null_agent(client, token, team):
    contact = ContactFactory(team=team)

    body = client.get(f"{CONTACTS_URL}/{contact.pk}", **_auth(token)).json()

    assert body["primary_agent"] is None
    assert body["routing_log"] == []


def test_contact_detail_of_other_team_is_404(client, token, outsider):
    theirs = ContactFactory(team=outsider.team)

    response = client.get(f"{CONTACTS_URL}/{theirs.pk}", **_auth(token))

    assert response.status_code == 404
    assert client.get(f"{CONTACTS_URL}/999999", **_auth(token)).status_code == 404


def test_contact_list_filters_and_paginates(client, token, team, outsider):
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    with time_machine.travel(t0, tick=False):
        old = ContactFactory(team=team, source="Zillow")
    with time_machine.travel(t0 + timedelta(days=2), tick=False):
        closed = ContactFactory(team=team, source="Zillow", status=ContactStatus.CLOSED)
        failed = ContactFactory(team=team, source="Facebook")
    ContactRouting.objects.filter(contact=failed).update(status=RoutingStatus.FAILED)
    ContactFactory(team=outsider.team, source="Zillow")

    def ids(**params):
        response = client.get(CONTACTS_URL, params, **_auth(token))
        assert response.status_code == 200, response.json()
        return [item["id"] for item in response.json()["items"]]

    assert ids() == [failed.pk, closed.pk, old.pk]
    assert ids(source="Zillow") == [closed.pk, old.pk]
    assert ids(status="closed") == [closed.pk]
    assert ids(routing_status="failed") == [failed.pk]
    assert ids(created_since="2026-03-02T00:00:00Z") == [failed.pk, closed.pk]
    assert ids(created_since="2026-03-02T00:00:00") == [failed.pk, closed.pk]
    assert ids(limit=2) == [failed.pk, closed.pk]
    page = client.get(CONTACTS_URL, {"limit": 2, "offset": 2}, **_auth(token)).json()
    assert (page["count"], page["limit"], page["offset"]) == (3, 2, 2)
    assert [item["id"] for item in page["items"]] == [old.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 101}, "limit"),
        ({"status": "bogus"}, "status"),
        ({"created_since": "yesterday"}, "created_since"),
        ({"offset": -1}, "offset"),
    ],
)
def test_contact_list_bad_filters_400(client, token, params, field):
    response = client.get(CONTACTS_URL, params, **_auth(token))

    assert response.status_code == 400
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not RejectedPayload.objects.exists()  # reads are not payloads


def test_contact_list_query_budget(client, team, agent, django_assert_num_queries):
    token = make_token(team)
    client.get(CONTACTS_URL, **_auth(token))  # stamps last_used_at
    for _ in range(5):
        contact = ContactFactory(team=team)
        contact.roles.create(membership=agent, kind="agent")
        contact.tags.create(team=team, name=f"tag-{contact.pk}")

    # rate limits are for intake only; token, count, page, tags, agents
    with django_assert_num_queries(5):
        response = client.get(CONTACTS_URL, **_auth(token))

    assert len(response.json()["items"]) == 5


# --- docs -----------------------------------------------------------------------------


def test_openapi_docs_are_served(client, db):
    assert client.get("/api/docs").status_code == 200
    spec = client.get("/api/openapi.json").json()

    assert {"/api/v1/contacts", "/api/v1/contacts/{contact_id}", "/api/v1/webhooks/{slug}"} <= set(
        spec["paths"]
    )
    post = spec["paths"]["/api/v1/contacts"]["post"]
    body_schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert "$defs" not in body_schema  # inline, so every OpenAPI tool can resolve it
    assert spec["components"]["securitySchemes"]["ApiTokenAuth"]["scheme"] == "bearer"


def test_contact_list_created_since_with_any_utc_offset(client, token, team):
    ContactFactory(team=team)

    response = client.get(
        CONTACTS_URL, {"created_since": "2000-03-04T05:11:12-23:37"}, **_auth(token)
    )

    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_bench_yardstick_endpoint_is_not_served_by_the_product(client, db):
    # bench/urls.py adds it for bench/intake_lean.py only (bench.settings_lean).
    response = client.post("/bench/bare", data={"team": 1}, content_type="application/json")

    assert response.status_code == 404
