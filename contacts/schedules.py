"""Periodic work of the contacts app, installed by `manage.py setup_schedules`."""

SCHEDULES = [
    {"name": "intake-prune", "func": "contacts.intake.intake_prune", "schedule_type": "H"},
]
