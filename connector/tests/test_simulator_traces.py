"""The simulator against the recorded Asterisk: the same scenario must track the same way.

Each real trace in tests/traces/asterisk-20.20.1-sip/ is re-enacted on the
simulator over real TCP, as the recorder did it (login, the three lists, the
scenario's actions, Logoff). Both byte streams then go through the call
tracker, and the per-line event sequences must match: types, direction,
state, end reason, remote number, queue, parking slot and agent state. Ids
and times are left aside.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from connector.ami.actions import build_action
from connector.ami.framing import Framer
from connector.ami.replay import replay_records
from connector.ami.trace import TraceRecord, read_trace
from connector.ami.tracker import TrackerConfig
from connector.simulator import SimConfig, Simulator
from connector.simulator.wire import Channel

TRACES = Path(__file__).resolve().parents[2] / "tests" / "traces" / "asterisk-20.20.1-sip"
RING = 0.15  # seconds a phone rings before answering (the recordings used 2-3 s)
TALK = 0.2

pytestmark = pytest.mark.timeout(30)


class Recorder:
    """An AMI client that keeps every byte it sends and receives, timed like the trace format."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.pieces: list[tuple[float, str, bytes]] = []
        self.framer = Framer()
        self.messages = []
        self._ids = iter(range(1, 1000))

    async def connect(self) -> None:
        self.started = time.monotonic()
        self.reader, self.writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 5)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            data = await self.reader.read(65536)
            if not data:
                return
            self.pieces.append((time.monotonic() - self.started, "in", data))
            self.messages.extend(self.framer.feed(data))

    def send(self, action: str, **fields) -> str:
        action_id = f"rec-{next(self._ids)}"
        data = build_action(action, fields, action_id)
        self.pieces.append((time.monotonic() - self.started, "out", data))
        self.writer.write(data)
        return action_id

    async def wait_for(self, predicate, timeout: float = 5.0):
        """The first received message matching ``predicate``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if predicate(message):
                    return message
            await asyncio.sleep(0.01)
        raise AssertionError("the expected AMI message did not arrive")

    async def start(self) -> None:
        """What every recording begins with: Login, then the three state lists."""
        await self.connect()
        self.send("Login", Username="terrasoft", Secret="terrasoft", Events="on")
        for action in ("CoreShowChannels", "QueueStatus", "Status"):
            action_id = self.send(action)
            await self.wait_for(lambda m, a=action_id: m.action_id == a and m.get("EventList") == "Complete")

    async def finish(self) -> None:
        await asyncio.sleep(0.1)
        action_id = self.send("Logoff")
        await self.wait_for(lambda m: m.response == "Goodbye" and m.action_id == action_id)
        await asyncio.wait_for(self._task, 5)
        self.writer.close()


def channel_of(sim: Simulator, line: str):
    return [c for c in sim.pbx.channels.values() if c.line == line][-1]


async def until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the simulated call did not reach the expected state")
        await asyncio.sleep(0.01)


def talking(sim: Simulator, line: str) -> bool:
    return any(c.line == line and c.state == 6 and c.bridge is not None for c in sim.pbx.channels.values())


async def answered_by_305(sim: Simulator, dialled: str = "74951230305") -> Channel:
    """Ivan Petrov calls ``dialled`` and 305 answers after ``RING``; his channel, once they talk."""
    sim.set_phone("305", "answer", RING)
    caller = sim.call_in("79161234567", "Ivan Petrov", dialled)
    await until(lambda: talking(sim, "305"))
    return caller


def click_to_call_305(sim: Simulator, client: Recorder) -> str:
    """The connector's Originate for 305 to call 79031112233, as the recordings sent it; its ActionID."""
    return client.send(
        "Originate",
        Channel=f"{sim.config.protocol}305",
        Context="from-internal",
        Exten="79031112233",
        Priority="1",
        Async="true",
        CallerID='"79031112233" <79031112233>',
    )


async def inbound_answered(sim: Simulator, client: Recorder) -> None:
    caller = await answered_by_305(sim)
    await asyncio.sleep(TALK)
    sim.hangup(caller)


async def inbound_no_answer(sim: Simulator, client: Recorder) -> None:
    sim.set_phone("305", "no_answer")
    caller = sim.call_in("79161234567", "Ivan Petrov", "74951230305")
    await until(lambda: sim.is_ringing("305"))
    await asyncio.sleep(RING)
    sim.hangup(caller)


async def inbound_busy(sim: Simulator, client: Recorder) -> None:
    sim.set_phone("305", "busy")
    sim.call_in("79161234567", "Ivan Petrov", "74951230305")


async def outbound_from_phone(sim: Simulator, client: Recorder) -> None:
    sim.set_far_end("answer", RING)
    sim.dial("305", "79031112233")
    await until(lambda: talking(sim, "305"))
    await asyncio.sleep(TALK)
    sim.hangup_line("305")


async def click_to_call(sim: Simulator, client: Recorder) -> None:
    sim.set_phone("305", "answer", RING)
    sim.set_far_end("answer", RING)
    click_to_call_305(sim, client)
    await until(lambda: talking(sim, "305"))
    await asyncio.sleep(TALK)
    sim.hangup_line("305")


async def originate_failed(sim: Simulator, client: Recorder) -> None:
    sim.set_phone("305", "busy")
    action_id = click_to_call_305(sim, client)
    await client.wait_for(lambda m: m.event == "OriginateResponse" and m.action_id == action_id)


