"""connector.node_shutdown on its own: what a stopping daphne node does with its open sockets."""

from __future__ import annotations

import asyncio
import gc

import pytest

from connector import node_shutdown

pytestmark = pytest.mark.timeout(10)


class Socket:
    def __init__(self, fails: bool = False, hangs: bool = False) -> None:
        self.codes: list[int] = []
        self.fails = fails
        self.hangs = hangs

    async def disconnect(self, code: int) -> None:
        self.codes.append(code)
        if self.hangs:
            await asyncio.sleep(60)
        if self.fails:
            raise ConnectionError("redis is gone")


@pytest.fixture(autouse=True)
def no_live_sockets():
    node_shutdown._live.clear()
    yield
    node_shutdown._live.clear()


async def test_every_live_socket_is_disconnected_as_going_away():
    sockets = [Socket(), Socket()]
    for socket in sockets:
        node_shutdown.track(socket)
    assert await node_shutdown.leave_all() == 2
    assert [socket.codes for socket in sockets] == [[1001], [1001]]
    assert await node_shutdown.leave_all() == 0  # once only


async def test_a_socket_that_closed_by_itself_is_left_alone():
    gone, open_ = Socket(), Socket()
    node_shutdown.track(gone)
    node_shutdown.track(open_)
    node_shutdown.forget(gone)
    assert await node_shutdown.leave_all() == 1
    assert gone.codes == [] and open_.codes == [1001]


async def test_one_failing_socket_does_not_keep_the_others_in_their_groups(caplog):
    failing, fine = Socket(fails=True), Socket()
    node_shutdown.track(failing)
    node_shutdown.track(fine)
    assert await node_shutdown.leave_all() == 2
    assert fine.codes == [1001]
    assert "ConnectionError" in caplog.text


async def test_an_unreachable_layer_cannot_hold_the_node_up():
    hanging = Socket(hangs=True)
    node_shutdown.track(hanging)
    with pytest.raises(asyncio.TimeoutError):
        await node_shutdown.leave_all(timeout=0.2)
    assert hanging.codes == [1001]


def test_sockets_are_not_kept_alive_by_the_registry():
    node_shutdown.track(Socket())
    gc.collect()
    assert len(node_shutdown._live) == 0
