"""Call tracker rules that the recordings alone do not pin down, fed message by message."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.ami.events import LineEvent
from connector.ami.message import Message
from connector.ami.replay import base_time, iter_messages
from connector.ami.trace import read_trace
from connector.ami.tracker import CallTracker, TrackerConfig

TRACES = Path(__file__).resolve().parents[2] / "tests" / "traces" / "asterisk-20.20.1-sip"
CALLER = ("79161234567", "Ivan Petrov")
OP305 = ("305", "Operator 305")

pytestmark = pytest.mark.timeout(60)


def ev(name: str, *snaps: dict, **fields: str) -> Message:
    pairs = [("Event", name)]
    for snap in snaps:
        pairs += list(snap.items())
    pairs += [(k.replace("_", "-"), v) for k, v in fields.items()]
    return Message.from_pairs(pairs)


def snap(name: str, uid: str, state: str = "Up", cid=("", ""), cl=("", ""), linked: str = "1.1", prefix: str = ""):
    return {
        f"{prefix}Channel": name,
        f"{prefix}ChannelStateDesc": state,
        f"{prefix}CallerIDNum": cid[0],
        f"{prefix}CallerIDName": cid[1],
        f"{prefix}ConnectedLineNum": cl[0],
        f"{prefix}ConnectedLineName": cl[1],
        f"{prefix}Uniqueid": uid,
        f"{prefix}Linkedid": linked,
    }


TRUNK = ("SIP/trunk-00000001", "1.1")
PHONE = ("SIP/305-00000002", "1.2")


class Feeder:
    def __init__(self, **config) -> None:
        config.setdefault("lines", frozenset({"305", "306"}))
        self.tracker = CallTracker(TrackerConfig(**config))
        self.t = 1000.0
        self.events: list[LineEvent] = []
        self.actions = []

    def __call__(self, message: Message, dt: float = 0.5) -> list:
        self.t += dt
        out = self.tracker.feed(message, self.t)
        self.events += [o for o in out if isinstance(o, LineEvent)]
        self.actions += [o for o in out if not isinstance(o, LineEvent)]
        return out

    def types(self, line: str = "305") -> list[str]:
        return [e.type for e in self.events if e.line == line]

    def ring(self, ringing_first: bool = False) -> None:
        """The caller's trunk channel dials phone 305, which rings."""
        self(ev("Newchannel", snap(*TRUNK, state="Ring", cid=CALLER)))
        self(ev("Newchannel", snap(*PHONE, state="Down", cid=OP305, cl=CALLER)))
        dial = ev(
            "DialBegin", snap(*TRUNK, state="Ring", cid=CALLER), snap(*PHONE, "Down", OP305, CALLER, prefix="Dest")
        )
        ringing = ev("Newstate", snap(*PHONE, state="Ringing", cid=OP305, cl=CALLER))
        for message in (ringing, dial) if ringing_first else (dial, ringing):
            self(message)

    def answer(self) -> None:
        self(ev("DialEnd", snap(*TRUNK, cid=CALLER), snap(*PHONE, prefix="Dest"), DialStatus="ANSWER"))
        self(ev("BridgeEnter", snap(*PHONE, cid=OP305, cl=CALLER), BridgeUniqueid="b1"))
        self(ev("BridgeEnter", snap(*TRUNK, cid=CALLER, cl=OP305), BridgeUniqueid="b1"))

    def hangup(self, *channels: tuple[str, str], cause: str = "16") -> None:
        for name, uid in channels:
            self(ev("Hangup", snap(name, uid), Cause=cause, Cause_txt="Normal Clearing"))


@pytest.mark.parametrize("ringing_first", [False, True])
@pytest.mark.parametrize("ring_on_state", [True, False])
def test_it_rings_once_whichever_comes_first(ringing_first, ring_on_state):
    feed = Feeder(send_ring_started_on_ringing_state=ring_on_state)
    feed.ring(ringing_first=ringing_first)
    assert feed.types() == ["call.ringing"]
    call = feed.events[0].call
    assert (call["direction"], call["remote_number"], call["remote_name"]) == ("inbound", *CALLER)


