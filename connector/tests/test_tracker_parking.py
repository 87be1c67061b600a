"""Call tracker rules for parking: hold, pickup, give-up, pickup by another line."""

from __future__ import annotations

import pytest

from connector.tests.tracker_feed import CALLER, OP305, TRUNK, Feeder, ev, park, snap

pytestmark = pytest.mark.timeout(60)


def test_a_parked_caller_who_gives_up_ends_the_call_once():
    feed = Feeder()
    parked = park(feed)
    assert feed.types() == ["call.ringing", "call.answered", "call.held"]
    assert feed.tracker.live_calls("305")[0]["parking_slot"] == "701"
    feed(ev("ParkedCallGiveUp", parked, ParkingSpace="701"))
    feed.hangup(TRUNK)
    assert feed.types() == ["call.ringing", "call.answered", "call.held", "call.ended"]
    assert feed.events[-1].call["end_reason"] == "completed"


def test_a_parked_call_picked_up_by_another_line_is_transferred_there():
    feed = Feeder()
    parked = park(feed, leave_bridge=False)
    other = ("SIP/306-00000009", "1.9")
    feed(ev("Newchannel", snap(*other, state="Ring", cid=("306", "Operator 306"))))
    feed(ev("UnParkedCall", parked, snap(*other, prefix="Retriever"), ParkingSpace="701"))
    feed(ev("BridgeEnter", snap(*TRUNK), BridgeUniqueid="b2"))
    feed(ev("BridgeEnter", snap(*other), BridgeUniqueid="b2"))
    assert feed.types("305")[-2:] == ["call.transferred", "call.ended"]
    assert feed.types("306") == ["call.dialing", "call.answered"]
    assert feed.tracker.live_calls("306")[0]["remote_number"] == CALLER[0]


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
