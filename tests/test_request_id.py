"""Request ids: kept from a sane X-Request-ID or made up, on every response and on every
log record written while the request is answered (sync and async)."""

import io
import logging
from concurrent.futures import ThreadPoolExecutor
from logging.config import DictConfigurator

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpResponse
from django.test import RequestFactory

from config.request_id import (
    NO_REQUEST,
    RequestIdLogFilter,
    current_request_id,
    request_id_from,
    request_id_middleware,
)


class Collect(logging.Handler):
    """A handler with the filter, as LOGGING installs it on the console handler."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestIdLogFilter())
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def collected():
    handler = Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)


@pytest.mark.parametrize("sent", ["abc", "A-b_c.9", "x" * 64, "0f" * 16])
def test_request_id_from_keeps_a_sane_id(sent):
    assert request_id_from(sent) == sent


@pytest.mark.parametrize("sent", [None, "", "x" * 65, "two words", "ünï", "a/b", "a\nb", "a,b"])
def test_request_id_from_makes_a_new_id_otherwise(sent):
    made = request_id_from(sent)

    assert len(made) == 32
    assert int(made, 16) >= 0
    assert made != request_id_from(sent)


def test_request_id_on_every_response(client, db):
    kept = client.get("/accounts/login/", HTTP_X_REQUEST_ID="edge-7")
    made = client.get("/accounts/login/")

    assert kept["X-Request-ID"] == "edge-7"
    assert len(made["X-Request-ID"]) == 32


def test_request_id_in_log_records_of_the_request_only(client, db, collected):
    client.get("/api/nope", HTTP_X_REQUEST_ID="trace-1")
    logging.getLogger("switchboard.test").warning("between requests")

    during = [r for r in collected if r.name == "django.request"]
    assert [r.request_id for r in during] == ["trace-1"]
    assert collected[-1].request_id == NO_REQUEST
    assert current_request_id() is None


def test_request_id_middleware_async(collected):
    seen = []

    async def view(request):
        seen.append((request.request_id, current_request_id()))
        logging.getLogger("switchboard.test").warning("inside")
        return HttpResponse("ok")

    middleware = request_id_middleware(view)
    request = RequestFactory().get("/notifications/live/", HTTP_X_REQUEST_ID="async-1")

    # In a thread of its own: a browser test earlier in the same worker may have left an
    # event loop running in this one, where async_to_sync refuses to run.
    with ThreadPoolExecutor(max_workers=1) as pool:
        response = pool.submit(async_to_sync(middleware), request).result()

    assert response["X-Request-ID"] == "async-1"
    assert seen == [("async-1", "async-1")]
    assert collected[-1].request_id == "async-1"
    assert current_request_id() is None


def test_logging_setting_puts_the_request_id_on_each_console_line():
    from config import settings as base

    # The console handler as LOGGING describes it, writing to a buffer.
    configurator = DictConfigurator(base.LOGGING)
    console = base.LOGGING["handlers"]["console"]
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(configurator.configure_formatter(base.LOGGING["formatters"]["line"]))
    for name in console["filters"]:
        handler.addFilter(configurator.configure_filter(base.LOGGING["filters"][name]))
    logger = logging.getLogger("switchboard.test.console")
    logger.addHandler(handler)
    request = RequestFactory().get("/")
    request.request_id = "line-1"
    try:
        logger.warning("hello", extra={"request": request})
        logger.warning("no request")
    finally:
        logger.removeHandler(handler)

    first, second = handler.stream.getvalue().splitlines()
    assert first.endswith("WARNING switchboard.test.console [line-1] hello")
    assert second.endswith(f"[{NO_REQUEST}] no request")
