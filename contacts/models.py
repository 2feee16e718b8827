from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
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
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set only by the contact's primary Agent's own activity (calls, texts, emails, notes):
    # "last contacted by their assigned owner". Others' activity stays on the timeline.
    last_contacted_at = models.DateTimeField(null=True, blank=True)
    # One-click unsubscribe from contact-facing email (plans, alerts, auto emails), and
    # STOP for texts; both honoured at send time.
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    texts_stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "email"], name="contact_team_email"),
            # Dedup looks emails up case-insensitively (email__iexact → UPPER(email)).
            models.Index("team", Upper("email"), name="contact_team_email_upper"),
            # Team-scoped lists newest first, without scanning other teams' rows.
            models.Index(fields=["team", "-created_at", "-id"], name="contact_team_newest"),
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
    membership = models.ForeignKey(Membership, on_delete=models.RESTRICT, related_name="activities")
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


# --- intake: lead sources, idempotency, rejected payloads, rate limits, imports ---


class LeadSource(models.Model):
    """A lead provider posting to /api/v1/webhooks/<slug>, signing with its shared secret."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="lead_sources")
    name = models.CharField(max_length=80, help_text="Becomes the contact's source (Zillow…).")
    slug = models.SlugField(max_length=80, unique=True, help_text="The webhook URL's last part.")
    secret = models.CharField(
        max_length=128, help_text="Shared secret for the HMAC-SHA256 signature of each body."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ExternalLead(models.Model):
    """A source's own lead id, so a re-sent lead finds the contact it became."""

    source = models.ForeignKey(LeadSource, on_delete=models.CASCADE, related_name="leads")
    external_id = models.CharField(max_length=200)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="external_leads")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="external_lead_unique_source_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.external_id}"


class WebhookDelivery(models.Model):
    """A signed webhook request that was accepted, kept while its timestamp is inside the
    tolerance window, so the same signed request sent again is refused as a replay."""

    # The unique constraint's index starts with source_id: no index of its own.
    source = models.ForeignKey(
        LeadSource, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    digest = models.CharField(max_length=64, help_text="Its HMAC-SHA256, the v1 that matched.")
    signed_at = models.DateTimeField(db_index=True, help_text="The timestamp it was signed with.")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["source", "digest"], name="webhook_delivery_unique")
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.digest[:12]}"


class IdempotencyState(models.TextChoices):
    IN_FLIGHT = "in_flight", "In flight"
    DONE = "done", "Done"


class IdempotencyKey(models.Model):
    """An intake request's Idempotency-Key: inserted and committed before the work starts."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the path and body.")
    state = models.CharField(
        max_length=16, choices=IdempotencyState.choices, default=IdempotencyState.IN_FLIGHT
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return self.key


class RejectedPayload(models.Model):
    """An intake request turned away, kept with its reason for inspection."""

    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    source = models.ForeignKey(
        LeadSource, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    endpoint = models.CharField(max_length=255)
    status = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=255)
    errors = models.JSONField(default=list, blank=True)
    content_type = models.CharField(max_length=255, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    body = models.TextField(blank=True)
    body_size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.status} {self.reason}"

    @property
    def body_truncated(self) -> bool:
        return self.body_size > len(self.body.encode())


class RateLimitCounter(models.Model):
    """Hits in one fixed window, shared by every process through the database."""

    bucket = models.CharField(max_length=160)
    window_start = models.BigIntegerField(help_text="Unix time the window opened.")
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bucket", "window_start"], name="rate_limit_counter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.bucket}@{self.window_start}: {self.hits}"


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"
    MAPPED = "mapped", "Columns mapped"
    IMPORTED = "imported", "Imported"


class ImportJob(models.Model):
    """A CSV upload between its preview and its import; the rows wait here."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filename = models.CharField(max_length=255)
    header = models.JSONField(default=list)
    rows = models.JSONField(default=list)
    mapping = models.JSONField(default=dict, blank=True, help_text="Column index → field.")
    default_source = models.CharField(max_length=80, default="CSV import")
    assign_to = models.ForeignKey(
        Membership,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Give every imported contact to this agent instead of routing them.",
    )
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    created_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    imported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.filename


class Bucket(models.Model):
    """A named collection of contacts: the team's (no owner) or a member's own, shared
    with chosen members and groups. A contact can be in several. Lead pools (routing
    rules with source buckets) route what is placed in their buckets; a member's default
    bucket (DefaultBucket) receives the leads assigned to them."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="buckets")
    name = models.CharField(max_length=80)
    owner = models.ForeignKey(
        Membership,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="own_buckets",
        help_text="Empty: a team-wide bucket everyone in the team sees.",
    )
    shared_with_members = models.ManyToManyField(
        Membership, blank=True, related_name="shared_buckets"
    )
    shared_with_groups = models.ManyToManyField(
        "teams.Group", blank=True, related_name="shared_buckets"
    )
    contacts = models.ManyToManyField(
        Contact, through="BucketContact", related_name="buckets", blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # Two partial constraints rather than NULLS NOT DISTINCT, which SQLite lacks.
            models.UniqueConstraint(
                fields=["team", "name"],
                condition=Q(owner__isnull=True),
                name="bucket_unique_team_name",
            ),
            models.UniqueConstraint(
                fields=["team", "owner", "name"],
                condition=Q(owner__isnull=False),
                name="bucket_unique_own_name",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_shared(self) -> bool:
        """Team-wide, or shared with someone: others than its owner may open it."""
        return (
            self.owner_id is None
            or self.shared_with_members.exists()
            or (self.shared_with_groups.exists())
        )


class BucketVia(models.TextChoices):
    HAND = "hand", "By hand"
    API = "api", "API"
    IMPORT = "import", "CSV import"
    ROUTING = "routing", "Routing"


class BucketContact(models.Model):
    """A contact placed in a bucket: when, how and by whom."""

    bucket = models.ForeignKey(Bucket, on_delete=models.CASCADE, related_name="placements")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="placements")
    via = models.CharField(max_length=8, choices=BucketVia.choices, default=BucketVia.HAND)
    placed_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    placed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["bucket", "contact"], name="bucket_contact_unique")
        ]
        indexes = [models.Index(fields=["contact", "bucket"], name="bucket_contact_by_contact")]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.bucket_id}"


class DefaultBucket(models.Model):
    """The bucket a member's assigned leads land in: their own or one shared with them.
    A row of its own rather than a field on the bucket, so one shared bucket can be
    the default of several members."""

    membership = models.OneToOneField(Membership, on_delete=models.CASCADE, related_name="+")
    # Deleting the bucket drops the choice: the member's "My leads" takes over.
    bucket = models.ForeignKey(Bucket, on_delete=models.CASCADE, related_name="defaults")

    def __str__(self) -> str:
        return f"{self.membership_id} → {self.bucket_id}"
