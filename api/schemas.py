"""What the API accepts and answers. Request bodies are validated here, field by field."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Field, Schema
from pydantic import AfterValidator, ConfigDict, StringConstraints, field_validator

from contacts.intake import Lead
from contacts.models import ContactStatus, ContactType
from routing.models import RoutingStatus

PRICE_MAX = 10**12 - 1  # Contact prices have 12 digits
PHONE_PATTERN = r"^\+?[ ().-]*(?:[0-9][ ().-]*){7,15}$"
# An email or a phone (or both): said in the schema too, so generated leads can be valid.
REACHABLE = [
    {"required": ["email"], "properties": {"email": {"minLength": 3}}},
    {"required": ["phone"], "properties": {"phone": {"minLength": 7}}},
]


def _no_nul(value: str) -> str:
    # PostgreSQL refuses NUL in text; say so instead of failing on insert.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
TagName = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
BucketName = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
ContactTypeValue = Literal[tuple(ContactType.values)]  # type: ignore[valid-type]
ContactStatusValue = Literal[tuple(ContactStatus.values)]  # type: ignore[valid-type]
RoutingStatusValue = Literal[tuple(RoutingStatus.values)]  # type: ignore[valid-type]


class LeadIn(Schema):
    """A lead from a web form or an integration. Give an email or a phone number (or both)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"anyOf": REACHABLE},
    )

    first_name: Text = Field("", max_length=80)
    last_name: Text = Field("", max_length=80)
    email: Text = Field("", max_length=254, json_schema_extra={"format": "email"})
    phone: Text = Field(
        "",
        max_length=32,
        description="7 to 15 digits; spaces, dots, dashes, parentheses and a leading + allowed.",
        json_schema_extra={"pattern": PHONE_PATTERN},
    )
    source: Text = Field(
        "", max_length=80, description="Zillow, Facebook, Website… Routing rules match on it."
    )
    contact_type: ContactTypeValue | None = None
    city: Text = Field("", max_length=80)
    state: Text = Field("", max_length=32)
    zip_code: Text = Field("", max_length=16)
    price_min: int | None = Field(None, ge=0, le=PRICE_MAX)
    price_max: int | None = Field(None, ge=0, le=PRICE_MAX)
    tags: list[TagName] = Field(default_factory=list, max_length=20)
    message: Text = Field("", max_length=5000, description="What the lead wrote, if anything.")
    buckets: list[BucketName] = Field(
        default_factory=list,
        max_length=20,
        description="Names of the team's team-wide buckets to place the contact in (any "
        "case); an unknown name refuses the lead with a field error. A lead that matches "
        "an existing contact places that contact.",
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value:
            try:
                validate_email(value)
            except DjangoValidationError as exc:
                raise ValueError("Enter a valid email address.") from exc
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if value and not re.fullmatch(PHONE_PATTERN, value):
            raise ValueError("Enter a phone number with 7 to 15 digits.")
        return value

    def cross_field_errors(self) -> list[dict]:
        errors = []
        if not self.email and not self.phone:
            errors.append({"field": "email", "message": "Give an email or a phone number."})
        low, high = self.price_min, self.price_max
        if low is not None and high is not None and low > high:
            errors.append({"field": "price_max", "message": "Must not be below price_min."})
        return errors

    def to_lead(self, *, source: str) -> Lead:
        fields = self.model_dump(exclude={"tags", "message", "source", "lead_id", "buckets"})
        fields["contact_type"] = fields["contact_type"] or ""
        fields = {k: v for k, v in fields.items() if v is not None}
        fields["source"] = source
        return Lead(
            fields=fields,
            tags=tuple(dict.fromkeys(self.tags)),
            message=self.message,
            buckets=tuple(dict.fromkeys(self.buckets)),
        )


class WebhookLeadIn(LeadIn):
    """A lead as a lead source posts it; fields we do not know are ignored."""

    model_config = ConfigDict(
        extra="ignore", str_strip_whitespace=True, json_schema_extra={"anyOf": REACHABLE}
    )

    lead_id: Text = Field(
        ..., min_length=1, max_length=200, description="The source's own id for this lead."
    )


class FieldError(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[FieldError] = []


class AgentOut(Schema):
    id: int = Field(..., description="The agent's membership id.")
    name: str
    email: str


class ContactOut(Schema):
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    source: str
    contact_type: str
    city: str
    state: str
    zip_code: str
    price_min: int | None
    price_max: int | None
    tags: list[str]
    status: str
    routing_status: str = Field(..., description="received, offered, held, assigned or failed.")
    primary_agent: AgentOut | None = Field(..., description="Null until routing assigns someone.")
    created_at: datetime
    assigned_at: datetime | None


class IntakeOut(ContactOut):
    deduplicated: bool = Field(
        ..., description="True: the lead matched this existing contact and was not routed again."
    )
    matched_by: str = Field(..., description="email, phone and name, or source lead id.")


class RoutingLogOut(Schema):
    event: str
    rule: str
    agent_id: int | None
    reason: str
    created_at: datetime


class ContactDetailOut(ContactOut):
    routing_log: list[RoutingLogOut]


class ContactPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ContactOut]


class ContactFilters(Schema):
    status: ContactStatusValue | None = None
    routing_status: RoutingStatusValue | None = None
    source: Text | None = Field(None, max_length=80)
    created_since: datetime | None = Field(
        None, description="Only contacts created at or after this time (ISO 8601)."
    )
    limit: int = Field(50, ge=1, le=100)
    offset: int = Field(0, ge=0, le=1_000_000)

    @field_validator("created_since")
    @classmethod
    def _since(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if not 1970 <= value.year <= 9000:
            raise ValueError("Give a date between 1970 and 9000.")
        # In UTC: PostgreSQL refuses offsets past ±15:59, which ISO 8601 allows.
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
