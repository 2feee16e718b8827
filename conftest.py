"""Personas shared by every test: an owner, an admin and an agent of one team,
and an outsider who owns another team."""

import pytest
from django.db import connection

from teams.models import Role
from teams.tests.factories import UserFactory, make_member, make_team


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL); SQLite has no row locks")
    if connection.vendor != "postgresql":
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)
    # Browser tests last: Playwright's sync API leaves an event loop running in the test
    # process, and Django's test client then refuses to run async views (the live stream)
    # in tests that come after it.
    items.sort(key=lambda item: item.nodeid.startswith("tests/browser/"))


@pytest.fixture
def team(db):
    return make_team(
        name="Acme Realty",
        owner=UserFactory(username="owner", first_name="Olive", last_name="Owner"),
    )


@pytest.fixture
def owner(team):
    return team.memberships.get(role=Role.OWNER)


@pytest.fixture
def admin_member(team):
    return make_member(
        team,
        role=Role.ADMIN,
        user=UserFactory(username="admin", first_name="Ada", last_name="Admin"),
    )


@pytest.fixture
def agent(team):
    return make_member(
        team,
        role=Role.AGENT,
        user=UserFactory(username="agent", first_name="Alan", last_name="Agent"),
    )


@pytest.fixture
def outsider(db):
    other = make_team(name="Other Realty", owner=UserFactory(username="outsider"))
    return other.memberships.get(role=Role.OWNER)


@pytest.fixture
def staff_client(client, db):
    """A client signed in as a superuser, for the Django admin."""
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("staff", "staff@example.com", "pw"))
    return client


@pytest.fixture
def run_data_migration(db):
    """Run a data migration's forward function against the test database.

    Rows that migrations insert are wiped by the flush after every transactional
    test, so tests of those rows run the migration's function themselves.
    """
    import importlib

    from django.apps import apps

    def run(module: str, function: str) -> None:
        getattr(importlib.import_module(module), function)(apps, None)

    return run


@pytest.fixture(autouse=True)
def _routing_caches_cleared():
    """Routers keep team states and turn counts per process; SQLite reuses the ids of
    rows a test rolled back, so every test starts with empty caches."""
    from routing import rotations, state

    state.cache_clear()
    rotations.cache_clear()
    yield
    state.cache_clear()
    rotations.cache_clear()


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    """Run what would run after commit (routing, deliveries) inside the test's transaction:
    `with capture(execute=True): ...`."""
    return django_capture_on_commit_callbacks
