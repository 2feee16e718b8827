"""One id per request: on the request, in the X-Request-ID response header and in every
log record written while it is answered, so an id quoted from an error finds its logs.

A caller's (or proxy's) own X-Request-ID is kept when it is a sane token, so one id can
follow a request through several systems; anything else gets a fresh id.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest
from django.utils.decorators import sync_and_async_middleware

REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
NO_REQUEST = "-"  # what log records written outside a request show

_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def request_id_from(value: str | None) -> str:
    """The caller's id when it is a sane token, else a new uuid4 in hex."""
    if value and SANE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def request_id_of(request: HttpRequest) -> str:
    """The request's id; one is given here to a request the middleware never saw."""
    request_id = getattr(request, "request_id", None)
    if request_id is None:
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
    return request_id


def current_request_id() -> str | None:
    """The id of the request being answered in this context, if any."""
    return _current.get()


@sync_and_async_middleware
def request_id_middleware(get_response):
    """Both sync and async, so the async views (the live stream) keep running without
    a thread under ASGI."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            token = _current.set(request_id_of(request))
            try:
                response = await get_response(request)
            finally:
                _current.reset(token)
            response[REQUEST_ID_HEADER] = request.request_id
            return response

    else:

        def middleware(request):
            token = _current.set(request_id_of(request))
            try:
                response = get_response(request)
            finally:
                _current.reset(token)
            response[REQUEST_ID_HEADER] = request.request_id
            return response

    return middleware


class RequestIdLogFilter(logging.Filter):
    """Gives every record a `request_id` (for `%(request_id)s` in a log format).

    Django logs a 4xx/5xx response ("Not Found: /api/…") once every middleware has
    returned, so after the context is reset; such records carry their request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            request = getattr(record, "request", None)
            record.request_id = _current.get() or getattr(request, "request_id", None) or NO_REQUEST
        return True
