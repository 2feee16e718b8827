"""Query budgets of intake: what one lead costs the database, statement by statement.

On PostgreSQL with real commits (django_db(transaction=True)), so the work after the
commit (routing's wake-up, the answer) runs as in production. Tests run django-q2 in
sync mode, where the route task a wake-up queues would run inline, inside the request:
it is patched out here, and any django_q_* statement is ignored. Routing's own budget
is measured by bench/run.py. BEGIN, COMMIT, ROLLBACK and SAVEPOINT lines are not
counted (a new lead has no savepoint: that is asserted too).

Statements of a new lead sent with a Bearer token, without an Idempotency-Key:

    token           SELECT the API token (with its team)
    rate limits     one upsert counting the client IP and the token
    dedup lock      pg_advisory_xact_lock: one statement, every dedup key of the lead
    dedup query     one SELECT: source lead id, email, phone and name
    contact         INSERT the contact
    routing row     INSERT its routing row (routing's post_save receiver)
    timeline        INSERT "created" (and the lead's inquiry when it has a message)
    wake-up         UPDATE the team's wake flag, after commit (routing); in production
                    an idle router also gets a django_q_ormq INSERT (the task)

The 201 is built from those objects: nothing is read back.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, Tag
from contacts.tests.intake_helpers import LEAD, make_source, make_token, post_lead, post_webhook
from routing.tests.helpers import rule

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NEW_LEAD_BUDGET = 8
PLAIN = {
    "first_name": "Bench",
    "last_name": "Lead",
    "email": "bench.lead@example.net",
    "source": "Zillow",
    "city": "Austin",
}
NEW_LEAD = [
    "token",
    "rate limits",
    "dedup lock",
    "dedup query",
    "contact",
    "routing row",
    "timeline",
    "wake-up",
]

NAMES = [
    ("token", r'FROM "teams_apitoken"'),
    ("lead source", r'FROM "contacts_leadsource"'),
    ("rate limits", r'INSERT INTO "contacts_ratelimitcounter"'),
    ("key claim", r'INSERT INTO "contacts_idempotencykey"'),
    ("signature claim", r'INSERT INTO "contacts_webhookdelivery"'),
    ("key read", r'FROM "contacts_idempotencykey"'),
    ("key done", r'UPDATE "contacts_idempotencykey"'),
    ("dedup lock", r"pg_advisory_xact_lock"),
    ("dedup query", r'AS "rank" FROM "contacts_contact"'),
    ("contact", r'INSERT INTO "contacts_contact" \('),
    ("routing row", r'INSERT INTO "routing_contactrouting"'),
    ("tags", r'INSERT INTO "contacts_contact_tags"'),
    ("timeline", r'INSERT INTO "contacts_timelineevent"'),
    ("source lead id", r'INSERT INTO "contacts_externallead"'),
    ("wake-up", r'UPDATE "routing_teamrouting" SET "wake_pending"'),
    ("read back: contact", r'FROM "contacts_contact" LEFT OUTER JOIN "routing_contactrouting"'),
    ("read back: tags", r'AS "_prefetch_related_val_contact_id"'),
]
CONTROL = re.compile(r"^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)\b")


def statement_name(sql: str) -> str:
    for name, pattern in NAMES:
        if re.search(pattern, sql, re.DOTALL):
            return name
    return sql[:80]


def counted(ctx) -> list[str]:
    """Names of the statements that count: not transaction control, not django-q2's."""
    return [
        statement_name(q["sql"])
        for q in ctx.captured_queries
        if not CONTROL.match(q["sql"]) and '"django_q_' not in q["sql"]
    ]


@pytest.fixture
def token(team, agent, client, monkeypatch):
    """A routed team and a token used once (its last_used_at is fresh, as in steady
    state), with the inline route task patched out."""
    monkeypatch.setattr("routing.tasks.route_team", lambda *args, **kwargs: 0)
    rule(team, "Everyone", agent)
    plain = make_token(team)
    assert post_lead(client, {"email": "warm@example.net"}, token=plain).status_code == 201
    return plain


