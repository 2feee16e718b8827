"""Staff admin for contacts, their roles, activities and timeline, and intake records.

Contacts added here are announced by their post_save like any other (routing
queues them); roles added here go through contacts.services so the timeline
records them. Routing extends the contact admin with its state and actions.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, Prefetch
from django.utils.text import Truncator

from contacts.models import (
    Activity,
    Contact,
    ContactRole,
    RoleKind,
    Tag,
    TimelineEvent,
)
from contacts.services import contact_role_add
from teams.admin import ReadOnlyAdminMixin, TeamFixedAfterCreateMixin, TeamScopedForm


@admin.register(Tag)
class TagAdmin(TeamFixedAfterCreateMixin, admin.ModelAdmin):
    list_display = ("name", "team", "contact_count")
    list_select_related = ("team",)
    search_fields = ("name", "team__name")
    autocomplete_fields = ("team",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_contacts=Count("contacts"))

    @admin.display(description="Contacts", ordering="n_contacts")
    def contact_count(self, obj):
        return obj.n_contacts


class ContactRoleForm(TeamScopedForm):
    team_from = "contact"
    team_scoped_fields = ("membership",)

    def clean(self):
        cleaned = super().clean()
        # Routing owns the primary Agent: it logs, times and records each assignment.
        moved = {"kind", "membership"} & set(self.changed_data)
        if cleaned.get("kind") == RoleKind.AGENT and moved:
            self.add_error(
                "kind", "The primary Agent is set by routing: use the “Re-run routing” action."
            )
        return cleaned


def _role_save(role: ContactRole) -> None:
    """New roles go through the service, so the contact's timeline records them."""
    if role.pk:
        role.save()
        return
    added = contact_role_add(
        contact=role.contact,
        membership=role.membership,
        kind=role.kind,
        custom_name=role.custom_name,
    )
    role.pk, role.assigned_at = added.pk, added.assigned_at


class ContactRoleInline(admin.TabularInline):
    model = ContactRole
    form = ContactRoleForm
    fields = ("kind", "custom_name", "membership", "assigned_at")
    readonly_fields = ("assigned_at",)
    autocomplete_fields = ("membership",)
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("membership__user")


class ContactForm(TeamScopedForm):
    team_scoped_fields = ("tags",)


@admin.register(Contact)
class ContactAdmin(TeamFixedAfterCreateMixin, admin.ModelAdmin):
    """The contact record. Routing adds its state and actions (routing.admin)."""

    form = ContactForm
    list_display = (
        "__str__",
        "team",
        "email",
        "phone",
        "source",
        "status",
        "primary_agent",
        "created_at",
    )
    list_filter = ("status", "contact_type")
    list_select_related = ("team",)
    search_fields = ("first_name", "last_name", "email", "phone", "team__name")
    date_hierarchy = "created_at"
    autocomplete_fields = ("team", "tags")
    readonly_fields = ("updated_at",)
    inlines = [ContactRoleInline]

    def get_queryset(self, request):
        agent_roles = ContactRole.objects.filter(kind=RoleKind.AGENT).select_related(
            "membership__user"
        )
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("roles", queryset=agent_roles, to_attr="agent_roles"))
        )

    @admin.display(description="Agent")
    def primary_agent(self, obj):
        return obj.agent_roles[0].membership if obj.agent_roles else None

    def save_formset(self, request, form, formset, change):
        if formset.model is not ContactRole:
            return super().save_formset(request, form, formset, change)
        for role in formset.save(commit=False):
            _role_save(role)
        for role in formset.deleted_objects:
            role.delete()


@admin.register(ContactRole)
class ContactRoleAdmin(admin.ModelAdmin):
    form = ContactRoleForm
    list_display = ("contact", "kind", "custom_name", "membership", "assigned_at")
    list_filter = ("kind",)
    list_select_related = ("contact", "membership__user")
    search_fields = (
        "contact__first_name",
        "contact__last_name",
        "contact__email",
        "membership__user__username",
        "membership__user__last_name",
    )
    autocomplete_fields = ("contact", "membership")
    readonly_fields = ("assigned_at",)

    def save_model(self, request, obj, form, change):
        _role_save(obj)


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "kind", "contact", "contact__team", "membership", "body_excerpt")
    list_filter = ("kind",)
    list_select_related = ("contact__team", "membership__user")
    search_fields = ("body", "contact__email", "contact__last_name")
    date_hierarchy = "created_at"

    @admin.display(description="Body")
    def body_excerpt(self, obj):
        return Truncator(obj.body).chars(80)


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "contact", "kind", "actor", "message")
    list_filter = ("kind",)
    list_select_related = ("contact", "actor__user")
    search_fields = ("message", "contact__email", "contact__last_name")
    date_hierarchy = "created_at"
    show_full_result_count = False


# --- intake: lead sources, rejected payloads, idempotency keys, imports ---------------

import secrets  # noqa: E402

from contacts.models import (  # noqa: E402
    ExternalLead,
    IdempotencyKey,
    ImportJob,
    LeadSource,
    RejectedPayload,
)


@admin.register(LeadSource)
class LeadSourceAdmin(TeamFixedAfterCreateMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "team", "is_active", "created_at")
    list_filter = ("is_active",)
    list_select_related = ("team",)
    search_fields = ("name", "slug", "team__name")
    autocomplete_fields = ("team",)
    prepopulated_fields = {"slug": ("name",)}
    actions = ["rotate_secret"]

    def get_changeform_initial_data(self, request):
        return {"secret": secrets.token_urlsafe(32), **super().get_changeform_initial_data(request)}

    @admin.action(description="Rotate the shared secret", permissions=["change"])
    def rotate_secret(self, request, queryset):
        for source in queryset:
            source.secret = secrets.token_urlsafe(32)
            source.save(update_fields=["secret"])
        self.message_user(request, f"New secrets for {queryset.count()} source(s): tell them.")


@admin.register(RejectedPayload)
class RejectedPayloadAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Intake requests turned away (bad token, signature, JSON or fields), with the reason."""

    list_display = ("created_at", "status", "reason", "team", "source", "endpoint", "remote_addr")
    list_filter = ("status",)
    list_select_related = ("team", "source")
    search_fields = ("reason", "body", "endpoint", "remote_addr")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser  # clearing the inspected ones is allowed


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "key", "team", "state", "response_status", "completed_at")
    list_filter = ("state", "response_status")
    list_select_related = ("team",)
    search_fields = ("key",)
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(ExternalLead)
class ExternalLeadAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("external_id", "source", "contact", "created_at")
    list_select_related = ("source", "contact")
    search_fields = ("external_id", "contact__email")


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "filename",
        "team",
        "status",
        "created_count",
        "skipped_count",
        "assign_to",
        "created_by",
        "created_at",
    )
    list_filter = ("status",)
    list_select_related = ("team", "assign_to__user", "created_by__user")
    search_fields = ("filename", "team__name")
    exclude = ("rows",)
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).defer("rows")
