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
from contacts.intake import (
    SIGNATURE_FORMAT,
    SIGNATURE_HEADER,
    SignatureRefused,
    lead_intake,
    webhook_delivery_claim,
    webhook_signature_verify,
)
from contacts.models import LeadSource

router = Router(tags=["webhooks"])
Signature = Header[
    str | None,
    {
        "alias": SIGNATURE_HEADER,
        "max_length": 600,  # room for a timestamp and several v1 values
        "description": SIGNATURE_FORMAT,
    },
]


@router.post(
    "/{slug}",
    response={201: IntakeOut, 200: IntakeOut, **INTAKE_ERRORS},
    auth=None,
    openapi_extra=json_body(WebhookLeadIn),
    summary="Receive a lead from a lead source",
    description=(
        f"Sign each delivery: {SIGNATURE_HEADER}: {SIGNATURE_FORMAT}. Several v1 values "
        "may be sent (while changing secrets). A timestamp more than "
        f"{settings.WEBHOOK_TOLERANCE_SECONDS} seconds from the server's clock, or a "
        "signed request sent a second time, is refused (401): sign retries afresh. A "
        "lead_id the source sent before returns the same contact (200, deduplicated) "
        "instead of a new one."
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
    try:
        verified = webhook_signature_verify(source=source, body=body, header=signature)
    except SignatureRefused as exc:
        raise ApiError(401, str(exc), team=source.team, source=source) from exc
    # Before the rate limit: replays of a captured request must not use up the source's.
    if not webhook_delivery_claim(source=source, signature=verified):
        raise ApiError(
            401,
            "This signed request was received before: sign each delivery, retries "
            "included, with a fresh timestamp.",
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
