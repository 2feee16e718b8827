"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live_server.

`playwright install` cannot download browsers on our machines or in CI, so the
tests launch the distribution's /usr/bin/chromium (`apt-get install chromium`).
"""

import os
from pathlib import Path

import pytest
from django.db import connections

from notifications import live

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium refuses to start sandboxed
    "--disable-gpu",
    # Nothing but the live server may be contacted: no update checks, sync or
    # QUIC probes that would hang or add noise on a machine without internet.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# pytest-playwright's sync API keeps an asyncio event loop running in the main
# thread from the first browser test to the end of the session, so Django
# refuses ORM calls (SynchronousOnlyOperation) in browser tests and in every
# test that runs after them, unless this is set. Set at import time: the test
# database may also be created after the loop has started.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    missing = pytest.mark.skip(
        reason=f"needs Debian's Chromium at {CHROMIUM} (apt-get install -y chromium)"
    )
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(missing)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def playwright(playwright):
    """Close the database connections opened while Playwright's loop ran.

    With an event loop running, Django keeps the main thread's connections in
    context-local rather than thread-local storage, so pytest-django's final
    close never sees them and dropping the PostgreSQL test database fails with
    "is being accessed by other users". This teardown runs just before the
    loop stops, while those connections are still reachable.
    """
    yield playwright
    # Member pages open the live stream, whose LISTEN connection outlives the tests.
    live.shutdown()
    connections.close_all()


@pytest.fixture
def screenshot(pytestconfig):
    """`screenshot(page, name)` saves test-artifacts/screenshots/<name>.png and returns its path."""
    directory = pytestconfig.rootpath / "test-artifacts" / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def login():
    """`login(page, live_server, username, password="pw")` signs in through the real form."""

    def sign_in(page, live_server, username: str, password: str = "pw"):
        page.goto(f"{live_server.url}/accounts/login/")
        page.locator("input[name=username]").fill(username)
        page.locator("input[name=password]").fill(password)
        with page.expect_navigation():
            page.locator("form [type=submit]").first.click()
        return page

    return sign_in
