import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.tests.intake_helpers import LEAD, make_token, post_lead, make_source, post_webhook
from routing.tests.helpers import rule

PLAIN = {"first_name": "Bench", "last_name": "Lead 1", "email": "lead1@bench.example", "source": "Zillow", "city": "Austin"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("data", [PLAIN, LEAD], ids=["plain", "full"])
def test_show(client, team, agent, data, monkeypatch):
    monkeypatch.setattr("routing.tasks.route_team", lambda *a, **k: 0)
    rule(team, "Everyone", agent)
    token = make_token(team)
    post_lead(client, {"email": "warm@x.net", "tags": ["hot"]}, token=token)
    with CaptureQueriesContext(connection) as ctx:
        r = post_lead(client, data, token=token)
    print(r.status_code)
    for q in ctx.captured_queries:
        print("  ", q["sql"][:150])
    with CaptureQueriesContext(connection) as ctx:
        r = post_lead(client, data, token=token)
    print("DEDUP", r.status_code)
    for q in ctx.captured_queries:
        print("  ", q["sql"][:150])
    with CaptureQueriesContext(connection) as ctx:
        r = post_lead(client, {**data, "email": "k@x.net"}, token=token, key="k1")
    print("KEY", r.status_code)
    for q in ctx.captured_queries:
        print("  ", q["sql"][:150])
    with CaptureQueriesContext(connection) as ctx:
        r = post_lead(client, {**data, "email": "k@x.net"}, token=token, key="k1")
    print("REPLAY", r.status_code)
    for q in ctx.captured_queries:
        print("  ", q["sql"][:150])


@pytest.mark.django_db(transaction=True)
def test_show_webhook(client, team, agent, monkeypatch):
    monkeypatch.setattr("routing.tasks.route_team", lambda *a, **k: 0)
    rule(team, "Everyone", agent)
    source = make_source(team)
    post_webhook(client, source, {"lead_id": "w0", "email": "warm@x.net"})
    with CaptureQueriesContext(connection) as ctx:
        r = post_webhook(client, source, {"lead_id": "w1", "email": "w1@x.net", "first_name": "W"})
    print("WEBHOOK", r.status_code)
    for q in ctx.captured_queries:
        print("  ", q["sql"][:150])
