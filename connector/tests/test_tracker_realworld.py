"""Everyday situations beyond the recordings: pickup, unregistered phones, queue retries, call waiting.

The scenarios are tests/synthetic/*.jsonl (built by tests/synthetic/realworld.py); their exact
event lists are pinned in tests/expected/ by test_replay.py. These tests state what matters in
each, and vary the event order where Asterisk's threads may race.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.ami.message import Message
from connector.ami.replay import replay_records
from connector.ami.trace import TraceRecord, read_trace
from connector.ami.tracker import TrackerConfig
from connector.tests.test_replay import check_protocol
from connector.tests.tracker_feed import CALLER, TRACES, Feeder, ev, park

pytestmark = pytest.mark.timeout(60)

SYNTHETIC = Path(__file__).resolve().parents[2] / "tests" / "synthetic"


def events_of(name: str, **config) -> list[dict]:
    events = replay_records(read_trace(SYNTHETIC / f"{name}.jsonl"), TrackerConfig(**config))
    check_protocol(events)
    return events


def per_line(events: list[dict], line: str) -> list[tuple]:
    return [(e["type"], e["call"]["end_reason"]) for e in events if e["line"] == line and e.get("call")]


def test_a_picked_up_call_ends_answered_elsewhere_and_the_picker_gets_the_caller():
    events = events_of("call-pickup")
    assert per_line(events, "305") == [("call.ringing", None), ("call.ended", "answered_elsewhere")]
    assert per_line(events, "306") == [("call.ringing", None), ("call.answered", None), ("call.ended", "completed")]
    picked = [e["call"] for e in events if e["line"] == "306"][-1]
    assert (picked["direction"], picked["remote_number"], picked["remote_name"]) == ("inbound", *CALLER)


def test_picking_up_an_internal_call_connects_the_caller_with_the_picker():
    events = events_of("internal-call-pickup")
    assert per_line(events, "305") == [("call.ringing", None), ("call.ended", "answered_elsewhere")]
    assert [e["type"] for e in events if e["line"] == "307"] == [
        "call.dialing",
        "call.answered",
        "call.updated",
        "call.ended",
    ]
    finals = {e["line"]: e["call"] for e in events if e["type"] == "call.ended"}
    assert (finals["307"]["remote_number"], finals["307"]["end_reason"]) == ("306", "completed")
    assert (finals["306"]["remote_number"], finals["306"]["direction"]) == ("307", "internal")


def test_picking_up_a_queue_members_phone_moves_the_queue_leg_to_the_picker():
    events = events_of("queue-call-pickup")
    assert per_line(events, "305") == [("call.ringing", None), ("call.ended", "answered_elsewhere")]
    assert per_line(events, "306") == [("call.ringing", None), ("call.answered", None), ("call.ended", "completed")]
    picked = [e["call"] for e in events if e["line"] == "306"][-1]
    assert (picked["queue"], picked["remote_number"], picked["duration"]) == ("support", CALLER[0], 3.009)


def test_one_dial_to_two_devices_of_a_line_is_one_call():
    events = events_of("two-devices")
    assert per_line(events, "305") == [
        ("call.ringing", None),
        ("call.answered", None),
        ("call.ended", "completed"),
        ("call.ringing", None),
        ("call.ended", "cancelled"),
    ]
    assert len({e["call"]["id"] for e in events}) == 2


def _moved(records: list[TraceRecord], event: bytes, after: bytes) -> list[TraceRecord]:
    """The first record starting with ``event`` moved to just after the first one containing ``after``."""
    index = next(i for i, r in enumerate(records) if r.data.startswith(event))
    record = records.pop(index)
    target = next(i for i, r in enumerate(records) if after in r.data)
    records.insert(target + 1, TraceRecord(records[target].t, record.direction, record.data))
    return records


@pytest.mark.parametrize(
    ("event", "after"),
    [
        (b"Event: Pickup", b"Event: BridgeEnter\r\nPrivilege: call,all\r\nChannel: SIP/trunk"),  # bridge first
        (
            b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: SIP/305",
            b"Event: BridgeEnter\r\nPrivilege: call,all\r\nChannel: SIP/trunk",
        ),
    ],
    ids=["pickup-after-bridge", "zombie-hangup-late"],
)
def test_pickup_races_give_the_same_outcome(event, after):
    records = _moved(read_trace(SYNTHETIC / "call-pickup.jsonl"), event, after)
    events = replay_records(records)
    check_protocol(events)
    assert per_line(events, "305")[-1] == ("call.ended", "answered_elsewhere")
    assert per_line(events, "306") == [("call.ringing", None), ("call.answered", None), ("call.ended", "completed")]
    picked = [e["call"] for e in events if e["line"] == "306"][-1]
    assert (picked["direction"], picked["remote_number"]) == ("inbound", CALLER[0])


def test_an_unregistered_phone_leaves_no_ghost_and_a_failed_dial_ends_failed():
    events = events_of("inbound-unregistered")
    assert per_line(events, "308") == [("call.ringing", None), ("call.ended", "failed")]
    assert events[1]["asterisk_reason"] == "CHANUNAVAIL, Subscriber absent"
    assert per_line(events, "305")[-1] == ("call.ended", "completed")
    # the first call reached nobody: no line has a call from that caller
    assert all(e["call"]["remote_number"] != CALLER[0] for e in events)
    only_308 = events_of("inbound-unregistered", lines=frozenset({"308"}))
    assert [e["type"] for e in only_308] == ["call.ringing", "call.ended"]


def test_an_originate_to_an_unregistered_phone_is_a_failed_outbound_call():
    events = events_of("originate-unregistered")
    assert per_line(events, "308") == [("call.dialing", None), ("call.ended", "failed")]
    ended = events[-1]
    assert (ended["call"]["direction"], ended["call"]["remote_number"]) == ("outbound", "79031112233")
    assert ended["asterisk_reason"] == "Originate reason 0 (failed)"
    assert ended["call"]["duration"] is None


@pytest.mark.parametrize("protocol", ["SIP/", "PJSIP/"])
def test_an_originate_failure_for_a_call_that_rang_adds_no_second_call(protocol):
    # chan_sip answers Failure after the leg's DialEnd and Hangup; chan_pjsip before them
    path = TRACES / "originate-failed.jsonl" if protocol == "SIP/" else SYNTHETIC / "pjsip-originate-failed.jsonl"
    events = replay_records(read_trace(path), TrackerConfig(protocol=protocol))
    assert [e["type"] for e in events] == ["call.dialing", "call.ended"]


def test_a_failed_resume_leaves_the_parked_call_parked():
    feed = Feeder()
    park(feed)
    feed(Message.from_pairs([("Action", "Originate"), ("Channel", "SIP/305"), ("Exten", "701")]))
    feed(ev("OriginateResponse", Channel="SIP/305", Response="Failure", Reason="0", Uniqueid="<unknown>"))
    assert feed.types() == ["call.ringing", "call.answered", "call.held"]
    assert [c["state"] for c in feed.tracker.live_calls("305")] == ["held"]


def test_a_queue_that_rings_again_gives_each_ring_its_own_call():
    events = events_of("queue-ring-again")
    assert per_line(events, "305") == [
        ("call.ringing", None),
        ("call.ended", "no_answer"),
        ("call.ringing", None),
        ("call.answered", None),
        ("call.ended", "completed"),
    ]
    assert per_line(events, "306") == [
        ("call.ringing", None),
        ("call.ended", "no_answer"),
        ("call.ringing", None),
        ("call.ended", "answered_elsewhere"),
    ]
    ids = [e["call"]["id"] for e in events if e["line"] == "305" and e["type"] == "call.ringing"]
    assert len(set(ids)) == 2
    assert {e["call"]["queue"] for e in events} == {"support"}


def test_call_waiting_keeps_two_calls_apart_on_one_line():
    events = events_of("call-waiting")
    calls: dict[str, list[str]] = {}
    for e in events:
        calls.setdefault(e["call"]["remote_number"], []).append(e["type"])
    assert calls == {
        "79161234567": ["call.ringing", "call.answered", "call.held", "call.resumed", "call.ended"],
        "79257654321": ["call.ringing", "call.answered", "call.ended"],
        "79035550011": ["call.ringing", "call.ended"],
    }
    ends = {e["call"]["remote_number"]: e["call"]["end_reason"] for e in events if e["type"] == "call.ended"}
    assert ends == {"79161234567": "completed", "79257654321": "completed", "79035550011": "cancelled"}


def test_an_operator_reached_through_a_queue_by_an_attended_transfer_gets_the_caller():
    events = events_of("attended-transfer-to-queue")
    assert per_line(events, "307")[-2:] == [("call.transferred", None), ("call.ended", "transferred")]
    mine = [e for e in events if e["line"] == "305"]
    assert [e["type"] for e in mine] == ["call.ringing", "call.answered", "call.updated", "call.ended"]
    consult, after = mine[1]["call"], mine[2]["call"]
    assert (consult["direction"], consult["remote_number"], consult["queue"]) == ("internal", "307", "support")
    assert (after["direction"], after["remote_number"], after["remote_name"]) == ("inbound", *CALLER)
    assert mine[-1]["call"]["end_reason"] == "completed"


def test_a_blind_transfer_of_a_queue_call_gives_the_target_the_caller():
    events = events_of("queue-blind-transfer")
    assert per_line(events, "305") == [
        ("call.ringing", None),
        ("call.answered", None),
        ("call.transferred", None),
        ("call.ended", "transferred"),
    ]
    assert per_line(events, "306") == [("call.ringing", None), ("call.answered", None), ("call.ended", "completed")]
    target = [e["call"] for e in events if e["line"] == "306"][-1]
    assert (target["direction"], target["remote_number"], target["remote_name"]) == ("inbound", *CALLER)


def test_an_attended_transfer_made_on_the_phone_ends_both_of_the_operators_calls():
    events = events_of("phone-attended-transfer")
    mine = [(e["type"], e["call"]["remote_number"]) for e in events if e["line"] == "305"]
    assert mine[-4:] == [
        ("call.transferred", "79161234567"),
        ("call.ended", "79161234567"),
        ("call.transferred", "306"),
        ("call.ended", "306"),
    ]
    target = [e for e in events if e["line"] == "306"]
    assert [e["type"] for e in target] == ["call.ringing", "call.answered", "call.updated", "call.ended"]
    assert (target[-1]["call"]["direction"], target[-1]["call"]["remote_number"]) == ("inbound", CALLER[0])


def test_a_failed_originate_call_id_fits_the_history_and_needs_the_action():
    feed = Feeder(lines=frozenset({"308"}))
    response = {"Channel": "SIP/308", "Response": "Failure", "Reason": "0", "Uniqueid": "<unknown>"}
    feed(ev("OriginateResponse", ActionID="someone-else-1", **response))
    assert feed.events == []  # an Originate the tracker never saw sent is not an operator's call
    feed(Message.from_pairs([("Action", "Originate"), ("Channel", "SIP/308"), ("Exten", "79031112233")]))
    feed(ev("OriginateResponse", ActionID="x" * 200, **response))
    assert [e.type for e in feed.events] == ["call.dialing", "call.ended"]
    assert feed.events[0].call["id"] == "originate-" + "x" * 40
    assert feed.tracker.live_calls("308") == []
