"""Reliability case 14: an event flood while the channel layer is slow.

FakeAMI runs on an event loop of its own (another thread), so the time its
writes wait measures only whether the worker keeps reading its socket, not how
busy the shared loop is. The layer is the real Redis one, slowed down.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest
from channels_redis.core import RedisChannelLayer

from connector.ami.tracker import CallTracker, TrackerConfig
from connector.config import ConnectorConfig
from connector.publisher import Publisher, group_for_line
from connector.tests.worker_helpers import renumbered, running, scenario_events
from connector.worker import Worker, WorkerParts
from tests.fakeami import FakeAMI

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(60)]

SECRET = "flood-secret-31c"
LINES = [str(line) for line in range(401, 441)]
FLOOD_EVENTS = 20_000
EVENTS_PER_WRITE = 200
EVENT_BUFFER = 500
MAX_PENDING = 300
LAYER_DELAY = 0.01  # each group_send takes 10 ms: ~100 messages/s against thousands of events/s
MAX_WRITE_WAIT = 0.1
READ_ALL_WITHIN = 1.0  # after FakeAMI's last write, the worker has read every byte within this
RSS_CEILING = 64 * 2**20


class ThreadedAMI:
    """A FakeAMI served by an event loop on its own thread."""

    def __init__(self, **kwargs) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-ami", daemon=True)
        self.ami = FakeAMI(**kwargs)

    def call(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def __aenter__(self) -> ThreadedAMI:
        self.thread.start()
        await asyncio.to_thread(self.call, self.ami.start())
        return self

    async def run(self, coro):
        """Run ``coro`` on FakeAMI's loop and wait for it from the caller's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def __aexit__(self, *exc_info) -> None:
        await asyncio.to_thread(self.call, self.ami.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self.thread.join, 5)
        self.loop.close()


def vm_rss() -> int:
    """This process's resident memory in bytes."""
    with open("/proc/self/status") as status:
        for row in status:
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def flood() -> list[bytes]:
    """At least FLOOD_EVENTS events: distinct answered inbound calls spread over LINES."""
    call = scenario_events("inbound-answered.jsonl")[1:]  # without its FullyBooted: that would resync
    events: list[bytes] = []
    copy = 0
    while len(events) < FLOOD_EVENTS:
        events.extend(renumbered(call, copy, {"305": LINES[copy % len(LINES)]}))
        copy += 1
    return events


async def send_flood(ami: FakeAMI, events: list[bytes], write_every: float) -> None:
    """On FakeAMI's loop: one write of EVENTS_PER_WRITE events every ``write_every`` s (0: no pause)."""
    session = ami.session
    began = time.monotonic()
    for n, start in enumerate(range(0, len(events), EVENTS_PER_WRITE)):
        await session.send(b"".join(events[start : start + EVENTS_PER_WRITE]))
        delay = began + (n + 1) * write_every - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


