"""The environment switches: SQLite vs PostgreSQL, and the worker without the pool."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import json, sys
sys.argv = {argv!r}
import config.settings as s
db = s.DATABASES["default"]
print(json.dumps({{
    "engine": db["ENGINE"], "options": {{k: str(v) for k, v in db.get("OPTIONS", {{}}).items()}},
    "conn_max_age": db.get("CONN_MAX_AGE"), "q": s.Q_CLUSTER, "debug": s.DEBUG,
}}))
"""


def settings_for(env: dict, argv=("manage.py", "runserver"), tmp_path=None) -> dict:
    base = {"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=list(argv))],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_settings_default_to_sqlite_with_immediate_transactions(tmp_path):
    s = settings_for({}, tmp_path=tmp_path)
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["options"]["transaction_mode"] == "IMMEDIATE"


def test_settings_use_postgres_when_database_url_is_set(tmp_path):
    url = "postgres://u@db.example:5432/sb"
    s = settings_for({"DATABASE_URL": url}, tmp_path=tmp_path)
    assert s["engine"] == "django.db.backends.postgresql"
    assert s["conn_max_age"] == 60


def test_settings_web_may_pool_but_worker_never_does(tmp_path):
    env = {"DATABASE_URL": "postgres://u@db.example:5432/sb", "DB_POOL": "1"}
    web = settings_for(env, tmp_path=tmp_path)
    assert web["options"] == {"pool": "True"}
    assert web["conn_max_age"] == 0
    worker = settings_for(env, argv=("manage.py", "qcluster"), tmp_path=tmp_path)
    assert worker["options"] == {}
    assert worker["conn_max_age"] == 60


@pytest.mark.parametrize(("value", "expected"), [("0", False), ("false", False), ("1", True)])
def test_settings_debug_from_env(tmp_path, value, expected):
    # With DEBUG off the settings refuse to load without a strong key.
    env = {"DEBUG": value, "SECRET_KEY": "k" * 40 + "0123456789"}
    assert settings_for(env, tmp_path=tmp_path)["debug"] is expected


def test_q_cluster_timeout_below_retry_and_finite_attempts(tmp_path):
    q = settings_for({}, tmp_path=tmp_path)["q"]
    assert q["orm"] == "default"
    assert q["timeout"] < q["retry"]
    assert 0 < q["max_attempts"] < 100
    assert q["catch_up"] is False
    assert q["sync"] is False


def test_test_settings_run_tasks_synchronously():
    from django.conf import settings

    assert settings.Q_CLUSTER["sync"] is True