def test_ring_on_dial_rings_before_the_phone_reports_ringing():
    feed = Feeder(send_ring_started_on_ringing_state=False)
    feed(ev("Newchannel", snap(*TRUNK, state="Ring", cid=CALLER)))
    feed(
        ev("DialBegin", snap(*TRUNK, cid=CALLER), snap(*PHONE, "Down", OP305, CALLER, prefix="Dest"), DialString="305")
    )
    assert feed.types() == ["call.ringing"]


def test_a_phone_going_up_is_not_answered_until_bridged():
    feed = Feeder()
    feed.ring()
    feed(ev("Newstate", snap(*PHONE, state="Up", cid=OP305, cl=CALLER)))
    assert feed.types() == ["call.ringing"]
    feed.answer()
    assert feed.types() == ["call.ringing", "call.answered"]


def test_phone_hold_and_unhold_pair_and_stray_ones_change_nothing():
    feed = Feeder()
    feed.ring()
    feed.answer()
    feed(ev("Unhold", snap(*PHONE)))  # as after a BlindTransfer: no Hold before it
    feed(ev("Hold", snap(*PHONE)))
    feed(ev("Hold", snap(*PHONE)))
    feed(ev("Hold", snap(*TRUNK)))  # the other party's own hold is not the operator's
    feed(ev("Unhold", snap(*PHONE)))
    feed(ev("Unhold", snap(*PHONE)))
    assert feed.types() == ["call.ringing", "call.answered", "call.held", "call.resumed"]


@pytest.mark.parametrize(
    ("dial_status", "cause", "reason"),
    [
        ("BUSY", "17", "busy"),
        (None, "17", "busy"),
        ("NOANSWER", "16", "no_answer"),
        ("CANCEL", "16", "cancelled"),
        ("CANCEL", "26", "answered_elsewhere"),
        ("CHANUNAVAIL", "20", "failed"),
        (None, "127", "cancelled"),
        (None, "19", "no_answer"),
    ],
)
def test_end_reasons_of_a_call_that_rang(dial_status, cause, reason):
    feed = Feeder()
    feed.ring()
    if dial_status:
        for _ in range(2):  # the same DialEnd may arrive twice
            feed(ev("DialEnd", snap(*TRUNK), snap(*PHONE, prefix="Dest"), DialStatus=dial_status))
    feed.hangup(PHONE, cause=cause)
    feed.hangup(TRUNK, cause=cause)
    assert feed.types() == ["call.ringing", "call.ended"]
    assert feed.events[-1].call["end_reason"] == reason
    assert feed.events[-1].call["duration"] is None


def test_a_caller_who_hangs_up_first_cancels_the_ringing_call():
    feed = Feeder()
    feed.ring()
    feed.hangup(TRUNK, cause="0")
    feed.hangup(PHONE, cause="16")
    assert feed.events[-1].call["end_reason"] == "cancelled"


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


def test_a_parked_caller_who_gives_up_ends_the_call_once():
    feed = Feeder()
    feed.ring()
    feed.answer()
    parked = snap(*TRUNK, cid=CALLER, prefix="Parkee")
    feed(ev("ParkedCall", parked, ParkingSpace="701", ParkerDialString="SIP/305"))
    feed(ev("BridgeLeave", snap(*TRUNK), BridgeUniqueid="b1"))
    feed(ev("BridgeLeave", snap(*PHONE), BridgeUniqueid="b1"))
    feed.hangup(PHONE)
    assert feed.types() == ["call.ringing", "call.answered", "call.held"]
    assert feed.tracker.live_calls("305")[0]["parking_slot"] == "701"
    feed(ev("ParkedCallGiveUp", parked, ParkingSpace="701"))
    feed.hangup(TRUNK)
    assert feed.types() == ["call.ringing", "call.answered", "call.held", "call.ended"]
    assert feed.events[-1].call["end_reason"] == "completed"


