"""Forms for the Contact Routing settings pages: the rule editors, reorder and the simulator.

The editors turn what people type into the keyword arguments of routing.rules; the
services still validate everything (plan, team, constraints) and their errors are put
back on the form next to the field they name.
"""

from __future__ import annotations

import copy
import dataclasses
import zoneinfo
from dataclasses import dataclass
from datetime import time

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import QueryDict

from contacts.models import Bucket, Contact, ContactType
from contacts.selectors_buckets import buckets_visible_to
from routing import engine
from routing.models import LocationMatch, Method, RoutingRule, RuleAssignee
from routing.rules import AssigneeSpec, rule_create, rule_set_assignees, rule_update
from routing.state import contact_facts
from teams.models import AgentTag, Membership, Plan, Team

WEEKDAYS = [
    (str(i), name)
    for i, name in enumerate(
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    )
]
RULE_METHODS = (
    Method.ROUND_ROBIN, Method.NEXT_UP, Method.BLAST, Method.LEAST_OPEN, Method.MANUAL,
)  # fmt: skip
DEFAULT_RULE_METHODS = (Method.ASSIGN_DIRECTLY, Method.NEXT_UP, Method.BLAST)
CLAIM_METHODS = (Method.NEXT_UP, Method.BLAST)
SHARELESS_METHODS = (Method.BLAST, Method.ASSIGN_DIRECTLY)  # everyone at once, or one person
PLANS_IN_ORDER = (Plan.BASIC, Plan.PRO, Plan.PREMIER)
TIME_ZONES = sorted(zoneinfo.available_timezones())
SIMULATOR_CONTACTS = 50
# Rule fields the editors edit as they are (work_days is stored as "0,1,2").
RULE_FIELDS = (
    "name", "sources", "contact_types", "cities", "zip_codes", "states", "location_match",
    "price_min", "price_max", "tags_any", "tags_all", "require_phone", "require_email",
    "work_start", "work_end", "time_zone", "method", "claim_window_minutes", "only_online",
    "skip_paused", "respect_capacity", "follow_up_reminder_hours", "hold_when_unavailable",
    "hold_max_minutes",
)  # fmt: skip
DEFAULT_RULE_FIELDS = (
    "method", "direct_assignee", "claim_window_minutes", "only_online", "skip_paused",
    "respect_capacity", "follow_up_reminder_hours",
)  # fmt: skip


def plan_needed(method: str) -> Plan | None:
    """The cheapest plan that includes the method."""
    return next((p for p in PLANS_IN_ORDER if engine.method_allowed(p, method)), None)


class CommaListField(forms.CharField):
    """'Austin, Round Rock' <-> ['Austin', 'Round Rock']: trimmed, blanks and repeats dropped."""

    max_items = 100
    max_item_length = 80

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def to_python(self, value) -> list[str]:
        items: dict[str, str] = {}
        for item in (super().to_python(value) or "").split(","):
            item = item.strip()
            if item and item.casefold() not in items:
                items[item.casefold()] = item
        return list(items.values())

    def validate(self, value):
        super().validate(value)
        if len(value) > self.max_items:
            raise ValidationError(f"At most {self.max_items} values, please.")
        too_long = [v for v in value if len(v) > self.max_item_length]
        if too_long:
            raise ValidationError(
                f"“{too_long[0][:20]}…” is longer than {self.max_item_length} characters."
            )


