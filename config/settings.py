"""Switchboard settings, driven by environment variables (see .env.example)."""

import os
import re
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list

BASE_DIR = Path(__file__).resolve().parent.parent


def env_proxy_ssl_header(name: str) -> tuple[str, str] | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"HTTP_[A-Z0-9_]+", raw):
        raise ImproperlyConfigured(
            f"{name}={raw!r}: name the header the way Django's request.META does,"
            " e.g. HTTP_X_FORWARDED_PROTO for X-Forwarded-Proto."
        )
    return (raw, "https")


DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
GENERATE_SECRET_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(50))"'


def secret_key_problem(key: str) -> str | None:
    """Why a key may not sign anything in production: Django's own deploy-check rule."""
    if not key:
        return "unset or empty"
    if key == DEV_SECRET_KEY:
        return "the public development key"
    if key.startswith(SECRET_KEY_INSECURE_PREFIX):
        return f"an insecure key (it starts with {SECRET_KEY_INSECURE_PREFIX!r})"
    if len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return (
            f"too weak (it needs at least {SECRET_KEY_MIN_LENGTH} characters,"
            f" {SECRET_KEY_MIN_UNIQUE_CHARACTERS} of them different)"
        )
    return None


def checked_secret_key(key: str, *, debug: bool) -> str:
    # The key signs claim links, password resets, sessions and queued tasks: with DEBUG
    # off the process refuses to start rather than sign them with a key anyone can read.
    if debug:
        return key or DEV_SECRET_KEY
    if problem := secret_key_problem(key):
        raise ImproperlyConfigured(
            f"SECRET_KEY is {problem}; DEBUG is off, so a strong secret is required."
            f" Generate one with: {GENERATE_SECRET_KEY}"
        )
    return key


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = checked_secret_key(os.environ.get("SECRET_KEY", ""), debug=DEBUG)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- HTTPS ------------------------------------------------------------------
# With DEBUG off the site is taken to be served over HTTPS, and every protection
# below is on unless turned off by name. Django sends HSTS only on HTTPS responses.
HTTPS = env_bool("HTTPS", not DEBUG)
if HTTPS and "SITE_URL" in os.environ and not SITE_URL.startswith("https://"):
    # Links in emails carry claim tokens: over plain HTTP anyone on the path reads them.
    raise ImproperlyConfigured(
        f"SITE_URL={SITE_URL!r} must start with https:// when HTTPS is on"
        " (HTTPS=false if the site is not served over HTTPS)."
    )
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
# Only behind a proxy that always sets (or strips) this header: anyone else could send
# it and pass a plain HTTP request off as HTTPS.
SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")
SECURE_CONTENT_TYPE_NOSNIFF = True
# Never "no-referrer": under it browsers send the Claim POST with `Origin: null` and
# Django's CSRF check refuses it. The claim page itself narrows this to
# "strict-origin", so its token never leaves in a Referer.
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    # django-ninja's bundled Swagger UI (static files): without the app the API docs load
    # it from a CDN, a blank page offline or behind a firewall.
    "ninja",
    "django_q",
    "axes",
    "teams",
    "contacts",
    "routing",
    "notifications",
    "plans",
    "listings",
]