def test_a_parked_call_picked_up_by_another_line_is_transferred_there():
    feed = Feeder()
    feed.ring()
    feed.answer()
    parked = snap(*TRUNK, cid=CALLER, prefix="Parkee")
    feed(ev("ParkedCall", parked, ParkingSpace="701", ParkerDialString="SIP/305"))
    feed.hangup(PHONE)
    other = ("SIP/306-00000009", "1.9")
    feed(ev("Newchannel", snap(*other, state="Ring", cid=("306", "Operator 306"))))
    feed(ev("UnParkedCall", parked, snap(*other, prefix="Retriever"), ParkingSpace="701"))
    feed(ev("BridgeEnter", snap(*TRUNK), BridgeUniqueid="b2"))
    feed(ev("BridgeEnter", snap(*other), BridgeUniqueid="b2"))
    assert feed.types("305")[-2:] == ["call.transferred", "call.ended"]
    assert feed.types("306") == ["call.dialing", "call.answered"]
    assert feed.tracker.live_calls("306")[0]["remote_number"] == CALLER[0]


def test_live_calls_agent_state_and_call_channels_mid_call():
    tracker = CallTracker(TrackerConfig())
    records = read_trace(TRACES / "queue-answered.jsonl")
    for at, _direction, message in iter_messages([r for r in records if r.t < 5.5], base_time(records)):
        tracker.feed(message, at)
    calls = tracker.live_calls("305")
    assert [c["state"] for c in calls] == ["active"]
    assert tracker.live_calls("306") == []
    assert tracker.agent_state("305") == {"state": "not_ready", "reason": "break", "queues": ["support"]}
    assert tracker.agent_state("306") == {"state": "ready", "reason": None, "queues": ["support"]}
    channels = tracker.call_channels("305", calls[0]["id"])
    assert channels["operator_channel"] == "SIP/305-0000003f"
    assert channels["remote_channel"] == "SIP/trunk-0000003e"
    assert channels["parking_slot"] is None and channels["bridge"]
    assert tracker.call_channels("305", "no-such-call") is None
    assert tracker.call_channels("306", calls[0]["id"]) is None


def test_packet_info_config_copies_fields_and_channel_variables_into_extra():
    feed = Feeder(packet_info_config=("crm_id", "AccountCode"))
    feed(ev("Newchannel", snap(*TRUNK, state="Ring", cid=CALLER)))
    dial = ev("DialBegin", snap(*TRUNK, cid=CALLER), snap(*PHONE, "Down", OP305, CALLER, prefix="Dest"))
    dial.add("ChanVariable", "crm_id=42")
    dial.add("AccountCode", "sales")
    feed(dial)
    feed(ev("Newstate", snap(*PHONE, state="Ringing", cid=OP305, cl=CALLER)))
    assert feed.events[0].call["extra"] == {"crm_id": "42", "AccountCode": "sales"}


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


def test_set_lines_changes_who_is_tracked():
    feed = Feeder(lines=frozenset({"306"}))
    feed.ring()
    assert feed.events == []
    feed.tracker.set_lines({"305"})
    feed.hangup(PHONE, TRUNK)
    feed.ring()
    assert feed.types() == ["call.ringing"]


def core_show(name: str, uid: str, state: str, bridge: str = "", cid=("", ""), cl=("", ""), linked="1.1") -> Message:
    return ev("CoreShowChannel", snap(name, uid, state, cid, cl, linked), BridgeId=bridge, Duration="00:00:07")


def test_resync_keeps_a_live_call_and_ends_a_vanished_one():
    feed = Feeder()
    feed.ring()
    feed.answer()
    listed = [core_show(*PHONE, "Up", "b1", OP305, CALLER), core_show(*TRUNK, "Up", "b1", CALLER, OP305)]
    assert feed.tracker.resync(listed, [], 2000.0) == []
    assert feed.tracker.resync(listed, [], 2001.0) == []
    events = feed.tracker.resync([], [], 2002.0)
    assert [(e.type, e.call["end_reason"]) for e in events] == [("call.ended", "failed")]
    assert feed.tracker.live_calls("305") == []


def test_resync_shows_a_call_that_started_during_the_outage_once():
    tracker = CallTracker(TrackerConfig(lines=frozenset({"305"})))
    listed = [
        core_show("SIP/305-00000010", "2.2", "Up", "b9", OP305, CALLER, linked="2.1"),
        core_show("SIP/trunk-00000011", "2.1", "Up", "b9", CALLER, OP305, linked="2.1"),
    ]
    events = tracker.resync(listed, [], 3000.0)
    assert [e.type for e in events] == ["call.ringing", "call.answered"]
    call = events[-1].call
    assert (call["direction"], call["remote_number"], call["state"]) == ("inbound", CALLER[0], "active")
    assert call["started_at"] == "1970-01-01T00:49:53.000Z"  # 7 s (Duration) before the resync
    assert tracker.resync(listed, [], 3001.0) == []
    hangup = tracker.feed(ev("Hangup", snap("SIP/305-00000010", "2.2"), Cause="16"), 3002.0)
    assert [e.type for e in hangup] == ["call.ended"]


