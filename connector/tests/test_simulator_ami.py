"""The simulator's AMI surface: login, list replies, errors, filters, and chan_pjsip naming."""

from __future__ import annotations

import asyncio
import json

import pytest

from connector.ami.actions import build_action
from connector.ami.framing import Framer
from connector.ami.replay import replay_records
from connector.ami.trace import TraceRecord
from connector.simulator import SimConfig, Simulator
from connector.simulator.wire import UnsafeEventValue, format_message
from connector.tests.test_simulator_traces import TRACES, Recorder, talking, until

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
async def sim():
    simulator = await Simulator(SimConfig(login_failure_delay=0.05)).start(port=0)
    yield simulator
    await simulator.close()


async def logged_in(sim: Simulator) -> Recorder:
    client = Recorder(sim.port)
    await client.start()
    return client


async def test_it_greets_with_the_asterisk_banner(sim):
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    banner = await asyncio.wait_for(reader.readline(), 5)
    writer.close()

    assert banner == b"Asterisk Call Manager/9.0.0\r\n"


async def test_it_rejects_a_wrong_secret_like_asterisk_and_closes(sim):
    recorded = [json.loads(line) for line in (TRACES / "login-failure.jsonl").read_text().splitlines()]
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(recorded[1]["msg"].encode())

    received = await asyncio.wait_for(reader.read(), 5)  # read() returns only once the server closes

    assert received == (recorded[0]["msg"] + recorded[2]["msg"]).encode()


async def test_it_refuses_actions_before_login(sim):
    client = Recorder(sim.port)
    await client.connect()
    action_id = client.send("CoreShowChannels")

    reply = await client.wait_for(lambda m: m.action_id == action_id)

    assert (reply.response, reply.get("Message")) == ("Error", "Permission denied")


async def test_it_answers_ping_and_refuses_unknown_actions(sim):
    client = await logged_in(sim)
    ping = client.send("Ping")
    bogus = client.send("Frobnicate")

    pong = await client.wait_for(lambda m: m.action_id == ping)
    error = await client.wait_for(lambda m: m.action_id == bogus)

    assert pong.get("Ping") == "Pong"
    assert error.response == "Error" and "Invalid/unknown command: Frobnicate" in error.get("Message")


async def test_list_replies_describe_a_live_call(sim):
    sim.set_phone("305", "answer", 0.05)
    caller = sim.call_in("79161234567", "Ivan Petrov", "74951230305")
    await until(lambda: talking(sim, "305"))
    client = await logged_in(sim)

    core = client.send("CoreShowChannels")
    await client.wait_for(lambda m: m.action_id == core and m.get("EventList") == "Complete")
    status = client.send("Status")
    await client.wait_for(lambda m: m.action_id == status and m.get("EventList") == "Complete")
    sim.hangup(caller)

    listed = [m for m in client.messages if m.event == "CoreShowChannel" and m.action_id == core]
    statuses = [m for m in client.messages if m.event == "Status" and m.action_id == status]
    complete = next(m for m in client.messages if m.event == "CoreShowChannelsComplete" and m.action_id == core)
    assert sorted(m["Channel"].split("-")[0] for m in listed) == ["SIP/305", "SIP/trunk"]
    assert complete["ListItems"] == "2"
    assert len({m["BridgeId"] for m in listed}) == 1 and listed[0]["BridgeId"]
    assert {m["BridgeID"] for m in statuses} == {listed[0]["BridgeId"]}
    assert {m["Uniqueid"] for m in statuses} == {m["Uniqueid"] for m in listed}


async def test_queue_status_lists_params_and_members(sim):
    client = await logged_in(sim)
    action_id = client.send("QueueStatus")
    done = await client.wait_for(lambda m: m.event == "QueueStatusComplete" and m.action_id == action_id)

    members = [m for m in client.messages if m.event == "QueueMember" and m.action_id == action_id]
    params = [m for m in client.messages if m.event == "QueueParams" and m.action_id == action_id]
    assert params[0]["Strategy"] == "ringall"
    assert sorted(m["Location"] for m in members) == ["Local/305@from-queue/n", "Local/306@from-queue/n"]
    assert done["ListItems"] == "3"


