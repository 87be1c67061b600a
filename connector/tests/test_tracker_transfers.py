"""Attended transfers: the consultation leg call control hangs up, and the call's state meanwhile."""

from __future__ import annotations

import asyncio

import pytest

from connector.ami.actions import build_action
from connector.ami.replay import Replayer, base_time, iter_messages, replay_records
from connector.ami.trace import TraceRecord, read_trace
from connector.ami.tracker import CallTracker, TrackerConfig
from connector.config import ConnectorConfig
from connector.control import CommandHandler
from connector.ratelimit import MemoryRateLimiter
from connector.simulator import SimConfig, Simulator
from connector.tests.test_simulator_traces import Recorder, channel_of, talking, until
from connector.tests.tracker_feed import TRACES

pytestmark = pytest.mark.timeout(30)

SYNTHETIC = TRACES.parents[1] / "synthetic"
CALL = "1795700752.127"
LOCAL_ONE = "Local/306@from-internal-0000000b;1"


def step(records: list[TraceRecord]):
    """Replays ``records`` and yields ``(at, message, tracker)`` after each message is fed."""
    tracker = CallTracker(TrackerConfig())
    replayer = Replayer(tracker)
    base = base_time(records)
    for at, direction, message in iter_messages(records, base):
        replayer.feed(direction, message, at)
        yield at - base, message, tracker


def consultation_over_time(records: list[TraceRecord]) -> list[tuple[float, str | None, str | None]]:
    """``(t, consultation_channel, state)`` of 305's call whenever one of them changes, from its start."""
    seen = []
    for t, _message, tracker in step(records):
        channels = tracker.call_channels("305", CALL)
        live = {c["id"]: c["state"] for c in tracker.live_calls("305")}
        point = ((channels or {}).get("consultation_channel"), live.get(CALL))
        if (seen or point[1]) and (not seen or seen[-1][1:] != point):
            seen.append((round(t, 3), *point))
    return seen


def test_the_atxfer_consultation_leg_is_the_local_one_half_while_the_caller_is_held():
    seen = consultation_over_time(read_trace(TRACES / "attended-transfer.jsonl"))
    assert [point[1:] for point in seen] == [
        (None, "ringing"),
        (None, "active"),
        (None, "held"),  # the Atxfer's Hold on 305 comes before the consultation call exists
        (LOCAL_ONE, "held"),  # 305 is in the second bridge with the Local ;1 half dialling 306
        (None, "held"),  # 305 hangs up to complete it and leaves that bridge
        (None, None),  # AttendedTransfer: the call is over for 305
    ]
    assert [point[0] for point in seen[3:]] == [4.601, 10.635, 10.635]


@pytest.mark.parametrize("name", ["attended-transfer-cancelled", "attended-transfer-cancelled-ringing"])
def test_hanging_up_the_consultation_leg_gives_the_operator_his_caller_back(name):
    records = read_trace(SYNTHETIC / f"{name}.jsonl")
    seen = consultation_over_time(records)
    assert [point[1:] for point in seen] == [
        (None, "ringing"),
        (None, "active"),
        (None, "held"),
        (LOCAL_ONE, "held"),
        (None, "held"),  # the Local ;1 half is gone
        (None, "active"),  # back in the caller's bridge: resumed, nothing left to cancel
        (None, None),
    ]
    hangup = next(r for r in records if r.direction == "out" and b"Action: Hangup" in r.data)
    assert f"Channel: {LOCAL_ONE}".encode() in hangup.data


def test_without_a_hold_event_the_consultation_still_holds_the_call():
    records = [r for r in read_trace(TRACES / "attended-transfer.jsonl") if not r.data.startswith(b"Event: Hold\r\n")]
    seen = consultation_over_time(records)
    assert [point[1:] for point in seen] == [
        (None, "ringing"),
        (None, "active"),
        (LOCAL_ONE, "held"),  # held when 305 joins the consultation bridge
        (None, "held"),
        (None, None),
    ]
    events = replay_records(records)
    assert [e["type"] for e in events if e["line"] == "305"] == [
        "call.ringing",
        "call.answered",
        "call.held",
        "call.transferred",
        "call.ended",
    ]


def test_plain_calls_have_no_consultation_channel():
    for name in ("inbound-answered", "queue-answered", "internal-call", "hold-by-park-and-return"):
        for _t, _message, tracker in step(read_trace(TRACES / f"{name}.jsonl")):
            for line in ("305", "306"):
                for call in tracker.live_calls(line):
                    assert tracker.call_channels(line, call["id"])["consultation_channel"] is None, name


