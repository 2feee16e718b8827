"""Forms of the contacts list and the contact profile.

Member pickers take their choices from a list the view already loaded, so a
page asks the database for the team's members once however many pickers it has.
"""

from __future__ import annotations

from django import forms

from contacts.models import ActivityKind, Contact, ContactStatus, RoleKind
from routing.models import RoutingStatus
from routing.reassignment import NO_AGENT
from teams.models import Membership

REASSIGNING = "reassigning"


def _member_choices(members: list[Membership], blank: str) -> list[tuple[str, str]]:
    return [("", blank), *((str(m.pk), m.display_name) for m in members)]


class MemberField(forms.TypedChoiceField):
    """A member of the team, by id; the view maps it back to the Membership."""

    def __init__(self, *, members: list[Membership], blank: str = "Choose a member", **kwargs):
        super().__init__(coerce=int, choices=_member_choices(members, blank), **kwargs)


class ContactFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, email or phone", "autocomplete": "off"}
        ),
    )
    routing_status = forms.ChoiceField(
        label="Routing status",
        required=False,
        choices=[
            ("", "Any routing status"),
            *RoutingStatus.choices,
            (REASSIGNING, "Re-Assign in progress"),
        ],
    )
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *ContactStatus.choices]
    )

    def __init__(self, *args, members: list[Membership], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"] = MemberField(
            members=members, blank="Any agent", label="Primary Agent", required=False
        )

    def filters(self) -> dict:
        """The valid filters; an invalid value is ignored rather than failing the page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "search": data.get("q", ""),
            "routing_status": data.get("routing_status", ""),
            "status": data.get("status", ""),
            "agent_id": data.get("agent") or None,
        }


class BulkReassignForm(forms.Form):
    contacts = forms.ModelMultipleChoiceField(
        queryset=Contact.objects.none(), label="Contacts", widget=forms.MultipleHiddenInput
    )
    group = forms.ModelChoiceField(
        queryset=None, label="Reassignment group", empty_label="Choose a group"
    )

    def __init__(self, *args, contacts, groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contacts"].queryset = contacts
        self.fields["group"].queryset = groups
        self.fields["contacts"].error_messages["required"] = "Select at least one contact."


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(
        label="Activity",
        choices=[
            (ActivityKind.CALL, "Call"),
            (ActivityKind.TEXT, "Text"),
            (ActivityKind.EMAIL, "Email"),
            (ActivityKind.NOTE, "Note"),
        ],
    )
    body = forms.CharField(
        label="Details", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


class SegmentForm(forms.Form):
    segment = forms.CharField(label="Segment", required=False, max_length=60)


class TagsForm(forms.Form):
    tags = forms.CharField(
        label="Tags",
        required=False,
        max_length=1000,
        help_text="Separate tags with commas.",
    )

    def names(self) -> list[str]:
        return [name.strip()[:60] for name in self.cleaned_data["tags"].split(",") if name.strip()]


class RoleAddForm(forms.Form):
    kind = forms.ChoiceField(
        label="Role",
        choices=[
            (RoleKind.ASSISTANT, "Assistant"),
            (RoleKind.LENDER, "Lender"),
            (RoleKind.CUSTOM, "Custom role"),
        ],
    )
    custom_name = forms.CharField(
        label="Custom role name",
        required=False,
        max_length=60,
        help_text="Only for a custom role, e.g. “Transaction coordinator”.",
    )

    def __init__(self, *args, members: list[Membership], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["membership"] = MemberField(members=members, label="Member")
        self.order_fields(["membership", "kind", "custom_name"])

    def clean(self):
        data = super().clean()
        if data.get("kind") == RoleKind.CUSTOM and not data.get("custom_name", "").strip():
            self.add_error("custom_name", "Name the custom role.")
        if data.get("kind") != RoleKind.CUSTOM:
            data["custom_name"] = ""
        return data


class ExpectedAgentField(forms.CharField):
    """The primary Agent the page showed ("none": nobody), so a change made meanwhile by
    someone else is refused instead of overwritten. Not posted at all: no check."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def prepare_value(self, value):
        return "none" if value == NO_AGENT else value

    def to_python(self, value):
        value = super().to_python(value)
        if value in ("", None):
            return None
        if value == "none":
            return NO_AGENT
        if not value.isdigit():
            raise forms.ValidationError("Reload the page and try again.")
        return int(value)


class ExpectedAgentMixin(forms.Form):
    expected_agent = ExpectedAgentField()


class AssignDirectlyForm(ExpectedAgentMixin):
    def __init__(self, *args, members: list[Membership], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["membership"] = MemberField(members=members, label="New primary Agent")


class ContactDetailsForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = [
            "first_name",
            "last_name",
            "email",
            "phone",
            "status",
            "contact_type",
            "source",
            "city",
            "state",
            "zip_code",
            "price_min",
            "price_max",
        ]
        widgets = {
            "email": forms.EmailInput(attrs={"autocomplete": "off"}),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
        }


class GroupChoiceForm(ExpectedAgentMixin):
    group = forms.ModelChoiceField(
        queryset=None,
        label="Reassignment group",
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of the reassignment groups shown."},
    )

    def __init__(self, *args, groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups
