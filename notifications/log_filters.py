"""Keeps claim (and unsubscribe) tokens out of the logs.

Django logs the path of every 4xx/5xx response (django.request), of CSRF
failures (django.security.csrf) and, under runserver, of every request
(django.server). A claim path carries a token that can claim a contact, so
these records have it replaced before any handler sees them.
"""

from __future__ import annotations

import logging

from notifications.tokens import carries_token, redact

LOGGERS = ("django.request", "django.security.csrf", "django.server")


class RedactClaimTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a broken record is the logging module's to report
            return True
        if carries_token(text):
            record.msg, record.args = redact(text), ()
        request = getattr(record, "request", None)
        if request is not None and carries_token(getattr(request, "path", "") or ""):
            # Error emails and reporters would print the request, path and all.
            record.request = None
        return True


def install() -> None:
    redactor = RedactClaimTokens()
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactClaimTokens) for f in logger.filters):
            logger.addFilter(redactor)
