"""Staff admin for routing: rules with their assignees, and the records routing leaves.

Offers, rotations, routing state and logs are written by routing alone, so they are
view-only. Assignees are edited on their rule or reassignment group. A change of who
is in a rule restarts its order of distribution; a reassignment group's never does,
as in the rule and reassignment services. Routing also extends the contact and team
admins with its state, counts and actions.
"""

from __future__ import annotations

from collections import Counter

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from contacts.admin import ContactAdmin
from contacts.models import Contact
from routing.groups import reassignment_group_delete
from routing.groups import reassignment_group_validate as group_validate
from routing.manual import contact_assign_directly, contact_reroute
from routing.models import (
    ContactRouting,
    Offer,
    OfferRecipient,
    ReassignmentAssignee,
    ReassignmentGroup,
    Rotation,
    RoutingLog,
    RoutingRule,
    RoutingStatus,
    RuleAssignee,
)
from routing.rules import rule_delete, rule_rotation_reset, rule_validate
from teams.admin import (
    ReadOnlyAdminMixin,
    TeamAdmin,
    TeamFixedAfterCreateMixin,
    TeamScopedForm,
    changelist_link,
    count_of,
)
from teams.models import Membership, Team


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
    team_scoped_fields = ("source_buckets",)

    def clean(self):
        cleaned = super().clean()
        if self.instance.is_default and cleaned.get("source_buckets"):
            self.add_error(
                "source_buckets", "The Default Rule takes every contact: it cannot be a lead pool."
            )
        return cleaned


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
            # Adding or removing anyone starts the order of distribution again.
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
                n_in_progress=count_of(ContactRouting.objects.all(), "reassigning_to"),
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
        if obj is not None and ContactRouting.objects.filter(reassigning_to=obj).exists():
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


@admin.register(Rotation)
class RotationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "used_by", "turns", "epoch", "reset_at", "member_count")
    list_select_related = ("rule__team", "group__team")
    search_fields = ("rule__name", "group__name", "rule__team__name", "group__team__name")
    fields = ("turns", "epoch", "reset_at", "counts")

    @admin.display(description="Used by")
    def used_by(self, obj):
        owner = getattr(obj, "rule", None) or getattr(obj, "group", None)
        if owner is None:
            return None
        url = reverse(f"admin:routing_{owner._meta.model_name}_change", args=[owner.pk])
        return format_html('<a href="{}">{}: {}</a>', url, owner.team, owner)

    @admin.display(description="Members with turns")
    def member_count(self, obj):
        return len(obj.counts)


@admin.register(RoutingLog)
class RoutingLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "team", "contact", "event", "source_name", "membership", "reason")
    list_filter = ("event",)
    list_select_related = ("team", "contact", "membership__user")
    search_fields = ("reason", "source_name", "contact__email", "contact__last_name")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    show_full_result_count = False


@admin.register(ContactRouting)
class ContactRoutingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("contact", "team", "status", "rule", "attempts", "queued_at", "assigned_at")
    list_filter = ("status",)
    list_select_related = ("contact", "team", "rule")
    search_fields = ("contact__first_name", "contact__last_name", "contact__email")
    date_hierarchy = "queued_at"
    ordering = ("-queued_at",)
    show_full_result_count = False


# --- routing's part of the contact and team admins -----------------------------------


class ContactRoutingInline(ReadOnlyAdminMixin, admin.StackedInline):
    model = ContactRouting
    fields = (
        "status", "rule", "error", "attempts", "next_attempt_at", "started_at", "held_since",
        "hold_until", "assigned_at", "assigned_by", "reassigning_to", "reassign_started_at",
    )  # fmt: skip
    can_delete = False


admin.site.unregister(Contact)


