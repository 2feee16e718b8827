"""Production settings fail closed: no start without a strong key, HTTPS protections on
by default with DEBUG off, no typo read as a value, and `check --deploy` clean with the
production environment the README documents. Each case runs in its own process."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "test-only-Xq3vR8zL1pN6sT0wY4bK7mC2fH5jD9gA-uE_iO8rW3tZ6yQ1xV"
# The README's production environment; HTTPS is on by default with DEBUG off.
# `check` connects to neither the database nor Redis.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "switchboard.example.com",
    "SITE_URL": "https://switchboard.example.com",
    "DATABASE_URL": "postgres://switchboard@db.internal:5432/switchboard",
    "REDIS_URL": "redis://redis.internal:6379/0",
}
PROBE = """
import json
import config.settings as s
print(json.dumps({name: getattr(s, name) for name in %r}))
"""
SECURITY = (
    "DEBUG",
    "SECRET_KEY",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_REFERRER_POLICY",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "X_FRAME_OPTIONS",
    "SESSION_COOKIE_HTTPONLY",
)


def run(args: list[str], environ: dict, tmp_path) -> subprocess.CompletedProcess:
    # Only what the case sets: CI's own DEBUG, DATABASE_URL or SITE_URL must not leak in.
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path), **environ},
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_for(environ: dict, tmp_path) -> dict:
    out = run(["-c", PROBE % (SECURITY,)], environ, tmp_path)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def refusal(environ: dict, tmp_path) -> str:
    out = run(["manage.py", "check"], environ, tmp_path)
    assert out.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured" in out.stderr
    return out.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("https", [None, "true"])
def test_check_deploy_is_clean_with_the_production_environment(tmp_path, https):
    environ = PRODUCTION if https is None else {**PRODUCTION, "HTTPS": https}
    out = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], environ, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "System check identified no issues (0 silenced)." in out.stdout
    assert "WARNING" not in out.stdout + out.stderr


def test_check_deploy_warns_when_https_is_turned_off(tmp_path):
    # The clean run above is not vacuous: the same check flags what HTTPS=false gives up.
    out = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {**PRODUCTION, "HTTPS": "false", "SITE_URL": "http://switchboard.example.com"},
        tmp_path,
    )
    assert out.returncode != 0
    for check_id in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check_id in out.stderr


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "unset or empty"),
        ("", "unset or empty"),
        ("dev-only-insecure-secret-key-change-me", "the public development key"),
        ("django-insecure-" + STRONG_KEY, "an insecure key"),
        ("short-but-varied-0123456789", "too weak"),
        ("ab" * 40, "too weak"),
    ],
)
def test_production_refuses_to_start_without_a_strong_secret_key(tmp_path, key, reason):
    environ = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    if key is not None:
        environ["SECRET_KEY"] = key
    message = refusal(environ, tmp_path)
    assert f"SECRET_KEY is {reason}" in message
    assert "secrets.token_urlsafe(50)" in message


def test_development_runs_with_the_dev_key_and_plain_http(tmp_path):
    s = settings_for({}, tmp_path)
    assert s["DEBUG"] is True
    assert s["SECRET_KEY"] == "dev-only-insecure-secret-key-change-me"
    assert s["SECURE_SSL_REDIRECT"] is False
    assert s["SESSION_COOKIE_SECURE"] is False
    assert s["SECURE_HSTS_SECONDS"] == 0


def test_production_turns_every_https_protection_on_by_default(tmp_path):
    s = settings_for(PRODUCTION, tmp_path)
    assert s["SECURE_SSL_REDIRECT"] is True
    assert s["SESSION_COOKIE_SECURE"] is True
    assert s["CSRF_COOKIE_SECURE"] is True
    assert s["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    assert s["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert s["SECURE_HSTS_PRELOAD"] is True
    assert s["SECURE_PROXY_SSL_HEADER"] is None  # trusted only when named
    assert s["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert s["X_FRAME_OPTIONS"] == "DENY"
    assert s["SESSION_COOKIE_HTTPONLY"] is True


def test_referrer_policy_never_blocks_the_claim_post(tmp_path):
    # Under no-referrer the browser's Claim POST says `Origin: null` and fails CSRF.
    policy = settings_for(PRODUCTION, tmp_path)["SECURE_REFERRER_POLICY"]
    assert policy in {"strict-origin", "strict-origin-when-cross-origin"}


def test_each_https_protection_can_be_turned_off_by_name(tmp_path):
    environ = {
        **PRODUCTION,
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "3600",
        "SECURE_HSTS_PRELOAD": "no",
    }
    s = settings_for(environ, tmp_path)
    assert s["SECURE_SSL_REDIRECT"] is False
    assert s["SECURE_HSTS_SECONDS"] == 3600
    assert s["SECURE_HSTS_PRELOAD"] is False
    assert s["SESSION_COOKIE_SECURE"] is True


def test_proxy_ssl_header_is_trusted_only_when_named(tmp_path):
    s = settings_for({**PRODUCTION, "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO"}, tmp_path)
    assert s["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    message = refusal({**PRODUCTION, "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}, tmp_path)
    assert "SECURE_PROXY_SSL_HEADER='X-Forwarded-Proto'" in message
    assert "HTTP_X_FORWARDED_PROTO" in message


def test_https_refuses_a_plain_http_site_url(tmp_path):
    # Claim links in emails would carry their tokens in the clear.
    message = refusal({**PRODUCTION, "SITE_URL": "http://switchboard.example.com"}, tmp_path)
    assert "SITE_URL='http://switchboard.example.com' must start with https://" in message


@pytest.mark.parametrize(
    ("name", "value"),
    [("DEBUG", "flase"), ("HTTPS", "ture"), ("SESSION_COOKIE_SECURE", "yess"), ("Q_SYNC", "")],
)
def test_a_mistyped_boolean_stops_the_settings_naming_it(tmp_path, name, value):
    message = refusal({**PRODUCTION, name: value}, tmp_path)
    assert f"ImproperlyConfigured: {name}={value!r} is not a boolean" in message


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("SECURE_HSTS_SECONDS", "1y", "is not a whole number"),
        ("SECURE_HSTS_SECONDS", "-1", "is below its minimum of 0"),
        ("Q_WORKERS", "0", "is below its minimum of 1"),
        ("EMAIL_PORT", "smtp", "is not a whole number"),
        ("SMS_WEBHOOK_TIMEOUT", "ten", "is not a number"),
    ],
)
def test_a_bad_number_stops_the_settings_naming_it(tmp_path, name, value, says):
    message = refusal({**PRODUCTION, name: value}, tmp_path)
    assert f"ImproperlyConfigured: {name}={value!r} {says}" in message


# --- the helpers themselves, in this process ------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[("1", True), ("TRUE", True), (" yes ", True), ("on", True)],
        *[("0", False), ("False", False), ("no", False), ("OFF", False)],
    ],
)
def test_env_bool_reads_the_usual_words(monkeypatch, value, expected):
    monkeypatch.setenv("SB_FLAG", value)
    assert env.env_bool("SB_FLAG", not expected) is expected


def test_env_helpers_fall_back_to_the_default_only_when_unset(monkeypatch):
    monkeypatch.delenv("SB_VALUE", raising=False)
    assert env.env_bool("SB_VALUE", True) is True
    assert env.env_int("SB_VALUE", 7) == 7
    assert env.env_float("SB_VALUE", 2.5) == 2.5
    monkeypatch.setenv("SB_VALUE", "")
    for read in (lambda: env.env_bool("SB_VALUE", True), lambda: env.env_int("SB_VALUE", 7)):
        with pytest.raises(ImproperlyConfigured, match="SB_VALUE=''"):
            read()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_env_float_refuses_what_is_not_finite(monkeypatch, value):
    monkeypatch.setenv("SB_TIMEOUT", value)
    with pytest.raises(ImproperlyConfigured, match="is not a finite number"):
        env.env_float("SB_TIMEOUT", 10.0)


def test_env_choice_reads_any_case_and_refuses_the_rest(monkeypatch):
    monkeypatch.setenv("SB_LEVEL", "WARNING")
    assert env.env_choice("SB_LEVEL", "info", ("info", "warning")) == "warning"
    monkeypatch.setenv("SB_LEVEL", "loud")
    with pytest.raises(ImproperlyConfigured, match="SB_LEVEL='loud' must be one of info, warning"):
        env.env_choice("SB_LEVEL", "info", ("info", "warning"))