async def test_queue_pause_reports_the_member_and_refuses_an_unknown_interface(sim):
    client = await logged_in(sim)
    good = client.send("QueuePause", Interface="Local/305@from-queue/n", Paused="true", Reason="lunch")
    bad = client.send("QueuePause", Interface="Local/999@from-queue/n", Paused="true")

    paused = await client.wait_for(lambda m: m.event == "QueueMemberPause")
    assert (await client.wait_for(lambda m: m.action_id == good)).get("Message") == "Interface paused successfully"
    assert (await client.wait_for(lambda m: m.action_id == bad)).get("Message") == "Interface not found"
    assert (paused["Interface"], paused["Paused"], paused["PausedReason"]) == ("Local/305@from-queue/n", "1", "lunch")


async def test_park_reply_keeps_asterisks_stray_line_feed(sim):
    sim.set_phone("305", "answer", 0.05)
    caller = sim.call_in("79161234567", "Ivan Petrov", "74951230305")
    await until(lambda: talking(sim, "305"))
    client = await logged_in(sim)
    action_id = client.send("Park", Channel=caller.name, ParkingSpace="701")

    await client.wait_for(lambda m: m.event == "ParkedCall")
    sim.hangup(caller)

    received = b"".join(data for _t, direction, data in client.pieces if direction == "in")
    assert f"ActionID: {action_id}\r\nMessage: Park successful\n\r\n\r\n".encode() in received


async def test_events_off_and_filters_limit_what_a_session_gets(sim):
    quiet = await logged_in(sim)
    filtered = await logged_in(sim)
    quiet.send("Events", EventMask="off")
    filtered.send("Filter", Operation="Add", Filter="Event: Hangup")
    await asyncio.sleep(0.05)
    sim.set_phone("305", "busy")

    sim.call_in("79161234567", "Ivan Petrov", "74951230305")
    await until(lambda: not sim.pbx.channels)
    await asyncio.sleep(0.05)

    assert not [m for m in quiet.messages if m.event in ("Newchannel", "Hangup")]
    after_filter = filtered.messages[
        next(i for i, m in enumerate(filtered.messages) if m.get("Message") == "Filter Added Successfully") :
    ]
    assert {m.event for m in after_filter if m.event} == {"Hangup"}


async def test_hangup_of_an_unknown_channel_is_asterisks_error(sim):
    client = await logged_in(sim)
    action_id = client.send("Hangup", Channel="SIP/305-deadbeef")

    reply = await client.wait_for(lambda m: m.action_id == action_id)

    assert (reply.response, reply.get("Message")) == ("Error", "No such channel")


async def test_a_synchronous_originate_answers_after_the_phone_picks_up(sim):
    sim.set_phone("305", "answer", 0.1)
    sim.set_far_end("no_answer")
    client = await logged_in(sim)
    action_id = client.send("Originate", Channel="SIP/305", Context="from-internal", Exten="79031112233", Priority="1")

    reply = await client.wait_for(lambda m: m.action_id == action_id)
    sim.hangup_line("305")

    assert (reply.response, reply.get("Message")) == ("Success", "Originate successfully queued")
    assert not [m for m in client.messages if m.event == "OriginateResponse"]


async def test_an_originate_to_an_offline_line_fails_with_reason_0(sim):
    sim.set_phone("308", "offline")
    client = await logged_in(sim)
    action_id = client.send(
        "Originate", Channel="SIP/308", Context="from-internal", Exten="306", Priority="1", Async="true"
    )

    result = await client.wait_for(lambda m: m.event == "OriginateResponse" and m.action_id == action_id)

    assert (result["Response"], result["Reason"], result["Uniqueid"]) == ("Failure", "0", "<unknown>")


async def test_demo_answer_picks_up_only_a_ringing_phone(sim):
    sim.set_phone("305", "manual")
    client = await logged_in(sim)
    early = client.send("DemoAnswer", Channel="SIP/305")
    refused = await client.wait_for(lambda m: m.action_id == early)
    sim.call_in("79161234567", "Ivan Petrov", "74951230305")
    await until(lambda: sim.is_ringing("305"))
    await asyncio.sleep(0.3)
    assert not talking(sim, "305")  # a manual phone does not answer by itself

    action_id = client.send("DemoAnswer", Channel=[c for c in sim.pbx.channels if c.startswith("SIP/305-")][0])
    answered = await client.wait_for(lambda m: m.action_id == action_id)
    await until(lambda: talking(sim, "305"))
    sim.hangup_line("305")
    await until(lambda: not sim.pbx.channels)

    assert (refused.response, refused.get("Message")) == ("Error", "Channel is not ringing")
    assert answered.response == "Success"


