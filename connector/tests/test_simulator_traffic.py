"""Traffic modes: scenario files, the random mix and the load mode, seen through the call tracker."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from connector.ami.replay import replay_records
from connector.ami.trace import TraceRecord
from connector.simulator import SimConfig, Simulator
from connector.simulator.scenario import ScenarioError, load_scenario, parse_scenario, run_scenario
from connector.simulator.traffic import RandomMix, run_load, run_mix
from connector.tests.test_simulator_traces import Recorder, until

pytestmark = pytest.mark.timeout(30)


async def started(config: SimConfig | None = None) -> tuple[Simulator, Recorder]:
    sim = await Simulator(config or SimConfig(atxfer_delay=0.02, local_optimize_delay=0.02)).start(port=0)
    client = Recorder(sim.port)
    await client.start()
    return sim, client


async def drain(sim: Simulator) -> None:
    """Hang up whatever is still going and wait until the PBX is idle."""
    for channel in list(sim.pbx.channels.values()):
        if not channel.hung_up and channel.name in sim.pbx.channels:
            sim.hangup(channel)
        await asyncio.sleep(0)
    await until(lambda: not sim.pbx.channels, timeout=10)


def line_events(client: Recorder) -> list[dict]:
    return replay_records([TraceRecord(t, d, data) for t, d, data in client.pieces])


def assert_consistent(client: Recorder, events: list[dict]) -> None:
    """Every channel created was hung up, and every call the tracker saw has ended exactly once."""
    created = [m["Channel"] for m in client.messages if m.event == "Newchannel"]
    gone = [m["Channel"] for m in client.messages if m.event == "Hangup"]
    assert Counter(created) == Counter(gone)
    begun = Counter((e["line"], e["call"]["id"]) for e in events if e["type"] in ("call.ringing", "call.dialing"))
    ended = Counter((e["line"], e["call"]["id"]) for e in events if e["type"] == "call.ended")
    assert begun == ended


SCENARIO = {
    "phones": {"305": {"mode": "answer", "after": 0.1}},
    "steps": [
        {"call_in": "79161234567", "name": "Ivan Petrov", "to": "74951230305", "as": "ivan"},
        {"wait_until": "talking", "line": "305"},
        {"wait": 0.1},
        {"hangup": "ivan"},
        {"wait_until": "idle", "line": "305"},
        {"far_end": {"mode": "busy"}},
        {"dial": "79031112233", "line": "306"},
        {"wait_until": "idle", "line": "306"},
    ],
}


async def test_a_scenario_file_drives_the_calls_it_describes(tmp_path):
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(SCENARIO))
    sim, client = await started()
    try:
        await asyncio.wait_for(run_scenario(sim, load_scenario(path, sim.config.lines)), 10)
        await client.finish()
    finally:
        await sim.close()

    events = [(e["line"], e["type"], e["call"]["end_reason"]) for e in line_events(client)]

    assert events == [
        ("305", "call.ringing", None),
        ("305", "call.answered", None),
        ("305", "call.ended", "completed"),
        ("306", "call.dialing", None),
        ("306", "call.ended", "busy"),
    ]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"steps": "no"}, '"steps" list'),
        ({"steps": [{"wait": -1}]}, "step 1: wait"),
        ({"steps": [{"wait": 1, "hangup": "305"}]}, "step 1: needs exactly one"),
        ({"steps": [], "phones": {"305": {"mode": "sleepy"}}}, "phones.305: mode"),
        ({"steps": [], "phones": {"999": {"mode": "busy"}}}, "phones.999: not one of"),
        ({"steps": [{"wait_until": "dancing", "line": "305"}]}, "step 1: wait_until"),
    ],
)
def test_a_bad_scenario_is_refused_with_the_step_named(document, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(document, ("305", "306", "307"))


async def test_the_random_mix_rings_lines_and_every_call_ends():
    sim, client = await started()
    mix = RandomMix(
        calls_per_minute=400,
        answer_probability=0.7,
        queue_share=0.5,
        outbound_share=0.2,
        hold_rate=0.5,
        transfer_rate=0.5,
        ring_seconds=(0.05, 0.15),
        talk_seconds=(0.2, 0.5),
        patience_seconds=0.6,
    )
    stop = asyncio.Event()
    try:
        runner = asyncio.create_task(run_mix(sim, mix, stop, random.Random(6)))
        await asyncio.sleep(3)
        stop.set()
        stats = await asyncio.wait_for(runner, 5)
        await drain(sim)
        await client.finish()
    finally:
        await sim.close()

    events = line_events(client)
    types = Counter(e["type"] for e in events)
    assert stats.started >= 5
    assert types["call.ringing"] >= 3 and types["call.answered"] >= 2
    assert_consistent(client, events)


async def test_the_load_mode_places_the_requested_rate_over_many_operators():
    lines = tuple(str(n) for n in range(2000, 2020))
    sim, client = await started(SimConfig(lines=lines, queue_members=()))
    try:
        stats = await asyncio.wait_for(
            run_load(sim, calls_per_second=40, duration=1.0, ring_seconds=0.05, talk_seconds=0.1), 5
        )
        await until(lambda: not sim.pbx.channels, timeout=5)
        await client.finish()
    finally:
        await sim.close()

    events = line_events(client)
    assert 30 <= stats.started <= 45
    assert sum(e["type"] == "call.answered" for e in events) == stats.started
    assert len({e["line"] for e in events}) > 10
    assert_consistent(client, events)


def test_the_documented_scenario_example_is_valid():
    docs = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"
    example = docs.read_text(encoding="utf-8").split("```json", 1)[1].split("```", 1)[0]

    scenario = parse_scenario(json.loads(example), ("305", "306", "307"))

    assert scenario.phones["305"].answer_after == 3 and len(scenario.steps) == 6