async def internal_call(sim: Simulator, client: Recorder) -> None:
    sim.set_phone("306", "answer", RING)
    sim.dial("305", "306")
    await until(lambda: talking(sim, "306"))
    await asyncio.sleep(TALK)
    sim.hangup_line("305")


async def hold_by_park_and_return(sim: Simulator, client: Recorder) -> None:
    caller = await answered_by_305(sim)
    client.send(
        "Park",
        Channel=caller.name,
        TimeoutChannel=channel_of(sim, "305").name,
        Parkinglot="default",
        ParkingSpace="701",
    )
    await until(lambda: not sim.line_busy("305"))
    client.send(
        "Originate",
        Channel=f"{sim.config.protocol}305",
        Context="parkedcalls",
        Exten="701",
        Priority="1",
        CallerID='"Parked 701" <701>',
        Timeout="30000",
        Async="true",
    )
    await until(lambda: talking(sim, "305"))
    await asyncio.sleep(TALK)
    sim.hangup(caller)


async def queue_answered(sim: Simulator, client: Recorder) -> None:
    sim.set_phone("306", "no_answer")
    caller = await answered_by_305(sim, dialled="74951230000")
    client.send("QueuePause", Interface="Local/305@from-queue/n", Paused="true", Reason="break")
    await client.wait_for(lambda m: m.event == "QueueMemberPause" and m.get("Paused") == "1")
    client.send("QueuePause", Interface="Local/305@from-queue/n", Paused="false")
    await client.wait_for(lambda m: m.event == "QueueMemberPause" and m.get("Paused") == "0")
    sim.hangup(caller)


async def transferred_to_306(sim: Simulator, client: Recorder, action: str) -> Channel:
    """305 answers the caller and transfers him to 306 with ``action``; his channel, once 306 talks."""
    sim.set_phone("306", "answer", RING)
    caller = await answered_by_305(sim)
    client.send(action, Channel=channel_of(sim, "305").name, Exten="306", Context="from-internal")
    await until(lambda: talking(sim, "306"))
    await asyncio.sleep(TALK)
    return caller


async def blind_transfer(sim: Simulator, client: Recorder) -> None:
    caller = await transferred_to_306(sim, client, "BlindTransfer")
    sim.hangup(caller)


async def attended_transfer(sim: Simulator, client: Recorder) -> None:
    caller = await transferred_to_306(sim, client, "Atxfer")
    sim.hangup_line("305")
    await until(lambda: any(c.name.startswith("Local/") for c in sim.pbx.channels.values()) is False)
    await asyncio.sleep(TALK)
    sim.hangup(caller)


SCENARIOS = {
    "inbound-answered": inbound_answered,
    "inbound-no-answer": inbound_no_answer,
    "inbound-busy": inbound_busy,
    "outbound-from-phone": outbound_from_phone,
    "originate-click-to-call": click_to_call,
    "originate-failed": originate_failed,
    "internal-call": internal_call,
    "hold-by-park-and-return": hold_by_park_and_return,
    "queue-answered": queue_answered,
    "blind-transfer": blind_transfer,
    "attended-transfer": attended_transfer,
}


def per_line(events: list[dict]) -> dict[str, list[tuple]]:
    """What must agree between Asterisk and the simulator: each line's events without ids or times."""
    lines: dict[str, list[tuple]] = {}
    for event in events:
        call = event.get("call") or {}
        rest = {k: v for k, v in event.items() if k not in ("line", "type", "seq", "call")}
        lines.setdefault(event["line"], []).append(
            (
                event["type"],
                call.get("direction"),
                call.get("state"),
                call.get("end_reason"),
                call.get("remote_number"),
                call.get("remote_name"),
                call.get("queue"),
                call.get("parking_slot"),
                tuple(sorted((k, str(v)) for k, v in rest.items())),
            )
        )
    return lines


async def run_on_simulator(name: str, protocol: str = "SIP/") -> Recorder:
    config = SimConfig(protocol=protocol, login_failure_delay=0, atxfer_delay=0.05, local_optimize_delay=0.05)
    sim = await Simulator(config).start(port=0)
    try:
        client = Recorder(sim.port)
        await client.start()
        await SCENARIOS[name](sim, client)
        await until(lambda: not sim.pbx.channels)
        await client.finish()
        return client
    finally:
        await sim.close()


@pytest.mark.parametrize("protocol", ["SIP/", "PJSIP/"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_simulator_tracks_like_the_recorded_asterisk(name, protocol):
    """chan_pjsip differs in naming, causes and Originate reasons, but a call must track the same."""
    expected = per_line(replay_records(read_trace(TRACES / f"{name}.jsonl")))
    client = await run_on_simulator(name, protocol)

    records = [TraceRecord(t, d, data) for t, d, data in client.pieces]
    got = per_line(replay_records(records, TrackerConfig(protocol=protocol)))

    assert expected, "the recorded trace produced no line events"
    assert got == expected


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_simulator_uses_the_recorded_event_names_per_channel_role(name):
    """Beyond tracking: every event name Asterisk sent in the scenario, the simulator sends too."""
    real = {
        m.event
        for m in Framer().feed(b"".join(r.data for r in read_trace(TRACES / f"{name}.jsonl") if r.direction == "in"))
    }
    client = await run_on_simulator(name)
    simulated = {m.event for m in client.messages}

    missing = {e for e in real - simulated if e is not None}

    assert not missing