class BytesRead:
    """The worker's raw-traffic hook (the ``--record`` slot), counting the bytes read from Asterisk."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, direction: str, data: bytes, at: float) -> None:
        if direction == "in":
            self.count += len(data)

    def close(self) -> None:
        pass


def slowed(layer: RedisChannelLayer, delivered: dict[str, list[dict]]) -> RedisChannelLayer:
    """``layer`` with a slow ``group_send`` that also notes, per group, each message Redis accepted.

    Noting them here rather than receiving them keeps the check exact: a receive
    cancelled by a timeout can lose a message inside channels_redis itself.
    """
    real = layer.group_send

    async def group_send(group: str, message: dict) -> None:
        await asyncio.sleep(LAYER_DELAY)
        await real(group, message)
        delivered.setdefault(group, []).append(message)

    layer.group_send = group_send
    return layer


def check_line(line: str, messages: list[dict], final: int, client_dropped: bool) -> None:
    """What a browser on ``line`` got converges: after the last resync, every later event arrived."""
    events = [m["event"] for m in messages]
    received = {e["seq"] for e in events if e["type"] != "resync"}
    resyncs = [e["seq"] for e in events if e["type"] == "resync"]
    missing = set(range(1, final + 1)) - received
    if final and (missing or client_dropped):
        assert resyncs, f"line {line} lost events {sorted(missing)[:5]}... and got no resync"
        assert max(resyncs) >= max(missing, default=0), (line, max(resyncs), max(missing))
        assert set(range(max(resyncs) + 1, final + 1)) <= received, line
    else:
        assert received == set(range(1, final + 1)), line


# 10 000 events/s as in the reliability plan; and all at once, which overflows the client's own buffer too.
@pytest.mark.parametrize("write_every", [0.02, 0.0], ids=["10k-per-s", "burst"])
async def test_a_flood_with_a_slow_channel_layer_never_blocks_reading_and_ends_in_resyncs(redis_url, write_every):
    delivered: dict[str, list[dict]] = {}
    layer = RedisChannelLayer(hosts=[redis_url], prefix=f"flood-{uuid.uuid4().hex[:10]}", capacity=100_000)
    layer = slowed(layer, delivered)
    for line in LINES:
        await layer.group_add(group_for_line(line), await layer.new_channel())
    events = await asyncio.to_thread(flood)
    flood_bytes = sum(len(event) for event in events)
    async with ThreadedAMI(secret=SECRET) as fake:
        ami = fake.ami
        config = ConnectorConfig(url="127.0.0.1", port=ami.port, userName="terrasoft", secret=SECRET)
        publisher = Publisher(layer, max_pending=MAX_PENDING)
        parts = WorkerParts(
            config=config,
            tracker=CallTracker(TrackerConfig.from_connector(config, frozenset(LINES))),
            publisher=publisher,
            client_options={"fully_booted_wait": 0.3, "event_buffer": EVENT_BUFFER},
        )
        bytes_read = BytesRead()
        worker = Worker(parts, record=bytes_read)
        peaks = {"buffered": 0, "queued": 0, "rss": 0}

        async def watch() -> None:
            while True:
                client = worker.client
                if client is not None:
                    peaks["buffered"] = max(peaks["buffered"], client.buffered_events)
                peaks["queued"] = max(peaks["queued"], len(publisher._queue))
                peaks["rss"] = max(peaks["rss"], vm_rss())
                await asyncio.sleep(0.01)

        async with running(worker, timeout=20):
            await ami.wait_for(lambda: ami.actions_named("QueueStatus"))
            watcher = asyncio.create_task(watch())
            rss_before = vm_rss()
            started = time.monotonic()
            read_before = bytes_read.count
            await fake.run(send_flood(ami, events, write_every))
            sent_in = time.monotonic() - started
            await wait_until(lambda: bytes_read.count - read_before >= flood_bytes, READ_ALL_WITHIN)
            client = worker.client
            # If the client's buffer overflowed, it asks Asterisk for the truth again once it has room.
            await wait_until(lambda: client.resyncs >= 2 or not client.dropped_events)
            await wait_until(lambda: client.buffered_events == 0)
            await asyncio.sleep(0.3)  # the last callback (the resync) publishes its events
            assert await publisher.drain(timeout=25)
            watcher.cancel()
    await layer.flush()
    await layer.close_pools()

    assert ami.session.max_write_wait < MAX_WRITE_WAIT, ami.session.max_write_wait
    assert peaks["buffered"] <= EVENT_BUFFER + 10
    assert peaks["queued"] <= MAX_PENDING
    assert publisher.dropped > 0  # the slow layer really overflowed the publisher
    assert peaks["rss"] - rss_before < RSS_CEILING
    client_dropped = client.dropped_events > 0
    for line in LINES:
        check_line(line, delivered.get(group_for_line(line), []), publisher.seqs.get(line, 0), client_dropped)
    assert sent_in < FLOOD_EVENTS / EVENTS_PER_WRITE * write_every + 2
    if write_every == 0:
        assert client_dropped  # the burst overflowed the client's buffer, and it resynced
        assert len(ami.actions_named("CoreShowChannels")) >= 2


async def wait_until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)
