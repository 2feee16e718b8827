from django.db import migrations


def add_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    # Re-enqueues due outbox rows: retries, follow-up reminders, tasks lost in an outage.
    Schedule.objects.update_or_create(
        name="notifications-sweep",
        defaults={
            "func": "notifications.tasks.sweep",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )
    Schedule.objects.update_or_create(
        name="notifications-digest",
        defaults={"func": "notifications.tasks.send_digests", "schedule_type": "H", "repeats": -1},
    )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(
        name__in=["notifications-sweep", "notifications-digest"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(add_schedules, remove_schedules)]
