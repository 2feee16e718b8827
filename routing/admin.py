"""Staff admin for routing: rules with their assignees, and the records routing leaves.

Offers, rotations and logs are written by routing alone, so they are view-only.
Assignees are edited on their rule or reassignment group. A change of who is in
a rule restarts its order of distribution; a reassignment group's never does,
as in the rule and reassignment services.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from contacts.models import Contact
from routing.models import (
    Offer,
    OfferRecipient,
    ReassignmentAssignee,
    ReassignmentGroup,
    Rotation,
    RotationSlot,
    RoutingLog,
    RoutingRule,
    RuleAssignee,
)
from routing.reassignment import reassignment_group_delete
from routing.reassignment import reassignment_group_validate as group_validate
from routing.rules import rule_delete, rule_validate
from routing.services import rule_rotation_reset
from teams.admin import (
    ReadOnlyAdminMixin,
    TeamFixedAfterCreateMixin,
    TeamScopedForm,
    count_of,
)


class ServiceValidatedForm(TeamScopedForm):
    """Plan and method limits live with the services; the admin obeys them too."""

    validate = None

    def _post_clean(self):
        super()._post_clean()
        if self._errors:
            return
        try:
            self.validate(self.instance)
        except ValidationError as exc:
            self._update_errors(exc)


class OwnsRotationMixin:
    """Rules and reassignment groups each take turns on a rotation of their own."""

    def save_model(self, request, obj, form, change):
        if not change:
            obj.rotation = Rotation.objects.create()
        super().save_model(request, obj, form, change)


class AssigneeInline(admin.TabularInline):
    fields = ("membership", "agent_tag", "weight", "position")
    autocomplete_fields = ("membership", "agent_tag")
    extra = 0


class EditedOnParentMixin:
    """Rows added and edited in their parent's inline. Deletable, so the parent can be."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RuleAssigneeForm(TeamScopedForm):
    team_from = "rule"
    team_scoped_fields = ("membership", "agent_tag")


class RuleAssigneeInline(AssigneeInline):
    model = RuleAssignee
    form = RuleAssigneeForm


def _changes_who(formset) -> bool:
    return bool(
        formset.new_objects
        or formset.deleted_objects
        or any({"membership", "agent_tag"} & set(fields) for _, fields in formset.changed_objects)
    )


class RoutingRuleForm(ServiceValidatedForm):
    validate = staticmethod(rule_validate)


@admin.register(RoutingRule)
class RoutingRuleAdmin(OwnsRotationMixin, TeamFixedAfterCreateMixin, admin.ModelAdmin):
    form = RoutingRuleForm
    list_display = (
        "name",
        "team",
        "is_default",
        "position",
        "method",
        "is_paused",
        "assignee_count",
        "claim_window_minutes",
        "updated_at",
    )
    list_filter = ("method", "is_paused", "is_default")
    list_select_related = ("team",)
    ordering = ("team__name", "team_id", "is_default", "position", "id")
    search_fields = ("name", "team__name")
    autocomplete_fields = ("team", "direct_assignee")
    readonly_fields = ("is_default", "rotation", "created_at", "updated_at")
    inlines = [RuleAssigneeInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_assignees=Count("assignees"))

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # The Default Rule is the catch-all: it never pauses.
        return (*fields, "is_paused") if obj and obj.is_default else fields

    @admin.display(description="Assignees", ordering="n_assignees")
    def assignee_count(self, obj):
        return obj.n_assignees

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_default:
            return False
        return super().has_delete_permission(request, obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change and any(_changes_who(fs) for fs in formsets if fs.model is RuleAssignee):
            # Adding or removing anyone starts the order of distribution again (seed 000).
            rule_rotation_reset(rule=form.instance)

    def delete_model(self, request, obj):
        rule_delete(actor=None, rule=obj)

    def delete_queryset(self, request, queryset):
        # No Default Rule gets here: delete_selected asks has_delete_permission of every row.
        for rule in queryset:
            rule_delete(actor=None, rule=rule)


@admin.register(RuleAssignee)
class RuleAssigneeAdmin(EditedOnParentMixin, admin.ModelAdmin):
    """Which rules a member or tag is in."""

    list_display = ("rule", "rule__team", "membership", "agent_tag", "weight", "position")
    list_select_related = ("rule__team", "membership__user", "agent_tag")
    search_fields = (
        "rule__name",
        "membership__user__username",
        "membership__user__last_name",
        "agent_tag__name",
    )

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        rule_rotation_reset(rule=obj.rule)

    def delete_queryset(self, request, queryset):
        rules = list(RoutingRule.objects.filter(assignees__in=queryset).distinct())
        super().delete_queryset(request, queryset)
        for rule in rules:
            rule_rotation_reset(rule=rule)


class ReassignmentAssigneeForm(TeamScopedForm):
    team_from = "group"
    team_scoped_fields = ("membership", "agent_tag")


class ReassignmentAssigneeInline(AssigneeInline):
    model = ReassignmentAssignee
    form = ReassignmentAssigneeForm


class ReassignmentGroupForm(ServiceValidatedForm):
    team_scoped_fields = ("available_to",)
    validate = staticmethod(group_validate)


@admin.register(ReassignmentGroup)
class ReassignmentGroupAdmin(OwnsRotationMixin, TeamFixedAfterCreateMixin, admin.ModelAdmin):
    form = ReassignmentGroupForm
    list_display = (
        "name",
        "team",
        "method",
        "claim_window_minutes",
        "default_assignee",
        "only_online",
        "assignee_count",
        "in_progress",
    )
    list_filter = ("method", "only_online")
    list_select_related = ("team", "default_assignee__user")
    search_fields = ("name", "team__name")
    autocomplete_fields = ("team", "default_assignee", "available_to")
    readonly_fields = ("rotation", "created_at")
    inlines = [ReassignmentAssigneeInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_assignees=count_of(ReassignmentAssignee.objects.all(), "group"),
                n_in_progress=count_of(Contact.objects.all(), "reassigning_to"),
            )
        )

    @admin.display(description="Assignees", ordering="n_assignees")
    def assignee_count(self, obj):
        return obj.n_assignees

    @admin.display(description="Reassigning now", ordering="n_in_progress")
    def in_progress(self, obj):
        return obj.n_in_progress

    def has_delete_permission(self, request, obj=None):
        # The service refuses while contacts are on their way through the group.
        if obj is not None and Contact.objects.filter(reassigning_to=obj).exists():
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        reassignment_group_delete(actor=None, group=obj)

    def delete_queryset(self, request, queryset):
        for group in queryset:
            reassignment_group_delete(actor=None, group=group)


