"""Install every app's periodic django-q2 schedules: `manage.py setup_schedules`.

Each app lists its schedules in `<app>/schedules.py` (SCHEDULES); this command is the
one place that writes them, idempotently, so `make run`, deploys and CI can run it
any number of times. A schedule an app no longer lists is left alone (reported).
"""

from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django_q.models import Schedule


def app_schedules() -> list[dict]:
    found = []
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.schedules":
                raise
            continue
        found += module.SCHEDULES
    return found


class Command(BaseCommand):
    help = "Create or update every app's periodic django-q2 schedules (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        wanted = app_schedules()
        for spec in wanted:
            fields = {"repeats": -1, "minutes": None, "cluster": None, **spec}
            name = fields.pop("name")
            _, created = Schedule.objects.update_or_create(name=name, defaults=fields)
            self.stdout.write(f"{'created' if created else 'up to date'}: {name}")
        names = {spec["name"] for spec in wanted}
        unknown = Schedule.objects.exclude(name__in=names).exclude(schedule_type=Schedule.ONCE)
        for schedule in unknown:
            self.stdout.write(f"not ours, left alone: {schedule.name}")
