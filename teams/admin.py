"""Staff admin for teams and members.

Permissions follow a member's role and profile directly (nothing to re-sync), and
teams show counts that link to filtered changelists rather than member
inlines, which would not scale to large teams.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html

from teams import permissions as perms
from teams.models import (
    AgentTag,
    Group,
    Membership,
    PermissionProfile,
    Role,
    Team,
)
from teams.services import permission_profile_save

# --- shared by the contacts and routing admins ----------------------------------


class ReadOnlyAdminMixin:
    """System and append-only records: staff may look, nobody may write or delete."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TeamFixedAfterCreateMixin:
    """Moving a row to another team would strand everything that points at it."""

    fixed_after_create: tuple[str, ...] = ("team",)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, *self.fixed_after_create) if obj else fields


class TeamScopedForm(forms.ModelForm):
    """Rejects related rows of another team: staff pick from every team's rows here.

    `team_from` names the field (or instance attribute) holding the row's team,
    or a row that has a `team_id` itself (the contact of a role, the rule of an assignee).
    """

    team_from = "team"
    team_scoped_fields: tuple[str, ...] = ()

    def clean(self):
        cleaned = super().clean()
        if not self.team_scoped_fields:
            return cleaned
        anchor = cleaned.get(self.team_from) or getattr(self.instance, self.team_from, None)
        team_id = anchor.pk if isinstance(anchor, Team) else getattr(anchor, "team_id", None)
        if team_id is None:
            return cleaned
        for name in self.team_scoped_fields:
            value = cleaned.get(name)
            rows = list(value) if isinstance(value, QuerySet) else [value] if value else []
            strangers = [str(row) for row in rows if row.team_id != team_id]
            if strangers:
                self.add_error(name, f"From another team: {', '.join(strangers)}.")
        return cleaned


def changelist_link(model, label, **filters) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(filters), label)


def count_of(queryset: QuerySet, field: str) -> Coalesce:
    """A per-row COUNT subquery: several joined Counts would multiply each other's rows."""
    counted = (
        queryset.filter(**{field: OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


# --- teams -------------------------------------------------------------------------


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Teams and their members; routing adds its counts (routing.admin)."""

    list_display = ("name", "slug", "plan", "time_zone", "members", "created_at")
    list_filter = ("plan",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    counted_fields = ("members",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(n_members=count_of(Membership.objects.all(), "team"))
        )

    def get_readonly_fields(self, request, obj=None):
        return self.counted_fields if obj else ()

    @admin.display(description="Members", ordering="n_members")
    def members(self, obj):
        return changelist_link(Membership, obj.n_members, team__id__exact=obj.pk)


class GroupForm(TeamScopedForm):
    team_scoped_fields = ("parent",)


class MemberCountMixin:
    """Groups, tags and profiles list how many members they hold, in the page's one query."""

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_members=Count("members"))

    @admin.display(description="Members", ordering="n_members")
    def member_count(self, obj):
        return obj.n_members


@admin.register(Group)
class GroupAdmin(MemberCountMixin, TeamFixedAfterCreateMixin, admin.ModelAdmin):
    form = GroupForm
    list_display = ("name", "team", "parent", "member_count")
    list_select_related = ("team", "parent")
    search_fields = ("name", "team__name")
    autocomplete_fields = ("team", "parent")


@admin.register(AgentTag)
class AgentTagAdmin(MemberCountMixin, TeamFixedAfterCreateMixin, admin.ModelAdmin):
    list_display = ("name", "team", "member_count")
    list_select_related = ("team",)
    search_fields = ("name", "team__name")
    autocomplete_fields = ("team",)


@admin.register(PermissionProfile)
class PermissionProfileAdmin(MemberCountMixin, TeamFixedAfterCreateMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "team",
        *perms.PROFILE_PERMISSIONS,
        "distribution_scope",
        "member_count",
    )
    list_filter = ("distribution_scope", perms.MANAGE_ROUTING_RULES, perms.MANAGE_TEAM)
    list_select_related = ("team",)
    search_fields = ("name", "team__name")
    autocomplete_fields = ("team",)

    @admin.display(description="Members", ordering="n_members")
    def member_count(self, obj):
        return changelist_link(Membership, obj.n_members, permission_profile__id__exact=obj.pk)

    def save_model(self, request, obj, form, change):
        # The service validates it (full_clean) as the team pages do.
        permission_profile_save(actor=None, profile=obj)


class MembershipForm(TeamScopedForm):
    team_scoped_fields = ("permission_profile", "groups", "tags")

    def clean(self):
        cleaned = super().clean()
        # self.instance still holds the stored role: the form copies onto it after clean().
        role = cleaned.get("role")
        if self.instance.pk and role and (role == Role.OWNER) != (self.instance.role == Role.OWNER):
            self.add_error("role", "Ownership is transferred, not edited.")
        return cleaned


@admin.register(Membership)
class MembershipAdmin(TeamFixedAfterCreateMixin, admin.ModelAdmin):
    form = MembershipForm
    fixed_after_create = ("team", "user")
    list_display = (
        "display_name",
        "user__email",
        "team",
        "role",
        "permission_profile",
        "is_active",
        "is_online",
        "paused",
        "capacity",
        "joined_at",
    )
    list_filter = ("role", "is_active", "is_online", "paused")
    list_select_related = ("user", "team", "permission_profile")
    search_fields = (
        "user__username",
        "user__first_name",
        "user__last_name",
        "user__email",
        "team__name",
    )
    autocomplete_fields = ("team", "user", "permission_profile", "groups", "tags")
    date_hierarchy = "joined_at"

    def get_queryset(self, request):
        # Autocomplete answers and change pages print the name (from the user) too;
        # a select_related here makes the changelist skip list_select_related.
        return super().get_queryset(request).select_related(*self.list_select_related)

    @admin.display(description="Member", ordering="user__first_name")
    def display_name(self, obj):
        return obj.display_name

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.role == Role.OWNER:
            return False
        return super().has_delete_permission(request, obj)


# --- API tokens ---------------------------------------------------------------------

from django.utils import timezone  # noqa: E402

from teams.models import ApiToken  # noqa: E402


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made on the team's API tokens page or by `create_api_token`, which show
    the token once; here staff see them and revoke them."""

    list_display = (
        "name",
        "team",
        "prefix",
        "access",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("access", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("team", "created_by__user")
    search_fields = ("name", "prefix", "team__name")
    readonly_fields = (
        "team",
        "prefix",
        "access",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {revoked} token(s).")


# --- sign-in lockouts (django-axes) -------------------------------------------------

from axes.admin import AccessAttemptAdmin  # noqa: E402
from axes.models import AccessAttempt  # noqa: E402

admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class SigninAttemptAdmin(AccessAttemptAdmin):
    """axes' failed sign-ins (teams.signin), with an Unlock action. A lock is nothing but
    these rows: deleting them, with Unlock or Delete, lets the username in from that
    address at once. An address locked as a whole has a row per username tried from it:
    search for the address and unlock them all."""

    actions = [*AccessAttemptAdmin.actions, "unlock"]

    @admin.action(description="Unlock: forget the selected failed sign-ins", permissions=["delete"])
    def unlock(self, request, queryset):
        _, deleted = queryset.delete()
        count = deleted.get(AccessAttempt._meta.label, 0)
        self.message_user(request, f"Unlocked: {count} failed sign-in record(s) forgotten.")
