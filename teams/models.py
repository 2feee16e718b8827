from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Plan(models.TextChoices):
    BASIC = "basic", "Basic"
    PRO = "pro", "Pro"
    PREMIER = "premier", "Premier"


class Team(models.Model):
    """The account: everything in Switchboard belongs to exactly one team."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.BASIC)
    time_zone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Group(models.Model):
    """An office or sub-group inside a team; any depth."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=120)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "parent", "name"], name="group_unique_name"),
            models.CheckConstraint(
                condition=~Q(parent=models.F("id")), name="group_not_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AgentTag(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="agent_tags")
    name = models.CharField(max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="agent_tag_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class DistributionScope(models.TextChoices):
    COMPANY = "company", "Entire Company"
    GROUP = "group", "User's Group"


class PermissionProfile(models.Model):
    """A named set of permissions that admins and agents are given."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="permission_profiles")
    name = models.CharField(max_length=80)
    manage_routing_rules = models.BooleanField("Contact Routing Rule Management", default=False)
    manage_lead_distribution = models.BooleanField("Manage Lead Distribution", default=False)
    distribution_scope = models.CharField(
        max_length=16, choices=DistributionScope.choices, default=DistributionScope.GROUP
    )
    view_routing_logs = models.BooleanField("View Routing Logs", default=False)
    trigger_reassignment = models.BooleanField("Trigger Reassignment", default=False)
    manage_team = models.BooleanField("Manage Team", default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="permission_profile_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    AGENT = "agent", "Agent"


class Membership(models.Model):
    """A user in a team: role, groups, tags, availability and capacity."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    permission_profile = models.ForeignKey(
        PermissionProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    groups = models.ManyToManyField(Group, blank=True, related_name="members")
    tags = models.ManyToManyField(AgentTag, blank=True, related_name="members")
    is_active = models.BooleanField(default=True)
    is_online = models.BooleanField(default=False)
    paused = models.BooleanField(default=False, help_text="Paused or on vacation.")
    paused_until = models.DateTimeField(
        null=True, blank=True, help_text="Pause ends by itself at this time; empty = until resumed."
    )
    capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most open contacts this member may hold."
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    email_signature = models.TextField(
        blank=True,
        max_length=1000,
        help_text="Closes the emails sent to contacts in your name (plans, alerts).",
    )
    work_days = models.CharField(
        max_length=13, blank=True, default="", help_text="Comma-separated weekdays, 0 = Monday."
    )
    work_start = models.TimeField(null=True, blank=True)
    work_end = models.TimeField(null=True, blank=True)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user__first_name", "user__last_name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_unique_user"),
            models.UniqueConstraint(
                fields=["team"], condition=Q(role="owner"), name="membership_one_owner"
            ),
            models.CheckConstraint(
                condition=Q(work_start__isnull=True, work_end__isnull=True)
                | Q(work_start__isnull=False, work_end__isnull=False),
                name="membership_work_hours_pair",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER

    @property
    def display_name(self) -> str:
        return self.user.get_full_name() or self.user.username

    def is_paused_at(self, now) -> bool:
        return self.paused and (self.paused_until is None or self.paused_until > now)


class ApiTokenAccess(models.TextChoices):
    FULL = "full", "Create and read contacts"
    INTAKE = "intake", "Create contacts only"
    READ = "read", "Read contacts only"


class ApiToken(models.Model):
    """A team's key to the JSON API. Only its SHA-256 is kept: the token is shown once."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    access = models.CharField(
        max_length=16, choices=ApiTokenAccess.choices, default=ApiTokenAccess.FULL
    )
    prefix = models.CharField(max_length=16, help_text="The token's first characters.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "name"],
                condition=Q(revoked_at__isnull=True),
                name="api_token_unique_active_name",
                violation_error_message="The team already has an active token with that name.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_create(self) -> bool:
        return self.access in (ApiTokenAccess.FULL, ApiTokenAccess.INTAKE)

    @property
    def can_read(self) -> bool:
        return self.access in (ApiTokenAccess.FULL, ApiTokenAccess.READ)
