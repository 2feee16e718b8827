import pytest

from notifications.tests.fixtures import no_push_keys, sms_outbox

__all__ = ["no_push_keys", "sms_outbox"]


@pytest.fixture(autouse=True)
def _texts_in_memory(sms_outbox, no_push_keys):
    """No test here prints texts or reaches a push service."""


@pytest.fixture(autouse=True)
def _trigger_index_cleared():
    """SQLite reuses the ids of rows a rolled-back test wrote: no index survives a test."""
    from plans import selectors

    selectors.trigger_index_clear()
    yield
    selectors.trigger_index_clear()