@admin.register(Contact)
class LeadAdmin(ContactAdmin):
    """The contact admin, with its routing state at a glance and a way to re-run it."""

    list_display = (
        *ContactAdmin.list_display[:6],
        "routing_status",
        *ContactAdmin.list_display[6:],
        "routing_error_excerpt",
    )
    list_filter = ("routing__status", *ContactAdmin.list_filter)
    list_select_related = ("team", "routing")
    inlines = [ContactRoutingInline, *ContactAdmin.inlines]
    actions = ["rerun_routing", "assign_directly"]

    @admin.display(description="Routing status", ordering="routing__status")
    def routing_status(self, obj):
        routing = getattr(obj, "routing", None)
        return routing.get_status_display() if routing else "—"

    @admin.display(description="Routing error", ordering="routing__error")
    def routing_error_excerpt(self, obj):
        routing = getattr(obj, "routing", None)
        return Truncator(routing.error).chars(80) if routing else ""

    @admin.action(description="Re-run routing", permissions=["change"])
    def rerun_routing(self, request, queryset):
        outcomes, failures = Counter(), []
        for contact in queryset:
            try:
                outcome = contact_reroute(actor=None, contact=contact)
            except Exception as exc:  # reported to staff below, with its text
                failures.append(f"{contact}: {type(exc).__name__}: {exc}")
            else:
                if outcome == RoutingStatus.FAILED:  # routing records its failure, with why
                    error = ContactRouting.objects.filter(contact=contact).values_list(
                        "error", flat=True
                    )
                    failures.append(f"{contact}: {error.first() or 'failed'}")
                    continue
                outcomes[dict(RoutingStatus.choices).get(outcome, outcome)] += 1
        if outcomes:
            summary = ", ".join(f"{n} {label.lower()}" for label, n in outcomes.items())
            self.message_user(
                request, f"Re-ran routing for {outcomes.total()} contact(s): {summary}."
            )
        if failures:
            self.message_user(
                request,
                f"Routing failed for {len(failures)} contact(s): {'; '.join(failures)}",
                messages.ERROR,
            )

    @admin.action(description="Assign directly to a member…", permissions=["change"])
    def assign_directly(self, request, queryset):
        """Two steps: choose the member (same team as every selected contact), then apply."""
        team_ids = set(queryset.values_list("team_id", flat=True))
        if len(team_ids) != 1:
            self.message_user(request, "Select contacts of one team at a time.", messages.ERROR)
            return None
        members = Membership.objects.filter(team_id=team_ids.pop(), is_active=True).select_related(
            "user"
        )
        chosen = members.filter(pk=request.POST.get("membership") or 0).first()
        if "apply" not in request.POST or chosen is None:
            context = {
                **self.admin_site.each_context(request),
                "title": "Assign directly",
                "contacts": queryset,
                "members": members,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            }
            return TemplateResponse(request, "admin/routing/assign_directly.html", context)
        done, failures = 0, []
        for contact in queryset:
            try:
                contact_assign_directly(actor=None, contact=contact, membership=chosen)
                done += 1
            except ValidationError as exc:  # shown to staff with its text
                failures.append(f"{contact}: {'; '.join(exc.messages)}")
        if done:
            self.message_user(request, f"Assigned {done} contact(s) to {chosen.display_name}.")
        if failures:
            self.message_user(request, "Not assigned: " + "; ".join(failures), messages.ERROR)
        return None


admin.site.unregister(Team)


@admin.register(Team)
class TeamRoutingAdmin(TeamAdmin):
    """The team admin, with its contacts and routing rules counted."""

    list_display = (*TeamAdmin.list_display[:5], "contacts", "rules", "created_at")
    counted_fields = (*TeamAdmin.counted_fields, "contacts", "rules")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_contacts=count_of(Contact.objects.all(), "team"),
                n_rules=count_of(RoutingRule.objects.all(), "team"),
            )
        )

    @admin.display(description="Contacts", ordering="n_contacts")
    def contacts(self, obj):
        return changelist_link(Contact, obj.n_contacts, team__id__exact=obj.pk)

    @admin.display(description="Routing rules", ordering="n_rules")
    def rules(self, obj):
        return changelist_link(RoutingRule, obj.n_rules, team__id__exact=obj.pk)
