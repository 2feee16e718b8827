"""Forms of the Smart Plans pages. Templates are checked here with the same service
check the save runs (plans.services.step_check), so a bad placeholder or tag is a
field error on the page."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from notifications.contact_messages import CONTACT_PLACEHOLDERS
from notifications.sandbox import LANGUAGE_HELP
from plans import services
from plans.models import Plan, PlanStep, StepKind

PLACEHOLDER_HELP = (
    "Placeholders: "
    + ", ".join(f"{{{{ {name} }}}}" for name in CONTACT_PLACEHOLDERS)
    + ". "
    + LANGUAGE_HELP
)


class PlanForm(forms.ModelForm):
    class Meta:
        model = Plan
        fields = ("name", "description", "stop_on_contact")
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class StepForm(forms.ModelForm):
    class Meta:
        model = PlanStep
        fields = (
            "kind",
            "delay_amount",
            "delay_unit",
            "delay_from",
            "working_hours_only",
            "subject",
            "body",
        )
        labels = {
            "kind": "Step",
            "delay_unit": "Unit",
            "delay_from": "Counted",
            "subject": "Subject (emails) or title (tasks)",
            "body": "Message",
        }
        help_texts = {
            "delay_amount": "0 sends it at once. Resuming a paused plan counts its remaining "
            "steps from the moment it resumes.",
            "body": PLACEHOLDER_HELP + " " + services.TASK_IS_PLAIN,
        }
        widgets = {"body": forms.Textarea(attrs={"rows": 8})}

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        kind = cleaned.get("kind")
        if kind == StepKind.TEXT:
            cleaned["subject"] = ""
        try:
            services.step_check(
                kind=kind,
                delay_amount=cleaned.get("delay_amount") or 0,
                delay_unit=cleaned.get("delay_unit"),
                subject=cleaned.get("subject") or "",
                body=cleaned.get("body") or "",
            )
        except ValidationError as exc:
            self.add_error(None, exc)
        return cleaned


class RuleTriggerForm(forms.Form):
    rule = forms.ModelChoiceField(
        queryset=None, label="Start this plan when a contact is assigned by rule"
    )

    def __init__(self, *args, rules, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].queryset = rules


class BucketTriggerForm(forms.Form):
    bucket = forms.ModelChoiceField(
        queryset=None, label="Start this plan when a contact lands in bucket"
    )

    def __init__(self, *args, buckets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bucket"].queryset = buckets
        self.fields["bucket"].label_from_instance = bucket_label


def bucket_label(bucket) -> str:
    if bucket.owner_id is None:
        return f"{bucket.name} (team)"
    return f"{bucket.name} ({bucket.owner.display_name})"


class StartForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=None, label="Smart Plan", empty_label=None)

    def __init__(self, *args, plans, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plans
        self.fields["plan"].label_from_instance = lambda p: (
            f"{p.name} (Team Library)" if p.owner_id is None else f"{p.name} (yours)"
        )
