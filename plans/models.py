"""Smart Plans: a team library of follow-up plans, members' own copies, what starts
them, and each contact's run of a plan.

A plan is a list of steps (an email or a text to the contact, or a task for the
contact's Agent), each a delay after the previous step or after the start. A run
schedules every step's message with the notifications layer when it starts; the
messages are held there until the contact has a primary Agent and go out as
whoever holds that role when they are sent. `PlanRunStep` is the run's own record
of each scheduled message (its key, when it is due, how it ended).
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from contacts.models import Bucket, Contact
from routing.models import RoutingRule
from teams.models import Membership, Team


class Plan(models.Model):
    """A Smart Plan: the Team Library's (no owner) or a member's own."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="smart_plans")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=1000)
    owner = models.ForeignKey(
        Membership,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="own_plans",
        help_text="Empty: a Team Library plan. Otherwise this member's own plan.",
    )
    copied_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="copies",
        help_text="The Team Library plan this one was downloaded from.",
    )
    stop_on_contact = models.BooleanField(
        "Stop when the contact replies or is contacted by the agent",
        default=False,
        help_text="A text the contact sends back, or a call, text, email or note logged by "
        "the contact's primary Agent, ends the plan: the conversation has started. Email "
        "replies reach the Agent's own mailbox, so they count once the Agent logs them.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # Two partial constraints rather than NULLS NOT DISTINCT, which SQLite lacks.
            models.UniqueConstraint(
                fields=["team", "name"],
                condition=Q(owner__isnull=True),
                name="plan_unique_library_name",
                violation_error_message="There is already a plan with that name here.",
            ),
            models.UniqueConstraint(
                fields=["team", "owner", "name"],
                condition=Q(owner__isnull=False),
                name="plan_unique_own_name",
                violation_error_message="There is already a plan with that name here.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def in_library(self) -> bool:
        return self.owner_id is None


class StepKind(models.TextChoices):
    EMAIL = "email", "Email"
    TEXT = "text", "Text"
    TASK = "task", "Task for the agent"


class DelayUnit(models.TextChoices):
    MINUTES = "minutes", "minutes"
    HOURS = "hours", "hours"
    DAYS = "days", "days"


class DelayFrom(models.TextChoices):
    PREVIOUS = "previous", "after the previous step"
    START = "start", "after the plan starts"


class PlanStep(models.Model):
    """One step: what is sent, and how long after the previous step (or the start)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=8, choices=StepKind.choices, default=StepKind.EMAIL)
    delay_amount = models.PositiveIntegerField("Wait", default=0)
    delay_unit = models.CharField(max_length=8, choices=DelayUnit.choices, default=DelayUnit.DAYS)
    delay_from = models.CharField(
        max_length=8, choices=DelayFrom.choices, default=DelayFrom.PREVIOUS
    )
    working_hours_only = models.BooleanField(
        "Only within the agent's working hours",
        default=False,
        help_text="A step falling outside the Agent's working hours waits for their next "
        "start, in the Agent's time zone (the Agent when the plan is scheduled).",
    )
    subject = models.CharField(
        max_length=200, blank=True, help_text="Emails: the subject. Tasks: the task's title."
    )
    body = models.TextField(max_length=5000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=StepKind.values), name="plan_step_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(delay_unit__in=DelayUnit.values), name="plan_step_unit_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}, {self.delay_text}"

    @property
    def delay_text(self) -> str:
        if self.delay_amount == 0:
            return "at once" if self.delay_from == DelayFrom.PREVIOUS else "when the plan starts"
        unit = self.get_delay_unit_display()
        if self.delay_amount == 1:
            unit = unit.rstrip("s")
        return f"{self.delay_amount} {unit} {self.get_delay_from_display()}"


class PlanTrigger(models.Model):
    """Start the plan for contacts routed by a rule (lead pool), or placed in a bucket."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="triggers")
    rule = models.ForeignKey(
        RoutingRule, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    bucket = models.ForeignKey(
        Bucket, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rule__isnull=False, bucket__isnull=True)
                | Q(rule__isnull=True, bucket__isnull=False),
                name="plan_trigger_rule_xor_bucket",
            ),
            models.UniqueConstraint(
                fields=["plan", "rule"],
                condition=Q(rule__isnull=False),
                name="plan_trigger_unique_rule",
                violation_error_message="The plan already starts from that rule.",
            ),
            models.UniqueConstraint(
                fields=["plan", "bucket"],
                condition=Q(bucket__isnull=False),
                name="plan_trigger_unique_bucket",
                violation_error_message="The plan already starts from that bucket.",
            ),
        ]

    def __str__(self) -> str:
        if self.rule_id:
            return f"Assigned by rule “{self.rule}”"
        return f"Lands in bucket “{self.bucket}”"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"
    COMPLETED = "completed", "Completed"


LIVE_STATUSES = (RunStatus.RUNNING, RunStatus.PAUSED)


class StartedVia(models.TextChoices):
    RULE = "rule", "Assigned by the rule"
    BUCKET = "bucket", "Placed in the bucket"
    HAND = "hand", "Started by hand"


class PlanRun(models.Model):
    """A contact going through a plan; one live (running or paused) run per contact and plan."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="runs")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="plan_runs")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_via = models.CharField(max_length=8, choices=StartedVia.choices)
    started_from = models.CharField(
        max_length=160, blank=True, help_text="The rule or bucket that started it."
    )
    started_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    # Bumped by every resume: re-scheduled steps need message keys of their own.
    generation = models.PositiveIntegerField(default=0)
    paused_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "contact"],
                condition=Q(status__in=LIVE_STATUSES),
                name="plan_run_one_live",
                violation_error_message="The plan is already running for this contact.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="plan_run_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["contact", "status"], name="plan_run_contact_status")]

    def __str__(self) -> str:
        return f"{self.plan} for {self.contact} ({self.get_status_display()})"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    def key_prefix(self) -> str:
        """Every message key of this run starts with this (the trailing colon keeps run 1
        from matching run 12)."""
        return f"plan:{self.pk}:"


class StepStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


DONE_STATUSES = (StepStatus.SENT, StepStatus.SKIPPED, StepStatus.FAILED)


class PlanRunStep(models.Model):
    """One step of a run: the message scheduled for it and how it ended."""

    run = models.ForeignKey(PlanRun, on_delete=models.CASCADE, related_name="run_steps")
    step = models.ForeignKey(
        PlanStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    position = models.PositiveIntegerField(help_text="1 for the plan's first step.")
    kind = models.CharField(max_length=8, choices=StepKind.choices)
    key = models.CharField(max_length=200, unique=True)
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=StepStatus.choices, default=StepStatus.SCHEDULED
    )
    done_at = models.DateTimeField(null=True, blank=True)
    agent = models.ForeignKey(
        Membership,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who it went out as.",
    )

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="plan_run_step_unique"),
        ]

    def __str__(self) -> str:
        return f"Step {self.position}: {self.get_kind_display()} ({self.get_status_display()})"
