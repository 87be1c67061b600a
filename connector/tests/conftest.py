"""Fixtures shared by the connector's websocket tests."""

import pytest
from channels.layers import channel_layers


@pytest.fixture
def fresh_layer():
    """A channel layer of the test's own: the in-memory layer's queues belong to one event loop."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
async def audit_rows_written():
    """Let the audit rows a test's commands submitted land before the database is flushed.

    A row still being written while a transactional test's flush runs makes the flush fail.
    """
    from connector import audit

    yield
    await audit.drain()
