"""The builder of the hand-built AMI scenarios: records, channels, and the call steps they share.

Every step emits the events, in the order and with the fields, that the
recorded Asterisk 20 traces (tests/traces/) show for it. The scenario modules
(``scenarios.py``, ``reconnects.py``, ``atxfer.py``, ``realworld.py``,
``queues.py``) compose these steps; ``build.py`` writes their records.
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


# -- channels and scenarios --------------------------------------------------------

CALLER = ("79161234567", "Ivan Petrov")
NOBODY = ("<unknown>", "<unknown>")


def operator(line: str) -> tuple[str, str]:
    """The caller id of ``line``'s phone."""
    return line, f"Operator {line}"


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

    @classmethod
    def resume(cls, trace: str, after: float, at: float) -> Scenario:
        """The recorded ``trace`` up to time ``after``, continued by hand from time ``at``."""
        records = load(trace)
        cut = next(i for i, r in enumerate(records) if r["t"] > after)
        s = cls()
        s.records = records[:cut]
        s.t = records[cut - 1]["t"]
        return s.at(at)

    def at(self, t: float) -> Scenario:
        self.t = max(self.t, t)
        return self

    def add(self, text: str, direction: str = "in", dt: float = 0.001) -> None:
        self.t += dt
        self.records.append(rec(self.t, text, direction))

    def ev(self, name: str, *snapshots: dict, **fields: str) -> None:
        self.add(event(name, *snapshots, **fields))

    def action(self, name: str, action_id: str, *fields: tuple[str, str], message: str) -> None:
        """An action the connector sends and Asterisk's Success response carrying ``message``."""
        self.add(msg(("Action", name), ("ActionID", action_id), *fields), "out")
        self.add(msg(("Response", "Success"), ("ActionID", action_id), ("Message", message)))

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
            self.enter(bridge, c, count)

    def enter(self, bridge: str, c: Channel, count: int) -> None:
        self.ev("BridgeEnter", c.snap(), BridgeUniqueid=bridge, BridgeType="basic", BridgeNumChannels=str(count))

    def leave(self, bridge: str, c: Channel, left: int) -> None:
        self.ev("BridgeLeave", c.snap(), BridgeUniqueid=bridge, BridgeType="basic", BridgeNumChannels=str(left))

    def destroy(self, bridge: str) -> None:
        self.ev("BridgeDestroy", BridgeUniqueid=bridge, BridgeType="basic", BridgeNumChannels="0")

    def hangup(self, c: Channel, cause: int = 16, text: str = "Normal Clearing", request: bool = False) -> None:
        if request:
            self.ev("HangupRequest", c.snap(), Cause=str(cause))
        self.ev("Hangup", c.snap(), Cause=str(cause), **{"Cause-txt": text})

    def hangs_up(self, first: Channel, other: Channel, bridge: str) -> None:
        """``first`` hangs up a two-party ``bridge``; ``other``, left alone in it, is hung up too."""
        self.ev("HangupRequest", first.snap(), Cause="16")
        self.leave(bridge, first, 1)
        self.leave(bridge, other, 0)
        self.hangup(first)
        self.hangup(other)

    def answered_trunk(self) -> Channel:
        """The external caller's channel, answered by the dialplan (as before a Queue())."""
        trunk = self.channel("trunk", CALLER)
        self.new(trunk)
        self.state(trunk, "Ring")
        self.state(trunk, "Up")
        return trunk

    def ring_direct(self, caller_id: tuple, line: str, endpoint: str = "trunk") -> tuple[Channel, Channel]:
        """A caller (external, or another phone) dials ``line`` directly; it rings (the inbound-answered trace's order)."""
        trunk = self.channel(endpoint, caller_id)
        phone = self.channel(line, operator(line), linked=trunk)
        self.new(trunk)
        self.state(trunk, "Ring")
        self.new(phone)
        self.connected(phone, caller_id)
        self.dial(trunk, phone, line)
        self.connected(trunk, operator(line))
        self.state(phone, "Ringing")
        return trunk, phone

    def answer_direct(self, trunk: Channel, phone: Channel, bridge: str) -> None:
        """The phone ``ring_direct`` rang answers; caller and phone meet in ``bridge``."""
        self.state(phone, "Up")
        self.dial_end(trunk, phone, "ANSWER")
        self.state(trunk, "Up")
        self.bridge(bridge, phone, trunk)

    def answered_direct(
        self, line: str, caller_id: tuple = CALLER, bridge: str = "", endpoint: str = "trunk"
    ) -> tuple[Channel, Channel]:
        """``ring_direct``, and the phone answers after 2 s (``bridge`` defaults to ``b-<its Uniqueid>``)."""
        trunk, phone = self.ring_direct(caller_id, line, endpoint)
        self.at(self.t + 2)
        self.answer_direct(trunk, phone, bridge or f"b-{phone.uniqueid}")
        return trunk, phone

    def hold(self, phone: Channel, held: Channel) -> None:
        """The operator puts the call on hold from his phone; the other party hears music."""
        self.ev("Hold", phone.snap(), MusicClass="default")
        self.ev("MusicOnHoldStart", held.snap(), Class="default")

    def unhold(self, phone: Channel, held: Channel) -> None:
        """The operator takes the held party back; the music stops."""
        self.ev("Unhold", phone.snap())
        self.ev("MusicOnHoldStop", held.snap())

    def dial_on(self, caller: Channel, line: str, caller_id: tuple = CALLER) -> Channel:
        """``caller``, already answered, dials ``line``; its phone rings showing ``caller_id``."""
        target = self.channel(line, operator(line), linked=caller)
        self.new(target)
        self.connected(target, caller_id)
        self.dial(caller, target, line)
        self.state(target, "Ringing")
        return target

    def answer_on(self, caller: Channel, target: Channel, bridge: str) -> None:
        """The phone ``dial_on`` rang answers; it and ``caller`` meet in ``bridge``."""
        self.state(target, "Up")
        self.dial_end(caller, target, "ANSWER")
        self.bridge(bridge, target, caller)

    def pickup(self, phone: Channel, line: str, caller_id: tuple) -> Channel:
        """``line`` picks the ringing ``phone`` up (``ast_do_pickup``); the picked leg hangs up, Cause 26."""
        picker = self.channel(line, operator(line))
        self.new(picker)
        self.state(picker, "Ring")
        self.connected(picker, caller_id)  # the picker sees who is calling
        self.state(picker, "Up")  # ast_answer on the picker
        self.ev("Rename", phone.snap(), Newname=phone.name + "<ZOMBIE>")
        self.ev("Pickup", picker.snap(), phone.snap("Target"))
        phone.name += "<ZOMBIE>"
        self.hangup(phone, 26, "Answered elsewhere")
        return picker

    def atxfer(self, phone: Channel, held: Channel, exten: str, linked: Channel) -> tuple[Channel, Channel]:
        """The connector's Atxfer from ``phone`` to ``exten``: ``held`` hears music, a Local pair starts."""
        fields = (("Channel", phone.name), ("Exten", exten), ("Context", "from-internal"))
        self.action("Atxfer", "rec-5", *fields, message="Atxfer successfully queued")
        self.ev("Hold", phone.snap())
        self.ev("MusicOnHoldStart", held.snap(), Class="default")
        one, two = self.local_pair(exten, "from-internal", linked)
        self.new(one)
        self.new(two, state="Ring")
        return one, two

    def consult(self, one: Channel, phone: Channel, bridge: str, consultation: str = "b-consult") -> None:
        """``phone`` leaves ``bridge`` for a new ``consultation`` bridge with the Local ``;1`` half."""
        self.ev("BridgeCreate", BridgeUniqueid=consultation, BridgeType="basic", BridgeNumChannels="0")
        self.enter(consultation, one, 1)
        self.leave(bridge, phone, 1)
        self.enter(consultation, phone, 2)

    def drop_consultation(self, one: Channel, consultation: str) -> None:
        """The connector hangs up the consultation's Local ``;1`` half (transfer_cancel)."""
        self.action("Hangup", "rec-6", ("Channel", one.name), message="Channel Hungup")
        self.ev("SoftHangupRequest", one.snap(), Cause="16")
        self.leave(consultation, one, 1)
        self.hangup(one)

    def rebridge(self, phone: Channel, held: Channel, consultation: str, bridge: str) -> None:
        """The consultation is over: ``phone`` goes back into ``bridge`` with ``held`` (REBRIDGE)."""
        self.leave(consultation, phone, 0)
        self.destroy(consultation)
        self.enter(bridge, phone, 2)
        self.unhold(phone, held)

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
            phone = self.channel(line, operator(line), linked=caller)
            self.new(phone)
            self.connected(phone, caller.cid)
            self.dial(two, phone, line)
            members[line] = (one, two, phone)
        for line in lines:
            one, _two, phone = members[line]
            self.state(phone, "Ringing")
            self.state(one, "Ringing")
        return members

    def queue_call_answered(self, line: str) -> tuple[Channel, dict]:
        """The caller joins the queue and its only member ``line`` answers after 2 s: (trunk, members)."""
        trunk = self.answered_trunk()
        members = self.queue_ring(trunk, [line])
        self.at(self.t + 2)
        self.queue_answer(trunk, members, line)
        return trunk, members

    def queue_ring_stops(self, caller: Channel, members: dict, status: str) -> None:
        """Every member's leg stops ringing: the queue's dial ends ``status``, the phone's ``CANCEL``."""
        for one, two, phone in members.values():
            self.dial_end(caller, one, status)
            self.hangup(one)
            self.dial_end(two, phone, "CANCEL")
            self.hangup(phone)
            self.hangup(two)

    def queue_answer(
        self, caller: Channel, members: dict, winner: str, queue: str = "support", picker: Channel | None = None
    ) -> None:
        """``winner``'s phone answers (or ``picker`` has picked it up); the other members stop ringing."""
        one, two, phone = members[winner]
        answerer = picker or phone
        tag = "pickup" if picker else phone.uniqueid
        if picker is None:
            self.state(phone, "Up")
        self.dial_end(two, answerer, "ANSWER")
        self.state(two, "Up")
        self.bridge(f"q2-{tag}", answerer, two)
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
        self.bridge(f"q1-{tag}", one, caller)

    def queue_hangup(self, caller: Channel, members: dict, winner: str, picker: Channel | None = None) -> None:
        """The caller hangs up the call ``queue_answer`` connected."""
        one, two, phone = members[winner]
        tag = "pickup" if picker else phone.uniqueid
        self.end_queue_call(caller, one, two, picker or phone, f"q1-{tag}", f"q2-{tag}")

    def end_queue_call(self, caller: Channel, one: Channel, two: Channel, member: Channel, q1: str, q2: str) -> None:
        """The caller hangs up: ``caller`` and the Local ``one`` leave ``q1``, ``two`` and ``member`` leave ``q2``."""
        self.ev("HangupRequest", caller.snap(), Cause="16")
        self.leave(q1, caller, 1)
        self.leave(q1, one, 0)
        self.hangup(one)
        self.hangup(caller)
        self.leave(q2, two, 1)
        self.hangup(two)
        self.leave(q2, member, 0)
        self.hangup(member)

    def finish(self) -> list[dict]:
        self.at(self.t + 1)
        self.add(msg(("Action", "Logoff"), ("ActionID", "rec-99")), "out")
        self.add(msg(("Response", "Goodbye"), ("ActionID", "rec-99"), ("Message", "Thanks for all the fish.")))
        return self.records
