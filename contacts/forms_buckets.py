"""Forms of the bucket pages, the profile's Buckets card and the bulk "Add to bucket"."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet

from contacts.models import Bucket, Contact
from contacts.selectors_buckets import TEAM_WIDE_PERMS, buckets_in_order
from teams import access
from teams.models import Group, Membership

TEAM, MINE = "team", "mine"


class BucketForm(forms.Form):
    """Create (with the choice team-wide or mine) or edit a bucket: its name and shares."""

    name = forms.CharField(label="Name", max_length=80)
    scope = forms.ChoiceField(
        label="Who sees it",
        choices=[
            (MINE, "Mine: only me and the people and groups I share it with"),
            (TEAM, "Team-wide: everyone in the team"),
        ],
        initial=MINE,
        required=False,  # left out: mine
        widget=forms.RadioSelect,
    )
    shared_members = forms.ModelMultipleChoiceField(
        queryset=Membership.objects.none(),
        label="Share with members",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    shared_groups = forms.ModelMultipleChoiceField(
        queryset=Group.objects.none(),
        label="Share with groups",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Members of a group, and of the groups inside it, see the bucket.",
    )

    def __init__(self, *args, member: Membership, bucket: Bucket | None = None, **kwargs):
        if bucket is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": bucket.name,
                    "scope": TEAM if bucket.owner_id is None else MINE,
                    "shared_members": list(bucket.shared_with_members.all()),
                    "shared_groups": list(bucket.shared_with_groups.all()),
                },
            )
        super().__init__(*args, label_suffix="", **kwargs)
        self.member, self.bucket = member, bucket
        owner_id = bucket.owner_id if bucket is not None else member.pk
        self.fields["shared_members"].queryset = (
            Membership.objects.filter(team_id=member.team_id, is_active=True)
            .exclude(pk=owner_id)
            .select_related("user")
        )
        self.fields["shared_groups"].queryset = Group.objects.filter(team_id=member.team_id)
        # A bucket keeps its kind. Only those who may make team-wide buckets see the
        # choice; for anyone else it stays "mine" (posted as team-wide: the service's 403).
        if bucket is not None:
            del self.fields["scope"]
        elif not access.has_any_perm(member, *TEAM_WIDE_PERMS):
            self.fields["scope"].widget = forms.HiddenInput()
        if bucket is not None and bucket.owner_id is None:
            del self.fields["shared_members"], self.fields["shared_groups"]

    @property
    def team_wide(self) -> bool:
        if self.bucket is not None:
            return self.bucket.owner_id is None
        return self.cleaned_data.get("scope") == TEAM

    def clean(self):
        cleaned = super().clean()
        if self.team_wide and (cleaned.get("shared_members") or cleaned.get("shared_groups")):
            raise forms.ValidationError(
                "A team-wide bucket is seen by everyone: leave the sharing empty."
            )
        return cleaned


class DefaultBucketForm(forms.Form):
    bucket = forms.ModelChoiceField(
        queryset=Bucket.objects.none(),
        label="Assigned leads land in",
        empty_label=None,
        help_text="Your own bucket, a team-wide one, or one shared with you.",
    )

    def __init__(self, *args, member: Membership, current: Bucket | None, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["bucket"].queryset = buckets_in_order(member)
        if current is not None:
            self.fields["bucket"].initial = current.pk


class BucketChoiceForm(forms.Form):
    """One bucket of those offered (the profile's "Add to bucket")."""

    bucket = forms.ModelChoiceField(
        queryset=Bucket.objects.none(), label="Bucket", empty_label="Choose a bucket"
    )

    def __init__(self, *args, buckets: QuerySet[Bucket], **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["bucket"].queryset = buckets
        self.fields["bucket"].error_messages["required"] = "Choose a bucket."
        self.fields["bucket"].error_messages["invalid_choice"] = "No such bucket for you."


class BulkBucketForm(BucketChoiceForm):
    """Selected contacts of the contacts list → a bucket."""

    contacts = forms.ModelMultipleChoiceField(
        queryset=Contact.objects.none(), label="Contacts", widget=forms.MultipleHiddenInput
    )

    def __init__(self, *args, contacts: QuerySet[Contact], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contacts"].queryset = contacts
        self.fields["contacts"].error_messages["required"] = "Select at least one contact."
        self.fields["contacts"].error_messages["invalid_choice"] = "No such contact for you."
