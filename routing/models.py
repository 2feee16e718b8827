from django.db import models
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact
from teams.models import AgentTag, Membership, Team


class Method(models.TextChoices):
    ROUND_ROBIN = "round_robin", "Round Robin"
    NEXT_UP = "next_up", "Next Up"
    BLAST = "blast", "Blast Alert"
    LEAST_OPEN = "least_open", "Least open contacts"
    ASSIGN_DIRECTLY = "assign_directly", "Assign directly"
    MANUAL = "manual", "Manual (lead pool)"


class LocationMatch(models.TextChoices):
    EXACT = "exact", "Must match"
    EMPTY_OR_MATCH = "empty_or_match", "Empty or match"


class Rotation(models.Model):
    """Turn-taking state of a rule or reassignment group: each member's turns so far.

    A batch of routers locks the row (SELECT … FOR UPDATE, rows in id order), reads
    the counts, decides every contact of the batch in memory and writes the counts
    back in the same transaction: concurrent routers of one rule take turns, and a
    rollback gives the turns back.
    """

    turns = models.PositiveBigIntegerField(default=0)
    counts = models.JSONField(
        default=dict, blank=True, help_text="Member id → turns taken since the last reset."
    )
    epoch = models.PositiveIntegerField(default=0, help_text="Bumped when the order is reset.")
    reset_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Rotation #{self.pk} (epoch {self.epoch}, {self.turns} turns)"

    def member_counts(self) -> dict[int, int]:
        return {int(k): v for k, v in self.counts.items()}


class RoutingRule(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="routing_rules")
    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)
    is_default = models.BooleanField(default=False, editable=False)
    is_paused = models.BooleanField(default=False)
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.ROUND_ROBIN)
    # Criteria: every one is optional; all that are set must match.
    sources = models.JSONField(default=list, blank=True)
    contact_types = models.JSONField(default=list, blank=True)
    cities = models.JSONField(default=list, blank=True)
    zip_codes = models.JSONField(default=list, blank=True)
    states = models.JSONField(default=list, blank=True)
    location_match = models.CharField(
        max_length=16, choices=LocationMatch.choices, default=LocationMatch.EXACT
    )
    price_min = models.DecimalField(max_digits=12, decimal_places=0, null=True, blank=True)
    price_max = models.DecimalField(max_digits=12, decimal_places=0, null=True, blank=True)
    tags_any = models.JSONField(default=list, blank=True)
    tags_all = models.JSONField(default=list, blank=True)
    # A rule with source buckets is a lead pool: it takes only contacts placed in one of
    # them, and placing an existing contact in one routes it through the pool.
    source_buckets = models.ManyToManyField(
        "contacts.Bucket",
        blank=True,
        related_name="pool_rules",
        help_text="A lead pool: only contacts placed in one of these buckets match, and "
        "placing a contact in one routes it through this rule.",
    )
    require_phone = models.BooleanField(default=False)
    require_email = models.BooleanField(default=False)
    work_days = models.CharField(max_length=13, blank=True, default="")
    work_start = models.TimeField(null=True, blank=True)
    work_end = models.TimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, blank=True, default="")
    # Distribution
    claim_window_minutes = models.PositiveIntegerField(default=15)
    only_online = models.BooleanField(default=False)
    skip_paused = models.BooleanField(default=True)
    respect_capacity = models.BooleanField(default=True)
    direct_assignee = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    follow_up_reminder_hours = models.PositiveIntegerField(null=True, blank=True)
    hold_when_unavailable = models.BooleanField(
        "Hold when nobody is available",
        default=False,
        help_text="When every assignee is paused, offline, outside their hours or at capacity, "
        "the contact waits in this rule and goes to the first one who becomes available, "
        "instead of moving on to the next rule.",
    )
    hold_max_minutes = models.PositiveIntegerField(
        "Longest wait (minutes)",
        default=60,
        help_text="A held contact moves on to the next rule after waiting this long.",
    )
    rotation = models.OneToOneField(Rotation, on_delete=models.PROTECT, related_name="rule")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["is_default", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team"], condition=Q(is_default=True), name="routing_rule_one_default"
            ),
            models.CheckConstraint(
                condition=Q(work_start__isnull=True, work_end__isnull=True)
                | Q(work_start__isnull=False, work_end__isnull=False),
                name="routing_rule_work_hours_pair",
            ),
            models.CheckConstraint(
                condition=Q(price_min__isnull=True)
                | Q(price_max__isnull=True)
                | Q(price_min__lte=models.F("price_max")),
                name="routing_rule_price_range_ordered",
            ),
            models.CheckConstraint(
                condition=Q(is_default=True) | ~Q(method="assign_directly"),
                name="routing_rule_assign_directly_default_only",
            ),
            models.CheckConstraint(
                condition=Q(claim_window_minutes__gte=1), name="routing_rule_claim_window_positive"
            ),
            models.CheckConstraint(
                condition=Q(hold_max_minutes__gte=1), name="routing_rule_hold_max_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


def assignee_constraints(owner: str, prefix: str) -> list:
    """A member XOR an agent tag, a positive weight, each listed once per owner."""
    return [
        models.CheckConstraint(
            condition=Q(membership__isnull=False, agent_tag__isnull=True)
            | Q(membership__isnull=True, agent_tag__isnull=False),
            name=f"{prefix}_member_xor_tag",
        ),
        models.CheckConstraint(condition=Q(weight__gte=1), name=f"{prefix}_weight_positive"),
        models.UniqueConstraint(
            fields=[owner, "membership"],
            condition=Q(membership__isnull=False),
            name=f"{prefix}_unique_member",
        ),
        models.UniqueConstraint(
            fields=[owner, "agent_tag"],
            condition=Q(agent_tag__isnull=False),
            name=f"{prefix}_unique_tag",
        ),
    ]


class Assignee(models.Model):
    """A member, or every member with an agent tag (resolved at routing time)."""

    membership = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    agent_tag = models.ForeignKey(
        AgentTag, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    weight = models.PositiveSmallIntegerField(default=1, help_text="Relative share (percentage).")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.membership_id or self.agent_tag_id} weight {self.weight}"


class RuleAssignee(Assignee):
    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="assignees")

    class Meta(Assignee.Meta):
        constraints = assignee_constraints("rule", "rule_assignee")


