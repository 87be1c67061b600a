"""Call tracker rules for queues, ring-all groups and agent state, fed message by message."""

from __future__ import annotations

import logging

import pytest

from connector.ami.actions import build_action
from connector.ami.framing import parse_stream
from connector.ami.queues import WRAP_UP_REASON
from connector.ami.replay import replay_records
from connector.ami.trace import TraceRecord, read_trace
from connector.config import ConnectorConfig
from connector.control import CommandHandler
from connector.ratelimit import MemoryRateLimiter
from connector.tests.tracker_feed import CALLER, OP305, PHONE, TRACES, TRUNK, Feeder, ev, snap

pytestmark = pytest.mark.timeout(60)


def test_queue_caller_abandon_cancels_every_ringing_member():
    feed = Feeder()
    feed(ev("Newchannel", snap(*TRUNK, cid=CALLER)))
    members = {}
    for n, line in enumerate(["305", "306"]):
        one = (f"Local/{line}@from-queue-0000000{n};1", f"1.1{n}1")
        two = (f"Local/{line}@from-queue-0000000{n};2", f"1.1{n}2")
        phone = (f"SIP/{line}-0000003{n}", f"1.1{n}3")
        feed(ev("Newchannel", snap(*one, state="Down")))
        feed(ev("Newchannel", snap(*two, state="Ring")))
        interface = f"Local/{line}@from-queue/n"
        feed(
            ev("AgentCalled", snap(*TRUNK, cid=CALLER), snap(*one, prefix="Dest"), Queue="support", Interface=interface)
        )
        feed(ev("DialBegin", snap(*TRUNK, cid=CALLER), snap(*one, prefix="Dest"), DialString=interface))
        feed(ev("Newchannel", snap(*phone, state="Down", cid=(line, ""))))
        feed(ev("DialBegin", snap(*two), snap(*phone, cl=CALLER, prefix="Dest"), DialString=line))
        feed(ev("Newstate", snap(*phone, state="Ringing", cid=(line, ""), cl=CALLER)))
        members[line] = (one, two, phone)
    feed(ev("QueueCallerAbandon", snap(*TRUNK), Queue="support"))
    for one, two, phone in members.values():
        feed.hangup(one, two, phone, cause="16")
    for line in ("305", "306"):
        assert feed.types(line) == ["call.ringing", "call.ended"]
        ended = [e for e in feed.events if e.line == line][-1].call
        assert (ended["end_reason"], ended["queue"]) == ("cancelled", "support")


def test_trace_queues_state_logs_member_changes(caplog):
    feed = Feeder(trace_queues_state=True)
    with caplog.at_level(logging.INFO, logger="connector.queues"):
        feed(
            ev(
                "QueueMemberPause",
                Queue="support",
                Interface="Local/305@from-queue/n",
                Paused="1",
                PausedReason="lunch",
            )
        )
    assert any("305" in r.getMessage() and "support" in r.getMessage() for r in caplog.records)
    assert feed.types() == ["agent.state"]
    assert feed.events[0].data == {"state": "not_ready", "reason": "lunch", "queues": ["support"]}
    quiet = Feeder()
    with caplog.at_level(logging.INFO, logger="connector.queues"):
        caplog.clear()
        quiet(ev("QueueMemberPause", Queue="support", Interface="Local/305@from-queue/n", Paused="1"))
    assert not caplog.records


def test_auto_pause_is_not_repeated_while_already_not_ready():
    feed = Feeder(auto_pause_on_commutation_start=True)
    feed(ev("QueueMemberPause", Queue="support", Interface="Local/305@from-queue/n", Paused="1", PausedReason="break"))
    feed.ring()
    feed.answer()
    assert feed.actions == []
    assert feed.types() == ["agent.state", "call.ringing", "call.answered"]


