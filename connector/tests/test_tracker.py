"""Call tracker rules that the recordings alone do not pin down, fed message by message."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.ami.message import Message
from connector.ami.tracker import CallTracker, TrackerConfig
from connector.tests.tracker_feed import CALLER, OP305, PHONE, TRUNK, Feeder, ev, snap

pytestmark = pytest.mark.timeout(60)


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


def test_packet_info_config_copies_fields_and_channel_variables_into_extra():
    feed = Feeder(packet_info_config=("crm_id", "AccountCode"))
    feed(ev("Newchannel", snap(*TRUNK, state="Ring", cid=CALLER)))
    dial = ev("DialBegin", snap(*TRUNK, cid=CALLER), snap(*PHONE, "Down", OP305, CALLER, prefix="Dest"))
    dial.add("ChanVariable", "crm_id=42")
    dial.add("AccountCode", "sales")
    feed(dial)
    feed(ev("Newstate", snap(*PHONE, state="Ringing", cid=OP305, cl=CALLER)))
    assert feed.events[0].call["extra"] == {"crm_id": "42", "AccountCode": "sales"}


def test_set_lines_changes_who_is_tracked():
    feed = Feeder(lines=frozenset({"306"}))
    feed.ring()
    assert feed.events == []
    feed.tracker.set_lines({"305"})
    feed.hangup(PHONE, TRUNK)
    feed.ring()
    assert feed.types() == ["call.ringing"]


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


def test_an_originate_that_never_rang_does_not_colour_a_later_call():
    feed = Feeder()
    feed(Message.from_pairs([("Action", "Originate"), ("Channel", "SIP/305"), ("Exten", "79031112233")]))
    feed(ev("OriginateResponse", Channel="SIP/305", Response="Failure", Reason="0", Uniqueid="<unknown>"))
    feed.ring(ringing_first=True)
    # the Originate that never reached the phone is shown as a failed call of its own
    assert feed.types() == ["call.dialing", "call.ended", "call.ringing"]
    failed, later = feed.events[1].call, feed.events[2].call
    assert (failed["direction"], failed["end_reason"], failed["remote_number"]) == ("outbound", "failed", "79031112233")
    assert feed.events[1].data == {"asterisk_reason": "Originate reason 0 (failed)"}
    assert later["direction"] == "inbound" and later["id"] != failed["id"]


def test_click_to_call_takes_the_number_from_the_originate_it_was_fed():
    feed = Feeder()
    feed(Message.from_pairs([("Action", "Originate"), ("Channel", "SIP/305"), ("Exten", "79031112233")]))
    feed(ev("Newchannel", snap(*PHONE, state="Down", cid=OP305)))
    feed(ev("DialBegin", snap(*PHONE, prefix="Dest")))
    assert feed.types() == ["call.dialing"]
    call = feed.events[0].call
    assert (call["direction"], call["remote_number"], call["state"]) == ("outbound", "79031112233", "dialing")


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
