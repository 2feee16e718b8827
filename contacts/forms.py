from __future__ import annotations

from django import forms
from django.conf import settings

from contacts.intake import IMPORT_FIELDS
from contacts.models import ImportJob
from teams.models import Membership


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="The first row names the columns. UTF-8 or Excel's CSV export.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {settings.IMPORT_MAX_BYTES // (1024 * 1024)} MB."
            )
        return upload


class ImportMappingForm(forms.Form):
    """One select per CSV column, the source for rows without one, and who gets the contacts."""

    default_source = forms.CharField(
        max_length=80, label="Source for rows without one", initial="CSV import"
    )

    def __init__(self, *args, job: ImportJob, can_assign: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.job = job
        choices = [("", "— skip —"), *IMPORT_FIELDS.items()]
        for index, title in enumerate(job.header):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=title,
                choices=choices,
                required=False,
                initial=job.mapping.get(str(index), ""),
            )
        self.fields["default_source"].initial = job.default_source
        if can_assign:
            self.fields["assign_to"] = forms.ModelChoiceField(
                queryset=Membership.objects.filter(team_id=job.team_id, is_active=True)
                .select_related("user")
                .order_by("user__first_name", "user__last_name", "user__username"),
                required=False,
                empty_label="Nobody: route them like any new contact",
                label="Give every contact to",
                initial=job.assign_to_id,
            )

    def column_fields(self):
        return [self[f"col_{index}"] for index in range(len(self.job.header))]

    def clean(self):
        cleaned = super().clean()
        mapped = [cleaned.get(f"col_{i}") for i in range(len(self.job.header))]
        chosen = [name for name in mapped if name]
        twice = sorted({IMPORT_FIELDS[name] for name in chosen if chosen.count(name) > 1})
        if twice:
            raise forms.ValidationError(f"Map each field once: {', '.join(twice)}.")
        if not {"email", "phone"} & set(chosen):
            raise forms.ValidationError("Map a column to Email or Phone: a contact needs one.")
        if "full_name" in chosen and {"first_name", "last_name"} & set(chosen):
            raise forms.ValidationError("Map Full name, or First and Last name, not both.")
        return cleaned

    @property
    def mapping(self) -> dict[str, str]:
        return {
            str(i): self.cleaned_data[f"col_{i}"]
            for i in range(len(self.job.header))
            if self.cleaned_data.get(f"col_{i}")
        }
