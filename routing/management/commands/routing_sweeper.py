"""`manage.py routing_sweeper`: offers expire on time, and routing's backstop runs.

Runs beside the workers (`make run` starts it). Every TICK it expires the offers whose
deadline has passed (one indexed query when none has), so an offer moves on within a
tick of its deadline whatever the queues are doing; every INTERVAL it also looks at
held contacts and routes contacts left waiting (routing.sweeps). The django-q2
`routing-sweep` schedule does the same once a minute in case this process is down.
"""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, connections

from routing.offers import offers_sweep
from routing.sweeps import routing_sweep

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Expire offers at their deadlines and sweep routing (runs beside qcluster)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Sweep once and exit.")
        parser.add_argument("--interval", type=float, default=settings.ROUTING_SWEEP_SECONDS)
        parser.add_argument(
            "--tick", type=float, default=0.5, help="Seconds between deadline checks."
        )

    def handle(self, *args, once: bool, interval: float, tick: float, **options):
        next_sweep = 0.0
        while True:
            try:
                if time.monotonic() >= next_sweep:
                    result = routing_sweep()
                    next_sweep = time.monotonic() + interval
                    if once or any(result.values()):
                        self.stdout.write(f"sweep: {result}")
                else:
                    expired = offers_sweep()
                    if expired:
                        self.stdout.write(f"offers expired: {expired}")
            except DatabaseError:
                # The database went away (a restart, a failover): say so and try again.
                logger.exception("Routing sweep failed; retrying in %s s", interval)
                connections.close_all()
                time.sleep(interval)
                continue
            if once:
                return
            time.sleep(tick)
