"""Keeps link tokens out of the web server's logs (gunicorn, and uvicorn under it).

Every request gets an access line with its path, and two kinds of path carry a
token that acts for someone: a claim link (/claim/<token>/, which can claim a
contact) and Django's password reset confirmation (/accounts/reset/<uid>/<token>/,
also how new members choose their first password). config/gunicorn.conf.py puts
this filter on the handlers of the access and error logs, so the token is gone
before any line is written.
"""

from __future__ import annotations

import logging
import re

from notifications.tokens import redact

# The token segment after the user id; "set-password" is the page Django redirects to
# once it has moved the token into the session, and says nothing.
RESET_TOKEN_RE = re.compile(r"(/reset/[^/\s?&#\"']+/)(?!set-password(?:[/\s?#\"']|$))[^/\s?&#\"']+")


def redact_tokens(text: str) -> str:
    return RESET_TOKEN_RE.sub(r"\1[redacted]", redact(text))


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a broken record is reported by the handler that formats it
            return True
        redacted = redact_tokens(text)
        if redacted != text:
            record.msg, record.args = redacted, ()
        return True
