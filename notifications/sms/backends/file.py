"""Writes texts to a file per backend instance under settings.SMS_FILE_PATH."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from notifications.sms.backends.console import SmsBackend as ConsoleSmsBackend


class SmsBackend(ConsoleSmsBackend):
    def __init__(self, *args, file_path: str | None = None, **kwargs) -> None:
        self._fname: Path | None = None
        path = file_path or getattr(settings, "SMS_FILE_PATH", None)
        if not path:
            raise ImproperlyConfigured("SMS_FILE_PATH is not set for the file SMS backend.")
        self.file_path = Path(path).resolve()
        try:
            self.file_path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ImproperlyConfigured(f"Cannot create SMS_FILE_PATH {self.file_path}") from exc
        if not os.access(self.file_path, os.W_OK):
            raise ImproperlyConfigured(f"SMS_FILE_PATH {self.file_path} is not writable")
        kwargs.pop("stream", None)
        super().__init__(*args, **kwargs)
        # Opened by send_messages(), like Django's file-based email backend.
        self.stream = None

    def _get_filename(self) -> Path:
        if self._fname is None:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")  # noqa: DTZ005
            self._fname = self.file_path / f"{stamp}-{abs(id(self))}.log"
        return self._fname

    def open(self) -> bool:
        if self.stream is None:
            self.stream = open(self._get_filename(), "a", encoding="utf-8")  # noqa: SIM115
            return True
        return False

    def close(self) -> None:
        try:
            if self.stream is not None:
                self.stream.close()
        finally:
            self.stream = None

    def send_messages(self, messages) -> int:
        if not messages:
            return 0
        opened = self.open()
        try:
            return super().send_messages(messages)
        finally:
            if opened:
                self.close()
