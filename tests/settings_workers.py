"""Settings for worker processes the tests start themselves (queues, scale-out, expiry):
production settings with a quiet log and fast polling. The test's database and the
mail backend come from the environment."""

import os

from config.settings import *  # noqa: F403
from config.settings import Q_CLUSTER

EMAIL_BACKEND = os.environ.get(
    "TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend"
)
SMS_BACKEND = "notifications.sms.backends.locmem.SmsBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
Q_CLUSTER = {**Q_CLUSTER, "poll": 0.05, "log_level": "WARNING"}