def test_resync_queue_status_reports_pause_changes():
    feed = Feeder()
    feed(ev("QueueMember", Queue="support", Location="Local/305@from-queue/n", Paused="0"))
    assert feed.events == []
    paused = ev("QueueMember", Queue="support", Location="Local/305@from-queue/n", Paused="1", PausedReason="lunch")
    events = feed.tracker.resync([], [paused], 2000.0)
    assert [(e.type, e.data["state"], e.data["reason"]) for e in events] == [("agent.state", "not_ready", "lunch")]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "Newchannel",
                    "Newstate",
                    "DialBegin",
                    "DialEnd",
                    "Hangup",
                    "BridgeEnter",
                    "BridgeLeave",
                    "Hold",
                    "ParkedCall",
                    "UnParkedCall",
                    "AttendedTransfer",
                    "BlindTransfer",
                    "AgentCalled",
                    "QueueMemberPause",
                    "BridgeMerge",
                ]
            ),
            st.dictionaries(
                st.sampled_from(
                    [
                        "Channel",
                        "Uniqueid",
                        "DestChannel",
                        "DestUniqueid",
                        "BridgeUniqueid",
                        "ParkeeUniqueid",
                        "Cause",
                        "DialStatus",
                        "Interface",
                        "Queue",
                        "Paused",
                        "ChannelStateDesc",
                        "TransfererChannel",
                        "FromBridgeUniqueid",
                        "ToBridgeUniqueid",
                    ]
                ),
                st.sampled_from(
                    [
                        "SIP/305-00000001",
                        "SIP/306-00000002",
                        "Local/305@from-queue-00000001;1",
                        "1.1",
                        "1.2",
                        "b1",
                        "",
                        "x",
                        "16",
                        "Ringing",
                        "Up",
                        "Local/305@from-queue/n",
                        "1",
                    ]
                ),
            ),
        ),
        max_size=30,
    )
)
def test_feed_never_raises_and_keeps_one_end_per_call(messages):
    tracker = CallTracker(TrackerConfig(lines=frozenset({"305", "306"})))
    ended: set[tuple[str, str]] = set()
    failures = _Collect()
    logging.getLogger("connector.tracker").addHandler(failures)
    try:
        outputs = [tracker.feed(ev(name, **fields), 1000.0 + n) for n, (name, fields) in enumerate(messages)]
    finally:
        logging.getLogger("connector.tracker").removeHandler(failures)
    assert failures.records == []  # no rule blew up (feed would have swallowed it)
    for out in outputs:
        for event in out:
            if event.type == "call.ended":
                key = (event.line, event.call["id"])
                assert key not in ended
                ended.add(key)
            elif event.call is not None:
                assert (event.line, event.call["id"]) not in ended


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


def test_an_originate_that_never_rang_does_not_colour_a_later_call():
    feed = Feeder()
    feed(Message.from_pairs([("Action", "Originate"), ("Channel", "SIP/305"), ("Exten", "79031112233")]))
    feed(ev("OriginateResponse", Channel="SIP/305", Response="Failure", Reason="0", Uniqueid="<unknown>"))
    feed.ring(ringing_first=True)
    assert feed.types() == ["call.ringing"]
    assert feed.events[0].call["direction"] == "inbound"


def test_click_to_call_takes_the_number_from_the_originate_it_was_fed():
    feed = Feeder()
    feed(Message.from_pairs([("Action", "Originate"), ("Channel", "SIP/305"), ("Exten", "79031112233")]))
    feed(ev("Newchannel", snap(*PHONE, state="Down", cid=OP305)))
    feed(ev("DialBegin", snap(*PHONE, prefix="Dest")))
    assert feed.types() == ["call.dialing"]
    call = feed.events[0].call
    assert (call["direction"], call["remote_number"], call["state"]) == ("outbound", "79031112233", "dialing")


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


