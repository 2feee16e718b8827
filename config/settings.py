"""Switchboard settings, driven by environment variables (see .env.example)."""

import os
import sys
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-secret-key-change-me")
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "guardian",
    "django_q",
    "teams",
    "contacts",
    "routing",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "teams.middleware.CurrentMembershipMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "teams.context_processors.membership",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Database -------------------------------------------------------------
# PostgreSQL when DATABASE_URL is set; otherwise an embedded SQLite file under
# var/. IMMEDIATE transactions make concurrent SQLite writers queue on the
# write lock instead of failing mid-transaction with "database is locked".
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
DATABASE_URL = os.environ.get("DATABASE_URL", "")
# django-q2 forks its workers, which would share pooled psycopg sockets and
# stall ("the last operation didn't produce records"): the worker runs without
# the pool and with persistent connections instead.
IS_QCLUSTER = len(sys.argv) > 1 and sys.argv[1] == "qcluster"
DB_POOL = env_bool("DB_POOL", False) and not IS_QCLUSTER

if DATABASE_URL:
    default_db = dj_database_url.parse(DATABASE_URL, conn_max_age=0 if DB_POOL else 60)
    default_db["OPTIONS"] = {"pool": True} if DB_POOL else {}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    default_db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "switchboard.sqlite3",
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }
DATABASES = {"default": default_db}
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None  # no guardian anonymous user row

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"

# --- Email ----------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Switchboard <switchboard@localhost>")
# Seconds an SMTP connection may block; a mail server that never answers fails the send
# (it is retried with backoff) instead of holding a delivery worker.
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))

# --- Tasks (django-q2) ------------------------------------------------------
# Two queues, each with its own workers, so routing never waits behind delivery:
#   ROUTING_CLUSTER   routing, offer expiry, the routing sweep backstop (`manage.py qcluster`)
#   DELIVERY_CLUSTER  email, texts, web push, digests, the outbox sweep
#                     (`Q_CLUSTER_NAME=delivery manage.py qcluster`)
# The broker is the ORM on the default database, or Redis when REDIS_URL is set, so web
# processes and worker hosts scale out against one database and one Redis.
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
ROUTING_CLUSTER = "switchboard"
DELIVERY_CLUSTER = "delivery"
Q_CLUSTER = {
    "name": ROUTING_CLUSTER,
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": 60,
    "retry": 90,  # must exceed timeout, or a slow task runs twice
    "max_attempts": 5,
    "catch_up": False,
    # Successful tasks are not kept (their effects are: routing log, outbox): with up to
    # 1,000 kept, the monitor locked and pruned them after every task.
    "save_limit": int(os.environ.get("Q_SAVE_LIMIT", "-1")),
    "poll": 0.2,
    "sync": env_bool("Q_SYNC", False),
    "ALT_CLUSTERS": {
        DELIVERY_CLUSTER: {
            "workers": int(os.environ.get("Q_DELIVERY_WORKERS", "2")),
            # Each send has its own timeout (EMAIL_TIMEOUT, SMS_WEBHOOK_TIMEOUT, push):
            # a task stops taking messages well before this.
            "timeout": 120,
            "retry": 180,
        },
    },
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "switchboard",
        }
    }
else:
    Q_CLUSTER["orm"] = "default"

