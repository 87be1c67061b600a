"""Logging out or deactivating a user closes his live sockets on every node within 5 s (case 33)."""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.test import Client
from websockets.exceptions import ConnectionClosed

from connector.publisher import group_for_line
from tests.chaos.conftest import open_socket, receive, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(60)]

LINE_GROUP = group_for_line("305")


async def close_of(ws, timeout: float = 5.0) -> tuple[list[dict], int | None, float]:
    """Messages until the server closes the socket, the close code, and how long it took."""
    start = time.monotonic()
    messages = []
    with pytest.raises(ConnectionClosed):
        while True:
            messages.append(await receive(ws, timeout=max(0.01, timeout - (time.monotonic() - start))))
    return messages, ws.close_code, time.monotonic() - start


async def test_logging_out_closes_the_sessions_sockets_on_every_node(nodes, redis_server, test_layer, alice_session):
    user, session = alice_session
    node1, node2 = nodes.start(2)
    tab1 = await open_socket(node1, session)
    tab2 = await open_socket(node2, session)
    await receive(tab1)
    await receive(tab2)
    # The same browser session logs out in another tab.
    browser = Client()
    browser.cookies["sessionid"] = session
    response = await database_sync_to_async(browser.post)("/logout/")
    assert response.status_code == 302
    for tab in (tab1, tab2):
        messages, code, took = await close_of(tab)
        assert code == 4401 and took < 5
        assert [m["code"] for m in messages if m["type"] == "error"] == ["logged_out"]
    # Events for the line reach nobody any more.
    await wait_until(lambda: not redis_server.members(LINE_GROUP), timeout=5, what="groups left after logout")
    await get_channel_layer().close_pools()


async def test_deactivating_the_user_closes_his_sockets(nodes, redis_server, test_layer, alice_session):
    user, session = alice_session
    (node,) = nodes.start(1)
    tab = await open_socket(node, session)
    await receive(tab)
    user.is_active = False
    await database_sync_to_async(user.save)()
    messages, code, took = await close_of(tab)
    assert code == 4403 and took < 5
    assert not any(m["type"].startswith("call.") for m in messages)
    await wait_until(lambda: not redis_server.members(LINE_GROUP), timeout=5, what="groups left on deactivation")
    await get_channel_layer().close_pools()