MIDDLEWARE = [
    # First, so every response (errors included) carries its X-Request-ID and every log
    # line written while answering has the id; then API errors become JSON.
    "config.request_id.request_id_middleware",
    "api.middleware.api_errors_as_json_middleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "teams.middleware.CurrentMembershipMiddleware",
    # Last: turns a sign-in refused for too many failures into the lockout page (429).
    "axes.middleware.AxesMiddleware",
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
                "routing.context_processors.lead_attention",
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
    # First: refuses a locked-out sign-in before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

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
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Switchboard <switchboard@localhost>")
# Seconds an SMTP connection may block; a mail server that never answers fails the send
# (it is retried with backoff) instead of holding a delivery worker.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)

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
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": 60,
    "retry": 90,  # must exceed timeout, or a slow task runs twice
    "max_attempts": 5,
    "catch_up": False,
    # Successful tasks are not kept (their effects are: routing log, outbox): with up to
    # 1,000 kept, the monitor locked and pruned them after every task.
    "save_limit": env_int("Q_SAVE_LIMIT", -1),
    "poll": 0.2,
    "sync": env_bool("Q_SYNC", False),
    "ALT_CLUSTERS": {
        DELIVERY_CLUSTER: {
            "workers": env_int("Q_DELIVERY_WORKERS", 2, minimum=1),
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
ROUTING_LOG_RETENTION_DAYS = env_int("ROUTING_LOG_RETENTION_DAYS", 30)
ROUTING_SWEEP_SECONDS = env_int("ROUTING_SWEEP_SECONDS", 5, minimum=1)
# Contacts one router decides and writes in one transaction (a trickle takes batches of 1).
ROUTING_BATCH_SIZE = env_int("ROUTING_BATCH_SIZE", 100, minimum=1)
# A route task stops after this many seconds of batches and queues its successor.
ROUTING_TASK_BUDGET_SECONDS = env_int("ROUTING_TASK_BUDGET_SECONDS", 20)
# Attempts at routing a contact whose routing fails, 5 s apart doubling to 6 min: about
# 35 minutes in all, then owners and admins are told.
ROUTING_MAX_ATTEMPTS = env_int("ROUTING_MAX_ATTEMPTS", 12, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Each line names the request it was written for ("-" outside requests): the id a
    # client quotes from an error answer, or sent itself as X-Request-ID.
    "filters": {"request_id": {"()": "config.request_id.RequestIdLogFilter"}},
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "line",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- Notifications (notifications app) --------------------------------------
# Texts go through a pluggable backend, like email: console (default), file,
# locmem (tests) or webhook (POSTs JSON to SMS_WEBHOOK_URL with a bearer token).
SMS_BACKEND = os.environ.get("SMS_BACKEND", "notifications.sms.backends.console.SmsBackend")
SMS_FILE_PATH = os.environ.get("SMS_FILE_PATH", str(VAR_DIR / "sms"))
SMS_WEBHOOK_URL = os.environ.get("SMS_WEBHOOK_URL", "")
SMS_WEBHOOK_TOKEN = os.environ.get("SMS_WEBHOOK_TOKEN", "")
# The SMS provider posts inbound texts (STOP/START) to /notifications/sms/inbound/ with
# `Authorization: Bearer <SMS_INBOUND_TOKEN>`; unset, the endpoint refuses every request.
SMS_INBOUND_TOKEN = os.environ.get("SMS_INBOUND_TOKEN", "")
SMS_WEBHOOK_TIMEOUT = env_float("SMS_WEBHOOK_TIMEOUT", 10.0)
# Web push: without both keys push messages are skipped and in-app alerts still work.
# Generate a pair with `vapid --gen` (py-vapid, installed with pywebpush).
VAPID_PUBLIC_KEY = os.environ.get("VAPID_PUBLIC_KEY", "")
VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY", "")
VAPID_SUBJECT = os.environ.get("VAPID_SUBJECT", "mailto:switchboard@localhost")
# Delivery attempts per outbox message before it is marked failed.
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 5)
# A failed send waits this long, doubling with each attempt (at most an hour).
NOTIFICATION_RETRY_BASE_SECONDS = env_int("NOTIFICATION_RETRY_BASE_SECONDS", 60)
# Hourly digest: assignments younger than this are left for the next run, so a
# routing transaction still committing is never skipped.
DIGEST_SETTLE_SECONDS = env_int("DIGEST_SETTLE_SECONDS", 60)
# A member's first digest looks back at most this far.
DIGEST_FIRST_LOOKBACK_HOURS = env_int("DIGEST_FIRST_LOOKBACK_HOURS", 24)

# --- Intake: JSON API, lead-source webhooks, CSV import --------------------
# Fixed-window limits per API token (or lead source) and per client IP, counted where
# every web process sees them: in the database (both buckets in one upsert), or in Redis
# when REDIS_URL is set; 0 turns a limit off.
INTAKE_RATE_LIMIT_WINDOW_SECONDS = env_int("INTAKE_RATE_LIMIT_WINDOW_SECONDS", 60)
INTAKE_RATE_LIMIT_PER_TOKEN = env_int("INTAKE_RATE_LIMIT_PER_TOKEN", 600)
INTAKE_RATE_LIMIT_PER_IP = env_int("INTAKE_RATE_LIMIT_PER_IP", 300)
# Behind N reverse proxies, the client is the Nth address from the right of
# X-Forwarded-For; 0 trusts no header and uses REMOTE_ADDR.
INTAKE_TRUSTED_PROXIES = env_int("INTAKE_TRUSTED_PROXIES", 0)
# Idempotency keys replay their first response for at least 24 hours; an
# in-flight key older than the timeout belongs to a request that died.
INTAKE_IDEMPOTENCY_KEEP_HOURS = max(24, env_int("INTAKE_IDEMPOTENCY_KEEP_HOURS", 24))
INTAKE_IDEMPOTENCY_IN_FLIGHT_SECONDS = env_int("INTAKE_IDEMPOTENCY_IN_FLIGHT_SECONDS", 60)
INTAKE_MAX_BODY_BYTES = env_int("INTAKE_MAX_BODY_BYTES", 64 * 1024)
INTAKE_REJECTED_BODY_BYTES = 16 * 1024  # what a rejected payload keeps of its body
INTAKE_REJECTED_KEEP_DAYS = env_int("INTAKE_REJECTED_KEEP_DAYS", 30)
# A lead-source webhook's signature is accepted this many seconds either side of its
# timestamp; an exact repeat inside that window is refused as a replay.
WEBHOOK_TOLERANCE_SECONDS = env_int("WEBHOOK_TOLERANCE_SECONDS", 300, minimum=1)
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 5 * 1024 * 1024)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 5000)

# --- Sign-in throttling (django-axes) ---------------------------------------------
# Failed sign-ins, on the login page and the Django admin's, are recorded in the database,
# so every web process and host sees the same counts (axes' cache handler would need a
# shared cache, and without REDIS_URL Django's cache is per process). teams.signin counts
# two things: the failures of one username from one address (locked at
# AXES_FAILURE_LIMIT), and every failure from the address whatever the username (locked
# at SIGNIN_FAILURE_LIMIT_PER_IP, so a guesser cannot spread over usernames). Failures
# older than the cool-off no longer count, and an attempt while locked, even with the
# right password, is a failure too: the wait starts again. Staff unlock in the admin
# (Access attempts) or with `manage.py axes_reset_username <username>`; setting a new
# password through a reset link lifts the lock on that username.
AXES_ENABLED = env_bool("SIGNIN_THROTTLE_ENABLED", True)
AXES_HANDLER = "teams.signin.SigninHandler"
AXES_FAILURE_LIMIT = env_int("SIGNIN_FAILURE_LIMIT", 5, minimum=1)
SIGNIN_FAILURE_LIMIT_PER_IP = env_int("SIGNIN_FAILURE_LIMIT_PER_IP", 20, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGNIN_COOLOFF_MINUTES", 15, minimum=1))
# What axes' own resets and log lines go by; the locking itself is teams.signin's count.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_LOCKOUT_CALLABLE = "teams.signin.lockout_response"
# The client address every limit uses: REMOTE_ADDR, or X-Forwarded-For as seen by the
# INTAKE_TRUSTED_PROXIES proxies in front (axes' AXES_IPWARE_* settings are then unused).
AXES_CLIENT_IP_CALLABLE = "contacts.ratelimit.client_ip"
# A success leaves the failures counted: clearing them would clear the address's count
# too, and a guesser's own account could reset the budget of every other username.
AXES_RESET_ON_SUCCESS = False
# Only failures are kept: a row for every successful sign-in would grow without end.
AXES_DISABLE_ACCESS_LOG = True

# --- Throttles on password resets, API tokens and claim links ---------------------
# Fixed windows counted like intake's rate limits (contacts.ratelimit: in the database,
# or in Redis when REDIS_URL is set), per client IP as INTAKE_TRUSTED_PROXIES says.
# Password reset requests, per address asked for and per client IP: answered 429 over
# either, whether or not an account has the address.
PASSWORD_RESET_RATE_LIMIT_WINDOW_SECONDS = env_int(
    "PASSWORD_RESET_RATE_LIMIT_WINDOW_SECONDS", 3600, minimum=1
)
PASSWORD_RESET_RATE_LIMIT_PER_EMAIL = env_int("PASSWORD_RESET_RATE_LIMIT_PER_EMAIL", 5, minimum=0)
PASSWORD_RESET_RATE_LIMIT_PER_IP = env_int("PASSWORD_RESET_RATE_LIMIT_PER_IP", 20, minimum=0)
# Unknown or revoked API tokens per client IP: past the limit every API call from the
# address is answered 429, a valid token's too, until the window ends; 0 turns it off.
API_TOKEN_FAILURE_WINDOW_SECONDS = env_int("API_TOKEN_FAILURE_WINDOW_SECONDS", 600, minimum=1)
API_TOKEN_FAILURE_LIMIT_PER_IP = env_int("API_TOKEN_FAILURE_LIMIT_PER_IP", 20, minimum=0)
# Tampered or cut-short claim links per client IP (signed, so not guessable: this only
# stops a flood); 0 turns it off.
CLAIM_LINK_FAILURE_WINDOW_SECONDS = env_int("CLAIM_LINK_FAILURE_WINDOW_SECONDS", 600, minimum=1)
CLAIM_LINK_FAILURE_LIMIT_PER_IP = env_int("CLAIM_LINK_FAILURE_LIMIT_PER_IP", 30, minimum=0)
