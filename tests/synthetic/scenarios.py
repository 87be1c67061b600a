"""Hand-built AMI scenarios for what the recordings do not show (written by build.py).

Each follows the event order and fields of the recorded Asterisk 20 traces:
a caller abandoning a ring-all queue, a transfer to a queue, a Redirect, a
parked call timing out back to the operator, and phone Hold/Unhold. The
``Scenario`` builder here is shared by the other scenario modules.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRACES = HERE.parent / "traces" / "asterisk-20.20.1-sip"


def load(name: str) -> list[dict]:
    with open(TRACES / f"{name}.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write(name: str, records: list[dict]) -> None:
    with open(HERE / f"{name}.jsonl", "w", encoding="utf-8", newline="") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def msg(*pairs: tuple[str, str], **fields: str) -> str:
    lines = [f"{k}: {v}" for k, v in pairs] + [f"{k.replace('_', '-')}: {v}" for k, v in fields.items()]
    return "\r\n".join(lines) + "\r\n\r\n"


def rec(t: float, text: str, direction: str = "in") -> dict:
    return {"t": round(t, 6), "dir": direction, "msg": text}


def chan(prefix: str, name: str, uniqueid: str, linkedid: str, state: str, cid: tuple, cl: tuple) -> dict:
    """The channel snapshot fields Asterisk puts in events (``prefix`` ``Dest``, ``Parkee``...)."""
    codes = {"Down": "0", "Ring": "4", "Ringing": "5", "Up": "6"}
    return {
        f"{prefix}Channel": name,
        f"{prefix}ChannelState": codes[state],
        f"{prefix}ChannelStateDesc": state,
        f"{prefix}CallerIDNum": cid[0],
        f"{prefix}CallerIDName": cid[1],
        f"{prefix}ConnectedLineNum": cl[0],
        f"{prefix}ConnectedLineName": cl[1],
        f"{prefix}Uniqueid": uniqueid,
        f"{prefix}Linkedid": linkedid,
    }


def event(name: str, *snapshots: dict, **fields: str) -> str:
    pairs = [("Event", name), ("Privilege", "call,all")]
    for snapshot in snapshots:
        pairs += list(snapshot.items())
    pairs += [(k, v) for k, v in fields.items()]
    return msg(*pairs)


# -- hand-built scenarios ----------------------------------------------------------

CALLER = ("79161234567", "Ivan Petrov")
NOBODY = ("<unknown>", "<unknown>")


class Channel:
    """A channel of a hand-built scenario; ``snap()`` gives its event fields."""

    def __init__(self, name: str, uniqueid: str, linkedid: str, cid: tuple, cl: tuple = NOBODY) -> None:
        self.name, self.uniqueid, self.linkedid = name, uniqueid, linkedid
        self.cid, self.cl, self.state = cid, cl, "Down"

    def snap(self, prefix: str = "") -> dict:
        return chan(prefix, self.name, self.uniqueid, self.linkedid, self.state, self.cid, self.cl)


class Scenario:
    """Records after the login preamble of a real trace, at increasing times."""

    def __init__(self, preamble_from: str = "inbound-answered") -> None:
        records = load(preamble_from)
        end = next(i for i, r in enumerate(records) if r["msg"].startswith("Event: StatusComplete"))
        self.records = records[: end + 1]
        self.t = self.records[-1]["t"]
        self._uid = 0
        self._seq = 0x200

    def at(self, t: float) -> Scenario:
        self.t = max(self.t, t)
        return self

    def add(self, text: str, direction: str = "in", dt: float = 0.001) -> None:
        self.t += dt
        self.records.append(rec(self.t, text, direction))

    def ev(self, name: str, *snapshots: dict, **fields: str) -> None:
        self.add(event(name, *snapshots, **fields))

    def channel(self, endpoint: str, cid: tuple, linked: Channel | None = None, cl: tuple = NOBODY) -> Channel:
        self._uid += 1
        self._seq += 1
        uniqueid = f"1795709000.{self._uid}"
        name = f"SIP/{endpoint}-{self._seq:08x}"
        return Channel(name, uniqueid, linked.linkedid if linked else uniqueid, cid, cl)

    def local_pair(self, exten: str, context: str, linked: Channel) -> tuple[Channel, Channel]:
        self._seq += 1
        base = f"Local/{exten}@{context}-{self._seq:08x}"
        one = Channel(base + ";1", f"1795709000.{self._uid + 1}", linked.linkedid, NOBODY)
        two = Channel(base + ";2", f"1795709000.{self._uid + 2}", linked.linkedid, NOBODY)
        self._uid += 2
        return one, two

    # common steps
    def new(self, c: Channel, state: str = "Down", **fields: str) -> None:
        c.state = state
        self.ev("Newchannel", c.snap(), Context="from-internal", Exten="s", **fields)

    def state(self, c: Channel, state: str) -> None:
        c.state = state
        self.ev("Newstate", c.snap())

    def connected(self, c: Channel, cl: tuple) -> None:
        c.cl = cl
        self.ev("NewConnectedLine", c.snap())

    def dial(self, caller: Channel | None, dest: Channel, dial_string: str) -> None:
        snaps = ([caller.snap()] if caller else []) + [dest.snap("Dest")]
        self.ev("DialBegin", *snaps, DialString=dial_string)

    def dial_end(self, caller: Channel | None, dest: Channel, status: str) -> None:
        snaps = ([caller.snap()] if caller else []) + [dest.snap("Dest")]
        self.ev("DialEnd", *snaps, DialStatus=status)

    def bridge(self, bridge: str, *channels: Channel) -> None:
        self.ev("BridgeCreate", BridgeUniqueid=bridge, BridgeType="basic", BridgeNumChannels="0")
        for count, c in enumerate(channels, start=1):
            self.ev("BridgeEnter", c.snap(), BridgeUniqueid=bridge, BridgeType="basic", BridgeNumChannels=str(count))

    def leave(self, bridge: str, c: Channel, left: int) -> None:
        self.ev("BridgeLeave", c.snap(), BridgeUniqueid=bridge, BridgeType="basic", BridgeNumChannels=str(left))

    def hangup(self, c: Channel, cause: int = 16, text: str = "Normal Clearing", request: bool = False) -> None:
        if request:
            self.ev("HangupRequest", c.snap(), Cause=str(cause))
        self.ev("Hangup", c.snap(), Cause=str(cause), **{"Cause-txt": text})

    def inbound_answered(self, line: str) -> tuple[Channel, Channel]:
        """The external caller reaches ``line`` directly; the phone answers after 2 s."""
        trunk = self.channel("trunk", CALLER)
        phone = self.channel(line, (line, f"Operator {line}"), linked=trunk)
        self.new(trunk)
        self.state(trunk, "Ring")
        self.new(phone)
        self.connected(phone, CALLER)
        self.dial(trunk, phone, line)
        self.connected(trunk, (line, f"Operator {line}"))
        self.state(phone, "Ringing")
        self.at(self.t + 2)
        self.state(phone, "Up")
        self.dial_end(trunk, phone, "ANSWER")
        self.state(trunk, "Up")
        self.bridge(f"b-{phone.uniqueid}", phone, trunk)
        return trunk, phone

    def queue_ring(self, caller: Channel, lines: list[str], queue: str = "support", join: bool = True) -> dict:
        """``caller`` waits in ``queue``; every member's Local pair dials its phone, which rings."""
        if join:
            self.ev("QueueCallerJoin", caller.snap(), Queue=queue, Position="1", Count="1")
        members = {}
        for line in lines:
            one, two = self.local_pair(line, "from-queue", caller)
            one.cid, two.cid, two.state = ("74951230000", ""), caller.cid, "Ring"
            self.new(one)
            self.new(two, state="Ring")
            interface = f"Local/{line}@from-queue/n"
            self.ev("AgentCalled", caller.snap(), one.snap("Dest"), Queue=queue, Interface=interface, MemberName=line)
            self.dial(caller, one, interface)
            phone = self.channel(line, (line, f"Operator {line}"), linked=caller)
            self.new(phone)
            self.connected(phone, caller.cid)
            self.dial(two, phone, line)
            members[line] = (one, two, phone)
        for line in lines:
            one, _two, phone = members[line]
            self.state(phone, "Ringing")
            self.state(one, "Ringing")
        return members

    def queue_answer(self, caller: Channel, members: dict, winner: str, queue: str = "support") -> None:
        one, two, phone = members[winner]
        self.state(phone, "Up")
        self.dial_end(two, phone, "ANSWER")
        self.state(two, "Up")
        self.bridge(f"q2-{phone.uniqueid}", phone, two)
        self.state(one, "Up")
        self.dial_end(caller, one, "ANSWER")
        for line, (l1, l2, p) in members.items():
            if line == winner:
                continue
            self.dial_end(caller, l1, "CANCEL")
            self.hangup(l1, 26, "Answered elsewhere")
            self.dial_end(l2, p, "CANCEL")
            self.hangup(p, 26, "Answered elsewhere")
            self.hangup(l2, 26, "Answered elsewhere")
        self.ev("QueueCallerLeave", caller.snap(), Queue=queue, Position="1", Count="0")
        self.ev("AgentConnect", caller.snap(), one.snap("Dest"), Queue=queue, Interface=f"Local/{winner}@from-queue/n")
        self.bridge(f"q1-{phone.uniqueid}", one, caller)

    def queue_hangup(self, caller: Channel, members: dict, winner: str) -> None:
        one, two, phone = members[winner]
        self.ev("HangupRequest", caller.snap(), Cause="16")
        self.leave(f"q1-{phone.uniqueid}", caller, 1)
        self.leave(f"q1-{phone.uniqueid}", one, 0)
        self.hangup(one)
        self.hangup(caller)
        self.leave(f"q2-{phone.uniqueid}", two, 1)
        self.hangup(two)
        self.leave(f"q2-{phone.uniqueid}", phone, 0)
        self.hangup(phone)

    def finish(self) -> list[dict]:
        self.at(self.t + 1)
        self.add(msg(("Action", "Logoff"), ("ActionID", "rec-99")), "out")
        self.add(msg(("Response", "Goodbye"), ("ActionID", "rec-99"), ("Message", "Thanks for all the fish.")))
        return self.records


