"""Live offers benchmark: seconds from an offer being made to it showing on an agent's open
My offers page, in Chromium, p99.

Creates a throwaway database (switchboard_bench_live) beside DATABASE_URL's, migrates it,
and serves the site as production does: uvicorn over config.asgi (BENCH_LIVE_SERVER=runserver
for `manage.py runserver` instead), on 127.0.0.1 and a free port, static files served by
the same process (no proxy here). Chromium (Playwright, Debian's /usr/bin/chromium) signs an
agent in and opens My offers; once its live stream is up, this process makes
BENCH_LIVE_OFFERS offers to the agent one at a time, a fraction of a second apart, by
storing contacts that a Next Up rule routes here and now (tasks inline). For each it takes
the offer's created_at, stamped by routing in its transaction, and the moment the page
first had the offer's row (a MutationObserver, the browser's clock: the same machine's),
and prints p50, p99 and max of the differences.

Everything it started is stopped and the database dropped, whatever happens.
"""

from __future__ import annotations

import http.client
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PYTHON,
    Processes,
    bench_env,
    database_urls,
    django_setup,
    drop_database,
    free_port,
    fresh_database,
    migrate,
    percentile,
)

BENCH_DB = "switchboard_bench_live"
OFFERS = int(os.environ.get("BENCH_LIVE_OFFERS", "20"))
SERVER = os.environ.get("BENCH_LIVE_SERVER", "uvicorn")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "bench-live-pw"

# window.__seen[row id] = when the row first showed (epoch ms, the browser's clock).
WATCH = """() => {
  const seen = (window.__seen = {});
  const look = () => {
    for (const row of document.querySelectorAll("#offer-list li[data-offer]")) {
      if (!(row.id in seen)) seen[row.id] = Date.now();
    }
  };
  look();
  new MutationObserver(look).observe(document.body, { childList: true, subtree: true });
}"""


def asgi_application():
    """`uvicorn --factory bench.live:asgi_application`: config.asgi's application, also
    serving the static files (in production a proxy in front serves them)."""
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from config.asgi import application

    return ASGIStaticFilesHandler(application)


def server_args(server: str, port: int) -> list[str]:
    if server == "runserver":
        return [PYTHON, "manage.py", "runserver", "--noreload", "--insecure", f"127.0.0.1:{port}"]
    return [
        *(PYTHON, "-m", "uvicorn", "--factory", "bench.live:asgi_application"),
        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        *("--no-access-log", "--timeout-graceful-shutdown", "5"),
    ]


def wait_until_serving(port: int, procs: Processes, name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/accounts/login/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"{name} did not start:\n{procs.tail(name)}")


def seed():
    """A team whose one agent gets every contact through a Next Up rule."""
    from django.contrib.auth.models import User

    from routing.assignees import AssigneeSpec
    from routing.rules import rule_create
    from teams.services import membership_add, team_create

    owner = User.objects.create_user(username="live-owner", password=PASSWORD)
    team = team_create(name="Live Realty", owner=owner, plan="premier")
    user = User.objects.create_user(username="live-agent", first_name="Lia", password=PASSWORD)
    agent = membership_add(team=team, user=user, role="agent")
    rule_create(
        actor=None,
        team=team,
        name="Next up",
        method="next_up",
        claim_window_minutes=60,
        assignees=[AssigneeSpec(membership=agent)],
    )
    return team, agent


def offer_to_visible(*, server: str = SERVER, offers: int = OFFERS) -> list[float]:
    """Seconds from each offer's creation to its row on the open My offers page (the
    bench database must be migrated and this process set up on it)."""
    from playwright.sync_api import sync_playwright

    from contacts.services import contact_create

    team, agent = seed()
    child_env = {**os.environ, "Q_SYNC": "0"}
    child_env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    procs = Processes(child_env, Path(tempfile.mkdtemp(prefix="bench-live-")))
    port = free_port()
    procs.start(server, server_args(server, port), signal.SIGINT)
    delays = []
    try:
        wait_until_serving(port, procs, server)
        base = f"http://127.0.0.1:{port}"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"{base}/accounts/login/")
            page.fill("input[name=username]", agent.user.username)
            page.fill("input[name=password]", PASSWORD)
            with page.expect_navigation():
                page.click("form [type=submit]")
            page.goto(f"{base}/routing/offers/")
            page.wait_for_selector("body[data-live=up]", timeout=10_000)
            page.evaluate(WATCH)
            for i in range(offers):
                time.sleep(random.uniform(0.2, 0.6))
                contact = contact_create(team=team, first_name="Live", last_name=f"Lead {i}")
                offer = contact.offers.get()
                key = f"offer-{offer.pk}"
                page.wait_for_function("key => key in window.__seen", arg=key, timeout=10_000)
                seen_ms = page.evaluate("key => window.__seen[key]", key)
                delays.append(seen_ms / 1000 - offer.created_at.timestamp())
            browser.close()
    finally:
        procs.stop_all()
    return delays


def main() -> None:
    maintenance_url, bench_url = database_urls(BENCH_DB)
    fresh_database(maintenance_url, BENCH_DB)
    env = bench_env(bench_url)
    try:
        migrate(env)
        # Routing runs inline here (not in a worker), so an offer is made the moment its
        # contact is stored; the sync Playwright API keeps an event loop in this thread.
        django_setup({**env, "Q_SYNC": "1", "DJANGO_ALLOW_ASYNC_UNSAFE": "true"})
        delays = offer_to_visible()
        print(f"offer made → visible on an open My offers page ({SERVER}, Chromium):")
        print(f"  offers:              {len(delays):8d}")
        print(f"  p50:                 {percentile(delays, 50):8.3f} s")
        print(f"  p99:                 {percentile(delays, 99):8.3f} s")
        print(f"  max:                 {max(delays):8.3f} s")
    finally:
        drop_database(maintenance_url, BENCH_DB)


if __name__ == "__main__":
    main()
