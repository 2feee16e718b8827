"""Periodic work of notifications, installed by `manage.py setup_schedules`. It runs on
the delivery queue, beside the sends, never in front of routing."""

from django.conf import settings

SCHEDULES = [
    # Re-enqueues due outbox rows (retries, follow-up reminders, tasks lost in an outage)
    # and puts messages interrupted mid-send back to pending.
    {
        "name": "notifications-sweep",
        "func": "notifications.tasks.sweep",
        "schedule_type": "I",
        "minutes": 1,
        "cluster": settings.DELIVERY_CLUSTER,
    },
    {
        "name": "notifications-digest",
        "func": "notifications.tasks.send_digests",
        "schedule_type": "H",
        "cluster": settings.DELIVERY_CLUSTER,
    },
]
