"""The worker's wiring: AMI -> tracker -> publisher, commands -> control -> reply, state, replay, recording."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.layers import InMemoryChannelLayer

from connector.ami.trace import incoming, read_trace
from connector.ami.tracker import CallTracker, TrackerConfig
from connector.config import ConnectorConfig
from connector.publisher import COMMAND_CHANNEL, CONNECTOR_GROUP, Publisher, group_for_line
from connector.tests.worker_helpers import TRACES, running, scenario_events
from connector.worker import TraceRecorder, Worker, WorkerParts
from tests.fakeami import FakeAMI

pytestmark = pytest.mark.timeout(30)

SECRET = "w0rker-secret-never-shown"
FAST = {"backoff_base": 0.05, "backoff_cap": 0.2, "fully_booted_wait": 0.5}


async def receive_all(layer, channel: str, timeout: float = 0.3) -> list[dict]:
    messages = []
    while True:
        try:
            messages.append(await asyncio.wait_for(layer.receive(channel), timeout))
        except TimeoutError:
            return messages


def make_parts(ami: FakeAMI | None, layer, **config) -> WorkerParts:
    if ami is not None:
        config.update(url="127.0.0.1", port=ami.port, userName="terrasoft", secret=SECRET)
    connector = ConnectorConfig(**config)
    return WorkerParts(
        config=connector,
        tracker=CallTracker(TrackerConfig.from_connector(connector)),
        publisher=Publisher(layer),
        channel_layer=layer,
        client_options=dict(FAST),
    )


async def test_ami_events_become_line_events_on_the_lines_group():
    layer = InMemoryChannelLayer()
    browser = await layer.new_channel()
    await layer.group_add(group_for_line("305"), browser)
    state_watcher = await layer.new_channel()
    await layer.group_add(CONNECTOR_GROUP, state_watcher)
    async with FakeAMI(secret=SECRET) as ami:
        worker = Worker(make_parts(ami, layer))
        async with running(worker):
            await ami.wait_for(lambda: ami.actions_named("QueueStatus"))
            for event in scenario_events("inbound-answered.jsonl"):
                await ami.push_event(event)
            messages = await receive_all(layer, browser)
        states = await receive_all(layer, state_watcher)
    types = [m["event"]["type"] for m in messages]
    assert types[0] == "call.ringing" and types[-1] == "call.ended"
    assert "call.answered" in types
    assert [m["event"]["seq"] for m in messages] == list(range(1, len(messages) + 1))
    assert {m["event"]["line"] for m in messages} == {"305"}
    assert states[0]["state"] == "connected"
    assert SECRET not in json.dumps(states)


async def test_tracker_action_requests_are_sent_through_the_client():
    layer = InMemoryChannelLayer()
    async with FakeAMI(secret=SECRET) as ami:
        parts = make_parts(ami, layer, autoPauseOnCommutationStart=True)
        worker = Worker(parts)
        async with running(worker):
            await ami.wait_for(lambda: ami.actions_named("QueueStatus"))
            for event in scenario_events("queue-answered.jsonl"):
                await ami.push_event(event)
            pause = await ami.wait_for_action("QueuePause")
    assert pause.get("Interface") == "Local/305@from-queue/n"
    assert pause.get("Paused") == "true"


async def test_commands_reach_control_and_the_result_goes_to_reply_to():
    layer = InMemoryChannelLayer()
    handled = []

    class Control:
        def __init__(self, worker):
            self.worker = worker

        async def handle(self, message):
            handled.append(message)
            response = await self.worker.send_action("Originate", {"Channel": "SIP/305", "Exten": "100"})
            return {"ref": message["command"]["ref"], "ok": True, "error": None, "m": response.message}

    async with FakeAMI(secret=SECRET) as ami:
        parts = make_parts(ami, layer)
        worker = Worker(parts)
        parts.control = Control(worker)
        async with running(worker):
            await ami.wait_for(lambda: ami.actions_named("QueueStatus"))
            reply_to = await layer.new_channel()
            command = {"type": "call", "number": "100", "ref": "r1"}
            await layer.send(
                COMMAND_CHANNEL,
                {"type": "connector.command", "reply_to": reply_to, "user_id": 1, "line": "305", "command": command},
            )
            reply = await asyncio.wait_for(layer.receive(reply_to), 5)
    assert reply == {
        "type": "command.result",
        "result": {"ref": "r1", "ok": True, "error": None, "m": "Originate successfully queued"},
    }
    assert handled[0]["line"] == "305"
    assert ami.actions_named("Originate")[0].get("Channel") == "SIP/305"


async def test_a_refused_login_reaches_browsers_as_down_with_the_reason():
    layer = InMemoryChannelLayer()
    watcher = await layer.new_channel()
    await layer.group_add(CONNECTOR_GROUP, watcher)
    async with FakeAMI(secret="other") as ami:
        worker = Worker(make_parts(ami, layer))
        async with running(worker):
            await ami.wait_for(lambda: ami.logins)
            message = await asyncio.wait_for(layer.receive(watcher), 5)
    assert message["state"] == "down"
    assert message["detail"].startswith("ami_auth_failed")
    assert SECRET not in message["detail"]


@pytest.mark.parametrize("trace", sorted(p.name for p in TRACES.glob("*.jsonl")))
async def test_file_path_replays_every_trace(trace):
    layer = InMemoryChannelLayer()
    worker = Worker(make_parts(None, layer, filePath=str(TRACES / trace)), speed=0)
    published = []
    states = []

    async def publish(events):
        published.extend(events)

    async def publish_state(state, detail=""):
        states.append((state, detail))

    worker.parts.publisher.publish = publish
    worker.parts.publisher.publish_connector_state = publish_state
    async with running(worker):
        for _ in range(500):
            if states and states[-1][0] == "down":
                break
            await asyncio.sleep(0.01)
    records = read_trace(TRACES / trace)
    assert worker.replayed_messages >= len([r for r in records if r.direction == "in"]) - 1
    assert states[0][0] == "connected" and states[-1] == ("down", f"replay of {trace} finished")
    if trace != "login-failure.jsonl":
        ended = [e for e in published if e.type == "call.ended"]
        assert ended, "every scenario ends at least one call"
        assert all(e.call["ended_at"] for e in ended)


async def test_replay_keeps_the_recorded_pace():
    layer = InMemoryChannelLayer()
    trace = TRACES / "inbound-busy.jsonl"
    worker = Worker(make_parts(None, layer, filePath=str(trace)), speed=20)
    records = read_trace(trace)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await worker.replay(trace, speed=20)
    elapsed = loop.time() - started
    assert elapsed >= records[-1].t / 20 * 0.9


async def test_record_writes_a_readable_trace_without_the_secret(tmp_path):
    path = tmp_path / "recorded.jsonl"
    layer = InMemoryChannelLayer()
    async with FakeAMI(secret=SECRET) as ami:
        worker = Worker(make_parts(ami, layer), record=TraceRecorder(path))
        async with running(worker):
            await ami.wait_for(lambda: ami.actions_named("QueueStatus"))
            for event in scenario_events("inbound-no-answer.jsonl")[:20]:
                await ami.push_event(event)
            await asyncio.sleep(0.2)
    records = read_trace(path)
    assert records[0].direction == "in" and records[0].data == b"Asterisk Call Manager/9.0.0\r\n"
    assert records[1].direction == "out" and records[1].data.startswith(b"Action: Login\r\n")
    assert b"Secret: ********" in records[1].data
    assert SECRET.encode() not in path.read_bytes()
    stream = incoming(records)
    for event in scenario_events("inbound-no-answer.jsonl")[:20]:
        assert event in stream
    assert all(r.data.endswith(b"\r\n\r\n") for r in records[1:])
    assert [r.t for r in records] == sorted(r.t for r in records)


def call_channels(line: str, n: int) -> list[dict]:
    """One answered inbound call on ``line`` as CoreShowChannels lists it: trunk leg + phone leg, bridged."""
    linkedid = f"1795700800.{n * 10}"
    common = {"ChannelState": "6", "ChannelStateDesc": "Up", "Linkedid": linkedid, "BridgeId": f"bridge-{n}"}
    return [
        {
            "Channel": f"SIP/trunk-{n:08x}",
            "Uniqueid": linkedid,
            "CallerIDNum": f"7916123456{n}",
            "CallerIDName": "Ivan Petrov",
            "ConnectedLineNum": line,
            "Context": "from-trunk",
            "Duration": "00:00:20",
            **common,
        },
        {
            "Channel": f"SIP/{line}-{n + 100:08x}",
            "Uniqueid": f"1795700800.{n * 10 + 1}",
            "CallerIDNum": line,
            "ConnectedLineNum": f"7916123456{n}",
            "ConnectedLineName": "Ivan Petrov",
            "Context": "from-internal",
            "Duration": "00:00:18",
            **common,
        },
    ]


async def test_resync_after_an_outage_leaves_no_ghost_and_no_missing_call():
    layer = InMemoryChannelLayer()
    before = {"305": 1, "306": 2, "307": 3}
    after = {"306": 2, "307": 3, "308": 4, "309": 5}  # 305 hung up, 308 and 309 started meanwhile
    browsers = {}
    for line in ("305", "308"):
        browsers[line] = await layer.new_channel()
        await layer.group_add(group_for_line(line), browsers[line])
    async with FakeAMI(secret=SECRET) as ami:
        ami.channels = [c for line, n in before.items() for c in call_channels(line, n)]
        parts = make_parts(ami, layer)
        worker = Worker(parts)
        tracker = parts.tracker
        async with running(worker):
            await ami.wait_for(lambda: all(tracker.live_calls(line) for line in before))
            ami.stall()
            ami.rst_now()
            ami.channels = [c for line, n in after.items() for c in call_channels(line, n)]
            await asyncio.sleep(0.2)
            ami.unstall()
            await ami.wait_for(lambda: len(ami.actions_named("CoreShowChannels")) == 2)
            await ami.wait_for(
                lambda: all(tracker.live_calls(line) for line in after) and not tracker.live_calls("305")
            )
        for line in after:
            calls = tracker.live_calls(line)
            assert len(calls) == 1, (line, calls)
            assert calls[0]["remote_number"] == f"7916123456{after[line]}"
    seen_305 = [m["event"] for m in await receive_all(layer, browsers["305"])]
    seen_308 = [m["event"] for m in await receive_all(layer, browsers["308"])]
    assert seen_305[-1]["type"] == "call.ended" and seen_305[-1]["call"]["end_reason"] == "failed"
    assert seen_308 and seen_308[-1]["call"]["state"] == "active"


async def test_a_flood_the_publisher_cannot_follow_ends_in_a_snapshot_for_every_line():
    layer = InMemoryChannelLayer()
    async with FakeAMI(secret=SECRET) as ami:
        parts = make_parts(ami, layer)
        parts.client_options["event_buffer"] = 100
        worker = Worker(parts)
        resynced: list[list[str]] = []
        real_publish = parts.publisher.publish

        async def slow_publish(events):
            await asyncio.sleep(0.002)  # a channel layer far slower than the AMI stream
            await real_publish(events)

        async def resync_lines(lines):
            resynced.append(sorted(lines))

        parts.publisher.publish = slow_publish
        parts.publisher.resync_lines = resync_lines
        async with running(worker):
            await ami.wait_for(lambda: ami.actions_named("QueueStatus"))
            flood = b"".join(scenario_events("internal-call.jsonl")) * 40
            await ami.send_raw(flood)
            assert ami.session.max_write_wait < 0.5  # the worker kept reading (a blocked loop stalls for good)
            await ami.wait_for(lambda: resynced, timeout=15)
            assert worker.client.dropped_events > 0
            assert len(ami.actions_named("CoreShowChannels")) >= 2
    assert "305" in resynced[0] and "306" in resynced[0]