@pytest.mark.parametrize("via_local", [False, True])
def test_a_ring_group_leg_that_loses_ends_answered_elsewhere_even_with_cause_16(via_local):
    feed = Feeder()
    feed(ev("Newchannel", snap(*TRUNK, state="Ring", cid=CALLER)))
    legs = {}
    for n, line in enumerate(["305", "306"]):
        phone = (f"SIP/{line}-0000004{n}", f"1.4{n}")
        caller = TRUNK
        if via_local:
            one = (f"Local/{line}@from-internal-0000005{n};1", f"1.5{n}1")
            two = (f"Local/{line}@from-internal-0000005{n};2", f"1.5{n}2")
            feed(ev("Newchannel", snap(*one, state="Down")))
            feed(ev("Newchannel", snap(*two, state="Ring")))
            feed(
                ev("DialBegin", snap(*TRUNK, cid=CALLER), snap(*one, prefix="Dest"), DialString=f"{line}@from-internal")
            )
            caller = two
        feed(ev("Newchannel", snap(*phone, state="Down", cid=(line, ""))))
        feed(ev("DialBegin", snap(*caller), snap(*phone, cl=CALLER, prefix="Dest"), DialString=line))
        feed(ev("Newstate", snap(*phone, state="Ringing", cid=(line, ""), cl=CALLER)))
        legs[line] = (caller, phone)
    caller, phone = legs["305"]
    feed(ev("DialEnd", snap(*caller), snap(*phone, prefix="Dest"), DialStatus="ANSWER"))
    if via_local:
        feed(
            ev(
                "DialEnd",
                snap(*TRUNK),
                snap("Local/305@from-internal-00000050;1", "1.501", prefix="Dest"),
                DialStatus="ANSWER",
            )
        )
    loser_caller, loser = legs["306"]
    feed(ev("DialEnd", snap(*loser_caller), snap(*loser, prefix="Dest"), DialStatus="CANCEL"))
    feed.hangup(loser, cause="16")
    assert feed.types("306") == ["call.ringing", "call.ended"]
    assert feed.events[-1].call["end_reason"] == "answered_elsewhere"
    assert feed.types("305") == ["call.ringing"]


def test_a_queue_member_local_pair_optimised_away_is_not_a_transfer():
    feed = Feeder()
    one, two = ("Local/305@from-queue-00000001;1", "1.11"), ("Local/305@from-queue-00000001;2", "1.12")
    feed(ev("Newchannel", snap(*TRUNK, cid=CALLER)))
    feed(ev("Newchannel", snap(*one, state="Down")))
    feed(ev("Newchannel", snap(*two, state="Ring")))
    iface = "Local/305@from-queue"
    feed(ev("AgentCalled", snap(*TRUNK, cid=CALLER), snap(*one, prefix="Dest"), Queue="support", Interface=iface))
    feed(ev("DialBegin", snap(*TRUNK, cid=CALLER), snap(*one, prefix="Dest"), DialString=iface))
    feed(ev("Newchannel", snap(*PHONE, state="Down", cid=OP305)))
    feed(ev("DialBegin", snap(*two), snap(*PHONE, cl=CALLER, prefix="Dest"), DialString="305"))
    feed(ev("Newstate", snap(*PHONE, state="Ringing", cid=OP305, cl=CALLER)))
    for channel, bridge in ((PHONE, "b2"), (two, "b2"), (one, "b1"), (TRUNK, "b1")):
        feed(ev("BridgeEnter", snap(*channel), BridgeUniqueid=bridge))
    assert feed.types() == ["call.ringing", "call.answered"]
    # LocalOptimization: the caller moves into the phone's bridge, the Local pair goes away
    feed(ev("BridgeLeave", snap(*TRUNK), BridgeUniqueid="b1"))
    feed(ev("BridgeLeave", snap(*two), BridgeUniqueid="b2"))
    feed(ev("BridgeEnter", snap(*TRUNK), BridgeUniqueid="b2"))
    feed.hangup(one, two)
    feed(ev("HangupRequest", snap(*PHONE)))
    feed.hangup(PHONE)
    assert feed.types() == ["call.ringing", "call.answered", "call.ended"]
    assert feed.events[-1].call["end_reason"] == "completed"
    feed.hangup(TRUNK)