@admin.register(ReassignmentAssignee)
class ReassignmentAssigneeAdmin(EditedOnParentMixin, admin.ModelAdmin):
    """Which reassignment groups a member or tag is in."""

    list_display = ("group", "group__team", "membership", "agent_tag", "weight", "position")
    list_select_related = ("group__team", "membership__user", "agent_tag")
    search_fields = (
        "group__name",
        "membership__user__username",
        "membership__user__last_name",
        "agent_tag__name",
    )


class OfferRecipientInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OfferRecipient
    fields = ("membership",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("membership__user")


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "contact",
        "kind",
        "status",
        "rule",
        "reassignment_group",
        "deadline",
        "claimed_by",
        "recipient_count",
        "created_at",
        "resolved_at",
    )
    list_filter = ("status", "kind")
    list_select_related = ("contact", "rule", "reassignment_group", "claimed_by__user")
    search_fields = ("contact__first_name", "contact__last_name", "contact__email", "rule__name")
    date_hierarchy = "created_at"
    inlines = [OfferRecipientInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_recipients=Count("offer_recipients"))

    @admin.display(description="Recipients", ordering="n_recipients")
    def recipient_count(self, obj):
        return obj.n_recipients


@admin.register(OfferRecipient)
class OfferRecipientAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("offer", "offer__status", "membership")
    list_filter = ("offer__status",)
    list_select_related = ("offer__contact", "membership__user")
    search_fields = ("offer__contact__email", "membership__user__username")


class RotationSlotInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RotationSlot
    fields = ("membership", "count")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("membership__user")


@admin.register(Rotation)
class RotationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "used_by", "turns", "epoch", "reset_at", "slot_count")
    list_select_related = ("rule__team", "group__team")
    search_fields = ("rule__name", "group__name", "rule__team__name", "group__team__name")
    inlines = [RotationSlotInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_slots=Count("slots"))

    @admin.display(description="Used by")
    def used_by(self, obj):
        owner = getattr(obj, "rule", None) or getattr(obj, "group", None)
        if owner is None:
            return None
        url = reverse(f"admin:routing_{owner._meta.model_name}_change", args=[owner.pk])
        return format_html('<a href="{}">{}: {}</a>', url, owner.team, owner)

    @admin.display(description="Slots", ordering="n_slots")
    def slot_count(self, obj):
        return obj.n_slots


@admin.register(RotationSlot)
class RotationSlotAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("rotation", "membership", "count")
    list_select_related = ("rotation", "membership__user")
    search_fields = ("membership__user__username", "membership__user__last_name")


@admin.register(RoutingLog)
class RoutingLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "team", "contact", "event", "rule_name", "membership", "reason")
    list_filter = ("event",)
    list_select_related = ("team", "contact", "membership__user")
    search_fields = ("reason", "rule_name", "contact__email", "contact__last_name")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    show_full_result_count = False
