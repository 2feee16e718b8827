"""A mail backend whose server accepts and never answers: every send blocks."""

import threading

from django.core.mail.backends.base import BaseEmailBackend


class HangingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        threading.Event().wait()  # forever: the worker is killed at the end of the test
        return 0
