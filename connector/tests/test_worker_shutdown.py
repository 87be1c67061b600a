"""Stopping the worker, or losing leadership, cancels the control's wrap-up timers."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import InMemoryChannelLayer

from connector.ami.tracker import CallTracker, TrackerConfig
from connector.config import ConnectorConfig
from connector.control import CommandHandler
from connector.publisher import COMMAND_CHANNEL, Publisher
from connector.ratelimit import MemoryRateLimiter
from connector.worker import Worker, WorkerParts
from tests.fakeami import FakeAMI

pytestmark = pytest.mark.timeout(30)

SECRET = "shutdown-secret-77"
FAST = {"backoff_base": 0.05, "backoff_cap": 0.2, "fully_booted_wait": 0.3}


class HandOverLock:
    """A leader lock the test takes away: ``keep`` returns when ``lose()`` is called."""

    def __init__(self) -> None:
        self.lost = asyncio.Event()
        self.acquired = 0

    async def acquire(self, stop: asyncio.Event) -> bool:
        if self.acquired:
            await stop.wait()  # a standby for good: the other worker keeps the lock
            return False
        self.acquired += 1
        return True

    async def keep(self, stop: asyncio.Event) -> None:
        await self.lost.wait()

    def lose(self) -> None:
        self.lost.set()

    async def release(self) -> None:
        pass

    async def close(self) -> None:
        pass


def wrap_up_timers() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_coro().__qualname__.endswith("_end_wrap_up")]


async def start_wrap_up(ami: FakeAMI, lock=None):
    layer = InMemoryChannelLayer()
    config = ConnectorConfig(url="127.0.0.1", port=ami.port, userName="terrasoft", secret=SECRET)
    tracker = CallTracker(TrackerConfig.from_connector(config))
    parts = WorkerParts(
        config=config,
        tracker=tracker,
        publisher=Publisher(layer),
        channel_layer=layer,
        lock=lock,
        client_options=dict(FAST),
    )
    worker = Worker(parts)
    parts.control = CommandHandler(worker, tracker, config, MemoryRateLimiter(10, 60))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await ami.wait_for(lambda: ami.actions_named("QueueStatus"))
    reply_to = await layer.new_channel()
    command = {"type": "agent_state", "state": "wrap_up", "ref": "w1"}
    await layer.send(
        COMMAND_CHANNEL,
        {
            "type": "connector.command",
            "reply_to": reply_to,
            "request_id": "q1",
            "user_id": 1,
            "line": "305",
            "context": "",
            "command": command,
        },
    )
    reply = await asyncio.wait_for(layer.receive(reply_to), 5)
    assert reply["result"]["ok"] is True, reply
    assert len(wrap_up_timers()) == 1
    return stop, task


async def test_stopping_the_worker_cancels_wrap_up_timers(settings):
    settings.WRAP_UP_SECONDS = 0.5
    async with FakeAMI(secret=SECRET) as ami:
        stop, task = await start_wrap_up(ami)
        stop.set()
        await asyncio.wait_for(task, 10)
        await asyncio.sleep(0)
        assert all(t.done() for t in wrap_up_timers())
        await asyncio.sleep(0.7)
    pauses = [a.get("Paused") for a in ami.actions_named("QueuePause")]
    assert pauses == ["true"]  # the unpause never went out, not even as a failed attempt


async def test_losing_leadership_cancels_wrap_up_timers(settings, caplog):
    settings.WRAP_UP_SECONDS = 0.5
    lock = HandOverLock()
    async with FakeAMI(secret=SECRET) as ami:
        stop, task = await start_wrap_up(ami, lock)
        lock.lose()
        await ami.wait_for(lambda: ami.actions_named("Logoff"))
        await asyncio.sleep(0.7)
        assert not task.done()  # standing by
        assert all(t.done() for t in wrap_up_timers())
        stop.set()
        await asyncio.wait_for(task, 10)
    assert [a.get("Paused") for a in ami.actions_named("QueuePause")] == ["true"]
    assert "wrap-up end for line 305 failed" not in caplog.text
