"""Every error under /api/ answers JSON in the API's shape, whatever DEBUG says: unhandled
exceptions (500 with a request id, logged with their traceback), unknown paths (404),
methods an endpoint does not take (405), failures outside the endpoints."""

import logging
import re

import pytest
from django.test import Client
from ninja.errors import HttpError

from api import contacts as api_contacts
from contacts.models import Contact, IdempotencyKey
from contacts.tests.intake_helpers import CONTACTS_URL, LEAD, make_token, post_lead

pytestmark = pytest.mark.django_db

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def token(team):
    return make_token(team)


def _failing(exc):
    def intake(**kwargs):
        raise exc

    return intake


def _error_records(caplog):
    return [r for r in caplog.records if r.name == "api.errors" and r.levelno == logging.ERROR]


@pytest.mark.parametrize("debug", [False, True])
def test_api_unhandled_error_is_500_json_with_the_request_id(
    client, token, settings, monkeypatch, caplog, debug
):
    settings.DEBUG = debug
    monkeypatch.setattr(api_contacts, "lead_intake", _failing(RuntimeError("disk on fire")))

    response = post_lead(client, LEAD, token=token, key="k-1", HTTP_X_REQUEST_ID="req-42.a_b")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response["X-Request-ID"] == "req-42.a_b"
    assert response.json() == {
        "detail": "Internal error. Quote request id req-42.a_b when reporting it.",
        "errors": [],
        "request_id": "req-42.a_b",
    }
    assert b"disk on fire" not in response.content
    (record,) = _error_records(caplog)
    assert record.exc_info[0] is RuntimeError
    assert "disk on fire" in caplog.text  # the traceback's last line
    assert record.request_id == "req-42.a_b"
    assert "req-42.a_b" in record.getMessage()
    assert f"POST {CONTACTS_URL}" in record.getMessage()
    # Nothing was stored, and the key is free for the retry.
    assert not Contact.objects.exists()
    assert not IdempotencyKey.objects.exists()


def test_api_error_after_the_lead_is_stored_keeps_the_lead(client, token, monkeypatch, caplog):
    real_intake, stored = api_contacts.lead_intake, []

    def intake_then_fail(**kwargs):
        stored.append(real_intake(**kwargs))  # committed here
        raise RuntimeError("answer lost")

    monkeypatch.setattr(api_contacts, "lead_intake", intake_then_fail)

    response = post_lead(client, LEAD, token=token)

    assert response.status_code == 500
    assert response.json()["request_id"] == response["X-Request-ID"]
    assert Contact.objects.get() == stored[0].contact
    assert len(_error_records(caplog)) == 1


@pytest.mark.parametrize("sent", ["", "has space", "x" * 65, "ünï", "a/b"])
def test_api_500_request_id_is_generated_when_the_sent_one_is_not_sane(
    client, token, monkeypatch, sent
):
    monkeypatch.setattr(api_contacts, "lead_intake", _failing(RuntimeError("boom")))

    response = post_lead(client, LEAD, token=token, HTTP_X_REQUEST_ID=sent)

    assert response.status_code == 500
    request_id = response["X-Request-ID"]
    assert HEX_ID.fullmatch(request_id)
    assert response.json()["request_id"] == request_id


def test_api_ninja_http_error_answers_the_api_shape(client, token, monkeypatch):
    monkeypatch.setattr(api_contacts, "lead_intake", _failing(HttpError(503, "Try later.")))

    response = post_lead(client, LEAD, token=token)

    assert response.status_code == 503
    assert response.json() == {"detail": "Try later.", "errors": []}


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/nonexistent"),
        ("post", "/api/v1/nope/deeper"),
        ("get", "/api/v1/contacts/"),
        ("get", "/api/"),
    ],
)
def test_api_unknown_path_is_json_404(client, settings, debug, method, path):
    settings.DEBUG = debug

    response = getattr(client, method)(path, HTTP_X_REQUEST_ID="r-404")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "errors": []}
    assert response["X-Request-ID"] == "r-404"


@pytest.mark.parametrize("debug", [False, True])
def test_api_method_not_allowed_is_json_405(client, settings, debug):
    settings.DEBUG = debug

    response = client.delete(CONTACTS_URL)

    assert response.status_code == 405
    assert response.json() == {
        "detail": "Method DELETE not allowed here: use GET, POST.",
        "errors": [],
    }
    assert set(response["Allow"].split(", ")) == {"GET", "POST"}


@pytest.mark.parametrize("debug", [False, True])
def test_api_failure_outside_the_endpoints_is_json_500(settings, monkeypatch, caplog, debug):
    settings.DEBUG = debug

    def broken(**kwargs):
        raise RuntimeError("membership lookup failed")

    monkeypatch.setattr("teams.middleware.membership_for", broken)
    client = Client(raise_request_exception=False)

    response = client.get(CONTACTS_URL, HTTP_X_REQUEST_ID="r-mw")
    page = client.get("/accounts/login/")

    assert response.status_code == 500
    assert response.json() == {
        "detail": "Internal error. Quote request id r-mw when reporting it.",
        "errors": [],
        "request_id": "r-mw",
    }
    # Django logged it where it was raised, traceback and all, once.
    (record,) = [
        r for r in caplog.records if r.name == "django.request" and CONTACTS_URL in r.getMessage()
    ]
    assert record.exc_info[0] is RuntimeError
    # Pages outside the API keep Django's own error page.
    assert page.status_code == 500
    assert not page["Content-Type"].startswith("application/json")


def test_api_success_and_docs_are_left_alone(client, token):
    listed = client.get(CONTACTS_URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    docs = client.get("/api/docs")

    assert listed.status_code == 200
    assert HEX_ID.fullmatch(listed["X-Request-ID"])
    assert docs.status_code == 200
    assert docs["Content-Type"].startswith("text/html")