def test_a_queue_member_the_queue_gives_up_on_rang_out():
    feed = Feeder()
    one, two = ("Local/305@from-queue-00000001;1", "1.11"), ("Local/305@from-queue-00000001;2", "1.12")
    feed(ev("Newchannel", snap(*TRUNK, cid=CALLER)))
    feed(ev("Newchannel", snap(*one, state="Down")))
    feed(ev("Newchannel", snap(*two, state="Ring")))
    iface = "Local/305@from-queue/n"
    feed(ev("AgentCalled", snap(*TRUNK, cid=CALLER), snap(*one, prefix="Dest"), Queue="support", Interface=iface))
    feed(ev("Newchannel", snap(*PHONE, state="Down", cid=OP305)))
    feed(ev("DialBegin", snap(*two), snap(*PHONE, cl=CALLER, prefix="Dest"), DialString="305"))
    feed(ev("Newstate", snap(*PHONE, state="Ringing", cid=OP305, cl=CALLER)))
    feed(ev("AgentRingNoAnswer", snap(*TRUNK), snap(*one, prefix="Dest"), Queue="support", RingTime="15"))
    feed(ev("DialEnd", snap(*two), snap(*PHONE, prefix="Dest"), DialStatus="CANCEL"))
    feed.hangup(one, PHONE, two)
    assert feed.types() == ["call.ringing", "call.ended"]
    assert feed.events[-1].call["end_reason"] == "no_answer"


def test_an_operator_calling_a_queue_gets_a_call_when_a_member_answers():
    feed = Feeder()
    me = ("SIP/305-00000061", "1.61")
    one, two = ("Local/306@from-queue-00000062;1", "1.62"), ("Local/306@from-queue-00000062;2", "1.63")
    member = ("SIP/306-00000064", "1.64")
    feed(ev("Newchannel", snap(*me, state="Ring", cid=OP305, linked="1.61")))
    feed(ev("Newchannel", snap(*one, state="Down", linked="1.61")))
    feed(ev("Newchannel", snap(*two, state="Ring", cid=OP305, linked="1.61")))
    iface = "Local/306@from-queue/n"
    feed(
        ev(
            "AgentCalled",
            snap(*me, cid=OP305, linked="1.61"),
            snap(*one, prefix="Dest"),
            Queue="support",
            Interface=iface,
        )
    )
    feed(ev("DialBegin", snap(*me, cid=OP305, linked="1.61"), snap(*one, prefix="Dest"), DialString=iface))
    feed(ev("Newchannel", snap(*member, state="Down", cid=("306", "Operator 306"), linked="1.61")))
    feed(ev("DialBegin", snap(*two, cid=OP305), snap(*member, cl=OP305, prefix="Dest"), DialString="306"))
    feed(ev("Newstate", snap(*member, state="Ringing", cid=("306", "Operator 306"), cl=OP305)))
    for channel, bridge in ((member, "q2"), (two, "q2"), (one, "q1"), (me, "q1")):
        feed(ev("BridgeEnter", snap(*channel, linked="1.61"), BridgeUniqueid=bridge))
    assert feed.types("306") == ["call.ringing", "call.answered"]
    assert feed.types("305") == ["call.dialing", "call.answered"]
    mine = feed.tracker.live_calls("305")[0]
    assert (mine["direction"], mine["remote_number"]) == ("internal", "306")
    theirs = feed.tracker.live_calls("306")[0]
    assert (theirs["direction"], theirs["remote_number"], theirs["queue"]) == ("internal", "305", "support")
    feed.hangup(me, one, two, member)
    assert feed.types("305")[-1] == feed.types("306")[-1] == "call.ended"


def pause(feed: Feeder, paused: str, reason: str = "", queue: str = "support") -> None:
    fields = {"Queue": queue, "Interface": "Local/305@from-queue/n", "Paused": paused, "PausedReason": reason}
    feed(ev("QueueMemberPause", **fields))


def test_a_line_paused_for_wrap_up_is_wrap_up_not_not_ready():
    feed = Feeder()
    feed(ev("QueueMember", Queue="support", Location="Local/305@from-queue/n", Paused="0", PausedReason=""))
    pause(feed, "1", WRAP_UP_REASON)
    pause(feed, "0")
    pause(feed, "1", "lunch")
    pause(feed, "1", "Wrap-Up")  # Asterisk keeps the reason's spelling; the match ignores case
    states = [(e.data["state"], e.data["reason"]) for e in feed.events if e.type == "agent.state"]
    assert states == [("wrap_up", "wrap-up"), ("ready", None), ("not_ready", "lunch"), ("wrap_up", "wrap-up")]
    assert feed.tracker.agent_state("305") == {"state": "wrap_up", "reason": "wrap-up", "queues": ["support"]}


