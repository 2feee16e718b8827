"""Forms: one listing as a feed row (the API and the CSV import check rows with it), a
contact's saved search, and the team's alert wording."""

from __future__ import annotations

import re
from datetime import UTC
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from listings.alert_text import SAMPLE_VALUES
from listings.models import Frequency, ListingStatus, PropertyType
from notifications.contact_messages import contact_template_validate
from notifications.sandbox import ALLOWED_FILTERS

PRICE_MAX = Decimal(10**12 - 1)
LISTED_YEARS = (1900, 2200)
LIST_MAX_ITEMS = 20


def _choice_key(value: str) -> str:
    return re.sub(r"[\s_-]+", "", value.casefold())


def _choice_aliases(choices, extra: dict[str, str]) -> dict[str, str]:
    aliases = {_choice_key(v): v for v, _ in choices}
    aliases |= {_choice_key(label): v for v, label in choices}
    aliases |= {_choice_key(alias): v for alias, v in extra.items()}
    return aliases


PROPERTY_TYPE_ALIASES = _choice_aliases(
    PropertyType.choices,
    {
        "single family": PropertyType.HOUSE,
        "single family residence": PropertyType.HOUSE,
        "sfr": PropertyType.HOUSE,
        "townhome": PropertyType.TOWNHOUSE,
        "condominium": PropertyType.CONDO,
        "multifamily": PropertyType.MULTI_FAMILY,
        "duplex": PropertyType.MULTI_FAMILY,
        "lot": PropertyType.LAND,
        "vacant land": PropertyType.LAND,
        "manufactured": PropertyType.MOBILE,
    },
)
STATUS_ALIASES = _choice_aliases(
    ListingStatus.choices,
    {"for sale": ListingStatus.ACTIVE, "under contract": ListingStatus.PENDING, "closed": "sold"},
)


class AliasChoiceField(forms.CharField):
    """A choice given by its value, its label or a common name ("Single family" is a
    house), whatever the case, spaces, dashes or underscores."""

    def __init__(self, *, aliases: dict[str, str], choices, **kwargs):
        self.aliases = aliases
        self.choice_values = ", ".join(v for v, _ in choices)
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return value
        found = self.aliases.get(_choice_key(value))
        if found is None:
            raise ValidationError(f"“{value}” is not one of {self.choice_values}.")
        return found


class WholeAmountField(forms.Field):
    """A price in whole currency units: 450000, "450,000", "$450,000" or 450000.00."""

    def __init__(self, *, min_value: Decimal = Decimal(0), **kwargs):
        self.min_value = min_value
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, bool):
            raise ValidationError("Enter an amount, not true or false.")
        text = re.sub(r"[\s$,]", "", str(value))
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValidationError(f"“{value}” is not an amount.") from None
        if not amount.is_finite():
            raise ValidationError(f"“{value}” is not an amount.")
        # Bounds first: quantizing an amount with more digits than the context holds fails.
        if amount < self.min_value:
            raise ValidationError(f"Must be at least {self.min_value:,}.")
        if amount > PRICE_MAX:
            raise ValidationError(f"Must be at most {PRICE_MAX:,}.")
        if amount != amount.quantize(Decimal("0.01")):
            raise ValidationError("Give at most two decimals.")
        return amount.quantize(Decimal(1))


class WebURLField(forms.URLField):
    default_validators = [URLValidator(schemes=["http", "https"])]
    default_error_messages = {"invalid": "Enter a web address starting with http:// or https://."}


