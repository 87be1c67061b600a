"""Feature combinations beyond the recordings: every call still ends once and every channel goes away."""

from __future__ import annotations

import asyncio

import pytest

from connector.simulator import SimConfig, Simulator
from connector.tests.test_simulator_traces import Recorder, channel_of, talking, until
from connector.tests.test_simulator_traffic import assert_consistent, line_events

pytestmark = pytest.mark.timeout(20)

RING = 0.05


async def run(scenario, **config) -> tuple[Recorder, list[dict]]:
    sim = await Simulator(SimConfig(atxfer_delay=0.02, local_optimize_delay=0.05, **config)).start(port=0)
    try:
        client = Recorder(sim.port)
        await client.start()
        for line in sim.config.lines:
            sim.set_phone(line, "answer", RING)
        sim.set_far_end("answer", RING)
        await scenario(sim, client)
        await until(lambda: not sim.pbx.channels)
        await client.finish()
    finally:
        await sim.close()
    return client, line_events(client)


def summary(events: list[dict], line: str) -> list[tuple]:
    return [(e["type"], e["call"]["end_reason"]) for e in events if e["line"] == line and "call" in e]


async def queue_call(sim: Simulator) -> object:
    sim.set_phone("306", "no_answer")
    caller = sim.call_in("79161234567", "Ivan Petrov", sim.config.queue_did)
    await until(lambda: talking(sim, "305"))
    return caller


async def test_a_queue_call_can_be_parked_and_picked_up():
    async def scenario(sim, client):
        caller = await queue_call(sim)
        client.send("Park", Channel=caller.name, TimeoutChannel=channel_of(sim, "305").name, ParkingSpace="701")
        await until(lambda: not sim.line_busy("305"))
        client.send("Originate", Channel="SIP/305", Context="parkedcalls", Exten="701", Priority="1", Async="true")
        await until(lambda: talking(sim, "305"))
        sim.hangup(caller)

    client, events = await run(scenario)

    assert ("call.held", None) in summary(events, "305") and ("call.resumed", None) in summary(events, "305")
    assert summary(events, "305")[-1] == ("call.ended", "completed")
    assert_consistent(client, events)


async def test_a_queue_call_can_be_blind_transferred():
    async def scenario(sim, client):
        caller = await queue_call(sim)
        sim.set_phone("306", "answer", RING)
        client.send("BlindTransfer", Channel=channel_of(sim, "305").name, Exten="306", Context="from-internal")
        await until(lambda: talking(sim, "306"))
        sim.hangup(caller)

    client, events = await run(scenario)

    assert summary(events, "305")[-1] == ("call.ended", "transferred")
    assert summary(events, "306")[-1] == ("call.ended", "completed")
    assert_consistent(client, events)


async def test_an_attended_transfer_to_a_busy_line_returns_the_operator_to_the_caller():
    async def scenario(sim, client):
        sim.set_phone("306", "busy")
        caller = sim.call_in("79161234567", "Ivan Petrov", "74951230305")
        await until(lambda: talking(sim, "305"))
        client.send("Atxfer", Channel=channel_of(sim, "305").name, Exten="306", Context="from-internal")
        await until(
            lambda: not any(c.name.startswith("Local/") for c in sim.pbx.channels.values()) and talking(sim, "305")
        )
        await asyncio.sleep(0.2)
        assert talking(sim, "305")
        sim.hangup(caller)

    client, events = await run(scenario)

    assert summary(events, "305")[-1] == ("call.ended", "completed")
    assert_consistent(client, events)


async def test_an_attended_transfer_can_be_cancelled_after_the_target_answers():
    async def scenario(sim, client):
        caller = sim.call_in("79161234567", "Ivan Petrov", "74951230305")
        await until(lambda: talking(sim, "305"))
        operator = channel_of(sim, "305").name
        client.send("Atxfer", Channel=operator, Exten="306", Context="from-internal")
        await until(lambda: talking(sim, "306"))
        client.send("CancelAtxfer", Channel=operator)
        await until(lambda: not sim.line_busy("306"))
        await asyncio.sleep(0.1)
        assert talking(sim, "305")
        sim.hangup(caller)

    client, events = await run(scenario)

    assert summary(events, "305")[-1] == ("call.ended", "completed")
    assert summary(events, "306")[-1][0] == "call.ended"
    assert_consistent(client, events)


@pytest.mark.parametrize("answered", [False, True], ids=["ringing", "answered"])
@pytest.mark.parametrize("leg", [";1", ";2", "target"])
async def test_hanging_up_any_consultation_leg_returns_the_operator_to_the_caller(leg, answered):
    async def scenario(sim, client):
        sim.set_phone("306", "answer" if answered else "manual", RING)
        caller = sim.call_in("79161234567", "Ivan Petrov", "74951230305")
        await until(lambda: talking(sim, "305"))
        client.send("Atxfer", Channel=channel_of(sim, "305").name, Exten="306", Context="from-internal")
        await until(lambda: talking(sim, "306") if answered else sim.is_ringing("306"))
        names = list(sim.pbx.channels)
        victim = channel_of(sim, "306").name if leg == "target" else next(n for n in names if n.endswith(leg))
        client.send("Hangup", Channel=victim)
        await until(lambda: not sim.line_busy("306") and not any(n.startswith("Local/") for n in sim.pbx.channels))
        await asyncio.sleep(0.05)
        assert talking(sim, "305")
        sim.hangup(caller)

    client, events = await run(scenario)

    assert summary(events, "305")[-1] == ("call.ended", "completed")
    assert_consistent(client, events)


