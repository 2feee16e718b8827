"""API errors: one JSON shape, and intake requests turned away are kept with their reason."""

from __future__ import annotations

import ipaddress
import json
import logging
import re

import pydantic
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.http.request import RawPostDataException

from config.request_id import REQUEST_ID_HEADER, request_id_of
from contacts.intake import rejected_payload_record
from contacts.models import LeadSource
from contacts.ratelimit import Verdict, client_ip
from teams.models import Team

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer other than success: status, a sentence, and field errors for 400s."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict] | tuple = (),
        team: Team | None = None,
        source: LeadSource | None = None,
        headers: dict[str, str] | None = None,
        record: bool = True,
    ):
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, list(errors)
        self.team, self.source, self.headers, self.record = team, source, headers or {}, record


def error_response(status: int, detail: str, errors=(), headers=None) -> JsonResponse:
    response = JsonResponse({"detail": detail, "errors": list(errors)}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def internal_error_response(request_id: str) -> JsonResponse:
    """A 500 that says nothing of the failure, only the id its log records carry."""
    detail = f"Internal error. Quote request id {request_id} when reporting it."
    response = JsonResponse({"detail": detail, "errors": [], "request_id": request_id}, status=500)
    response[REQUEST_ID_HEADER] = request_id
    return response


def unhandled_error(request: HttpRequest, exc: Exception) -> JsonResponse:
    """Any exception an endpoint did not turn into an ApiError: logged with its
    traceback and the request id, answered 500. The answer is the same whatever DEBUG
    says: the traceback is for the log, never for the caller."""
    request_id = request_id_of(request)
    logger.exception(
        "Unhandled error answering %s %s (request id %s)",
        request.method,
        request.path,
        request_id,
        exc_info=exc,
        extra={"request_id": request_id},
    )
    return internal_error_response(request_id)


# Headers of an error response that still say something once it is JSON.
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def error_as_json(request: HttpRequest, response: HttpResponseBase) -> JsonResponse:
    """An error answered outside the API's handlers (Django's 404 for a path no endpoint
    has, the 405 of a method an endpoint does not take, a 500 from a middleware) in the
    API's JSON shape. The exception behind a 500 was logged where it was raised."""
    status = response.status_code
    if status == 500:
        answer = internal_error_response(request_id_of(request))
    else:
        if status == 404:
            detail = "Not found."
        elif status == 405:
            allowed = sorted(m.strip() for m in response.get("Allow", "").split(",") if m.strip())
            detail = f"Method {request.method} not allowed here: use {', '.join(allowed)}."
        else:
            detail = f"{response.reason_phrase}."
        headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
        answer = error_response(status, detail, headers=headers)
    # Django marks a response it has logged (the 404, the 500 with its traceback); the
    # replacement keeps the mark, so the failure is not logged a second time.
    answer._has_been_logged = getattr(response, "_has_been_logged", False)
    return answer


def too_many_requests(verdict: Verdict, what: str) -> ApiError:
    return ApiError(
        429,
        f"Too many requests from this {what}: {verdict.limit} a window. Retry later.",
        headers={"Retry-After": str(verdict.retry_after)},
        record=False,  # floods would fill the table: the rate limit is there to stop them
    )


def pydantic_errors(exc: pydantic.ValidationError) -> list[dict]:
    return [
        {"field": ".".join(str(p) for p in error["loc"]) or "body", "message": error["msg"]}
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def ninja_errors(errors: list[dict]) -> list[dict]:
    """ninja's query/path/header errors: drop the location kind and the param model's name."""
    fields = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        if loc and loc[0] in {"query", "path", "header", "body", "cookie"}:
            loc = loc[1:]
        if len(loc) > 1 and loc[0] == "filters":
            loc = loc[1:]
        fields.append({"field": ".".join(loc) or "request", "message": error.get("msg", "")})
    return fields


def body_for_record(request: HttpRequest) -> bytes:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.INTAKE_MAX_BODY_BYTES:
        return b""
    try:
        return request.body
    except (RawPostDataException, RequestDataTooBig):
        return b""


def record_rejection(request: HttpRequest, exc: ApiError) -> None:
    """Intake (POST) requests only: reads are not payloads."""
    if request.method != "POST" or not exc.record:
        return
    address = client_ip(request)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        address = ""
    team = exc.team or getattr(getattr(request, "auth", None), "team", None)
    rejected_payload_record(
        endpoint=request.path,
        status=exc.status,
        reason=exc.detail,
        errors=exc.errors,
        body=body_for_record(request),
        content_type=request.META.get("CONTENT_TYPE", ""),
        remote_addr=address,
        team=team,
        source=exc.source,
    )


JSON_MEDIA_TYPE = re.compile(r"^application/([a-z0-9.+-]+\+)?json$")


def raw_body(request: HttpRequest) -> bytes:
    """The body as sent, or 413 when it is over the intake limit (checked before reading)."""
    limit = settings.INTAKE_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit or len(body := request.body) > limit:
        raise ApiError(413, f"The body is larger than {limit} bytes.")
    return body


def read_json_data(request: HttpRequest):
    """The parsed JSON body, or an ApiError: 413, 415, or 400 for JSON that does not parse."""
    body = raw_body(request)
    if not JSON_MEDIA_TYPE.match((request.content_type or "").lower()):
        raise ApiError(415, "Send JSON, with the header Content-Type: application/json.")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        problem = {"field": "body", "message": f"Not valid JSON: {exc}"[:300]}
        raise ApiError(400, "The body is not valid JSON.", errors=[problem]) from exc


def read_json(request: HttpRequest, schema: type[pydantic.BaseModel]):
    """The raw JSON and the validated body, or an ApiError: 413, 415 or 400 with field errors."""
    data = read_json_data(request)
    try:
        payload = schema.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ApiError(400, "The lead is not valid.", errors=pydantic_errors(exc)) from exc
    errors = payload.cross_field_errors()
    if errors:
        raise ApiError(400, "The lead is not valid.", errors=errors)
    return data, payload
