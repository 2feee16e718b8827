"""POSTs each text as JSON to settings.SMS_WEBHOOK_URL with a bearer token.

Body: {"to": "+1555…", "body": "…", "from_name": "Alan Agent"}. Anything but a
2xx answer raises SmsDeliveryError, so the outbox retries the message.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from notifications.sms.backends.base import BaseSmsBackend


class SmsDeliveryError(Exception):
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would resend the POST (and its token) somewhere else: treat it as a failure.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class SmsBackend(BaseSmsBackend):
    def __init__(
        self,
        *args,
        url: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.url = url or settings.SMS_WEBHOOK_URL
        self.token = token if token is not None else settings.SMS_WEBHOOK_TOKEN
        self.timeout = timeout if timeout is not None else settings.SMS_WEBHOOK_TIMEOUT
        if not self.url.startswith(("https://", "http://")):
            raise ImproperlyConfigured("SMS_WEBHOOK_URL must be an http(s) URL.")
        self._opener = urllib.request.build_opener(_NoRedirect)

    def _post(self, message) -> None:
        payload = {"to": message.to, "body": message.body, "from_name": message.from_name}
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.url, data=json.dumps(payload).encode(), headers=headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SmsDeliveryError(f"SMS webhook unreachable: {reason}") from None
        if not 200 <= status < 300:
            raise SmsDeliveryError(f"SMS webhook answered HTTP {status}")

    def send_messages(self, messages) -> int:
        sent = 0
        for message in messages:
            try:
                self._post(message)
            except SmsDeliveryError:
                if not self.fail_silently:
                    raise
                continue
            sent += 1
        return sent