class MethodSelect(forms.Select):
    """Methods outside the team's plan stay visible (with their upgrade) but cannot be chosen."""

    def __init__(self, *args, unavailable=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.unavailable = set(unavailable)

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        if value in self.unavailable:
            option["attrs"]["disabled"] = True
        return option


def method_field(team: Team, methods, *, label: str = "Assignment method") -> forms.ChoiceField:
    choices, unavailable = [], []
    for method in methods:
        text = Method(method).label
        if not engine.method_allowed(team.plan, method):
            text = f"{text} (upgrade to {plan_needed(method).label})"
            unavailable.append(method)
        choices.append((method, text))
    help_text = f"Your team is on the {team.get_plan_display()} plan."
    if unavailable:
        needs = ", ".join(f"{Method(m).label} needs {plan_needed(m).label}" for m in unavailable)
        help_text += f" {needs}."
    return forms.ChoiceField(
        label=label,
        choices=choices,
        widget=MethodSelect(unavailable=unavailable),
        help_text=help_text,
    )


def method_warning(team: Team, rule: RoutingRule | None) -> str:
    """Set when a rule keeps a method its team's plan lost (after a downgrade)."""
    if rule is None or engine.method_allowed(team.plan, rule.method):
        return ""
    return (
        f"This rule uses {Method(rule.method).label}, which is not in the "
        f"{team.get_plan_display()} plan: routing skips it until you choose another method."
    )


def clean_method_for_plan(team: Team, method: str) -> str:
    if not engine.method_allowed(team.plan, method):
        needed = plan_needed(method)
        raise ValidationError(
            f"{Method(method).label} is not in the {team.get_plan_display()} plan: "
            f"upgrade to {needed.label if needed else 'a higher plan'} to use it."
        )
    return method


def _time_input() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


@dataclass(frozen=True)
class AssigneeRow:
    kind: str  # "member" or "tag"
    target: Membership | AgentTag
    label: str
    note: str
    check: forms.BoundField
    share: forms.BoundField


class ServiceErrorsMixin:
    def add_service_error(self, exc: ValidationError) -> None:
        """Put a service's ValidationError on the field it names, or on the form."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for field, errors in exc.error_dict.items():
            known = field in self.fields and field != NON_FIELD_ERRORS
            self.add_error(field if known else None, errors)


class AssigneesMixin(ServiceErrorsMixin):
    """One row per member and per agent tag: a checkbox and an optional share in percent."""

    def _add_assignee_fields(self, *, team: Team, rule: RoutingRule | None, notes=None) -> None:
        notes = notes or {}
        current = list(rule.assignees.all()) if rule else []
        by_member = {a.membership_id: a for a in current if a.membership_id}
        by_tag = {a.agent_tag_id: a for a in current if a.agent_tag_id}
        # Equal weights (the common case) show as empty boxes: "equal shares".
        self._show_weights = len({a.weight for a in current}) > 1
        self._assignee_targets: list[tuple[str, Membership | AgentTag, str, str]] = []
        members = (
            Membership.objects.filter(team=team)
            .filter(Q(is_active=True) | Q(pk__in=list(by_member)))
            .select_related("user")
        )
        for member in members:
            label = member.display_name + ("" if member.is_active else " (deactivated)")
            note = notes.get(member.pk, "")
            self._add_assignee_row("member", member, label, note, by_member.get(member.pk))
        tag_note = "Everyone with this agent tag when a contact arrives"
        for tag in AgentTag.objects.filter(team=team):
            self._add_assignee_row("tag", tag, f"Tag: {tag.name}", tag_note, by_tag.get(tag.pk))
        self.fields["assignees"] = forms.CharField(required=False, widget=forms.HiddenInput)

    def _add_assignee_row(self, kind, target, label, note, assigned: RuleAssignee | None):
        name = f"{kind}_{target.pk}"
        self.fields[name] = forms.BooleanField(
            required=False, label=label, initial=assigned is not None
        )
        self.fields[f"{name}_share"] = forms.IntegerField(
            required=False,
            min_value=1,
            max_value=100,
            label=f"Share in percent for {label}",
            initial=assigned.weight if assigned and self._show_weights else None,
        )
        self._assignee_targets.append((kind, target, label, note))

    @property
    def assignee_rows(self) -> list[AssigneeRow]:
        return [
            AssigneeRow(
                kind,
                target,
                label,
                note,
                self[f"{kind}_{target.pk}"],
                self[f"{kind}_{target.pk}_share"],
            )
            for kind, target, label, note in self._assignee_targets
        ]

    def _clean_assignees(self, method: str | None, *, required: bool) -> None:
        data = self.cleaned_data
        shareless = method in SHARELESS_METHODS
        if shareless:
            # The share boxes are hidden for these methods: their errors would be invisible.
            for kind, target, _label, _note in self._assignee_targets:
                self._errors.pop(f"{kind}_{target.pk}_share", None)
        chosen = [
            (kind, target, None if shareless else data.get(f"{kind}_{target.pk}_share"))
            for kind, target, _label, _note in self._assignee_targets
            if data.get(f"{kind}_{target.pk}")
        ]
        self.assignee_specs = [
            AssigneeSpec(
                membership=target if kind == "member" else None,
                agent_tag=target if kind == "tag" else None,
                weight=share or 1,
            )
            for kind, target, share in chosen
        ]
        if required and not chosen:
            self.add_error("assignees", "Choose at least one member or agent tag.")
            return
        shares = [share for _kind, _target, share in chosen if share is not None]
        if not shares:
            return  # no shares at all: equal shares
        if len(shares) != len(chosen):
            self.add_error(
                "assignees",
                "Give every chosen assignee a share, or leave all shares empty for equal shares.",
            )
        elif all(kind == "member" for kind, _t, _s in chosen) and sum(shares) != 100:
            self.add_error(
                "assignees", f"Shares must add up to 100% (they add up to {sum(shares)}%)."
            )


class BucketsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Bucket) -> str:
        if obj.owner_id is None:
            return f"{obj.name} (team-wide)"
        return f"{obj.name} ({obj.owner.display_name}'s)"


POOL_HELP = (
    "A lead pool is a rule with source buckets: contacts placed in these buckets are "
    "distributed to its members. That includes contacts already in Switchboard: placing "
    "one in a source bucket routes it through the pool. None ticked: an ordinary rule."
)


class RuleForm(AssigneesMixin, forms.Form):
    name = forms.CharField(max_length=120, label="Rule name")
    is_active = forms.BooleanField(
        label="Rule is active",
        required=False,
        initial=True,
        help_text="Off: the rule is paused and contacts skip it (as Pause does on the list).",
    )
    # Posted with the toggle: an unticked box then means "paused". A post without it
    # (an older page, a script) leaves the rule's state as it is.
    active_toggle = forms.CharField(required=False, initial="1", widget=forms.HiddenInput)
    source_buckets = BucketsField(
        label="Source buckets",
        queryset=Bucket.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=POOL_HELP,
    )
    sources = CommaListField(
        label="Sources", help_text="Comma-separated, e.g. Zillow, Facebook. Empty: any source."
    )
    contact_types = forms.MultipleChoiceField(
        label="Contact types",
        choices=ContactType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any type.",
    )
    cities = CommaListField(label="Cities", help_text="Comma-separated. Empty: any city.")
    zip_codes = CommaListField(label="ZIP codes", help_text="Comma-separated. Empty: any ZIP code.")
    states = CommaListField(label="States", help_text="Comma-separated. Empty: any state.")
    location_match = forms.ChoiceField(
        label="Contacts without a city, ZIP code or state",
        choices=[
            (LocationMatch.EXACT, "Must match: skip contacts with no city, ZIP code or state"),
            (LocationMatch.EMPTY_OR_MATCH, "Empty or match: contacts without one also match"),
        ],
        initial=LocationMatch.EXACT,
        widget=forms.RadioSelect,
    )
    price_min = forms.DecimalField(
        label="Price from", required=False, min_value=0, max_digits=12, decimal_places=0
    )
    price_max = forms.DecimalField(
        label="Price to", required=False, min_value=0, max_digits=12, decimal_places=0
    )
    tags_any = CommaListField(
        label="Has any of these tags", help_text="Comma-separated contact tags."
    )
    tags_all = CommaListField(
        label="Has all of these tags", help_text="Comma-separated contact tags."
    )
    require_phone = forms.BooleanField(label="Has a phone number", required=False)
    require_email = forms.BooleanField(label="Has an email address", required=False)
    work_days = forms.MultipleChoiceField(
        label="Days",
        choices=WEEKDAYS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked with times set: every day. Days without times: the whole day.",
    )
    work_start = forms.TimeField(label="From", required=False, widget=_time_input())
    work_end = forms.TimeField(label="To", required=False, widget=_time_input())
    time_zone = forms.ChoiceField(label="Time zone", required=False)
    claim_window_minutes = forms.IntegerField(
        label="Claim window (minutes)",
        min_value=1,
        max_value=7 * 24 * 60,
        initial=15,
        help_text="Next Up and Blast Alert: how long assignees have to claim a contact.",
    )
    only_online = forms.BooleanField(label="Only members who are online", required=False)
    skip_paused = forms.BooleanField(
        label="Skip members who are paused or on vacation", required=False, initial=True
    )
    respect_capacity = forms.BooleanField(
        label="Skip members at their open-contact capacity", required=False, initial=True
    )
    follow_up_reminder_hours = forms.IntegerField(
        label="Follow-up reminder (hours)",
        required=False,
        min_value=1,
        max_value=24 * 30,
        help_text="Remind the agent if nobody contacts the lead within this time. "
        "Empty: no reminder.",
    )
    hold_when_unavailable = forms.BooleanField(
        label="Hold the contact when nobody in this rule is available",
        required=False,
        help_text="When every assignee is paused, offline, outside their hours or at capacity, "
        "the contact waits here and goes to the first who becomes available (oldest first). "
        "Off: it moves on to the next rule at once.",
    )
    hold_max_minutes = forms.IntegerField(
        label="Longest wait (minutes)",
        min_value=1,
        max_value=7 * 24 * 60,
        initial=60,
        help_text="A held contact moves on to the next rule after waiting this long.",
    )

    def __init__(
        self,
        data=None,
        *,
        team: Team,
        rule: RoutingRule | None = None,
        membership: Membership | None = None,
        **kwargs,
    ):
        if rule is not None and data is None:
            kwargs.setdefault("initial", rule_initial(rule))
        super().__init__(data, **kwargs)
        self.team = team
        self.rule = rule
        self.fields["source_buckets"].queryset = pool_bucket_choices(team, rule, membership)
        self.is_pool = bool(self["source_buckets"].value())
        if self.is_pool:
            self.fields["is_active"].label = "Lead Pool is active"
            self.fields["is_active"].help_text = (
                "Off: the lead pool is paused: contacts skip it, and placing contacts in its "
                "source buckets routes nothing through it."
            )
        self.fields["method"] = method_field(team, RULE_METHODS)
        self.fields["method"].initial = Method.ROUND_ROBIN
        self.method_warning = method_warning(team, rule)
        self.fields["time_zone"].choices = [("", f"Team time zone ({team.time_zone})")] + [
            (tz, tz) for tz in TIME_ZONES
        ]
        self._add_assignee_fields(team=team, rule=rule)

    def clean_method(self):
        return clean_method_for_plan(self.team, self.cleaned_data["method"])

    def clean(self):
        data = super().clean()
        low, high = data.get("price_min"), data.get("price_max")
        if low is not None and high is not None and low > high:
            self.add_error("price_max", "“Price to” must not be below “Price from”.")
        start, end = data.get("work_start"), data.get("work_end")
        if (start is None) != (end is None) and "work_start" not in self.errors:
            self.add_error("work_end", "Give both a start and an end time, or neither.")
        elif start is None and end is None and data.get("work_days"):
            data["work_start"] = data["work_end"] = time(0)  # equal times: the whole day
        # A Manual pool's leads go to whoever an admin picks: members are optional there.
        self._clean_assignees(data.get("method"), required=data.get("method") != Method.MANUAL)
        return data

    def rule_fields(self) -> dict:
        fields = {name: self.cleaned_data[name] for name in RULE_FIELDS}
        fields["work_days"] = ",".join(sorted(self.cleaned_data["work_days"]))
        if self.cleaned_data["active_toggle"]:
            fields["is_paused"] = not self.cleaned_data["is_active"]
        fields["source_buckets"] = list(self.cleaned_data["source_buckets"])
        return fields

    def save(self, *, actor: Membership) -> tuple[RoutingRule, bool]:
        """Create or update the rule and its assignees together; True when the order was reset."""
        with transaction.atomic():
            if self.rule is None:
                rule = rule_create(
                    actor=actor, team=self.team, assignees=self.assignee_specs, **self.rule_fields()
                )
                return rule, False
            # A copy, so a rolled-back save leaves the page's rule as it was.
            rule = rule_update(actor=actor, rule=copy.copy(self.rule), **self.rule_fields())
            reset = rule_set_assignees(actor=actor, rule=rule, assignees=self.assignee_specs)
        return rule, reset


def rule_initial(rule: RoutingRule) -> dict:
    initial = {field: getattr(rule, field) for field in RULE_FIELDS}
    initial["work_days"] = [d for d in rule.work_days.split(",") if d.strip()]
    initial["is_active"] = not rule.is_paused
    initial["source_buckets"] = [b.pk for b in rule.source_buckets.all()]
    return initial


def pool_bucket_choices(
    team: Team, rule: RoutingRule | None, membership: Membership | None
) -> QuerySet[Bucket]:
    """The buckets a rule may take contacts from: those of the team the editor sees
    (team-wide, their own, shared with them), and any the rule has already."""
    visible = (
        buckets_visible_to(membership)
        if membership is not None
        else Bucket.objects.filter(team=team, owner__isnull=True)
    )
    chosen = Q(pk__in=rule.source_buckets.values("pk")) if rule is not None else Q(pk__in=[])
    return (
        Bucket.objects.filter(team=team)
        .filter(Q(pk__in=visible.values("pk")) | chosen)
        .select_related("owner__user")
        .order_by("name", "id")
    )


class DefaultRuleForm(AssigneesMixin, forms.Form):
    direct_assignee = forms.ModelChoiceField(
        label="Assign directly to",
        queryset=Membership.objects.none(),
        required=False,
        empty_label="The team owner",
    )
    claim_window_minutes = RuleForm.base_fields["claim_window_minutes"]
    only_online = RuleForm.base_fields["only_online"]
    skip_paused = RuleForm.base_fields["skip_paused"]
    respect_capacity = RuleForm.base_fields["respect_capacity"]
    follow_up_reminder_hours = RuleForm.base_fields["follow_up_reminder_hours"]

    def __init__(self, data=None, *, team: Team, rule: RoutingRule, **kwargs):
        if data is None:
            kwargs.setdefault("initial", {f: getattr(rule, f) for f in DEFAULT_RULE_FIELDS})
        super().__init__(data, **kwargs)
        self.team = team
        self.rule = rule
        self.fields["method"] = method_field(team, DEFAULT_RULE_METHODS, label="Method")
        self.method_warning = method_warning(team, rule)
        self.fields["direct_assignee"].queryset = Membership.objects.filter(
            team=team, is_active=True
        ).select_related("user")
        self.in_earlier_rules = members_in_earlier_rules(team)
        note = "In an earlier rule: receives nothing from the Default Rule"
        self._add_assignee_fields(
            team=team, rule=rule, notes=dict.fromkeys(self.in_earlier_rules, note)
        )

    def clean_method(self):
        return clean_method_for_plan(self.team, self.cleaned_data["method"])

    def clean(self):
        data = super().clean()
        method = data.get("method")
        self._clean_assignees(method, required=method in CLAIM_METHODS)
        return data

    def save(self, *, actor: Membership) -> tuple[RoutingRule, bool]:
        fields = {name: self.cleaned_data[name] for name in DEFAULT_RULE_FIELDS}
        with transaction.atomic():
            rule = rule_update(actor=actor, rule=copy.copy(self.rule), **fields)
            reset = rule_set_assignees(actor=actor, rule=rule, assignees=self.assignee_specs)
        return rule, reset


def members_in_earlier_rules(team: Team) -> set[int]:
    """Members the Default Rule's Next Up / Blast Alert pool leaves out (seed 000)."""
    earlier = RuleAssignee.objects.filter(rule__team=team, rule__is_default=False)
    ids = set(earlier.exclude(membership=None).values_list("membership_id", flat=True))
    tag_ids = earlier.exclude(agent_tag=None).values("agent_tag_id")
    ids |= set(Membership.objects.filter(team=team, tags__in=tag_ids).values_list("pk", flat=True))
    return ids


def posted_rule_order(data: QueryDict) -> list[int]:
    """The posted rule ids in order, with a keyboard "move <id>:up|down" applied."""
    try:
        ids = [int(value) for value in data.getlist("rule")]
        move_id, _, direction = data.get("move", "").partition(":")
        index = ids.index(int(move_id)) if move_id else None
    except ValueError:
        raise ValidationError("That is not a list of this team's rules.") from None
    if index is not None and direction in ("up", "down"):
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(ids):
            ids[index], ids[other] = ids[other], ids[index]
    return ids


class SimulatorForm(forms.Form):
    contact = forms.TypedChoiceField(
        label="Pick an existing contact",
        coerce=int,
        required=False,
        empty_value=None,
        help_text=f"One of the team's latest {SIMULATOR_CONTACTS} contacts; "
        "its details replace the fields below.",
    )
    source = forms.CharField(label="Source", required=False, max_length=80)
    contact_type = forms.ChoiceField(
        label="Contact type",
        choices=[("", "Unknown"), *ContactType.choices],
        required=False,
    )
    city = forms.CharField(label="City", required=False, max_length=80)
    zip_code = forms.CharField(label="ZIP code", required=False, max_length=16)
    state = forms.CharField(label="State", required=False, max_length=32)
    price_min = RuleForm.base_fields["price_min"]
    price_max = RuleForm.base_fields["price_max"]
    tags = CommaListField(label="Tags", help_text="Comma-separated contact tags.")
    has_phone = forms.BooleanField(label="Has a phone number", required=False)
    has_email = forms.BooleanField(label="Has an email address", required=False)
    buckets = BucketsField(
        label="Placed in buckets",
        queryset=Bucket.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The lead pools' source buckets it is in.",
    )

    def __init__(self, data=None, *, team: Team, **kwargs):
        super().__init__(data, **kwargs)
        self.team = team
        self.fields["buckets"].queryset = (
            Bucket.objects.filter(team=team, pool_rules__isnull=False)
            .distinct()
            .select_related("owner__user")
            .order_by("name", "id")
        )
        latest = Contact.objects.filter(team=team).order_by("-created_at", "-id")[
            :SIMULATOR_CONTACTS
        ]
        self.fields["contact"].choices = [("", "None: use the details below")] + [
            (c.pk, f"{c.name} · {c.source or 'no source'} · {c.created_at:%Y-%m-%d}")
            for c in latest
        ]

    def clean_contact(self) -> Contact | None:
        pk = self.cleaned_data["contact"]
        if pk is None:
            return None
        contact = (
            Contact.objects.prefetch_related("tags", "placements")
            .filter(team=self.team, pk=pk)
            .first()
        )
        if contact is None:
            raise ValidationError("That contact no longer exists.")
        return contact

    def facts(self) -> engine.ContactFacts:
        """What routing would see if this contact arrived now."""
        data = self.cleaned_data
        if data["contact"] is not None:
            contact = data["contact"]
            facts = contact_facts(
                contact,
                [t.name for t in contact.tags.all()],
                [p.bucket_id for p in contact.placements.all()],
            )
            return dataclasses.replace(facts, created_at=None)
        return engine.ContactFacts(
            source=data["source"].strip(),
            contact_type=data["contact_type"],
            city=data["city"].strip(),
            zip_code=data["zip_code"].strip(),
            state=data["state"].strip(),
            price_min=data["price_min"],
            price_max=data["price_max"],
            tags=frozenset(data["tags"]),
            has_phone=data["has_phone"],
            has_email=data["has_email"],
            buckets=frozenset(b.pk for b in data["buckets"]),
        )
