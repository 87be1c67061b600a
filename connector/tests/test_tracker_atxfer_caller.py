"""The held caller hanging up during an attended transfer's consultation: his call on 305 ends there."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from connector.ami.replay import base_time, replay_records
from connector.ami.trace import read_trace
from connector.simulator import SimConfig, Simulator
from connector.tests.test_simulator_traces import Recorder, channel_of, talking, until
from connector.tests.test_simulator_traffic import assert_consistent, line_events
from connector.tests.test_tracker_transfers import CALL, LOCAL_ONE, SYNTHETIC, consultation_over_time

pytestmark = pytest.mark.timeout(30)

TARGET_CALL = "1795700757.130"


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def hangup_time(records, channel: str) -> float:
    """The trace time of ``channel``'s Hangup event."""
    return next(
        r.t
        for r in records
        if r.data.startswith(b"Event: Hangup\r\n") and f"\r\nChannel: {channel}\r\n".encode() in r.data
    )


@pytest.mark.parametrize("name", ["attended-transfer-caller-left", "attended-transfer-caller-left-ringing"])
def test_the_callers_call_ends_at_his_hangup_not_at_the_operators(name):
    records = read_trace(SYNTHETIC / f"{name}.jsonl")
    events = replay_records(records)
    mine = [e for e in events if e["line"] == "305"]
    assert [(e["type"], e["call"]["id"]) for e in mine] == [
        ("call.ringing", CALL),
        ("call.answered", CALL),
        ("call.held", CALL),
        ("call.ended", CALL),
    ]
    ended = mine[-1]["call"]
    assert ended["end_reason"] == "completed" and ended["remote_number"] == "79161234567"
    caller_gone = hangup_time(records, "SIP/trunk-00000047")
    operator_gone = hangup_time(records, "SIP/305-00000048")
    assert operator_gone - caller_gone > 2  # the consultation went on for seconds after the caller left
    base = base_time(records)
    assert when(ended["ended_at"]).timestamp() == pytest.approx(base + caller_gone, abs=0.002)
    answered = when(ended["answered_at"]).timestamp()
    assert ended["duration"] == pytest.approx(base + caller_gone - answered, abs=0.002)
    # 306's call from 305 (the consultation) is untouched: answered, then ended completed by 305's hangup.
    target = [(e["type"], e["call"]["end_reason"]) for e in events if e["line"] == "306"]
    assert target == [("call.ringing", None), ("call.answered", None), ("call.ended", "completed")]
    target_end = next(e for e in events if e["line"] == "306" and e["type"] == "call.ended")["call"]
    assert when(target_end["ended_at"]) > when(ended["ended_at"])


@pytest.mark.parametrize("name", ["attended-transfer-caller-left", "attended-transfer-caller-left-ringing"])
def test_the_consultation_channel_is_offered_until_the_caller_hangs_up(name):
    records = read_trace(SYNTHETIC / f"{name}.jsonl")
    seen = consultation_over_time(records)
    assert [point[1:] for point in seen] == [
        (None, "ringing"),
        (None, "active"),
        (None, "held"),
        (LOCAL_ONE, "held"),
        (None, None),  # the caller's Hangup ends the call: nothing left to resume or cancel
    ]
    assert seen[-1][0] == round(hangup_time(records, "SIP/trunk-00000047"), 3)  # t of the caller's Hangup


async def _consult_then_caller_leaves(sim: Simulator, client: Recorder, queue: bool) -> None:
    """305 answers (directly or from the queue), consults 306, the caller hangs up, then 306 does."""
    sim.set_phone("306", "no_answer" if queue else "answer", 0.05)
    caller = sim.call_in("79161234567", "Ivan Petrov", sim.config.queue_did if queue else "74951230305")
    await until(lambda: talking(sim, "305"))
    sim.set_phone("306", "answer", 0.05)
    client.send("Atxfer", Channel=channel_of(sim, "305").name, Exten="306", Context="from-internal")
    await until(lambda: talking(sim, "306"))
    await asyncio.sleep(0.1)
    sim.hangup(caller)
    await asyncio.sleep(0.3)
    sim.hangup_line("306")


@pytest.mark.parametrize("queue", [False, True], ids=["direct", "queue"])
async def test_over_ami_the_callers_hangup_ends_his_call_and_not_the_consultation(queue):
    sim = await Simulator(SimConfig(atxfer_delay=0.02, local_optimize_delay=0.05)).start(port=0)
    try:
        client = Recorder(sim.port)
        await client.start()
        sim.set_phone("305", "answer", 0.05)
        sim.set_far_end("answer", 0.05)
        await _consult_then_caller_leaves(sim, client, queue)
        await until(lambda: not sim.pbx.channels)
        await client.finish()
    finally:
        await sim.close()
    events = line_events(client)
    assert_consistent(client, events)
    mine = [e for e in events if e["line"] == "305"]
    assert [e["type"] for e in mine] == ["call.ringing", "call.answered", "call.held", "call.ended"]
    assert mine[-1]["call"]["end_reason"] == "completed"
    assert mine[-1]["call"]["remote_number"] == "79161234567"
    target = [e for e in events if e["line"] == "306" and e["call"]["remote_number"] == "305"]
    assert [e["type"] for e in target][-2:] == ["call.answered", "call.ended"]
    # 305's call ended with the caller, a clear 0.3 s before 306 ended the consultation.
    gap = when(target[-1]["call"]["ended_at"]) - when(mine[-1]["call"]["ended_at"])
    assert gap.total_seconds() >= 0.25
