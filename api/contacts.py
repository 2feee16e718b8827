"""/api/v1/contacts: create (intake), read one with its routing, list and filter."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Annotated

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from ninja import Header, Path, Query, Router
from ninja.decorators import decorate_view
from pydantic import StringConstraints

from api.auth import intake_limited, limit_caller, require_access, token_auth
from api.errors import ApiError, read_json
from api.schemas import (
    ContactDetailOut,
    ContactFilters,
    ContactPage,
    ErrorOut,
    IntakeOut,
    LeadIn,
)
from contacts.intake import (
    IdempotencyInFlight,
    IdempotencyMismatch,
    IntakeResult,
    idempotency_begin,
    idempotency_finish,
    idempotency_release,
    lead_intake,
    request_fingerprint,
)
from contacts.models import Contact, ContactRole, RoleKind
from routing.models import ContactRouting, RoutingLog, RoutingStatus
from teams.models import Membership, Team

router = Router(tags=["contacts"])

IdempotencyKey = Header[
    Annotated[str, StringConstraints(pattern=r"^[!-~]{1,255}$")] | None,
    {"alias": "Idempotency-Key", "description": "Makes retries safe: up to 255 visible ASCII."},
]
INTAKE_ERRORS = dict.fromkeys((400, 401, 403, 404, 409, 413, 415, 422, 429), ErrorOut)


def json_body(schema) -> dict:
    """The request body for the docs: intake reads the raw body itself (signature, 415, replay)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema.model_json_schema()}},
        }
    }


# --- reading ----------------------------------------------------------------------


def team_contacts(team: Team) -> QuerySet[Contact]:
    """The team's contacts with what the API shows of them, in three queries a page."""
    agents = ContactRole.objects.filter(kind=RoleKind.AGENT).select_related("membership__user")
    return (
        Contact.objects.filter(team=team)
        .select_related("routing")
        .prefetch_related("tags", Prefetch("roles", queryset=agents, to_attr="agent_roles"))
    )


def contact_data(contact: Contact) -> dict:
    """A contact read through `team_contacts` (routing, tags and agent come with it)."""
    agent = contact.agent_roles[0].membership if contact.agent_roles else None
    return contact_fields(
        contact,
        routing=getattr(contact, "routing", None),
        agent=agent,
        tags=[tag.name for tag in contact.tags.all()],
    )


def contact_fields(
    contact: Contact,
    *,
    routing: ContactRouting | None,
    agent: Membership | None,
    tags: Iterable[str],
) -> dict:
    return {
        "id": contact.pk,
        **{
            name: getattr(contact, name)
            for name in (
                "first_name",
                "last_name",
                "email",
                "phone",
                "source",
                "contact_type",
                "city",
                "state",
                "zip_code",
                "status",
                "created_at",
            )
        },
        "routing_status": routing.status if routing else RoutingStatus.RECEIVED,
        "assigned_at": routing.assigned_at if routing else None,
        "price_min": int(contact.price_min) if contact.price_min is not None else None,
        "price_max": int(contact.price_max) if contact.price_max is not None else None,
        "tags": sorted(tags),
        "primary_agent": (
            {"id": agent.pk, "name": agent.display_name, "email": agent.user.email}
            if agent
            else None
        ),
    }


@router.get(
    "",
    response={200: ContactPage, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut},
    auth=token_auth,
    summary="List the team's contacts, newest first",
)
def contact_list(request: HttpRequest, filters: Query[ContactFilters]):
    require_access(request.auth, read=True)
    contacts = team_contacts(request.auth.team)
    for name, lookup in (
        ("status", "status"),
        ("routing_status", "routing__status"),
        ("source", "source"),
    ):
        if getattr(filters, name) is not None:
            contacts = contacts.filter(**{lookup: getattr(filters, name)})
    if filters.created_since is not None:
        contacts = contacts.filter(created_at__gte=filters.created_since)
    page = contacts[filters.offset : filters.offset + filters.limit]
    return {
        "count": contacts.count(),
        "limit": filters.limit,
        "offset": filters.offset,
        "items": [contact_data(c) for c in page],
    }


