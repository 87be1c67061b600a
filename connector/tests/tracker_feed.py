"""Feeding the call tracker hand-made AMI events (shared by the test_tracker* modules)."""

from __future__ import annotations

from pathlib import Path

from connector.ami.events import LineEvent
from connector.ami.message import Message
from connector.ami.tracker import CallTracker, TrackerConfig

TRACES = Path(__file__).resolve().parents[2] / "tests" / "traces" / "asterisk-20.20.1-sip"
CALLER = ("79161234567", "Ivan Petrov")
OP305 = ("305", "Operator 305")


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


def park(feed: Feeder, leave_bridge: bool = True) -> dict:
    """305 answers the caller and parks him in slot 701, then hangs up; the Parkee snapshot.

    ``leave_bridge=False`` leaves out the two BridgeLeave events before the hangup.
    """
    feed.ring()
    feed.answer()
    parked = snap(*TRUNK, cid=CALLER, prefix="Parkee")
    feed(ev("ParkedCall", parked, ParkingSpace="701", ParkerDialString="SIP/305"))
    if leave_bridge:
        feed(ev("BridgeLeave", snap(*TRUNK), BridgeUniqueid="b1"))
        feed(ev("BridgeLeave", snap(*PHONE), BridgeUniqueid="b1"))
    feed.hangup(PHONE)
    return parked


def core_show(name: str, uid: str, state: str, bridge: str = "", cid=("", ""), cl=("", ""), linked="1.1") -> Message:
    return ev("CoreShowChannel", snap(name, uid, state, cid, cl, linked), BridgeId=bridge, Duration="00:00:07")
