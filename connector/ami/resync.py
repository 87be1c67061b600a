"""Rebuilding the live calls after a reconnect, from CoreShowChannels and QueueStatus.

Uniqueids survive a reconnect, so a call whose channels are still listed
carries on under its id. A call none of whose channels is listed ended
during the outage: it ends now, ``failed`` unless its evidence says more. A
listed operator channel that no call owns started during the outage: it
appears (opening event, then ``call.answered`` if it is bridged). No call
appears twice.
"""

from __future__ import annotations

from connector.ami.calls import Call, Channel
from connector.ami.endreasons import end_reason
from connector.ami.events import LineEvent
from connector.ami.message import Message
from connector.ami.rules import is_local, value_of


def _seconds(duration: str | None) -> float:
    """``01:02:03`` (CoreShowChannel Duration) or plain seconds -> seconds; 0 when unreadable."""
    if not duration:
        return 0.0
    try:
        total = 0.0
        for part in duration.strip().split(":"):
            total = total * 60 + float(part)
        return max(0.0, total)
    except ValueError:
        return 0.0


def resync_calls(tracker, channels: list[Message], queue_status: list[Message], at: float) -> list[LineEvent]:
    """See :meth:`connector.ami.tracker.CallTracker.resync`."""
    tracker._out = []
    tracker._at = at
    listed: dict[str, Message] = {}
    for item in channels:
        uniqueid = value_of(item.get("Uniqueid"))
        if uniqueid and value_of(item.get("Channel")):
            listed[uniqueid] = item
    # CoreShowChannel says Duration (h:m:s); a Status list item says Seconds
    ages = {u: _seconds(item.get("Duration") or item.get("Seconds")) for u, item in listed.items()}

    for uniqueid in [u for u in tracker.channels if u not in listed]:
        tracker._forget(tracker.channels[uniqueid])
    tracker.bridges = {}
    for uniqueid, item in listed.items():
        channel = tracker._ensure(item)
        tracker.matcher.learn(channel.name, channel.cid_num)
        channel.line = None  # look again: the endpoint may just have been learnt
        bridge = value_of(item.get("BridgeId") or item.get("BridgeID"))
        channel.bridge = bridge
        channel.hangup_requested = False
        if bridge:
            tracker.bridges.setdefault(bridge, set()).add(uniqueid)

    for call in tracker._all_calls():
        call.channels &= set(listed)
        remote_listed = call.remote in listed
        if call.channels or (call.hold == "park" and remote_listed):
            continue
        known = call.evidence.dial_statuses or call.evidence.causes or call.evidence.abandoned
        tracker._end(call, end_reason(call) if known and call.answered_at is None else "failed")

    groups: dict[tuple[str, str], list[Channel]] = {}
    for uniqueid in listed:
        channel = tracker.channels[uniqueid]
        line = tracker._line(channel)
        if line is not None and channel.call is None:
            groups.setdefault((line, channel.linkedid or uniqueid), []).append(channel)
    for (line, _linkedid), members in sorted(groups.items(), key=lambda kv: min(c.uniqueid for c in kv[1])):
        _appear(tracker, line, members, ages, at)

    for bridge in list(tracker.bridges):
        tracker._check_bridge(bridge)  # calls that were ringing may have been answered meanwhile

    if queue_status:
        tracker.agents.reset()
        for item in queue_status:
            tracker._out.extend(tracker.agents.feed(item))
    return [event for event in tracker._out if isinstance(event, LineEvent)]


def _appear(tracker, line: str, members: list[Channel], ages: dict[str, float], at: float) -> None:
    """A call that started while the link was down."""
    phones = [c for c in members if not is_local(c)] or members
    phone = phones[0]
    started = at - max(ages.get(c.uniqueid, 0.0) for c in members)
    placed = phone.uniqueid == phone.linkedid and phone.state != "Ringing"
    call: Call = tracker._new_call(line, phone, placed=placed)
    for channel in members:
        tracker._attach(call, channel)
    call.started_at = started
    call.offered = True
    number, name = phone.cl_num, phone.cl_name
    if placed and not number and phone.cid_num != phone.first_cid_num:
        number, name = phone.cid_num, phone.cid_name
    tracker._set_remote(call, number, name, announce=False)
    if any(tracker.matcher.is_line(n) for n in (number,)):
        call.direction = "internal"
    peers = []
    for channel in members:
        peers += [
            tracker.channels[u]
            for u in tracker.bridges.get(channel.bridge or "", ())
            if u in tracker.channels and u not in call.channels
        ]
    tracker._announce(call)
    if peers:
        call.remote = peers[0].uniqueid
        if call.remote_number is None:
            tracker._set_remote(call, peers[0].cid_num, peers[0].cid_name, announce=False)
        tracker._answer(call)  # the bridge time is not listed: answered as of now