class ListingRowForm(forms.Form):
    """One listing of a feed: every field of it, as the feed describes it now (a post
    for a known external id replaces what was stored)."""

    external_id = forms.CharField(max_length=100, help_text="The MLS number or the feed's own id.")
    address = forms.CharField(max_length=200)
    city = forms.CharField(max_length=80)
    state = forms.CharField(max_length=32)
    zip_code = forms.CharField(max_length=16)
    price = WholeAmountField(
        min_value=Decimal(1), help_text="Whole currency units: 450000 (or “$450,000”)."
    )
    beds = forms.IntegerField(min_value=0, max_value=100, required=False)
    baths = forms.DecimalField(
        min_value=0, max_value=100, max_digits=4, decimal_places=1, required=False
    )
    property_type = AliasChoiceField(
        aliases=PROPERTY_TYPE_ALIASES,
        choices=PropertyType.choices,
        max_length=40,
        help_text="Its labels and common names are taken too (“Single family” is a house).",
    )
    status = AliasChoiceField(
        aliases=STATUS_ALIASES,
        choices=ListingStatus.choices,
        max_length=40,
        required=False,
        help_text="Active when not given.",
    )
    photo_url = WebURLField(max_length=500, required=False, assume_scheme="https")
    listing_url = WebURLField(max_length=500, required=False, assume_scheme="https")
    listed_at = forms.DateTimeField(required=False, help_text="ISO 8601, e.g. 2026-11-30T09:00Z.")

    def clean_status(self):
        return self.cleaned_data["status"] or ListingStatus.ACTIVE

    def clean_listed_at(self):
        value = self.cleaned_data["listed_at"]
        if value is None:
            return None
        if not LISTED_YEARS[0] <= value.year <= LISTED_YEARS[1]:
            raise ValidationError(f"Give a date between {LISTED_YEARS[0]} and {LISTED_YEARS[1]}.")
        # In UTC: PostgreSQL refuses offsets past ±15:59, which ISO 8601 allows.
        return value.astimezone(UTC)

    def clean(self):
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            if not isinstance(value, str):
                continue
            if "\x00" in value:
                self.add_error(name, "Must not contain NUL characters.")
            elif not _encodable(value):
                self.add_error(name, "Must be valid Unicode text.")
        return cleaned


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class CommaListField(forms.CharField):
    """Several values in one box, separated by commas or semicolons."""

    def __init__(self, *, item_max_length: int = 80, **kwargs):
        self.item_max_length = item_max_length
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 2000)
        kwargs.setdefault("help_text", "Separate several with commas.")
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value

    def clean(self, value):
        text = super().clean(value) or ""
        items = list(dict.fromkeys(" ".join(p.split()) for p in re.split(r"[,;]", text)))
        items = [item for item in items if item]
        if len(items) > LIST_MAX_ITEMS:
            raise ValidationError(f"At most {LIST_MAX_ITEMS}.")
        too_long = [item for item in items if len(item) > self.item_max_length]
        if too_long:
            raise ValidationError(
                f"“{too_long[0][:20]}…” is longer than {self.item_max_length} characters."
            )
        return items


SEARCH_FIELDS = (
    "name",
    "cities",
    "zip_codes",
    "states",
    "price_min",
    "price_max",
    "beds_min",
    "baths_min",
    "property_types",
    "frequency",
    "is_active",
)


class ContactSearchForm(forms.Form):
    name = forms.CharField(
        max_length=80, required=False, help_text="How the alerts call it, e.g. “Austin condos”."
    )
    cities = CommaListField(label="Cities")
    zip_codes = CommaListField(label="Zip codes", item_max_length=16)
    states = CommaListField(label="States", item_max_length=32)
    price_min = WholeAmountField(label="Price from", required=False)
    price_max = WholeAmountField(label="Price to", required=False)
    beds_min = forms.IntegerField(label="Beds, at least", min_value=0, max_value=20, required=False)
    baths_min = forms.DecimalField(
        label="Baths, at least",
        min_value=0,
        max_value=20,
        max_digits=3,
        decimal_places=1,
        required=False,
    )
    property_types = forms.MultipleChoiceField(
        label="Property types",
        choices=PropertyType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any type.",
    )
    frequency = forms.ChoiceField(
        label="Send alerts",
        choices=Frequency.choices,
        initial=Frequency.INSTANT,
        help_text="Daily digests go out at 8:00, weekly ones on Mondays at 8:00 (team time).",
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("price_min"), cleaned.get("price_max")
        if low is not None and high is not None and low > high:
            self.add_error("price_max", "Must not be below the price from.")
        criteria = [
            "cities",
            "zip_codes",
            "states",
            "price_min",
            "price_max",
            "beds_min",
            "baths_min",
            "property_types",
        ]
        if not self.errors and not any(
            cleaned.get(name) not in (None, [], "") for name in criteria
        ):
            raise ValidationError(
                "Give at least one thing to look for: a place, a price, beds, baths or a type."
            )
        return cleaned

    @property
    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in SEARCH_FIELDS}


ALERT_PLACEHOLDER_HELP = (
    "Besides the contact and Agent placeholders: {{ listings }} (the listings, one block "
    "each: address, price, beds and baths, link), {{ listing_count }} and {{ search_name }}. "
    "Filters: " + ", ".join(ALLOWED_FILTERS) + "."
)


def alert_template_validate(source: str, *, needs_listings: bool = False) -> None:
    contact_template_validate(source, extra=SAMPLE_VALUES)
    if needs_listings and not re.search(r"{{\s*listings\s*(?:\|[^}]*)?}}", source):
        raise ValidationError("Put {{ listings }} in the message: it is where the listings go.")


class AlertTemplateForm(forms.Form):
    subject = forms.CharField(max_length=300)
    body = forms.CharField(
        label="Message", max_length=5000, widget=forms.Textarea(attrs={"rows": 12})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].help_text = ALERT_PLACEHOLDER_HELP

    def clean_subject(self):
        subject = self.cleaned_data["subject"]
        alert_template_validate(subject)
        return subject

    def clean_body(self):
        body = self.cleaned_data["body"]
        alert_template_validate(body, needs_listings=True)
        return body
