"""List replies: CoreShowChannels, Status and QueueStatus, shaped like Asterisk 20's.

A list is a ``Response: Success`` with ``EventList: start``, one event per item
carrying the ActionID, then a ``...Complete`` event with ``ListItems``.
"""

from __future__ import annotations

import time

from connector.ami.message import Message
from connector.simulator.server import Session
from connector.simulator.wire import Channel


def _duration(channel: Channel) -> int:
    return int(time.time() - channel.created)


def _list(session: Session, message: Message, start_text: str, items: list[list], complete: str, extra=()) -> None:
    """A list reply: Response with ``EventList: start``, the items, then the Complete event."""
    action_id = message.action_id
    session.respond(message, "Success", [("EventList", "start"), ("Message", start_text)])
    for item in items:
        session.send(item)
    tail = [("Event", complete)]
    if action_id is not None:
        tail.append(("ActionID", action_id))
    tail += [("EventList", "Complete"), ("ListItems", str(len(items))), *extra]
    session.send(tail)


async def core_show_channels(session: Session, message: Message) -> None:
    """``CoreShowChannels``: one CoreShowChannel per live channel."""
    items = []
    for channel in session.pbx.channels.values():
        seconds = _duration(channel)
        item = [("Event", "CoreShowChannel")]
        if message.action_id is not None:
            item.append(("ActionID", message.action_id))
        item += channel.snapshot()
        item += [
            ("BridgeId", channel.bridge.uniqueid if channel.bridge else ""),
            ("Application", channel.application),
            ("ApplicationData", ""),
            ("Duration", f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"),
        ]
        items.append(item)
    _list(session, message, "Channels will follow", items, "CoreShowChannelsComplete")


async def status(session: Session, message: Message) -> None:
    """``Status``: one Status item per live channel (or the one named)."""
    items = []
    wanted = message.get("Channel")
    for channel in session.pbx.channels.values():
        if wanted and channel.name != wanted:
            continue
        item = [("Event", "Status"), ("Privilege", "Call"), *channel.snapshot()]
        item += [
            ("Type", channel.name.split("/", 1)[0]),
            ("DNID", ""),
            ("EffectiveConnectedLineNum", channel.conn_num),
            ("EffectiveConnectedLineName", channel.conn_name),
            ("TimeToHangup", "0"),
            ("BridgeID", channel.bridge.uniqueid if channel.bridge else ""),
            ("Application", channel.application),
            ("Data", ""),
            ("Nativeformats", "(ulaw)"),
            ("Readformat", "ulaw"),
            ("Readtrans", ""),
            ("Writeformat", "ulaw"),
            ("Writetrans", ""),
            ("Callgroup", "0"),
            ("Pickupgroup", "0"),
            ("Seconds", str(_duration(channel))),
        ]
        if message.action_id is not None:
            item.append(("ActionID", message.action_id))
        items.append(item)
    _list(session, message, "Channel status will follow", items, "StatusComplete", [("Items", str(len(items)))])


async def queue_status(session: Session, message: Message) -> None:
    """``QueueStatus``: params, members and waiting callers of queue ``support``."""
    pbx = session.pbx
    wanted = message.get("Queue")
    items = []
    if not wanted or wanted == pbx.config.queue:
        stats = pbx.queue_stats
        waiting = [c for c, o in ((c, pbx.owners.get(c.name)) for c in pbx.channels.values()) if _waiting(o, c)]
        params = [
            ("Event", "QueueParams"),
            ("Queue", pbx.config.queue),
            ("Max", "0"),
            ("Strategy", "ringall"),
            ("Calls", str(len(waiting))),
            ("Holdtime", "0"),
            ("TalkTime", "0"),
            ("Completed", str(stats["completed"])),
            ("Abandoned", str(stats["abandoned"])),
            ("ServiceLevel", "0"),
            ("ServicelevelPerf", "0.0"),
            ("ServicelevelPerf2", "0.0"),
            ("Weight", "0"),
        ]
        items.append(_with_id(params, message))
        for member in reversed(list(pbx.members.values())):
            pairs = [("Event", "QueueMember"), *pbx.member_pairs(member, pbx.member_status(member))]
            items.append(_with_id(pairs, message))
        for position, channel in enumerate(waiting, 1):
            pairs = [
                ("Event", "QueueEntry"),
                ("Queue", pbx.config.queue),
                ("Position", str(position)),
                ("Channel", channel.name),
                ("Uniqueid", channel.uniqueid),
                ("CallerIDNum", channel.cid_num),
                ("CallerIDName", channel.cid_name),
                ("ConnectedLineNum", channel.conn_num),
                ("ConnectedLineName", channel.conn_name),
                ("Wait", str(_duration(channel))),
                ("Priority", "0"),
            ]
            items.append(_with_id(pairs, message))
    _list(session, message, "Queue status will follow", items, "QueueStatusComplete")


def _waiting(owner: object, channel: Channel) -> bool:
    from connector.simulator.queue import QueueCall

    return isinstance(owner, QueueCall) and owner.caller is channel and owner.connected is None


def _with_id(pairs: list, message: Message) -> list:
    return pairs + ([("ActionID", message.action_id)] if message.action_id is not None else [])
