"""Forms for the team and people pages.

They check the shape of the input; the services (teams.services) check the rules:
permissions, same team, group cycles, name clashes, profiles in use. A service's
ValidationError is put back on the form with `add_service_error`, next to its field.

Choices of groups, tags and profiles come from lists the view has already loaded
(`objects=`), so rendering a form costs no queries of its own.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterable
from datetime import datetime, time
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from teams import permissions as perms
from teams.models import Membership, PermissionProfile, Plan, Role

TIME_ZONES = sorted(zoneinfo.available_timezones())
WEEKDAYS = [
    (str(n), name)
    for n, name in enumerate(
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    )
]
ROLE_CHOICES = [(Role.AGENT, "Agent"), (Role.ADMIN, "Admin")]


def add_service_error(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's error next to the field it names, or above the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class PickOne(forms.ChoiceField):
    """A choice among loaded objects; cleans to the object (or None for the empty choice)."""

    def __init__(self, *, objects: Iterable, label_of: Callable = str, empty=None, **kwargs):
        self.objects = {str(o.pk): o for o in objects}
        choices = [("", empty)] if empty is not None else []
        choices += [(pk, label_of(o)) for pk, o in self.objects.items()]
        super().__init__(choices=choices, required=empty is None, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        return self.objects.get(value) if value else None


class PickMany(forms.MultipleChoiceField):
    """Checkboxes over loaded objects; cleans to the list of objects."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, *, objects: Iterable, label_of: Callable = str, **kwargs):
        self.objects = {str(o.pk): o for o in objects}
        choices = [(pk, label_of(o)) for pk, o in self.objects.items()]
        super().__init__(choices=choices, required=False, **kwargs)

    def clean(self, value):
        return [self.objects[pk] for pk in super().clean(value)]


def _tag_names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


