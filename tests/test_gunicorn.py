"""The production web server (gunicorn with uvicorn workers, config/gunicorn.conf.py):
it serves the ASGI app behind an HTTPS proxy and its access log never holds a link token.
The server runs on the test database (a bad claim link counts against a rate limit)."""

import http.client
import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from config.access_log import RedactTokens, redact_tokens

ROOT = Path(__file__).resolve().parent.parent
CLAIM_TOKEN = "abc.def-ghi"
STRONG_KEY = "test-only-Xq3vR8zL1pN6sT0wY4bK7mC2fH5jD9gA-uE_iO8rW3tZ6yQ1xV"
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py"]
APP = "config.asgi:application"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(tmp_path, port: int) -> dict:
    db = connection.settings_dict
    host, port_db = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"postgres://{db['USER']}@{host}:{port_db}/{db['NAME']}",
        "DEBUG": "false",
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": "https://switchboard.example.com",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
    }


def get(port: int, path: str, **headers: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def wait_until_serving(proc: subprocess.Popen, port: int, errors: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited with {proc.returncode}:\n{errors.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not listen on {port}:\n{errors.read_text()}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gunicorn_access_log_redacts_claim_tokens(tmp_path):
    port = free_port()
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    with access.open("wb") as out, errors.open("wb") as err:
        proc = subprocess.Popen(
            [*GUNICORN, APP],
            cwd=ROOT,
            env=server_env(tmp_path, port),
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    try:
        wait_until_serving(proc, port, errors)
        claim = f"/claim/{CLAIM_TOKEN}/"
        # The proxy in front terminated TLS; uvicorn believes it from 127.0.0.1.
        assert get(port, claim, **{"X-Forwarded-Proto": "https"}).status == 400
        home = get(port, "/", **{"X-Forwarded-Proto": "https"})
        assert home.status == 302
        assert home.getheader("Location").startswith("/accounts/login/")
        plain = get(port, claim)
        assert plain.status == 301
        assert plain.getheader("Location") == f"https://127.0.0.1:{port}{claim}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0, errors.read_text()

    lines = access.read_text().splitlines()
    claim_lines = [line for line in lines if '"GET /claim/' in line]
    assert len(claim_lines) == 2, lines
    assert all('"GET /claim/[redacted]/ HTTP/1.1"' in line for line in claim_lines)
    assert any('"GET / HTTP/1.1" 302' in line for line in lines), lines
    assert CLAIM_TOKEN not in access.read_text() + errors.read_text()


def test_gunicorn_config_refuses_a_bad_value_naming_it(tmp_path):
    environ = {**server_env(tmp_path, free_port()), "GUNICORN_WORKERS": "two"}
    out = subprocess.run(
        [*GUNICORN, "--check-config", APP],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "GUNICORN_WORKERS='two' is not a whole number" in out.stdout + out.stderr


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '127.0.0.1:5 - "GET /claim/abc.def-ghi/ HTTP/1.1" 400',
            '127.0.0.1:5 - "GET /claim/[redacted]/ HTTP/1.1" 400',
        ),
        ('"POST /claim/abc:def:ghi/?next=/ HTTP/1.1"', '"POST /claim/[redacted]/?next=/ HTTP/1.1"'),
        (
            '"GET /accounts/reset/MQ/cxyz-0123abcd/ HTTP/1.1" 302',
            '"GET /accounts/reset/MQ/[redacted]/ HTTP/1.1" 302',
        ),
        (
            '"GET /accounts/reset/MQ/set-password/ HTTP/1.1" 200',
            '"GET /accounts/reset/MQ/set-password/ HTTP/1.1" 200',
        ),
        ('"GET /accounts/reset/done/ HTTP/1.1" 200', '"GET /accounts/reset/done/ HTTP/1.1" 200'),
        ('"GET /routing/offers/ HTTP/1.1" 200', '"GET /routing/offers/ HTTP/1.1" 200'),
    ],
)
def test_redact_tokens_hides_link_tokens_only(line, expected):
    assert redact_tokens(line) == expected


def test_redact_filter_rewrites_a_record_with_arguments():
    # uvicorn logs its access line as a format string with the path among the args.
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/claim/abc.def-ghi/", "1.1", 400),
        None,
    )
    assert RedactTokens().filter(record) is True
    assert record.getMessage() == '127.0.0.1:5 - "GET /claim/[redacted]/ HTTP/1.1" 400'
