import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0004_live_notify"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="outboxmessage",
            name="kind",
            field=models.CharField(
                choices=[
                    ("offer_next_up", "Next Up offer"),
                    ("offer_blast", "Blast Alert"),
                    ("assigned", "Contact assigned"),
                    ("reassigned_to", "Contact reassigned to the member"),
                    ("reassigned_from", "Contact reassigned away from the member"),
                    ("follow_up_reminder", "Follow-up reminder"),
                    ("digest", "Hourly digest"),
                    ("welcome_email", "Welcome email (to the contact)"),
                    ("welcome_text", "Welcome text (to the contact)"),
                    ("routing_failed", "Routing gave up on a contact"),
                    ("password_link", "Set-password link (new member)"),
                    ("password_reset", "Password reset link"),
                ],
                max_length=24,
            ),
        ),
        migrations.AlterField(
            model_name="outboxmessage",
            name="team",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="teams.team",
            ),
        ),
        migrations.AddField(
            model_name="outboxmessage",
            name="user",
            field=models.ForeignKey(
                blank=True,
                help_text="The account an account email is for.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="outboxmessage",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("channel", "email"),
                    ("kind__in", frozenset({"password_link", "password_reset"})),
                    ("user__isnull", False),
                )
                | models.Q(
                    models.Q(
                        ("kind__in", frozenset({"password_link", "password_reset"})), _negated=True
                    ),
                    ("team__isnull", False),
                    ("user__isnull", True),
                ),
                name="outbox_message_account_email_has_user",
            ),
        ),
    ]
