"""Claim tokens never reach a log, whatever logs the path."""

import logging

from django.test import RequestFactory

from notifications.log_filters import LOGGERS, RedactClaimTokens


def _record(msg, *args, **extra):
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, msg, args, None)
    for name, value in extra.items():
        setattr(record, name, value)
    return record


def test_redact_claim_tokens_rewrites_message_and_args():
    record = _record("%s: %s", "Bad Request", "/claim/eyJvIjo:1abc:sig/")
    assert RedactClaimTokens().filter(record)
    assert record.getMessage() == "Bad Request: /claim/[redacted]/"


def test_redact_claim_tokens_drops_the_request_of_a_claim_path():
    request = RequestFactory().get("/claim/eyJvIjo:1abc:sig/")
    record = _record("Internal Server Error: %s", "/claim/[redacted]/", request=request)
    RedactClaimTokens().filter(record)
    assert record.request is None


def test_redact_claim_tokens_leaves_other_records_alone():
    request = RequestFactory().get("/contacts/")
    record = _record("Not Found: %s", "/contacts/", request=request)
    RedactClaimTokens().filter(record)
    assert (record.msg, record.args, record.request) == ("Not Found: %s", ("/contacts/",), request)


def test_redaction_is_installed_on_the_loggers_that_print_paths():
    for name in LOGGERS:
        assert any(isinstance(f, RedactClaimTokens) for f in logging.getLogger(name).filters)
