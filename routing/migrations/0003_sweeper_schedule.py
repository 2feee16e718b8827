from django.db import migrations


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="routing-sweep",
        defaults={"func": "routing.tasks.sweep", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )
    Schedule.objects.update_or_create(
        name="routing-log-prune",
        defaults={"func": "routing.tasks.prune_logs", "schedule_type": "D", "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=["routing-sweep", "routing-log-prune"]).delete()


class Migration(migrations.Migration):
    dependencies = [("routing", "0002_initial"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]
    operations = [migrations.RunPython(add_schedule, remove_schedule)]
