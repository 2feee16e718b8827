from django.db import models
from django.db.models import Q
from django.utils import timezone

from teams.models import Membership, Team


class ContactType(models.TextChoices):
    BUYER = "buyer", "Buyer"
    SELLER = "seller", "Seller"
    RENTER = "renter", "Renter"
    INVESTOR = "investor", "Investor"


class ContactStatus(models.TextChoices):
    NEW = "new", "New"
    ACTIVE = "active", "Active"
    NURTURE = "nurture", "Nurture"
    CLOSED = "closed", "Closed"
    ARCHIVED = "archived", "Archived"


OPEN_STATUSES = (ContactStatus.NEW, ContactStatus.ACTIVE, ContactStatus.NURTURE)


class RoutingStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    ROUTING = "routing", "Routing"
    OFFERED = "offered", "Offered"
    ASSIGNED = "assigned", "Assigned"
    FAILED = "failed", "Failed"


class Tag(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="contact_tags")
    name = models.CharField(max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="tag_unique_name")]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="contacts")
    first_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    source = models.CharField(max_length=80, blank=True, help_text="Zillow, Facebook, Website…")
    contact_type = models.CharField(max_length=16, choices=ContactType.choices, blank=True)
    city = models.CharField(max_length=80, blank=True)
    zip_code = models.CharField(max_length=16, blank=True)
    state = models.CharField(max_length=32, blank=True)
    price_min = models.DecimalField(max_digits=12, decimal_places=0, null=True, blank=True)
    price_max = models.DecimalField(max_digits=12, decimal_places=0, null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    segment = models.CharField(max_length=60, blank=True)
    status = models.CharField(
        max_length=16, choices=ContactStatus.choices, default=ContactStatus.NEW
    )
    routing_status = models.CharField(
        max_length=16, choices=RoutingStatus.choices, default=RoutingStatus.RECEIVED
    )
    routing_error = models.TextField(blank=True)
    routing_attempts = models.PositiveSmallIntegerField(default=0)
    routing_started_at = models.DateTimeField(null=True, blank=True)
    routed_rule = models.ForeignKey(
        "routing.RoutingRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    reassigning_to = models.ForeignKey(
        "routing.ReassignmentGroup",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Set while a reassignment is in progress: the Agent role is locked.",
    )
    reassignment_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_contacted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "routing_status"], name="contact_team_routing"),
            models.Index(fields=["team", "email"], name="contact_team_email"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(price_min__isnull=True)
                | Q(price_max__isnull=True)
                | Q(price_min__lte=models.F("price_max")),
                name="contact_price_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def reassign_in_progress(self) -> bool:
        return self.reassigning_to_id is not None

    @property
    def name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.email or self.phone or f"Contact #{self.pk}"


class RoleKind(models.TextChoices):
    AGENT = "agent", "Agent"
    ASSISTANT = "assistant", "Assistant"
    LENDER = "lender", "Lender"
    CUSTOM = "custom", "Custom"


class ContactRole(models.Model):
    """Who works a contact. The primary Agent role is what routing fills."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="roles")
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="contact_roles"
    )
    kind = models.CharField(max_length=16, choices=RoleKind.choices)
    custom_name = models.CharField(max_length=60, blank=True)
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact"], condition=Q(kind="agent"), name="contact_one_primary_agent"
            ),
            models.UniqueConstraint(
                fields=["contact", "membership", "kind", "custom_name"], name="contact_role_unique"
            ),
            models.CheckConstraint(
                condition=Q(kind="custom", custom_name__gt="")
                | (~Q(kind="custom") & Q(custom_name="")),
                name="contact_role_custom_named",
            ),
        ]
        indexes = [models.Index(fields=["membership", "kind"], name="contact_role_member_kind")]

    def __str__(self) -> str:
        return f"{self.label}: {self.membership}"

    @property
    def label(self) -> str:
        return self.custom_name if self.kind == RoleKind.CUSTOM else self.get_kind_display()


class ActivityKind(models.TextChoices):
    CALL = "call", "Call"
    TEXT = "text", "Text"
    EMAIL = "email", "Email"
    NOTE = "note", "Note"
    SEGMENT_CHANGE = "segment_change", "Segment change"
    TAG_CHANGE = "tag_change", "Tag change"


class Activity(models.Model):
    """A member contacting the contact. Every kind counts as contacting."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="activities")
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="activities")
    kind = models.CharField(max_length=16, choices=ActivityKind.choices)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.membership}"


class TimelineEvent(models.Model):
    """Append-only history shown on the contact profile."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=32)
    actor = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.message
