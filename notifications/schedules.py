"""Periodic work of notifications, installed by `manage.py setup_schedules`."""

SCHEDULES = [
    # Re-enqueues due outbox rows: retries, follow-up reminders, tasks lost in an outage.
    {
        "name": "notifications-sweep",
        "func": "notifications.tasks.sweep",
        "schedule_type": "I",
        "minutes": 1,
    },
    {
        "name": "notifications-digest",
        "func": "notifications.tasks.send_digests",
        "schedule_type": "H",
    },
]
