"""The outbox, push subscriptions, per-team auto message templates and digest cursors.

Every message, whatever its channel, is one `OutboxMessage` row written in the
transaction of the event that causes it. In-app rows are delivered by that
commit (the bell reads them); email, text and push rows are sent afterwards by a
django-q2 task, exactly once.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact
from routing.models import Offer
from teams.models import Membership, Team


class Channel(models.TextChoices):
    IN_APP = "in_app", "In-app"
    EMAIL = "email", "Email"
    SMS = "sms", "Text"
    PUSH = "push", "Web push"


class Kind(models.TextChoices):
    OFFER_NEXT_UP = "offer_next_up", "Next Up offer"
    OFFER_BLAST = "offer_blast", "Blast Alert"
    ASSIGNED = "assigned", "Contact assigned"
    REASSIGNED_TO = "reassigned_to", "Contact reassigned to the member"
    REASSIGNED_FROM = "reassigned_from", "Contact reassigned away from the member"
    FOLLOW_UP_REMINDER = "follow_up_reminder", "Follow-up reminder"
    DIGEST = "digest", "Hourly digest"
    WELCOME_EMAIL = "welcome_email", "Welcome email (to the contact)"
    WELCOME_TEXT = "welcome_text", "Welcome text (to the contact)"
    ROUTING_FAILED = "routing_failed", "Routing gave up on a contact"
    POOL_WAITING = "pool_waiting", "Leads waiting in a lead pool"
    PASSWORD_LINK = "password_link", "Set-password link (new member)"
    PASSWORD_RESET = "password_reset", "Password reset link"
    CONTACT_EMAIL = "contact_email", "Email to the contact (plan step, property alert)"
    CONTACT_TEXT = "contact_text", "Text to the contact (plan step)"
    AGENT_TASK = "agent_task", "Task for the contact's Agent (plan step)"


# Messages to the contact, sent as their Agent; every other kind goes to the member,
# except the account emails.
TO_CONTACT = frozenset(
    {Kind.WELCOME_EMAIL, Kind.WELCOME_TEXT, Kind.CONTACT_EMAIL, Kind.CONTACT_TEXT}
)
# Sent as whoever holds the primary Agent role when they go out, and held until routing
# is complete (`membership` stays empty until then).
AS_CURRENT_AGENT = frozenset({Kind.CONTACT_EMAIL, Kind.CONTACT_TEXT, Kind.AGENT_TASK})
# Account emails go to `user`, whether or not they belong to a team (a staff user resets
# their password too): nothing about a team or a contact applies to them. Their link is
# made when the email is sent, so no password token is ever stored.
ACCOUNT_KINDS = frozenset({Kind.PASSWORD_LINK, Kind.PASSWORD_RESET})


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class PushSubscription(models.Model):
    """One browser of one member that agreed to web push."""

    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.membership_id}: {self.endpoint[:60]}"


class OutboxMessage(models.Model):
    """One message to one recipient over one channel.

    `membership` is the member the message is for, or, for kinds sent to the
    contact (TO_CONTACT), the Agent it is sent as; account emails (ACCOUNT_KINDS)
    are for `user`, and have a team only when a team sent them. `key` names the
    event, recipient and channel, so writing the same message twice writes one row.
    """

    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=200)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    membership = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    offer = models.ForeignKey(
        Offer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subscription = models.ForeignKey(
        PushSubscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The account an account email is for.",
    )
    title = models.CharField(max_length=200, blank=True)
    url = models.CharField(max_length=300, blank=True, help_text="In-app link target.")
    data = models.JSONField(default=dict, blank=True)
    to = models.CharField(max_length=254, blank=True, help_text="Filled in when sent.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    # A message to the contact waiting for routing to complete (nobody holds the primary
    # Agent role yet): released when the contact is assigned.
    held = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "outbox message"
        constraints = [
            models.UniqueConstraint(fields=["key"], name="outbox_message_unique_key"),
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="outbox_message_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="outbox_message_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(read_at__isnull=True) | Q(channel="in_app"),
                name="outbox_message_only_in_app_read",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ACCOUNT_KINDS, channel="email", user__isnull=False)
                | (~Q(kind__in=ACCOUNT_KINDS) & Q(user__isnull=True, team__isnull=False)),
                name="outbox_message_account_email_has_user",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
            models.Index(fields=["contact"], condition=Q(held=True), name="outbox_held"),
            models.Index(
                fields=["membership", "-created_at"],
                condition=Q(channel="in_app"),
                name="outbox_inbox",
            ),
            models.Index(
                fields=["membership"],
                condition=Q(channel="in_app", read_at__isnull=True),
                name="outbox_inbox_unread",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.get_channel_display()} ({self.status})"

    @property
    def to_contact(self) -> bool:
        return self.kind in TO_CONTACT


class AutoMessageKind(models.TextChoices):
    WELCOME_EMAIL = "welcome_email", "Welcome email"
    WELCOME_TEXT = "welcome_text", "Welcome text"


class AutoMessageTemplate(models.Model):
    """A team's wording of an automatic message to its contacts (seed 000)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="auto_message_templates")
    kind = models.CharField(max_length=16, choices=AutoMessageKind.choices)
    subject = models.CharField(max_length=200, blank=True, help_text="Emails only.")
    body = models.TextField()
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team__name", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["team", "kind"], name="auto_message_template_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.team})"


class DigestCursor(models.Model):
    """How far the member's hourly digests have covered their new assignments."""

    membership = models.OneToOneField(
        Membership, primary_key=True, on_delete=models.CASCADE, related_name="digest_cursor"
    )
    sent_through = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.membership_id} through {self.sent_through:%Y-%m-%d %H:%M}"