def test_new_lead_budget(client, token):
    with CaptureQueriesContext(connection) as ctx:
        response = post_lead(client, PLAIN, token=token)

    assert response.status_code == 201
    assert counted(ctx) == NEW_LEAD
    assert len(counted(ctx)) <= NEW_LEAD_BUDGET
    assert not [q for q in ctx.captured_queries if "SAVEPOINT" in q["sql"]]
    assert response.json()["id"] == Contact.objects.get(email=PLAIN["email"]).pk


def test_new_lead_with_phone_message_and_known_tag_budget(client, token, team):
    Tag.objects.create(team=team, name="hot")

    with CaptureQueriesContext(connection) as ctx:
        response = post_lead(client, LEAD, token=token)

    assert response.status_code == 201
    # Phone and name join the same dedup query and lock statement; the message joins the
    # timeline insert; the tags are one INSERT … SELECT (two more when a tag is new).
    assert counted(ctx) == [*NEW_LEAD[:6], "tags", *NEW_LEAD[6:]]
    assert response.json()["tags"] == ["hot"]


def test_new_lead_with_redis_rate_limits_budget(client, token, settings):
    settings.REDIS_URL = "redis://rate-limits.invalid:6379/0"  # counted in the cache
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

    with CaptureQueriesContext(connection) as ctx:
        response = post_lead(client, PLAIN, token=token)

    assert response.status_code == 201
    assert counted(ctx) == [name for name in NEW_LEAD if name != "rate limits"]


def test_duplicate_lead_budget(client, token):
    post_lead(client, PLAIN, token=token)

    with CaptureQueriesContext(connection) as ctx:
        response = post_lead(client, {**PLAIN, "message": "Again"}, token=token)

    assert response.status_code == 200
    assert response.json()["deduplicated"] is True
    names = counted(ctx)
    # Before the transaction: token, rate limits. In it: lock, dedup query, the inquiry
    # on the timeline, then routing's receiver logs it (its own few statements). After
    # commit the answer reads the contact back (its agent and routing may have changed):
    # contact with routing, tags, agent.
    assert names[:5] == ["token", "rate limits", "dedup lock", "dedup query", "timeline"]
    assert names[-3:-1] == ["read back: contact", "read back: tags"]
    assert "contact" not in names
    assert "wake-up" not in names
    assert len(names) <= 12


def test_idempotency_key_budgets(client, token):
    with CaptureQueriesContext(connection) as first:
        created = post_lead(client, PLAIN, token=token, key="form-1")
    with CaptureQueriesContext(connection) as again:
        replayed = post_lead(client, PLAIN, token=token, key="form-1")

    assert (created.status_code, replayed.status_code) == (201, 201)
    assert replayed["Idempotent-Replayed"] == "true"
    assert replayed.json() == created.json()
    # The key is claimed (committed) before the work and marked done after it.
    assert counted(first) == [*NEW_LEAD[:2], "key claim", *NEW_LEAD[2:], "key done"]
    # A replay: the claim finds the key taken, one read gives the stored answer.
    assert counted(again) == ["token", "rate limits", "key claim", "key read"]


def test_webhook_new_lead_budget(client, token, team):
    source = make_source(team)
    post_webhook(client, source, {"lead_id": "warm", "email": "warm.hook@example.net"})

    with CaptureQueriesContext(connection) as ctx:
        response = post_webhook(client, source, {"lead_id": "z-1", **PLAIN})

    assert response.status_code == 201
    assert (
        counted(ctx)
        == [
            "lead source",
            "signature claim",  # remembered, so the same signed request is refused later
            "rate limits",  # the client IP and the lead source, once the signature is checked
            *NEW_LEAD[2:7],
            "source lead id",
            "wake-up",
        ]
    )
