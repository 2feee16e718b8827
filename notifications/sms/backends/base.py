"""Base class for SMS backends, after django.core.mail.backends.base."""

from __future__ import annotations

from collections.abc import Sequence


class BaseSmsBackend:
    def __init__(self, fail_silently: bool = False, **kwargs) -> None:
        self.fail_silently = fail_silently

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def send_messages(self, messages: Sequence) -> int:
        raise NotImplementedError("subclasses of BaseSmsBackend must define send_messages()")