class _MemberFields(forms.Form):
    """What the add and edit forms share: profile, groups and tags."""

    def __init__(self, *args, profiles, groups, tags, profile_empty: str, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["permission_profile"] = PickOne(
            objects=profiles,
            empty=profile_empty,
            label="Permission profile",
            help_text="What the member may do besides working their own contacts. "
            "Agents never manage routing or the team, whatever the profile.",
        )
        self.fields["groups"] = PickMany(objects=groups, label_of=lambda g: g.path, label="Groups")
        self.fields["tags"] = PickMany(objects=tags, label="Agent tags")
        self.fields["new_tags"] = forms.CharField(
            label="New agent tags",
            required=False,
            max_length=300,
            help_text="Comma-separated, e.g. “Luxury, Spanish”. Created if they do not exist.",
        )

    def clean_new_tags(self) -> list[str]:
        names = _tag_names(self.cleaned_data["new_tags"])
        if any(len(name) > 60 for name in names):
            raise ValidationError("A tag name has at most 60 characters.")
        return names


class MemberInviteForm(_MemberFields):
    username = forms.CharField(
        label="Username", max_length=150, help_text="What they sign in with."
    )
    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    email = forms.EmailField(
        label="Email",
        required=False,
        help_text="The set-password link goes here (not needed with a temporary password).",
    )
    role = forms.ChoiceField(label="Role", choices=ROLE_CHOICES, initial=Role.AGENT)
    password = forms.CharField(
        label="Temporary password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Optional. Leave it empty to email them a link to choose their own "
        "password; otherwise give them this password yourself.",
    )

    field_order = [
        "username",
        "first_name",
        "last_name",
        "email",
        "role",
        "permission_profile",
        "groups",
        "tags",
        "new_tags",
        "password",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, profile_empty="Standard for the role", **kwargs)
        self.order_fields(self.field_order)


class MemberEditForm(_MemberFields):
    role = forms.ChoiceField(label="Role", choices=ROLE_CHOICES)
    capacity = forms.IntegerField(
        label="Capacity",
        min_value=1,
        required=False,
        help_text="Most open contacts routing gives them. Empty: no limit.",
    )
    time_zone = forms.ChoiceField(label="Time zone", choices=[(z, z) for z in TIME_ZONES])
    work_days = forms.MultipleChoiceField(
        label="Working days",
        choices=WEEKDAYS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every day.",
    )
    work_start = forms.TimeField(
        label="Working hours start",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    work_end = forms.TimeField(
        label="Working hours end",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="Leave both empty for no working hours. An end before the start "
        "crosses midnight.",
    )
    paused = forms.BooleanField(label="Paused (on vacation): routing skips them", required=False)
    paused_until = forms.DateField(
        label="Pause until",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Routing gives them contacts again from the start of this day, in "
        "their time zone. Empty: paused until someone resumes them.",
    )

    field_order = [
        "role",
        "permission_profile",
        "groups",
        "tags",
        "new_tags",
        "capacity",
        "time_zone",
        "work_days",
        "work_start",
        "work_end",
        "paused",
        "paused_until",
    ]

    def __init__(self, *args, membership: Membership, **kwargs):
        self.membership = membership
        kwargs.setdefault("initial", self._initial(membership))
        super().__init__(*args, profile_empty="No profile", **kwargs)
        self.order_fields(self.field_order)
        if membership.role == Role.OWNER:
            del self.fields["role"]  # ownership is transferred, not edited
            self.fields["permission_profile"].help_text = "The owner holds every permission."

    @staticmethod
    def _initial(m: Membership) -> dict:
        paused = m.is_paused_at(timezone.now())  # an ended pause shows as not paused
        until = m.paused_until if paused and m.paused_until else None
        return {
            "role": m.role,
            "permission_profile": str(m.permission_profile_id or ""),
            "groups": [str(g.pk) for g in m.groups.all()],
            "tags": [str(t.pk) for t in m.tags.all()],
            "capacity": m.capacity,
            "time_zone": m.time_zone,
            "work_days": [d for d in m.work_days.split(",") if d.strip()],
            "work_start": m.work_start,
            "work_end": m.work_end,
            "paused": paused,
            "paused_until": until.astimezone(_zone(m.time_zone)).date() if until else None,
        }

    def clean_work_days(self) -> str:
        return ",".join(sorted(self.cleaned_data["work_days"]))

    def clean(self):
        data = super().clean()
        start, end = data.get("work_start"), data.get("work_end")
        if (start is None) != (end is None) and not self.has_error("work_start"):
            self.add_error("work_end", "Give both a start and an end, or neither.")
        until = data.get("paused_until")
        if until is not None:
            data["paused"] = True  # a return date means they are away
            today = timezone.now().astimezone(_zone(data.get("time_zone"))).date()
            if until <= today:
                self.add_error("paused_until", "Choose a day after today.")
        return data

    def service_kwargs(self) -> dict:
        """The cleaned data as membership_edit takes it."""
        data = dict(self.cleaned_data)
        until = data.pop("paused_until")
        if data["paused"] and until is not None:
            data["paused_until"] = datetime.combine(until, time.min, _zone(data["time_zone"]))
        data["new_tags"] = data.pop("new_tags")
        return data


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class GroupForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120)

    def __init__(self, *args, parents, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["parent"] = PickOne(
            objects=parents,
            label_of=lambda g: g.path,
            empty="None (top level)",
            label="Inside group",
            help_text="Offices hold sub-groups, any depth deep.",
        )


class TagForm(forms.Form):
    name = forms.CharField(label="Name", max_length=60)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)


class PermissionProfileForm(forms.ModelForm):
    class Meta:
        model = PermissionProfile
        fields = [
            "name",
            perms.MANAGE_ROUTING_RULES,
            perms.MANAGE_LEAD_DISTRIBUTION,
            "distribution_scope",
            perms.VIEW_ROUTING_LOGS,
            perms.TRIGGER_REASSIGNMENT,
            perms.MANAGE_TEAM,
        ]
        labels = {"distribution_scope": "Lead distribution scope"}
        help_texts = {
            perms.MANAGE_ROUTING_RULES: "Add, edit, reorder and pause contact routing rules.",
            perms.MANAGE_LEAD_DISTRIBUTION: "Edit reassignment groups and reassign leads on "
            "the lead routing dashboard.",
            "distribution_scope": "How far “Manage Lead Distribution” reaches, and with it the "
            "lead dashboard, assigning directly and the routing logs: every group, or only "
            "the member's own groups and their sub-groups.",
            perms.VIEW_ROUTING_LOGS: "See why each contact went where it did.",
            perms.TRIGGER_REASSIGNMENT: "Send a contact to a reassignment group from its profile.",
            perms.MANAGE_TEAM: "These team and people pages, and the API tokens.",
        }
        widgets = {"distribution_scope": forms.RadioSelect}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        clash = PermissionProfile.objects.filter(team_id=self.instance.team_id, name__iexact=name)
        if clash.exclude(pk=self.instance.pk).exists():
            raise ValidationError(f"There is already a profile called {name}.")
        return name


class PlanForm(forms.Form):
    plan = forms.ChoiceField(label="Plan", choices=Plan.choices, widget=forms.RadioSelect)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)


class TransferForm(forms.Form):
    confirm = forms.BooleanField(required=True)

    def __init__(self, *args, to: Membership, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields[
            "confirm"
        ].label = f"I understand: {to.display_name} will own the team and I will become an admin."
        self.fields["confirm"].error_messages["required"] = "Tick the box to confirm."
