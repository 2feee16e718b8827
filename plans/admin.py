"""Staff admin: plans with their steps and triggers; runs are read-only (the services
write them, with the messages they scheduled)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from plans.models import Plan, PlanRun, PlanRunStep, PlanStep, PlanTrigger
from plans.services import step_check
from teams.admin import ReadOnlyAdminMixin, TeamFixedAfterCreateMixin, TeamScopedForm


class PlanStepForm(forms.ModelForm):
    """The pages' checks: each template keeps to the sandbox and the placeholders."""

    class Meta:
        model = PlanStep
        fields = (
            "position",
            "kind",
            "delay_amount",
            "delay_unit",
            "delay_from",
            "working_hours_only",
            "subject",
            "body",
        )
        widgets = {"body": forms.Textarea(attrs={"rows": 4, "cols": 60})}

    def clean(self):
        cleaned = super().clean()
        if self.errors or cleaned.get("DELETE"):
            return cleaned
        try:
            step_check(
                kind=cleaned.get("kind"),
                delay_amount=cleaned.get("delay_amount") or 0,
                delay_unit=cleaned.get("delay_unit"),
                subject=cleaned.get("subject") or "",
                body=cleaned.get("body") or "",
            )
        except ValidationError as exc:
            self.add_error(None, exc)
        return cleaned


class PlanStepInline(admin.TabularInline):
    model = PlanStep
    form = PlanStepForm
    extra = 0


class PlanTriggerForm(TeamScopedForm):
    team_from = "plan"
    team_scoped_fields = ("rule", "bucket")

    class Meta:
        model = PlanTrigger
        fields = ("rule", "bucket")


class PlanTriggerInline(admin.TabularInline):
    model = PlanTrigger
    form = PlanTriggerForm
    extra = 0
    raw_id_fields = ("rule", "bucket")


class PlanForm(TeamScopedForm):
    team_scoped_fields = ("owner", "copied_from")

    class Meta:
        model = Plan
        fields = ("team", "name", "owner", "description", "stop_on_contact", "copied_from")


@admin.register(Plan)
class PlanAdmin(TeamFixedAfterCreateMixin, admin.ModelAdmin):
    form = PlanForm
    list_display = ("name", "team", "owner", "stop_on_contact", "updated_at")
    list_filter = ("stop_on_contact",)
    list_select_related = ("team", "owner__user")
    search_fields = ("name", "team__name")
    raw_id_fields = ("owner", "copied_from")
    inlines = [PlanStepInline, PlanTriggerInline]


class PlanRunStepInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PlanRunStep
    fields = ("position", "kind", "key", "due_at", "status", "done_at", "agent")
    readonly_fields = fields
    extra = 0


@admin.register(PlanRun)
class PlanRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("plan", "contact", "team", "status", "started_via", "started_at", "ended_at")
    list_filter = ("status", "started_via")
    list_select_related = ("plan", "contact", "team")
    search_fields = ("plan__name", "contact__first_name", "contact__last_name", "contact__email")
    date_hierarchy = "started_at"
    inlines = [PlanRunStepInline]
    show_full_result_count = False