def test_an_internal_click_to_call_shows_the_calling_line_to_the_callee():
    feed = Feeder()
    feed(Message.from_pairs([("Action", "Originate"), ("Channel", "SIP/305"), ("Exten", "306")]))
    feed(ev("Newchannel", snap(*PHONE, state="Down", cid=OP305)))
    feed(ev("NewCallerid", snap(*PHONE, state="Down", cid=("306", "306"))))
    feed(ev("DialBegin", snap(*PHONE, prefix="Dest")))
    feed(ev("DialEnd", snap(*PHONE, prefix="Dest"), DialStatus="ANSWER"))
    callee = ("SIP/306-00000007", "1.7")
    feed(ev("Newchannel", snap(*callee, state="Down", cid=("306", "Operator 306"))))
    feed(
        ev(
            "DialBegin",
            snap(*PHONE, cid=("306", "306")),
            snap(*callee, cl=("306", "306"), prefix="Dest"),
            DialString="306",
        )
    )
    feed(ev("Newstate", snap(*callee, state="Ringing", cid=("306", "Operator 306"), cl=("306", "306"))))
    assert feed.types("305") == ["call.dialing"]
    assert feed.types("306") == ["call.ringing"]
    ringing = feed.events[-1].call
    assert (ringing["direction"], ringing["remote_number"]) == ("internal", "305")
    assert feed.tracker.live_calls("305")[0]["direction"] == "internal"


def park(feed: Feeder) -> dict:
    feed.ring()
    feed.answer()
    parked = snap(*TRUNK, cid=CALLER, prefix="Parkee")
    feed(ev("ParkedCall", parked, ParkingSpace="701", ParkerDialString="SIP/305"))
    feed(ev("BridgeLeave", snap(*TRUNK), BridgeUniqueid="b1"))
    feed(ev("BridgeLeave", snap(*PHONE), BridgeUniqueid="b1"))
    feed.hangup(PHONE)
    return parked


@pytest.mark.parametrize("answered", [True, False])
def test_an_unrecognised_pickup_leg_is_not_shown_as_a_new_call(answered):
    feed = Feeder()
    parked = park(feed)
    leg = ("SIP/305-00000020", "1.20")  # an Originate to the slot, neither its number nor the action known
    feed(ev("Newchannel", snap(*leg, state="Down", cid=OP305)))
    feed(ev("DialBegin", snap(*leg, prefix="Dest")))
    feed(ev("Newstate", snap(*leg, state="Ringing", cid=OP305)))
    if answered:
        feed(ev("DialEnd", snap(*leg, prefix="Dest"), DialStatus="ANSWER"))
        feed(ev("UnParkedCall", parked, snap(*leg, prefix="Retriever"), ParkingSpace="701"))
        feed(ev("BridgeEnter", snap(*TRUNK), BridgeUniqueid="b3"))
        feed(ev("BridgeEnter", snap(*leg), BridgeUniqueid="b3"))
        assert feed.types() == ["call.ringing", "call.answered", "call.held", "call.resumed"]
        assert feed.tracker.call_channels("305", feed.events[0].call["id"])["operator_channel"] == leg[0]
    else:
        feed(ev("DialEnd", snap(*leg, prefix="Dest"), DialStatus="NOANSWER"))
        feed.hangup(leg)
        assert feed.types() == ["call.ringing", "call.answered", "call.held"]
        assert feed.tracker.live_calls("305")[0]["parking_slot"] == "701"


def test_a_hidden_pickup_leg_bridged_before_unparkedcall_resumes_the_parked_call():
    feed = Feeder()
    park(feed)
    leg = ("SIP/305-00000021", "1.21")
    feed(ev("Newchannel", snap(*leg, state="Down", cid=OP305)))
    feed(ev("DialBegin", snap(*leg, prefix="Dest")))
    feed(ev("BridgeEnter", snap(*TRUNK), BridgeUniqueid="b4"))
    feed(ev("BridgeEnter", snap(*leg), BridgeUniqueid="b4"))
    assert feed.types() == ["call.ringing", "call.answered", "call.held", "call.resumed"]
    feed.hangup(leg, TRUNK)
    assert feed.types()[-1] == "call.ended"
    assert len({e.call["id"] for e in feed.events}) == 1


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
