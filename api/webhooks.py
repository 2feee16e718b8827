"""/api/v1/webhooks/<source>: leads posted by lead sources, signed with their shared secret."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja import Header, Path, Router
from ninja.decorators import decorate_view

from api.auth import intake_limited, limit_caller
from api.contacts import (
    INTAKE_ERRORS,
    IdempotencyKey,
    intake_respond,
    json_body,
)
from api.errors import ApiError, raw_body, read_json
from api.schemas import IntakeOut, WebhookLeadIn
from contacts.intake import SIGNATURE_SCHEME, lead_intake, webhook_signature_valid
from contacts.models import LeadSource

router = Router(tags=["webhooks"])
Signature = Header[
    str | None,
    {
        "alias": "X-Switchboard-Signature",
        "max_length": 200,
        "description": f"{SIGNATURE_SCHEME}<hex HMAC-SHA256 of the raw body>",
    },
]


@router.post(
    "/{slug}",
    response={201: IntakeOut, 200: IntakeOut, **INTAKE_ERRORS},
    auth=None,
    openapi_extra=json_body(WebhookLeadIn),
    summary="Receive a lead from a lead source",
    description=(
        "Sign the raw body: X-Switchboard-Signature: sha256=<hex HMAC-SHA256 of the body "
        "with the source's secret>. A lead_id the source sent before returns the same "
        "contact (200, deduplicated) instead of a new one."
    ),
)
@decorate_view(intake_limited)
def webhook_receive(
    request: HttpRequest,
    slug: str = Path(..., pattern=r"^[-a-zA-Z0-9_]{1,80}$"),
    signature: Signature = None,
    idempotency_key: IdempotencyKey = None,
):
    source = LeadSource.objects.select_related("team").filter(slug=slug, is_active=True).first()
    if source is None:
        raise ApiError(404, "No active lead source at this address.")
    try:
        body = raw_body(request)
    except ApiError as exc:
        exc.team, exc.source = source.team, source
        raise
    if not signature or not webhook_signature_valid(source=source, body=body, header=signature):
        raise ApiError(
            401,
            "Missing or wrong X-Switchboard-Signature for this source.",
            team=source.team,
            source=source,
        )
    per_window = settings.INTAKE_RATE_LIMIT_PER_TOKEN
    limit_caller(request, f"source:{source.pk}", per_window, "lead source")
    try:
        data, payload = read_json(request, WebhookLeadIn)
    except ApiError as exc:
        exc.team, exc.source = source.team, source
        raise
    lead = payload.to_lead(source=source.name)
    return intake_respond(
        request,
        team=source.team,
        data=data,
        idempotency_key=idempotency_key,
        source=source,
        intake=lambda: lead_intake(
            team=source.team, lead=lead, source=source, external_id=payload.lead_id
        ),
    )
