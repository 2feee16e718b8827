"""What the benchmarks share: a throwaway PostgreSQL database and child processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def database_urls(bench_db: str) -> tuple[str, str]:
    """(maintenance URL, bench database URL), from DATABASE_URL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("make bench needs PostgreSQL: set DATABASE_URL=postgres://…")
    parts = urlsplit(url)
    return (
        urlunsplit(parts._replace(path="/postgres")),
        urlunsplit(parts._replace(path=f"/{bench_db}")),
    )


def admin_sql(maintenance_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(sql)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


class Processes:
    """Children in their own process groups, each stopped with the signal it shuts down on."""

    def __init__(self, env: dict, log_dir: Path):
        self.env, self.log_dir, self.running = env, log_dir, []

    def start(self, name: str, args: list[str], stop_signal: int, **env: str) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (closed in stop_all)
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running.append((name, proc, stop_signal, log))

    def stop(self, *names: str) -> None:
        """Stop these children (all of them when no name is given)."""
        chosen = [r for r in self.running if not names or r[0] in names]
        for _, proc, sig, _ in chosen:
            if proc.poll() is None:
                os.killpg(proc.pid, sig)
        deadline = time.monotonic() + 15
        for _, proc, _, log in chosen:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()
        self.running = [r for r in self.running if r not in chosen]

    def stop_all(self) -> None:
        self.stop()

    def start_stack(self, port: int, *, web_workers: int = 2, **env: str) -> None:
        """What production runs: gunicorn, the routing and delivery workers, the sweeper."""
        gunicorn = [PYTHON, "-m", "gunicorn", "config.wsgi:application"]
        gunicorn += ["--workers", str(web_workers), "--bind", f"127.0.0.1:{port}"]
        self.start("gunicorn", [*gunicorn, "--log-level", "warning"], signal.SIGTERM, **env)
        self.start("routing", [PYTHON, "manage.py", "qcluster"], signal.SIGINT, **env)
        self.start_delivery(**env)
        self.start("sweeper", [PYTHON, "manage.py", "routing_sweeper"], signal.SIGTERM, **env)

    def start_delivery(self, **env: str) -> None:
        delivery = {"Q_CLUSTER_NAME": "delivery", **env}
        self.start("delivery", [PYTHON, "manage.py", "qcluster"], signal.SIGINT, **delivery)

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def bench_env(bench_url: str, **extra: str) -> dict:
    """Production-like settings for the children (DEBUG off, queued tasks, quiet logs)."""
    return {
        **os.environ,
        "DATABASE_URL": bench_url,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
        # Served over plain HTTP on 127.0.0.1: no redirect to HTTPS, no secure-only cookies.
        "HTTPS": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "Q_SYNC": "0",
        **extra,
    }


def fresh_database(maintenance_url: str, bench_db: str) -> None:
    admin_sql(maintenance_url, f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)')
    admin_sql(maintenance_url, f'CREATE DATABASE "{bench_db}"')


def drop_database(maintenance_url: str, bench_db: str) -> None:
    from django.conf import settings

    if settings.configured:  # this process may never have reached django_setup
        from django.db import connections

        connections.close_all()
    admin_sql(maintenance_url, f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)')


def migrate(env: dict) -> None:
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )


def django_setup(env: dict) -> None:
    """This process on the bench database with the children's settings."""
    os.environ.update(env)  # the same settings (and SECRET_KEY: tasks are signed) as theirs
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