async def test_pjsip_names_channels_and_reports_causes_like_chan_pjsip():
    sim = await Simulator(SimConfig(protocol="PJSIP/")).start(port=0)
    try:
        client = await logged_in(sim)
        sim.set_phone("305", "no_answer")
        caller = sim.call_in("79161234567", "Ivan Petrov", "74951230305")
        await until(lambda: sim.is_ringing("305"))
        sim.hangup(caller)
        sim.set_phone("305", "busy")
        action_id = client.send(
            "Originate", Channel="PJSIP/305", Context="from-internal", Exten="79031112233", Priority="1", Async="true"
        )
        failure = await client.wait_for(lambda m: m.event == "OriginateResponse" and m.action_id == action_id)
    finally:
        await sim.close()

    created = [m for m in client.messages if m.event == "Newchannel"]
    hangups = {m["Channel"].split("-")[0]: m["Cause"] for m in client.messages if m.event == "Hangup"}
    assert created[0]["Channel"].startswith("PJSIP/trunk-") and created[0]["ChannelStateDesc"] == "Ring"
    assert not [m for m in client.messages if m.event == "Newstate" and m["Channel"] == created[0]["Channel"]]
    assert hangups["PJSIP/trunk"] == "127"
    assert failure["Reason"] == "0"


def test_event_values_with_line_breaks_are_refused():
    with pytest.raises(UnsafeEventValue):
        format_message([("Event", "Newchannel"), ("CallerIDName", "Ivan\r\nAction: Originate")])


def test_the_action_builder_and_event_formatter_agree_on_framing():
    framed = Framer(expect_banner=False).feed(
        format_message([("Event", "Hangup"), ("Channel", "SIP/305-00000001")]) + build_action("Ping", {}, "x-1")
    )
    assert [(m.event, m.get("Action")) for m in framed] == [("Hangup", None), (None, "Ping")]


async def test_a_session_survives_garbage_and_half_actions(sim):
    client = await logged_in(sim)
    client.writer.write(b"this is not AMI\r\n\r\nAction: Originate\r\nActionID: half-1\r\n\r\n\xff\xfe\r\n\r\n")
    action_id = client.send("Ping")

    pong = await client.wait_for(lambda m: m.action_id == action_id)
    refused = await client.wait_for(lambda m: m.action_id == "half-1")

    assert pong.get("Ping") == "Pong"
    assert (refused.response, refused.get("Message")) == ("Error", "Channel not specified")


async def test_a_connector_logging_in_mid_call_recovers_live_calls_from_the_lists(sim):
    sim.set_phone("305", "answer", 0.05)
    sim.set_phone("306", "no_answer")
    queued = sim.call_in("79161234567", "Ivan Petrov", "74951230000")
    await until(lambda: talking(sim, "305"))
    ringing = sim.call_in("79262345678", "Maria", "74951230307")
    await until(lambda: sim.is_ringing("307"))
    client = await logged_in(sim)
    sim.hangup(queued)
    sim.hangup(ringing)
    await until(lambda: not sim.pbx.channels)
    await client.finish()

    events = replay_records([TraceRecord(t, d, data) for t, d, data in client.pieces])

    summary = [(e["line"], e["type"], e["call"]["state"], e["call"]["remote_number"]) for e in events]
    assert summary == [
        ("305", "call.ringing", "ringing", "79161234567"),
        ("305", "call.answered", "active", "79161234567"),
        ("307", "call.ringing", "ringing", "79262345678"),
        ("305", "call.ended", "ended", "79161234567"),
        ("307", "call.ended", "ended", "79262345678"),
    ]


async def test_a_manual_phone_with_self_answer_picks_up_by_itself(sim):
    sim.set_phone("305", "manual", self_answer=0.2)
    caller = sim.call_in("79161234567", "Ivan Petrov", "74951230305")
    await until(lambda: sim.is_ringing("305"))
    started = asyncio.get_running_loop().time()

    await until(lambda: talking(sim, "305"))
    waited = asyncio.get_running_loop().time() - started
    sim.hangup(caller)

    assert waited >= 0.15
