"""/api/v1/listings: a team's listing feed. One listing or an array of them; each is
checked on its own, the good ones are stored (upserted by external id) and the bad
ones come back with their index and field errors."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from ninja import Field, Router, Schema
from ninja.decorators import decorate_view

from api.auth import intake_limited, limit_caller, token_auth
from api.errors import ApiError, read_json_data
from api.schemas import ErrorOut, FieldError
from listings.forms import AliasChoiceField, ListingRowForm, WebURLField, WholeAmountField
from listings.intake import listings_intake
from listings.models import ChangeVia
from teams.models import ApiToken

router = Router(tags=["listings"])

MAX_LISTINGS = 500
LISTING_ERRORS = dict.fromkeys((400, 401, 403, 413, 415, 429), ErrorOut)


class RowErrorOut(Schema):
    row: int = Field(..., description="The listing's index in the array sent (0 for the first).")
    external_id: str
    errors: list[FieldError]


class ListingsStoredOut(Schema):
    stored: int = Field(..., description="Listings stored: created, updated or unchanged.")
    created: int
    updated: int
    unchanged: int
    errors: list[RowErrorOut] = Field(..., description="The listings not stored, and why.")


def _field_schema(field: forms.Field) -> dict:
    """The JSON schema of one field of the listing form, for the API's documentation."""
    if isinstance(field, WholeAmountField):
        schema = {"type": "integer", "minimum": int(field.min_value)}
    elif isinstance(field, forms.DecimalField):  # before IntegerField, its base class
        schema = {"type": "number", "minimum": 0, "maximum": float(field.max_value)}
    elif isinstance(field, forms.IntegerField):
        schema = {"type": "integer", "minimum": field.min_value, "maximum": field.max_value}
    elif isinstance(field, forms.DateTimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(field, AliasChoiceField):
        schema = {"type": "string", "enum": field.choice_values.split(", ")}
    else:
        schema = {"type": "string", "minLength": 1 if field.required else 0}
        if field.max_length:
            schema["maxLength"] = field.max_length
        if isinstance(field, WebURLField):
            schema["format"] = "uri"
            schema["pattern"] = "^https?://"
    if field.help_text:
        schema["description"] = str(field.help_text)
    return schema


def listing_schema() -> dict:
    fields = ListingRowForm.base_fields
    return {
        "title": "ListingIn",
        "type": "object",
        "additionalProperties": False,
        "required": [name for name, field in fields.items() if field.required],
        "properties": {name: _field_schema(field) for name, field in fields.items()},
    }


def _request_body() -> dict:
    one = listing_schema()
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            one,
                            {
                                "type": "array",
                                "items": one,
                                "minItems": 1,
                                "maxItems": MAX_LISTINGS,
                            },
                        ]
                    }
                }
            },
        }
    }


def _read_rows(request: HttpRequest) -> list:
    data = read_json_data(request)
    rows = data if isinstance(data, list) else [data] if isinstance(data, dict) else None
    if not rows:
        problem = {"field": "body", "message": "Send a listing (an object) or an array of them."}
        raise ApiError(400, "No listings in the body.", errors=[problem])
    if len(rows) > MAX_LISTINGS:
        problem = {"field": "body", "message": f"At most {MAX_LISTINGS} listings a request."}
        raise ApiError(400, "Too many listings in one request.", errors=[problem])
    return rows


@router.post(
    "",
    response={200: ListingsStoredOut, **LISTING_ERRORS},
    auth=token_auth,
    openapi_extra=_request_body(),
    summary="Store listings (one, or an array): created or updated by external id",
    description=(
        "Each listing describes the whole listing as it is now: a listing whose "
        "external_id the team already has is replaced by it (a lower price is a price "
        "reduction). Every listing is checked on its own: the valid ones are stored and "
        "the answer is 200 with the others under `errors`, each with its index in the "
        "array and its field errors. New listings and price reductions are matched "
        f"against the contacts' saved searches. At most {MAX_LISTINGS} listings and "
        f"{settings.INTAKE_MAX_BODY_BYTES // 1024} KiB a request."
    ),
)
@decorate_view(intake_limited)
def listings_post(request: HttpRequest):
    token: ApiToken = request.auth
    if not token.can_create:
        raise ApiError(403, "This token may not store listings: it is read-only.", team=token.team)
    limit_caller(request, f"token:{token.pk}", settings.INTAKE_RATE_LIMIT_PER_TOKEN, "token")
    rows = _read_rows(request)
    result = listings_intake(team=token.team, rows=enumerate(rows), via=ChangeVia.API, strict=True)
    return JsonResponse(
        {
            "stored": result.stored,
            "created": result.store.created,
            "updated": result.store.updated,
            "unchanged": result.store.unchanged,
            "errors": [
                {
                    "row": problem.row,
                    "external_id": problem.external_id,
                    "errors": [{"field": f, "message": m} for f, m in problem.errors],
                }
                for problem in result.problems
            ],
        }
    )