@router.get(
    "/{contact_id}",
    response={200: ContactDetailOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    auth=token_auth,
    summary="A contact, its agent and its routing log",
)
def contact_detail(request: HttpRequest, contact_id: int = Path(..., ge=1, le=2**63 - 1)):
    require_access(request.auth, read=True)
    contact = get_object_or_404(team_contacts(request.auth.team), pk=contact_id)
    log = RoutingLog.objects.filter(contact=contact).order_by("created_at", "id")
    return {
        **contact_data(contact),
        "routing_log": [
            {
                "event": line.code,
                "rule": line.source,
                "agent_id": line.member_id,
                "reason": line.text,
                "created_at": row.created_at,
            }
            for row in log
            for line in row.lines
        ],
    }


# --- intake -------------------------------------------------------------------------


def intake_body(result: IntakeResult, team: Team) -> dict:
    if result.deduplicated:
        # The contact it matched has an agent, tags and a routing state that are not in
        # memory, and routing may have just changed them (routed again): read it back.
        contact_json = contact_data(team_contacts(team).get(pk=result.contact.pk))
    else:
        # A new contact, answered from memory as it was committed: routing starts only
        # after the commit, so it is not routed yet and has no agent.
        contact_json = contact_fields(result.contact, routing=None, agent=None, tags=result.tags)
    data = {**contact_json, "deduplicated": result.deduplicated, "matched_by": result.matched_by}
    # What is stored for a replay must be plain JSON.
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def intake_response(status: int, body: dict, *, replayed: bool = False) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Location"] = f"/api/v1/contacts/{body['id']}"
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def intake_respond(
    request: HttpRequest,
    *,
    team: Team,
    data: object,
    idempotency_key: str | None,
    intake: Callable[[], IntakeResult],
    source=None,
) -> JsonResponse:
    """Run the intake once per Idempotency-Key and answer 201 (new) or 200 (deduplicated).

    The key row is committed before the work, so a concurrent request with the
    same key sees it at once (409); the contact is committed before we answer.
    """
    key = idempotency_key
    if key:
        fingerprint = request_fingerprint(path=request.path, data=data)
        try:
            stored = idempotency_begin(team=team, key=key, fingerprint=fingerprint)
        except IdempotencyMismatch as exc:
            raise ApiError(
                422,
                "This Idempotency-Key was used with a different request.",
                team=team,
                source=source,
            ) from exc
        except IdempotencyInFlight as exc:
            raise ApiError(
                409,
                "A request with this Idempotency-Key is still being processed. Retry shortly.",
                team=team,
                source=source,
            ) from exc
        if stored is not None:
            return intake_response(stored.status, stored.body, replayed=True)
    try:
        result = intake()
    except ValidationError as exc:
        if key:
            idempotency_release(team=team, key=key)
        errors = [
            {"field": name, "message": " ".join(messages)}
            for name, messages in exc.message_dict.items()
        ]
        raise ApiError(400, "The lead is not valid.", errors=errors, team=team) from exc
    except BaseException:
        if key:
            idempotency_release(team=team, key=key)
        raise
    status, body = (200 if result.deduplicated else 201), intake_body(result, team)
    if key:
        idempotency_finish(team=team, key=key, status=status, body=body)
    return intake_response(status, body)


@router.post(
    "",
    response={201: IntakeOut, 200: IntakeOut, **INTAKE_ERRORS},
    auth=token_auth,
    openapi_extra=json_body(LeadIn),
    summary="Create a contact (or attach the lead to the contact it duplicates)",
    description=(
        "Stored before the answer; routing starts after commit. 201: a new contact. "
        "200: the lead matched an existing contact (email, or phone and name): it was "
        "added to that contact's timeline and stays with its agent. Send an "
        "Idempotency-Key to make retries safe: the same key and body replay the first answer."
    ),
)
@decorate_view(intake_limited)
def contact_create(
    request: HttpRequest,
    idempotency_key: IdempotencyKey = None,
):
    token = request.auth
    require_access(token, create=True)
    limit_caller(request, f"token:{token.pk}", settings.INTAKE_RATE_LIMIT_PER_TOKEN, "token")
    data, payload = read_json(request, LeadIn)
    lead = payload.to_lead(source=payload.source or "API")
    return intake_respond(
        request,
        team=token.team,
        data=data,
        idempotency_key=idempotency_key,
        intake=lambda: lead_intake(team=token.team, lead=lead),
    )
