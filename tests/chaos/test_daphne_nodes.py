"""Two daphne nodes on one Redis: a node killed or stopped, a dead client, a rotated socket (cases 21-24)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from websockets.exceptions import ConnectionClosed

from connector.publisher import CONNECTOR_GROUP, group_for_line, group_for_user
from tests.chaos.conftest import open_socket, receive, receive_until, ringing, wait_until
from tests.chaos.proxy import ChaosProxy

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(60)]

LINE_GROUP = group_for_line("305")


async def closed_code(ws, timeout: float) -> int | None:
    """Read until the socket closes; the close code the client saw (1006: no close frame)."""
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return ws.close_code


async def test_a_killed_node_does_not_stop_events_to_the_users_other_tab(
    nodes, redis_server, test_layer, alice_session
):
    _user, session = alice_session
    node1, node2 = nodes.start(2)
    tab1 = await open_socket(node1, session)
    tab2 = await open_socket(node2, session)
    try:
        assert (await receive(tab1))["type"] == "hello"
        assert (await receive(tab2))["type"] == "hello"
        assert len(redis_server.members(LINE_GROUP)) == 2
        layer = get_channel_layer()
        await layer.group_send(LINE_GROUP, ringing(1, "before"))
        assert (await receive(tab1))["call"]["id"] == "before"
        assert (await receive(tab2))["call"]["id"] == "before"

        os.kill(node1.process.pid, signal.SIGKILL)
        node1.process.wait(timeout=10)
        assert await closed_code(tab1, timeout=10) == 1006

        # The dead node's channel stays in the group (until group_expiry) and does not get in the way.
        assert len(redis_server.members(LINE_GROUP)) == 2
        for seq in (2, 3):
            await layer.group_send(LINE_GROUP, ringing(seq, f"after-{seq}"))
        assert [(await receive(tab2))["seq"] for _ in range(2)] == [2, 3]

        # The first tab reconnects to the surviving node and is restored from hello.
        tab1 = await open_socket(node2, session)
        hello = await receive(tab1)
        assert hello["type"] == "hello" and hello["line"] == "305"
        await layer.group_send(LINE_GROUP, ringing(4, "reconnected"))
        assert (await receive(tab1))["seq"] == 4
        assert (await receive(tab2))["seq"] == 4
    finally:
        await tab1.close()
        await tab2.close()
        await get_channel_layer().close_pools()


async def test_a_stopped_node_takes_its_sockets_out_of_their_groups(nodes, redis_server, test_layer, alice_session):
    user, session = alice_session
    node1, node2 = nodes.start(2)
    tab1 = await open_socket(node1, session)
    tab2 = await open_socket(node2, session)
    groups = [LINE_GROUP, group_for_user(user.pk), CONNECTOR_GROUP]
    try:
        await receive(tab1)
        await receive(tab2)
        before = {group: redis_server.members(group) for group in groups}
        assert all(len(members) == 2 for members in before.values()), before

        node2.process.send_signal(signal.SIGTERM)
        node2.process.wait(timeout=20)
        await closed_code(tab2, timeout=10)

        after = {group: redis_server.members(group) for group in groups}
        # Exactly one member left in every group: node 1's socket; node 2's left on its own way out.
        assert all(len(members) == 1 for members in after.values()), after
        assert all(after[group] < before[group] for group in groups)

        tab2 = await open_socket(node1, session)
        assert (await receive(tab2))["type"] == "hello"
        assert len(redis_server.members(LINE_GROUP)) == 2
    finally:
        await tab1.close()
        await tab2.close()


async def test_a_client_that_stops_answering_pings_leaves_its_groups(nodes, redis_server, alice_session):
    _user, session = alice_session
    (node,) = nodes.start(1, "--ping-interval", "1", "--ping-timeout", "2")
    proxy = await ChaosProxy(node.port).start()
    # The client itself never pings: only daphne's pings are in play.
    tab = await open_socket(node, session, port=proxy.port, ping_interval=None)
    try:
        assert (await receive(tab))["type"] == "hello"
        assert len(redis_server.members(LINE_GROUP)) == 1
        proxy.blackhole()
        took = await wait_until(lambda: not redis_server.members(LINE_GROUP), timeout=15, what="group left")
        # ping-interval 1 + ping-timeout 2, checked every 2 s by daphne: about 5 s (slack for a busy machine).
        assert took < 10, f"membership removed only after {took:.1f} s"
    finally:
        await proxy.close()
        await tab.close()


async def test_a_rotated_socket_reconnects_and_is_restored_from_hello(nodes, alice_session):
    from connector.models import LineState

    _user, session = alice_session
    (node,) = nodes.start(1, "--websocket_timeout", "3")
    await database_sync_to_async(LineState.objects.create)(line="305", seq=7)
    tab = await open_socket(node, session)
    opened = time.monotonic()
    hello = await receive(tab)
    assert hello["seq"] == 7
    # While the socket is down the line moves on; the next hello carries it.
    await database_sync_to_async(LineState.objects.filter(line="305").update)(seq=9)
    code = await closed_code(tab, timeout=15)
    lived = time.monotonic() - opened
    assert 2.5 <= lived < 10, f"socket lived {lived:.1f} s"
    assert code is not None and code != 1006  # a close frame from the server, not a dropped link
    tab = await open_socket(node, session)
    try:
        hello = await receive_until(tab, lambda message: message["type"] == "hello")
        assert hello["seq"] == 9 and hello["line"] == "305"
    finally:
        await tab.close()