class ReassignmentGroup(models.Model):
    """Re-routes contacts already in the system, triggered by hand."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="reassignment_groups")
    name = models.CharField(max_length=120)
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.ROUND_ROBIN)
    claim_window_minutes = models.PositiveIntegerField(default=15)
    default_assignee = models.ForeignKey(
        Membership,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Gets the contact if nobody in the distribution claims it.",
    )
    available_to = models.ManyToManyField(
        "teams.Group",
        blank=True,
        related_name="reassignment_groups",
        help_text="Only members of these groups (or their sub-groups) see it; empty = everyone.",
    )
    only_online = models.BooleanField(default=False)
    skip_paused = models.BooleanField(default=True)
    respect_capacity = models.BooleanField(default=True)
    rotation = models.OneToOneField(Rotation, on_delete=models.PROTECT, related_name="group")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="reassignment_group_unique_name"),
            models.CheckConstraint(
                condition=~Q(method__in=["assign_directly", "manual"]),
                name="reassignment_group_method",
            ),
            models.CheckConstraint(
                condition=Q(claim_window_minutes__gte=1), name="reassignment_group_window_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ReassignmentAssignee(Assignee):
    group = models.ForeignKey(ReassignmentGroup, on_delete=models.CASCADE, related_name="assignees")

    class Meta(Assignee.Meta):
        constraints = assignee_constraints("group", "reassignment_assignee")


class OfferKind(models.TextChoices):
    NEXT_UP = "next_up", "Next Up"
    BLAST = "blast", "Blast Alert"


class OfferStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLAIMED = "claimed", "Claimed"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class Offer(models.Model):
    """A contact waiting to be claimed, with its deadline in the database."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="offers")
    rule = models.ForeignKey(
        RoutingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="offers"
    )
    reassignment_group = models.ForeignKey(
        ReassignmentGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="offers"
    )
    kind = models.CharField(max_length=16, choices=OfferKind.choices)
    status = models.CharField(max_length=16, choices=OfferStatus.choices, default=OfferStatus.OPEN)
    recipients = models.ManyToManyField(Membership, through="OfferRecipient", related_name="offers")
    deadline = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact"], condition=Q(status="open"), name="offer_one_open_per_contact"
            ),
        ]
        indexes = [models.Index(fields=["status", "deadline"], name="offer_status_deadline")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} offer for {self.contact} ({self.status})"


class OfferRecipient(models.Model):
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="offer_recipients")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["offer", "membership"], name="offer_recipient_unique")
        ]

    def __str__(self) -> str:
        return f"offer {self.offer_id} → member {self.membership_id}"


class LogEvent(models.TextChoices):
    ASSIGNED = "assigned", "Assigned"
    OFFER_MADE = "offer_made", "Offer made"
    HELD = "held", "Held"
    OFFER_EXPIRED = "offer_expired", "Offer expired"
    OFFER_CLAIMED = "offer_claimed", "Offer claimed"
    DEDUPLICATED = "deduplicated", "Matched an existing contact"
    ROUTED_AGAIN = "routed_again", "Routed again"
    FAILED = "failed", "Routing failed"
    WAITING = "waiting", "Waiting in pool"
    STAYED = "stayed", "Stayed with its agent"