def queue_abandon() -> list[dict]:
    """Ring-all queue, both members ring, the caller gives up after 5 s."""
    s = Scenario()
    trunk = s.channel("trunk", CALLER)
    s.new(trunk)
    s.state(trunk, "Ring")
    s.state(trunk, "Up")
    members = s.queue_ring(trunk, ["305", "306"])
    s.at(s.t + 5)
    s.ev("HangupRequest", trunk.snap(), Cause="16")
    for _line, (one, two, phone) in members.items():
        s.dial_end(trunk, one, "CANCEL")
        s.hangup(one)
        s.dial_end(two, phone, "CANCEL")
        s.hangup(phone)
        s.hangup(two)
    s.ev("QueueCallerAbandon", trunk.snap(), Queue="support", Position="1", OriginalPosition="1", HoldTime="5")
    s.hangup(trunk, 0, "Unknown")
    return s.finish()


def transfer_to_queue() -> list[dict]:
    """307 answers a direct call and blind-transfers it to the queue; 306 answers, 305 loses."""
    s = Scenario()
    trunk, phone = s.inbound_answered("307")
    s.at(s.t + 2)
    s.add(msg(("Action", "BlindTransfer"), ("ActionID", "rec-5"), ("Channel", phone.name), ("Exten", "600")), "out")
    s.add(msg(("Response", "Success"), ("ActionID", "rec-5"), ("Message", "Transfer succeeded")))
    s.ev(
        "BlindTransfer",
        phone.snap("Transferer"),
        trunk.snap("Transferee"),
        BridgeUniqueid=f"b-{phone.uniqueid}",
        Result="Success",
        IsExternal="Yes",
        Context="from-internal",
        Extension="600",
    )
    s.leave(f"b-{phone.uniqueid}", phone, 1)
    s.leave(f"b-{phone.uniqueid}", trunk, 0)
    s.hangup(phone)
    members = s.queue_ring(trunk, ["305", "306"])
    s.at(s.t + 3)
    s.queue_answer(trunk, members, "306")
    s.at(s.t + 4)
    s.queue_hangup(trunk, members, "306")
    return s.finish()


