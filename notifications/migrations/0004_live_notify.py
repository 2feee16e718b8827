"""Triggers that tell the live streams (notifications/live.py) whom a change concerns.

On PostgreSQL each NOTIFYs the channel "switchboard_live" with one membership id:

- an in-app outbox row is written for the member, or read (their bell changes);
- an offer stops being open (claimed, expired, cancelled): each of its recipients;
- an offer recipient row is deleted (the offer went with its contact): that member.

They run inside the statements that cause them, so the routing path runs no extra
statement, and their notifications go out when that transaction commits (none if it
rolls back; the same payload twice in one transaction is sent once). SQLite has no
NOTIFY: the streams poll there, and this migration does nothing.
"""

from django.db import migrations

FORWARD = [
    """
    CREATE OR REPLACE FUNCTION switchboard_live_member() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('switchboard_live', NEW.membership_id::text);
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION switchboard_live_offer_closed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('switchboard_live', r.membership_id::text)
        FROM routing_offerrecipient r
        WHERE r.offer_id = NEW.id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION switchboard_live_recipient_gone() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('switchboard_live', OLD.membership_id::text);
        RETURN NULL;
    END
    $$
    """,
    "DROP TRIGGER IF EXISTS switchboard_live_in_app ON notifications_outboxmessage",
    """
    CREATE TRIGGER switchboard_live_in_app
    AFTER INSERT ON notifications_outboxmessage
    FOR EACH ROW
    WHEN (NEW.channel = 'in_app' AND NEW.membership_id IS NOT NULL)
    EXECUTE FUNCTION switchboard_live_member()
    """,
    "DROP TRIGGER IF EXISTS switchboard_live_in_app_read ON notifications_outboxmessage",
    """
    CREATE TRIGGER switchboard_live_in_app_read
    AFTER UPDATE OF read_at ON notifications_outboxmessage
    FOR EACH ROW
    WHEN (
        NEW.channel = 'in_app'
        AND NEW.membership_id IS NOT NULL
        AND OLD.read_at IS DISTINCT FROM NEW.read_at
    )
    EXECUTE FUNCTION switchboard_live_member()
    """,
    "DROP TRIGGER IF EXISTS switchboard_live_offer_closed ON routing_offer",
    """
    CREATE TRIGGER switchboard_live_offer_closed
    AFTER UPDATE OF status ON routing_offer
    FOR EACH ROW
    WHEN (OLD.status = 'open' AND NEW.status <> 'open')
    EXECUTE FUNCTION switchboard_live_offer_closed()
    """,
    "DROP TRIGGER IF EXISTS switchboard_live_recipient_gone ON routing_offerrecipient",
    """
    CREATE TRIGGER switchboard_live_recipient_gone
    AFTER DELETE ON routing_offerrecipient
    FOR EACH ROW
    EXECUTE FUNCTION switchboard_live_recipient_gone()
    """,
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS switchboard_live_recipient_gone ON routing_offerrecipient",
    "DROP TRIGGER IF EXISTS switchboard_live_offer_closed ON routing_offer",
    "DROP TRIGGER IF EXISTS switchboard_live_in_app_read ON notifications_outboxmessage",
    "DROP TRIGGER IF EXISTS switchboard_live_in_app ON notifications_outboxmessage",
    "DROP FUNCTION IF EXISTS switchboard_live_recipient_gone()",
    "DROP FUNCTION IF EXISTS switchboard_live_offer_closed()",
    "DROP FUNCTION IF EXISTS switchboard_live_member()",
]


def on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0003_kind_routing_failed"),
        ("routing", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(on_postgresql(FORWARD), on_postgresql(BACKWARD), elidable=False),
    ]
