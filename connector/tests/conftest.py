"""Fixtures shared by the connector's websocket tests."""

import pytest
from channels.layers import channel_layers


@pytest.fixture
def fresh_layer():
    """A channel layer of the test's own: the in-memory layer's queues belong to one event loop."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()