def redirect() -> list[dict]:
    """An AMI Redirect sends 305's caller to 306: no transfer event at all; 306 answers."""
    s = Scenario()
    trunk, phone = s.inbound_answered("305")
    s.at(s.t + 2)
    s.add(
        msg(
            ("Action", "Redirect"),
            ("ActionID", "rec-5"),
            ("Channel", trunk.name),
            ("Exten", "306"),
            ("Context", "from-internal"),
            ("Priority", "1"),
        ),
        "out",
    )
    s.add(msg(("Response", "Success"), ("ActionID", "rec-5"), ("Message", "Redirect successful")))
    s.leave(f"b-{phone.uniqueid}", trunk, 1)
    s.leave(f"b-{phone.uniqueid}", phone, 0)
    s.hangup(phone)
    target = s.channel("306", ("306", "Operator 306"), linked=trunk)
    s.new(target)
    s.connected(target, CALLER)
    s.dial(trunk, target, "306")
    s.state(target, "Ringing")
    s.at(s.t + 2)
    s.state(target, "Up")
    s.dial_end(trunk, target, "ANSWER")
    s.bridge(f"b-{target.uniqueid}", target, trunk)
    s.at(s.t + 3)
    s.ev("HangupRequest", trunk.snap(), Cause="16")
    s.leave(f"b-{target.uniqueid}", trunk, 1)
    s.leave(f"b-{target.uniqueid}", target, 0)
    s.hangup(trunk)
    s.hangup(target)
    return s.finish()


