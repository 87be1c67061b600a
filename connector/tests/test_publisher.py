"""The publisher: group names, per-line seq, delivery only to the line's group, outages."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import socket
import subprocess
import time
import uuid

import pytest
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

from connector.ami.events import LineEvent
from connector.publisher import (
    COMMAND_CHANNEL,
    CONNECTOR_GROUP,
    Publisher,
    group_for_line,
    group_for_user,
)

pytestmark = pytest.mark.timeout(30)


def ringing(line: str, call_id: str = "c1", **data) -> LineEvent:
    call = {"id": call_id, "line": line, "direction": "inbound", "state": "ringing", "remote_number": "79161234567"}
    return LineEvent(line=line, type="call.ringing", call=call, data=data)


async def receive(layer, channel: str, timeout: float = 2.0) -> dict:
    return await asyncio.wait_for(layer.receive(channel), timeout)


async def assert_nothing(layer, channel: str, wait: float = 0.2) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(channel), wait)


async def subscribe(layer, group: str) -> str:
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return channel


@pytest.fixture
async def make_publisher():
    """Publishers whose sender tasks are stopped after the test."""
    made: list[Publisher] = []

    def make(*args, **kwargs) -> Publisher:
        publisher = Publisher(*args, **kwargs)
        made.append(publisher)
        return publisher

    yield make
    for publisher in made:
        await publisher.close()


class RecordingWriter:
    """Stands in for HistoryWriter; remembers what it was given and in which order."""

    def __init__(self, seqs: dict[str, int] | None = None, log: list | None = None) -> None:
        self.seqs = seqs or {}
        self.log = log if log is not None else []

    def submit(self, event: LineEvent, seq: int) -> None:
        self.log.append(("history", event.line, seq))

    def record_connector_state(self, state: str, detail: str) -> None:
        self.log.append(("connector", state, detail))

    def load_line_seqs(self) -> dict[str, int]:
        return dict(self.seqs)


class FlakyLayer(InMemoryChannelLayer):
    """An in-memory layer whose group_send fails while ``broken`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.broken = False
        self.attempts = 0
        self.log: list | None = None

    async def group_send(self, group, message):
        self.attempts += 1
        if self.broken:
            raise ConnectionError("Connection refused")
        if self.log is not None:
            self.log.append(("send", group, message["event"].get("seq") if "event" in message else None))
        await super().group_send(group, message)


def test_group_names_are_valid_and_distinct():
    layer = InMemoryChannelLayer()
    names = [
        group_for_line(line) for line in ["305", "office", "a.b-c_d", "305 x", "линия", "x" * 200, "305\r\n", "305\n"]
    ]
    assert names[:3] == ["line.305", "line.office", "line.a.b-c_d"]
    assert len(set(names)) == len(names)
    for name in names + [group_for_user(7), CONNECTOR_GROUP]:
        assert layer.require_valid_group_name(name)
        assert re.fullmatch(r"[A-Za-z0-9_.\-]{1,99}", name), name  # the layer's own check lets "x\n" pass
    assert layer.require_valid_channel_name(COMMAND_CHANNEL)
    assert group_for_user("7") == group_for_user(7) == "user.7"
    assert group_for_line("3050") != group_for_line("305")


async def test_seq_grows_by_one_per_event_per_line(make_publisher):
    layer = InMemoryChannelLayer()
    ch305 = await subscribe(layer, group_for_line("305"))
    ch306 = await subscribe(layer, group_for_line("306"))
    publisher = make_publisher(layer)

    await publisher.publish([ringing("305", "a"), ringing("306", "b")])
    await publisher.publish([LineEvent("305", "agent.state", None, {"state": "not_ready", "reason": "in call"})])

    first, second = await receive(layer, ch305), await receive(layer, ch305)
    assert first["type"] == "call.event"
    assert (first["event"]["seq"], first["event"]["type"], first["event"]["line"]) == (1, "call.ringing", "305")
    assert (second["event"]["seq"], second["event"]["type"]) == (2, "agent.state")
    assert second["event"]["reason"] == "in call"
    other = await receive(layer, ch306)
    assert (other["event"]["seq"], other["event"]["call"]["id"]) == (1, "b")
    await assert_nothing(layer, ch306)
    assert publisher.seqs == {"305": 2, "306": 1}


async def test_it_sends_only_to_the_lines_group(make_publisher):
    layer = InMemoryChannelLayer()
    alice = await subscribe(layer, group_for_line("305"))
    bob = await subscribe(layer, group_for_line("306"))
    prefix_twin = await subscribe(layer, group_for_line("3050"))
    await make_publisher(layer).publish([ringing("305")])
    assert (await receive(layer, alice))["event"]["line"] == "305"
    await assert_nothing(layer, bob)
    await assert_nothing(layer, prefix_twin)


async def test_private_ids_are_stripped_from_browser_messages(make_publisher):
    layer = InMemoryChannelLayer()
    channel = await subscribe(layer, group_for_line("305"))
    event = ringing("305", _linkedid="1700000000.1", _uniqueid="1700000000.2")
    event.call["_channel"] = "SIP/305-0000001f"
    await make_publisher(layer).publish([event])
    message = (await receive(layer, channel))["event"]
    assert not [key for key in message if key.startswith("_")]
    assert not [key for key in message["call"] if key.startswith("_")]
    assert message["call"]["remote_number"] == "79161234567"
    # The tracker's own objects are not modified.
    assert event.data["_linkedid"] == "1700000000.1" and event.call["_channel"]


async def test_history_gets_each_event_before_it_is_sent(make_publisher):
    log: list = []
    layer = FlakyLayer()
    layer.log = log
    publisher = make_publisher(layer, RecordingWriter(log=log))
    await publisher.publish([ringing("305"), ringing("306")])
    assert await publisher.drain(timeout=2)
    assert sorted(log) == [
        ("history", "305", 1),
        ("history", "306", 1),
        ("send", "line.305", 1),
        ("send", "line.306", 1),
    ]
    assert log.index(("history", "305", 1)) < log.index(("send", "line.305", 1))
    assert log.index(("history", "306", 1)) < log.index(("send", "line.306", 1))
    assert log.index(("send", "line.305", 1)) < log.index(("send", "line.306", 1))


async def test_a_restarted_publisher_continues_each_lines_seq_and_asks_for_resync(make_publisher):
    layer = InMemoryChannelLayer()
    channel = await subscribe(layer, group_for_line("305"))
    publisher = make_publisher(layer, RecordingWriter(seqs={"305": 41, "306": 7}))
    await publisher.load_seqs()
    resync = (await receive(layer, channel))["event"]
    assert resync == {"type": "resync", "line": "305", "seq": 41}

    await publisher.publish([ringing("305"), ringing("307")])
    assert (await receive(layer, channel))["event"]["seq"] == 42
    assert publisher.seqs == {"305": 42, "306": 7, "307": 1}


async def test_drop_next_hook_leaves_a_gap_of_exactly_one(make_publisher):
    layer = InMemoryChannelLayer()
    channel = await subscribe(layer, group_for_line("305"))
    publisher = make_publisher(layer)
    publisher.drop_next("305")
    await publisher.publish([ringing("305", f"c{n}") for n in range(3)])
    seqs = [(await receive(layer, channel))["event"]["seq"] for _ in range(2)]
    assert seqs == [2, 3]
    await assert_nothing(layer, channel)


async def test_connector_state_goes_to_the_connector_group(make_publisher):
    layer = InMemoryChannelLayer()
    watcher = await subscribe(layer, CONNECTOR_GROUP)
    line_socket = await subscribe(layer, group_for_line("305"))
    writer = RecordingWriter()
    publisher = make_publisher(layer, writer)
    await publisher.publish_connector_state("reconnecting", "connection reset")
    message = await receive(layer, watcher)
    assert message == {"type": "connector.state", "state": "reconnecting", "detail": "connection reset"}
    assert writer.log == [("connector", "reconnecting", "connection reset")]
    await assert_nothing(layer, line_socket)


async def test_layer_outage_is_logged_once_and_lines_resync_when_it_returns(caplog, make_publisher):
    layer = FlakyLayer()
    channel = await subscribe(layer, group_for_line("305"))
    bystander = await subscribe(layer, group_for_line("309"))
    publisher = make_publisher(layer, retry_interval=0.05)
    layer.broken = True
    with caplog.at_level(logging.WARNING, logger="connector.publisher"):
        for n in range(50):
            await publisher.publish([ringing("305", f"c{n}"), ringing("306", f"d{n}")])
        await publisher.publish_connector_state("connected")
        assert await publisher.drain(timeout=2)
        assert publisher.in_outage
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "Channel layer unavailable" in errors[0].getMessage()
        # Not one attempt per event: the recovery task probes at its own pace.
        assert layer.attempts < 20

        layer.broken = False
        resync = (await receive(layer, channel))["event"]
        assert resync == {"type": "resync", "line": "305", "seq": 50}
        for _ in range(100):
            if not publisher.in_outage:
                break
            await asyncio.sleep(0.02)
        assert not publisher.in_outage
        assert any("back" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)

    await assert_nothing(layer, bystander)
    await publisher.publish([ringing("305", "after")])
    after = (await receive(layer, channel))["event"]
    assert (after["seq"], after["call"]["id"]) == (51, "after")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_redis_down_publish_never_raises_and_logs_once(caplog, make_publisher):
    layer = RedisChannelLayer(hosts=[f"redis://127.0.0.1:{closed_port()}/0"], prefix=f"t{uuid.uuid4().hex}")
    publisher = make_publisher(layer, retry_interval=10)
    with caplog.at_level(logging.ERROR, logger="connector.publisher"):
        for n in range(20):
            await publisher.publish([ringing("305", f"c{n}")])
        await publisher.publish_connector_state("connected")
        assert await publisher.drain(timeout=10)
    errors = [r for r in caplog.records if r.name == "connector.publisher" and r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert publisher.in_outage and publisher.seqs["305"] == 20 and publisher.sent == 0
    await layer.close_pools()


@pytest.fixture(params=["core", "pubsub"])
async def redis_layer(request, redis_url):
    """The real channels-redis layers against the machine's Redis, with a prefix of their own."""
    prefix = f"test-publisher-{uuid.uuid4().hex}"
    if request.param == "core":
        layer = RedisChannelLayer(hosts=[redis_url], prefix=prefix)
        yield layer
        await layer.flush()
        await layer.close_pools()
    else:
        layer = RedisPubSubChannelLayer(hosts=[redis_url], prefix=prefix)
        yield layer
        await layer.flush()


async def test_real_redis_layer_delivers_to_the_lines_group_only(redis_layer, make_publisher):
    alice = await subscribe(redis_layer, group_for_line("305"))
    bob = await subscribe(redis_layer, group_for_line("306"))
    publisher = make_publisher(redis_layer)
    await publisher.publish([ringing("305", "x"), ringing("305", "x")])
    got = [(await receive(redis_layer, alice))["event"] for _ in range(2)]
    assert [m["seq"] for m in got] == [1, 2]
    assert got[0]["call"]["remote_number"] == "79161234567"
    await assert_nothing(redis_layer, bob, wait=0.3)
    assert publisher.sent == 2 and publisher.failed == 0


class StalledLayer(InMemoryChannelLayer):
    """group_send never returns (a blackholed Redis) until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def group_send(self, group, message):
        await self.release.wait()
        await super().group_send(group, message)


async def test_publish_returns_at_once_even_when_the_layer_stalls(caplog, make_publisher):
    layer = StalledLayer()
    publisher = make_publisher(layer, send_timeout=0.3, retry_interval=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for n in range(200):
        await publisher.publish([ringing("305", f"c{n}")])
    assert loop.time() - started < 0.1
    assert await publisher.drain(timeout=3)
    assert publisher.in_outage and publisher.dropped == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR][0].startswith(
        "Channel layer unavailable (TimeoutError"
    )


class SlowLayer(InMemoryChannelLayer):
    """Every group_send takes a little while (Redis over a slow link)."""

    async def group_send(self, group, message):
        await asyncio.sleep(0.01)
        await super().group_send(group, message)


async def test_overflow_drops_logs_once_and_resyncs_the_lines_after_draining(caplog, make_publisher):
    layer = SlowLayer()
    channel = await subscribe(layer, group_for_line("305"))
    publisher = make_publisher(layer, max_pending=5)
    with caplog.at_level(logging.ERROR, logger="connector.publisher"):
        await publisher.publish([ringing("305", f"c{n}") for n in range(40)])
        assert await publisher.drain(timeout=5)
    assert len([r for r in caplog.records if "too slow" in r.getMessage()]) == 1
    assert publisher.dropped == 35 and publisher.sent == 6  # five events, then one resync
    events = [(await receive(layer, channel))["event"] for _ in range(6)]
    assert [e["seq"] for e in events[:5]] == [1, 2, 3, 4, 5]
    assert events[5] == {"type": "resync", "line": "305", "seq": 40}


def start_redis(port: int, workdir) -> subprocess.Popen:
    """A throw-away redis-server without persistence, like a restarted production one."""
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


@pytest.mark.chaos
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
async def test_redis_killed_and_restarted_publishing_resumes_with_resync(tmp_path, caplog, make_publisher):
    port = closed_port()
    proc = start_redis(port, tmp_path)
    layer = RedisChannelLayer(hosts=[f"redis://127.0.0.1:{port}/0"], prefix="chaos")
    try:
        channel = await subscribe(layer, group_for_line("305"))
        publisher = make_publisher(layer, send_timeout=1.0, retry_interval=0.2)
        await publisher.publish([ringing("305", "before")])
        assert (await receive(layer, channel))["event"]["seq"] == 1

        proc.kill()
        proc.wait(5)
        with caplog.at_level(logging.ERROR, logger="connector.publisher"):
            for n in range(30):
                await publisher.publish([ringing("305", f"lost{n}")])
            assert await publisher.drain(timeout=5)
        assert publisher.in_outage
        assert len([r for r in caplog.records if r.name == "connector.publisher"]) == 1

        proc = start_redis(port, tmp_path)
        back = time.monotonic()
        # A Redis without persistence forgot the groups; the socket's heartbeat re-joins (consumer side).
        await layer.group_add(group_for_line("305"), channel)
        resync = (await receive(layer, channel, timeout=5))["event"]
        assert resync == {"type": "resync", "line": "305", "seq": 31}
        assert time.monotonic() - back < 2.5
        await publisher.publish([ringing("305", "after")])
        assert (await receive(layer, channel))["event"]["seq"] == 32
    finally:
        proc.kill()
        proc.wait(5)
        await layer.close_pools()


class OverflowDuringResyncLayer(SlowLayer):
    """While the first resync is on its way, a burst overflows the queue on the same line."""

    def __init__(self):
        super().__init__()
        self.publisher = None
        self.burst_sent = False

    async def group_send(self, group, message):
        if message["event"]["type"] == "resync" and not self.burst_sent:
            self.burst_sent = True
            await self.publisher.publish([ringing("305", f"late{n}") for n in range(20)])
        await super().group_send(group, message)


async def test_a_drop_while_a_resync_is_sent_is_followed_by_another_resync(make_publisher):
    layer = OverflowDuringResyncLayer()
    channel = await subscribe(layer, group_for_line("305"))
    publisher = make_publisher(layer, max_pending=5)
    layer.publisher = publisher
    await publisher.publish([ringing("305", f"c{n}") for n in range(10)])
    assert await publisher.drain(timeout=10)
    events = []
    while True:
        try:
            events.append((await receive(layer, channel, timeout=0.5))["event"])
        except TimeoutError:
            break
    resyncs = [e for e in events if e["type"] == "resync"]
    # The burst dropped events after the first resync left, so the line must be told again, last.
    assert len(resyncs) == 2
    assert events[-1] == {"type": "resync", "line": "305", "seq": 30}
