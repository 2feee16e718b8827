"""Forms for the team's pages of the notifications app."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from notifications.auto_messages import PLACEHOLDER_HELP, validate_template
from notifications.models import AutoMessageKind, AutoMessageTemplate


class AutoMessageTemplateEditForm(forms.ModelForm):
    """A team's wording of one auto message; the kind is fixed by the page.

    The same checks as the staff admin: each field must keep to the sandbox's
    placeholders, filters and {% if %}, within its limits, and an email needs a
    subject. Texts have no subject field.
    """

    class Meta:
        model = AutoMessageTemplate
        fields = ("enabled", "subject", "body")
        labels = {
            "enabled": "Send it automatically after routing",
            "subject": "Subject",
            "body": "Message",
        }
        help_texts = {"body": PLACEHOLDER_HELP}
        widgets = {"body": forms.Textarea(attrs={"rows": 10})}

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        if kind == AutoMessageKind.WELCOME_TEXT:
            del self.fields["subject"]
            self.fields["body"].widget.attrs["rows"] = 5

    def clean(self):
        cleaned = super().clean()
        for name in ("subject", "body"):
            if name not in self.fields:
                continue
            try:
                validate_template(cleaned.get(name) or "")
            except ValidationError as exc:
                self.add_error(name, exc)
        if (
            self.kind == AutoMessageKind.WELCOME_EMAIL
            and "subject" not in self.errors
            and not cleaned.get("subject")
        ):
            self.add_error("subject", "A welcome email needs a subject.")
        return cleaned