def park_timeout() -> list[dict]:
    """A parked call times out and comes back to 305 (the dial arrives before ParkedCallTimeOut)."""
    s = Scenario()
    trunk, phone = s.inbound_answered("305")
    s.at(s.t + 2)
    s.add(
        msg(("Action", "Park"), ("ActionID", "rec-5"), ("Channel", trunk.name), ("TimeoutChannel", phone.name)), "out"
    )
    s.add("Response: Success\r\nActionID: rec-5\r\nMessage: Park successful\n\r\n\r\n")
    parked = dict(ParkerDialString="SIP/305", Parkinglot="default", ParkingSpace="701", ParkingTimeout="45")
    s.ev("ParkedCall", trunk.snap("Parkee"), **parked)
    s.leave(f"b-{phone.uniqueid}", trunk, 1)
    s.ev("BridgeEnter", trunk.snap(), BridgeUniqueid="parking-701", BridgeType="parking", BridgeNumChannels="1")
    s.at(s.t + 0.6)
    s.leave(f"b-{phone.uniqueid}", phone, 0)
    s.hangup(phone)
    s.at(s.t + 45)
    s.leave("parking-701", trunk, 0)
    back = s.channel("305", ("305", "Operator 305"), linked=trunk)
    s.new(back)
    s.connected(back, CALLER)
    s.dial(trunk, back, "305")
    s.state(back, "Ringing")
    s.ev("ParkedCallTimeOut", trunk.snap("Parkee"), **parked)
    s.at(s.t + 2)
    s.state(back, "Up")
    s.dial_end(trunk, back, "ANSWER")
    s.bridge(f"b-{back.uniqueid}", back, trunk)
    s.at(s.t + 3)
    s.ev("HangupRequest", trunk.snap(), Cause="16")
    s.leave(f"b-{back.uniqueid}", trunk, 1)
    s.leave(f"b-{back.uniqueid}", back, 0)
    s.hangup(trunk)
    s.hangup(back)
    return s.finish()


def phone_hold() -> list[dict]:
    """305 puts the caller on hold from the phone and takes him back; then hangs up."""
    s = Scenario()
    trunk, phone = s.inbound_answered("305")
    s.at(s.t + 2)
    s.ev("Hold", phone.snap(), MusicClass="default")
    s.ev("MusicOnHoldStart", trunk.snap(), Class="default")
    s.at(s.t + 3)
    s.ev("Unhold", phone.snap())
    s.ev("MusicOnHoldStop", trunk.snap())
    s.at(s.t + 2)
    s.ev("HangupRequest", phone.snap(), Cause="16")
    s.leave(f"b-{phone.uniqueid}", phone, 1)
    s.leave(f"b-{phone.uniqueid}", trunk, 0)
    s.hangup(phone)
    s.hangup(trunk)
    return s.finish()


SCENARIOS = {
    "queue-abandon": queue_abandon,
    "transfer-to-queue": transfer_to_queue,
    "redirect": redirect,
    "park-timeout": park_timeout,
    "phone-hold": phone_hold,
}