# --- Routing --------------------------------------------------------------
ROUTING_LOG_RETENTION_DAYS = int(os.environ.get("ROUTING_LOG_RETENTION_DAYS", "30"))
ROUTING_SWEEP_SECONDS = int(os.environ.get("ROUTING_SWEEP_SECONDS", "5"))
# Contacts one router decides and writes in one transaction (a trickle takes batches of 1).
ROUTING_BATCH_SIZE = int(os.environ.get("ROUTING_BATCH_SIZE", "100"))
# A route task stops after this many seconds of batches and queues its successor.
ROUTING_TASK_BUDGET_SECONDS = int(os.environ.get("ROUTING_TASK_BUDGET_SECONDS", "20"))
# Attempts at routing a contact whose routing fails, 5 s apart doubling to 6 min: about
# 35 minutes in all, then owners and admins are told.
ROUTING_MAX_ATTEMPTS = int(os.environ.get("ROUTING_MAX_ATTEMPTS", "12"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- Notifications (notifications app) --------------------------------------
# Texts go through a pluggable backend, like email: console (default), file,
# locmem (tests) or webhook (POSTs JSON to SMS_WEBHOOK_URL with a bearer token).
SMS_BACKEND = os.environ.get("SMS_BACKEND", "notifications.sms.backends.console.SmsBackend")
SMS_FILE_PATH = os.environ.get("SMS_FILE_PATH", str(VAR_DIR / "sms"))
SMS_WEBHOOK_URL = os.environ.get("SMS_WEBHOOK_URL", "")
SMS_WEBHOOK_TOKEN = os.environ.get("SMS_WEBHOOK_TOKEN", "")
SMS_WEBHOOK_TIMEOUT = float(os.environ.get("SMS_WEBHOOK_TIMEOUT", "10"))
# Web push: without both keys push messages are skipped and in-app alerts still work.
# Generate a pair with `vapid --gen` (py-vapid, installed with pywebpush).
VAPID_PUBLIC_KEY = os.environ.get("VAPID_PUBLIC_KEY", "")
VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY", "")
VAPID_SUBJECT = os.environ.get("VAPID_SUBJECT", "mailto:switchboard@localhost")
# Delivery attempts per outbox message before it is marked failed.
NOTIFICATION_MAX_ATTEMPTS = int(os.environ.get("NOTIFICATION_MAX_ATTEMPTS", "5"))
# A failed send waits this long, doubling with each attempt (at most an hour).
NOTIFICATION_RETRY_BASE_SECONDS = int(os.environ.get("NOTIFICATION_RETRY_BASE_SECONDS", "60"))
# Hourly digest: assignments younger than this are left for the next run, so a
# routing transaction still committing is never skipped.
DIGEST_SETTLE_SECONDS = int(os.environ.get("DIGEST_SETTLE_SECONDS", "60"))
# A member's first digest looks back at most this far.
DIGEST_FIRST_LOOKBACK_HOURS = int(os.environ.get("DIGEST_FIRST_LOOKBACK_HOURS", "24"))

# --- Intake: JSON API, lead-source webhooks, CSV import --------------------
# Fixed-window limits per API token (or lead source) and per client IP, counted where
# every web process sees them: in the database (both buckets in one upsert), or in Redis
# when REDIS_URL is set; 0 turns a limit off.
INTAKE_RATE_LIMIT_WINDOW_SECONDS = int(os.environ.get("INTAKE_RATE_LIMIT_WINDOW_SECONDS", "60"))
INTAKE_RATE_LIMIT_PER_TOKEN = int(os.environ.get("INTAKE_RATE_LIMIT_PER_TOKEN", "600"))
INTAKE_RATE_LIMIT_PER_IP = int(os.environ.get("INTAKE_RATE_LIMIT_PER_IP", "300"))
# Behind N reverse proxies, the client is the Nth address from the right of
# X-Forwarded-For; 0 trusts no header and uses REMOTE_ADDR.
INTAKE_TRUSTED_PROXIES = int(os.environ.get("INTAKE_TRUSTED_PROXIES", "0"))
# Idempotency keys replay their first response for at least 24 hours; an
# in-flight key older than the timeout belongs to a request that died.
INTAKE_IDEMPOTENCY_KEEP_HOURS = max(24, int(os.environ.get("INTAKE_IDEMPOTENCY_KEEP_HOURS", "24")))
INTAKE_IDEMPOTENCY_IN_FLIGHT_SECONDS = int(
    os.environ.get("INTAKE_IDEMPOTENCY_IN_FLIGHT_SECONDS", "60")
)
INTAKE_MAX_BODY_BYTES = int(os.environ.get("INTAKE_MAX_BODY_BYTES", str(64 * 1024)))
INTAKE_REJECTED_BODY_BYTES = 16 * 1024  # what a rejected payload keeps of its body
INTAKE_REJECTED_KEEP_DAYS = int(os.environ.get("INTAKE_REJECTED_KEEP_DAYS", "30"))
IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", str(5 * 1024 * 1024)))
IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", "5000"))
