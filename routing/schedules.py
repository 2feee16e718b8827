"""Periodic work of routing, installed by `manage.py setup_schedules`.

The routing sweeper process (`manage.py routing_sweeper`) sweeps every few seconds;
this once-a-minute schedule is the backstop for when it is not running.
"""

SCHEDULES = [
    {"name": "routing-sweep", "func": "routing.tasks.sweep", "schedule_type": "I", "minutes": 1},
    {"name": "routing-log-prune", "func": "routing.tasks.prune_logs", "schedule_type": "D"},
]
