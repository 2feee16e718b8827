"""Writes texts to a stream (stdout by default): for development."""

from __future__ import annotations

import sys
import threading

from notifications.sms.backends.base import BaseSmsBackend


class SmsBackend(BaseSmsBackend):
    def __init__(self, *args, stream=None, **kwargs) -> None:
        self.stream = stream or sys.stdout
        self._lock = threading.RLock()
        super().__init__(*args, **kwargs)

    def write_message(self, message) -> None:
        sender = f" from {message.from_name}" if message.from_name else ""
        self.stream.write(f"SMS to {message.to}{sender}\n{message.body}\n{'-' * 79}\n")

    def send_messages(self, messages) -> int:
        if not messages:
            return 0
        sent = 0
        with self._lock:
            try:
                for message in messages:
                    self.write_message(message)
                    sent += 1
                self.stream.flush()
            except Exception:
                if not self.fail_silently:
                    raise
        return sent
