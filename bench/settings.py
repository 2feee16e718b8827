"""Benchmark settings: production settings, with tasks queued (not run inline) and
cheap password hashing for the many users the benchmark creates."""

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "notifications.sms.backends.locmem.SmsBackend"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "WARNING"},
    "loggers": {"django-q": {"level": "WARNING"}},
}
Q_CLUSTER = {**Q_CLUSTER, "log_level": "WARNING"}  # noqa: F405