class RoutingLog(models.Model):
    """Why a contact went where it went; append-only, one row per decision or event.

    A decision row carries every step that led to it in `steps` (per rule: matched,
    not matched and why, skipped, fell through, held; per member: why they could not
    take it), so its cost does not grow with the number of rules or agents. Pages and
    the API render the steps as lines (`lines`).
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="routing_logs")
    event = models.CharField(max_length=24, choices=LogEvent.choices)
    rule = models.ForeignKey(
        RoutingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    group = models.ForeignKey(
        ReassignmentGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_name = models.CharField(
        max_length=160, blank=True, help_text="The rule or reassignment group, as it was named."
    )
    membership = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=255, blank=True)
    steps = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["contact", "created_at"], name="routing_log_contact"),
            models.Index(fields=["team", "-created_at", "-id"], name="routing_log_team_newest"),
            models.Index(fields=["team", "rule", "-created_at", "-id"], name="routing_log_rule"),
            models.Index(
                fields=["team", "membership", "-created_at", "-id"], name="routing_log_member"
            ),
            models.Index(fields=["team", "event", "-created_at", "-id"], name="routing_log_event"),
            models.Index(fields=["created_at"], name="routing_log_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()}: {self.reason}"

    @property
    def lines(self):
        """The entry as lines for people: each rule's Y/N and why, skips, then the outcome."""
        from routing.log_lines import entry_lines

        return entry_lines(self)


class RoutingStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    OFFERED = "offered", "Offered"
    HELD = "held", "Held"
    ASSIGNED = "assigned", "Assigned"
    FAILED = "failed", "Failed"
    # A Manual lead pool holds it unassigned until an admin assigns it.
    WAITING = "waiting", "Waiting in pool"


class ContactRouting(models.Model):
    """Where a contact stands in routing: its place in the queue, then the outcome.

    Written in the transaction that stores the contact (status "received": the routing
    queue is these rows); routers claim rows with SELECT … FOR UPDATE SKIP LOCKED.
    """

    contact = models.OneToOneField(
        Contact, primary_key=True, on_delete=models.CASCADE, related_name="routing"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=16, choices=RoutingStatus.choices, default=RoutingStatus.RECEIVED
    )
    rule = models.ForeignKey(
        RoutingRule,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The rule (lead pool) the contact came through; kept when it is "
        "assigned or reassigned by hand.",
    )
    queued_at = models.DateTimeField(default=timezone.now, help_text="First in, first routed.")
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(
        null=True, blank=True, help_text="When this routing pass began."
    )
    tried_rules = models.JSONField(
        default=list, blank=True, help_text="Rules this routing pass fell through."
    )
    lapsed_members = models.JSONField(
        default=list, blank=True, help_text="Members who let this contact lapse in this pass."
    )
    held_since = models.DateTimeField(
        null=True, blank=True, help_text="Held, or waiting in a Manual lead pool, since."
    )
    placed_in = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="The bucket whose placement started this routing pass: only the lead "
        "pools with it as a source bucket are tried. Kept as a plain id, so a bucket "
        "deleted meanwhile still restricts the pass (to nothing).",
    )
    hold_until = models.DateTimeField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey(
        Membership,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who assigned the primary Agent by hand (empty: routing did).",
    )
    reassigning_to = models.ForeignKey(
        ReassignmentGroup,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Set while a reassignment is in progress: the Agent role is locked.",
    )
    reassign_started_at = models.DateTimeField(null=True, blank=True)
    reassign_started_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set by every writer explicitly: QuerySet.update() would skip an auto_now field.
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "contact routing"
        verbose_name_plural = "contact routing"
        indexes = [
            models.Index(fields=["team", "status", "queued_at"], name="contact_routing_queue"),
            models.Index(fields=["status", "next_attempt_at"], name="contact_routing_due"),
            models.Index(fields=["team", "rule"], name="contact_routing_rule"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.get_status_display()}"

    @property
    def reassign_in_progress(self) -> bool:
        return self.reassigning_to_id is not None


class TeamRouting(models.Model):
    """Per team: the routing version, whether a router has been woken, and holds.

    `version` goes up with every change to rules, assignees, members or their
    availability; a worker reuses the rules and members it loaded while the version
    is unchanged, never after. `wake_pending` is set when a route task is queued and
    cleared when one starts, so a burst of leads queues one task, not one per lead.
    """

    team = models.OneToOneField(
        Team, primary_key=True, on_delete=models.CASCADE, related_name="routing"
    )
    version = models.PositiveBigIntegerField(default=1)
    wake_pending = models.BooleanField(default=False)
    woken_at = models.DateTimeField(null=True, blank=True)
    has_held = models.BooleanField(
        default=False, help_text="Some contact may be held: routers look at the holds first."
    )

    def __str__(self) -> str:
        return f"{self.team_id} v{self.version}"