async def test_the_caller_hanging_up_during_a_consultation_ends_only_his_call():
    async def scenario(sim, client):
        caller = sim.call_in("79161234567", "Ivan Petrov", "74951230305")
        await until(lambda: talking(sim, "305"))
        client.send("Atxfer", Channel=channel_of(sim, "305").name, Exten="306", Context="from-internal")
        await until(lambda: talking(sim, "306"))
        sim.hangup(caller)
        await asyncio.sleep(0.1)
        sim.hangup_line("306")

    client, events = await run(scenario)

    assert_consistent(client, events)


async def test_a_parked_call_that_times_out_rings_the_operator_again():
    async def scenario(sim, client):
        sim.set_phone("305", "answer", RING)
        caller = sim.call_in("79161234567", "Ivan Petrov", "74951230305")
        await until(lambda: talking(sim, "305"))
        client.send("Park", Channel=caller.name, TimeoutChannel=channel_of(sim, "305").name)
        await client.wait_for(lambda m: m.event == "ParkedCallTimeOut", timeout=5)
        await until(lambda: talking(sim, "305"))
        sim.hangup_line("305")

    client, events = await run(scenario, parking_timeout=0.8)

    assert [m["ParkingSpace"] for m in client.messages if m.event == "ParkedCall"] == ["701"]
    assert_consistent(client, events)


async def test_hangup_by_regex_clears_every_matching_channel():
    async def scenario(sim, client):
        for line in ("305", "306"):
            sim.set_phone(line, "no_answer")
            sim.call_in("79161234567", "Ivan Petrov", f"74951230{line}")
        await until(lambda: sim.is_ringing("305") and sim.is_ringing("306"))
        client.send("Hangup", Channel="/^SIP/30[56]-/")

    client, events = await run(scenario)

    assert sorted(summary(events, "305") + summary(events, "306")) == [
        ("call.ended", "no_answer"),
        ("call.ended", "no_answer"),
        ("call.ringing", None),
        ("call.ringing", None),
    ]
    assert_consistent(client, events)


async def test_a_redirect_sends_the_caller_on_and_releases_the_operator_without_a_transfer_event():
    async def scenario(sim, client):
        caller = sim.call_in("79161234567", "Ivan Petrov", "74951230305")
        await until(lambda: talking(sim, "305"))
        client.send("Redirect", Channel=caller.name, Exten="306", Context="from-internal", Priority="1")
        await until(lambda: talking(sim, "306"))
        sim.hangup(caller)

    client, events = await run(scenario)

    assert not [m for m in client.messages if m.event in ("BlindTransfer", "AttendedTransfer")]
    assert summary(events, "305") == [("call.ringing", None), ("call.answered", None), ("call.ended", "completed")]
    assert summary(events, "306") == [("call.ringing", None), ("call.answered", None), ("call.ended", "completed")]
    assert_consistent(client, events)


async def test_play_dtmf_is_accepted_on_a_live_channel_only():
    async def scenario(sim, client):
        caller = sim.call_in("79161234567", "Ivan Petrov", "74951230305")
        await until(lambda: talking(sim, "305"))
        good = client.send("PlayDTMF", Channel=caller.name, Digit="5")
        bad = client.send("PlayDTMF", Channel="SIP/trunk-ffffffff", Digit="5")
        replies = [await client.wait_for(lambda m, a=a: m.action_id == a) for a in (good, bad)]
        assert [(r.response, r.get("Message")) for r in replies] == [
            ("Success", "DTMF successfully queued"),
            ("Error", "Channel not found"),
        ]
        sim.hangup(caller)

    client, events = await run(scenario)

    assert_consistent(client, events)


async def test_a_queue_caller_who_gives_up_is_an_abandon_and_every_member_call_is_cancelled():
    async def scenario(sim, client):
        sim.set_phone("305", "no_answer")
        sim.set_phone("306", "no_answer")
        caller = sim.call_in("79161234567", "Ivan Petrov", sim.config.queue_did)
        await until(lambda: sim.is_ringing("305") and sim.is_ringing("306"))
        sim.hangup(caller)

    client, events = await run(scenario)

    assert [m.event for m in client.messages if m.event in ("QueueCallerAbandon", "QueueCallerLeave")] == [
        "QueueCallerAbandon",
        "QueueCallerLeave",
    ]
    for line in ("305", "306"):
        assert summary(events, line) == [("call.ringing", None), ("call.ended", "cancelled")]
    assert_consistent(client, events)


async def test_a_paused_member_is_not_rung_by_the_queue():
    async def scenario(sim, client):
        client.send("QueuePause", Interface="Local/306@from-queue/n", Paused="true")
        await client.wait_for(lambda m: m.event == "QueueMemberPause")
        caller = await queue_call(sim)
        sim.hangup(caller)

    client, events = await run(scenario)

    assert summary(events, "306") == []
    assert summary(events, "305")[-1] == ("call.ended", "completed")
    assert_consistent(client, events)
