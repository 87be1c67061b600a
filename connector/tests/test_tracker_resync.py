"""Call tracker state after a reconnect (resync) and what call control reads from it."""

from __future__ import annotations

import pytest

from connector.ami.replay import base_time, iter_messages
from connector.ami.trace import read_trace
from connector.ami.tracker import CallTracker, TrackerConfig
from connector.tests.tracker_feed import CALLER, OP305, PHONE, TRACES, TRUNK, Feeder, core_show, ev, snap

pytestmark = pytest.mark.timeout(60)


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


def test_resync_also_reads_status_list_items():
    tracker = CallTracker(TrackerConfig(lines=frozenset({"305"})))
    status = [
        ev("Status", snap("SIP/305-00000010", "2.2", "Ringing", OP305, CALLER, "2.1"), BridgeID="", Seconds="4"),
        ev("Status", snap("SIP/trunk-00000011", "2.1", "Ring", CALLER, OP305, "2.1"), BridgeID="", Seconds="5"),
    ]
    events = tracker.resync(status, [], 3000.0)
    assert [(e.type, e.call["direction"], e.call["remote_number"]) for e in events] == [
        ("call.ringing", "inbound", CALLER[0])
    ]
    assert events[0].call["started_at"] == "1970-01-01T00:49:56.000Z"
