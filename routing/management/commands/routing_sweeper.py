import time

from django.conf import settings
from django.core.management.base import BaseCommand

from routing.tasks import sweep


class Command(BaseCommand):
    help = "Expire lapsed offers and retry stuck routing every few seconds (runs beside qcluster)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Sweep once and exit.")
        parser.add_argument("--interval", type=float, default=settings.ROUTING_SWEEP_SECONDS)

    def handle(self, *args, once: bool, interval: float, **options):
        while True:
            result = sweep()
            if once or any(result.values()):
                self.stdout.write(f"sweep: {result}")
            if once:
                return
            time.sleep(interval)
