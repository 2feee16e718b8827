"""Periodic work of listings, installed by `manage.py setup_schedules`: the daily and
weekly property-alert digests. They only write outbox rows, so they run on the delivery
queue beside the sends, never in front of routing."""

from django.conf import settings

SCHEDULES = [
    # Digests are due at 8:00 team time; every five minutes sends each soon after.
    {
        "name": "listings-alert-digests",
        "func": "listings.tasks.send_digests",
        "schedule_type": "I",
        "minutes": 5,
        "cluster": settings.DELIVERY_CLUSTER,
    },
]