class Sent:
    """Records the bytes of each action, serialised by the real builder."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send_action(self, action, fields):
        self.sent.append(build_action(action, fields, action_id=f"t-{len(self.sent) + 1}"))


async def test_transfer_cancel_hangs_up_the_local_one_half_the_tracker_reports():
    records = read_trace(TRACES / "attended-transfer.jsonl")
    tracker = next(tracker for t, _message, tracker in step(records) if t > 8.0)  # consulting with 306
    client = Sent()
    handler = CommandHandler(client, tracker, ConnectorConfig(), MemoryRateLimiter(10, 60))
    command = {"type": "transfer_cancel", "ref": 1, "call_id": CALL}
    message = {"type": "connector.command", "reply_to": "x", "user_id": 1, "line": "305", "context": "",
               "request_id": 3, "command": command}  # fmt: skip
    result = await handler.handle(message)
    assert result["ok"] is True
    assert client.sent == [build_action("Hangup", {"Channel": LOCAL_ONE}, action_id="t-1")]


class LiveTracker:
    """A tracker fed with everything the recording client has received so far (real TCP)."""

    def __init__(self, client: Recorder) -> None:
        self.client = client

    def now(self) -> CallTracker:
        tracker = CallTracker(TrackerConfig())
        replayer = Replayer(tracker)
        records = [TraceRecord(t, d, data) for t, d, data in self.client.pieces]
        for at, direction, message in iter_messages(records):
            replayer.feed(direction, message, at)
        return tracker

    def call_channels(self, line: str, call_id: str) -> dict | None:
        return self.now().call_channels(line, call_id)


class RecorderClient:
    """Sends the handler's actions on the recording AMI connection."""

    def __init__(self, client: Recorder) -> None:
        self.client = client

    async def send_action(self, action, fields):
        action_id = self.client.send(action, **{k: str(v) for k, v in fields.items()})
        return await self.client.wait_for(lambda m: m.action_id == action_id and m.response, timeout=5)


@pytest.mark.parametrize("answered", [False, True], ids=["ringing", "answered"])
async def test_transfer_cancel_over_ami_returns_the_caller_to_the_operator(answered):
    sim = await Simulator(SimConfig(atxfer_delay=0.02, local_optimize_delay=0.05)).start(port=0)
    try:
        client = Recorder(sim.port)
        await client.start()
        sim.set_phone("305", "answer", 0.05)
        sim.set_phone("306", "answer" if answered else "manual", 0.05)
        caller = sim.call_in("79161234567", "Ivan Petrov", "74951230305")
        await until(lambda: talking(sim, "305"))
        client.send("Atxfer", Channel=channel_of(sim, "305").name, Exten="306", Context="from-internal")
        await until(lambda: talking(sim, "306") if answered else sim.is_ringing("306"))
        await asyncio.sleep(0.05)
        tracker = LiveTracker(client)
        [call] = tracker.now().live_calls("305")
        call_id = call["id"]
        channels = tracker.call_channels("305", call_id)
        assert channels["consultation_channel"].startswith("Local/306@")
        handler = CommandHandler(RecorderClient(client), tracker, ConnectorConfig(), MemoryRateLimiter(10, 60))
        command = {"type": "transfer_cancel", "ref": 1, "call_id": call_id}
        message = {"type": "connector.command", "reply_to": "x", "user_id": 1, "line": "305", "context": "",
                   "request_id": 1, "command": command}  # fmt: skip
        assert (await handler.handle(message))["ok"] is True
        await until(lambda: not sim.line_busy("306") and not any(n.startswith("Local/") for n in sim.pbx.channels))
        await until(lambda: talking(sim, "305"))
        await asyncio.sleep(0.05)
        after = tracker.call_channels("305", call_id)
        assert after["consultation_channel"] is None
        assert [c["state"] for c in tracker.now().live_calls("305")] == ["active"]
        assert tracker.now().live_calls("306") == []
        sim.hangup(caller)
        await until(lambda: not sim.pbx.channels)
        await client.finish()
    finally:
        await sim.close()


@pytest.mark.parametrize("unhold", [True, False], ids=["with-unhold", "without-unhold"])
def test_a_queue_call_consults_and_comes_back_to_the_queue_leg(unhold):
    records = read_trace(SYNTHETIC / "queue-attended-transfer-cancelled.jsonl")
    if not unhold:
        records = [r for r in records if not r.data.startswith(b"Event: Unhold\r\n")]
    [call_id] = {e["call"]["id"] for e in replay_records(records) if e["line"] == "305"}
    seen = []
    for _t, _message, tracker in step(records):
        channels = tracker.call_channels("305", call_id)
        live = {c["id"]: c["state"] for c in tracker.live_calls("305")}
        point = ((channels or {}).get("consultation_channel"), live.get(call_id))
        if point[1] and (not seen or seen[-1] != point):
            seen.append(point)
    consultation = seen[3][0]
    assert consultation.startswith("Local/306@from-internal-") and consultation.endswith(";1")
    assert seen == [(None, "ringing"), (None, "active"), (None, "held"), (consultation, "held"), (None, "held"),
                    (None, "active")]  # fmt: skip
    types = [e["type"] for e in replay_records(records) if e["line"] == "305"]
    assert types == ["call.ringing", "call.answered", "call.held", "call.resumed", "call.ended"]
