"""Test settings: tasks run synchronously, fast hashing, mail kept in memory."""

from config.settings import *
from config.settings import Q_CLUSTER

# Strong enough for the production settings the worker processes some tests start
# (DEBUG off), which must sign and read tasks with this same key.
SECRET_KEY = "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
SMS_BACKEND = "notifications.sms.backends.locmem.SmsBackend"
