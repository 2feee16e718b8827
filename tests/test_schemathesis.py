"""Schemathesis against the served OpenAPI spec: valid and invalid requests to every
operation, through the WSGI app, and not one server error."""

import json
import time
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, assume, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from config.wsgi import application
from contacts.intake import webhook_signature
from contacts.tests.factories import ContactFactory
from contacts.tests.intake_helpers import make_source, make_token

pytestmark = pytest.mark.django_db

EXAMPLES = 20  # per operation and mode: about 160 requests, well under a minute


@contextmanager
def _test_transaction_kept():
    """Schemathesis calls the real WSGI app, whose request signals would close the
    connection holding the test's transaction: unhook them, as Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _webhook_call(case, source):
    """Signed with the source's secret, so generated leads get past the signature."""
    try:
        body = json.dumps(case.body).encode()
    except (TypeError, ValueError):
        assume(False)
    headers = {
        f"HTTP_{name.upper().replace('-', '_')}": value
        for name, value in (case.headers or {}).items()
        if name.lower() not in {"content-type", "x-switchboard-signature"}
    }
    return Client().post(
        f"/api/v1/webhooks/{source.slug}",
        data=body,
        content_type="application/json",
        HTTP_X_SWITCHBOARD_SIGNATURE=webhook_signature(
            secret=source.secret, body=body, timestamp=int(time.time())
        ),
        **headers,
    )


def _fuzz(operation, mode, *, auth, source, seen):
    """One operation in one mode: generated requests, each answered without a server error."""
    signed = operation.path.startswith("/api/v1/webhooks") and mode == GenerationMode.POSITIVE

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        if signed:
            response = _webhook_call(case, source)
            assert response.status_code < 500, (case.body, response.content)
            seen.append(response.status_code)
            return
        with _test_transaction_kept():
            response = case.call(headers=auth)
        checks = [not_a_server_error]
        if mode == GenerationMode.POSITIVE:
            checks.append(response_schema_conformance)
        case.validate_response(response, checks=checks)
        seen.append(response.status_code)

    run()


def test_api_answers_generated_requests_without_server_errors(team, settings):
    settings.INTAKE_RATE_LIMIT_PER_IP = settings.INTAKE_RATE_LIMIT_PER_TOKEN = 0
    token = make_token(team)
    source = make_source(team)
    ContactFactory.create_batch(3, team=team)
    with _test_transaction_kept():
        schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)
    seen = []

    for result in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(
                result.ok(),
                mode,
                auth={"Authorization": f"Bearer {token}"},
                source=source,
                seen=seen,
            )

    # The fuzzing reached past validation: contacts were created, deduplicated, read.
    assert {200, 201, 400} <= set(seen)