def test_wrap_up_in_one_queue_and_another_pause_elsewhere_is_not_ready():
    feed = Feeder()
    pause(feed, "1", WRAP_UP_REASON, queue="support")
    pause(feed, "1", "break", queue="sales")
    assert feed.tracker.agent_state("305")["state"] == "not_ready"
    pause(feed, "1", "", queue="billing")  # a pause without a reason is not a wrap-up either
    pause(feed, "0", queue="sales")
    assert feed.tracker.agent_state("305")["state"] == "not_ready"
    pause(feed, "0", queue="billing")
    assert feed.tracker.agent_state("305") == {
        "state": "wrap_up",
        "reason": "wrap-up",
        "queues": ["billing", "sales", "support"],
    }


def test_auto_pause_leaves_a_line_in_wrap_up_alone():
    feed = Feeder(auto_pause_on_commutation_start=True)
    pause(feed, "1", WRAP_UP_REASON)
    feed.ring()
    feed.answer()
    assert feed.actions == []
    assert feed.tracker.agent_state("305")["state"] == "wrap_up"


async def test_the_wrap_up_pause_control_sends_comes_back_as_wrap_up(settings):
    """Call control's QueuePause, echoed by Asterisk as QueueMemberPause (the queue-answered trace's shape)."""
    settings.WRAP_UP_SECONDS = 60
    sent = []

    class Client:
        async def send_action(self, action, fields):
            sent.append(build_action(action, fields, action_id="t-1"))

    handler = CommandHandler(Client(), None, ConnectorConfig(), MemoryRateLimiter(10, 60))
    command = {"type": "agent_state", "ref": 1, "state": "wrap_up"}
    message = {"type": "connector.command", "reply_to": "x", "user_id": 1, "line": "305", "context": "",
               "request_id": 1, "command": command}  # fmt: skip
    try:
        assert (await handler.handle(message))["ok"]
    finally:
        await handler.close()
    [action] = parse_stream(sent[0], expect_banner=False)
    records = read_trace(TRACES / "queue-answered.jsonl")
    echoed = [r for r in records if r.data.startswith(b"Event: QueueMemberPause") and b"Paused: 1" in r.data]
    text = echoed[0].data.replace(b"PausedReason: break", b"PausedReason: " + action.get("Reason").encode())
    records = [TraceRecord(r.t, r.direction, text if r is echoed[0] else r.data) for r in records]
    events = [e for e in replay_records(records) if e["type"] == "agent.state"]
    assert [(e["line"], e["state"], e["reason"]) for e in events] == [
        ("305", "wrap_up", WRAP_UP_REASON),
        ("305", "ready", None),
    ]


@pytest.mark.parametrize("interface_format", ["SIP/{0}", "PJSIP/{0}"])
def test_queue_members_dialled_directly_as_phones(interface_format):
    """queueExtensionFormat naming the phone itself: AgentCalled points at the phone channel, no Local pair."""
    feed = Feeder(queue_extension_format=interface_format)
    interface = interface_format.format("305")
    dest = snap(*PHONE, "Down", OP305, CALLER, prefix="Dest")
    feed(ev("Newchannel", snap(*TRUNK, state="Up", cid=CALLER)))
    feed(ev("Newchannel", snap(*PHONE, state="Down", cid=OP305)))
    feed(ev("AgentCalled", snap(*TRUNK, cid=CALLER), dest, Queue="support", Interface=interface))
    feed(ev("DialBegin", snap(*TRUNK, cid=CALLER), dest, DialString="305"))
    feed(ev("Newstate", snap(*PHONE, state="Ringing", cid=OP305, cl=CALLER)))
    feed.answer()
    feed(ev("QueueMemberPause", Queue="support", Interface="Local/305@from-queue/n", Paused="1"))  # not ours
    feed(ev("QueueMemberPause", Queue="support", Interface=interface, Paused="1", PausedReason="break"))
    feed.hangup(TRUNK, PHONE)
    assert feed.types() == ["call.ringing", "call.answered", "agent.state", "call.ended"]
    assert {e.call["queue"] for e in feed.events if e.call} == {"support"}
    assert feed.events[-1].call["end_reason"] == "completed"
    assert feed.tracker.agent_state("305") == {"state": "not_ready", "reason": "break", "queues": ["support"]}
