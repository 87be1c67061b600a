"""How the simulator writes AMI: events, responses and channel snapshots.

Events are not actions, so they do not go through ``build_action``; the same
rule holds here: a value with CR, LF or NUL is refused, never sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_FORBIDDEN = re.compile(r"[\r\n\x00]")

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
UNKNOWN = "<unknown>"

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}

Pairs = list[tuple[str, str]]


class UnsafeEventValue(ValueError):
    """A header value that would break AMI framing."""


def format_message(pairs: Iterable[tuple[str, object]], trailer: str = "") -> bytes:
    """Serialise headers in order, CRLF-separated, ending with a blank line.

    ``trailer`` is appended to the last line before the terminator (Asterisk's
    ``Park`` reply carries a stray LF there).
    """
    lines = []
    for key, value in pairs:
        text = "" if value is None else str(value)
        if _FORBIDDEN.search(text) or _FORBIDDEN.search(key):
            raise UnsafeEventValue(f"{key}: contains a line break or NUL character")
        lines.append(f"{key}: {text}")
    return ("\r\n".join(lines) + trailer + "\r\n\r\n").encode("utf-8")


def event(name: str, pairs: Pairs, privilege: str = "call,all") -> Pairs:
    """The header list of one event: ``Event`` and ``Privilege`` first, as Asterisk sends them."""
    return [("Event", name), ("Privilege", privilege), *pairs]


def response(action_id: str | None, status: str, pairs: Pairs) -> Pairs:
    """A ``Response:`` header list with the action's ActionID echoed when given."""
    out: Pairs = [("Response", status)]
    if action_id is not None:
        out.append(("ActionID", action_id))
    out.extend(pairs)
    return out


class Channel:
    """One simulated channel, with the fields Asterisk puts in every channel snapshot."""

    __slots__ = (
        "name",
        "state",
        "cid_num",
        "cid_name",
        "conn_num",
        "conn_name",
        "context",
        "exten",
        "priority",
        "uniqueid",
        "linkedid",
        "bridge",
        "line",
        "created",
        "application",
        "hung_up",
    )

    def __init__(
        self,
        name: str,
        uniqueid: str,
        linkedid: str,
        *,
        state: int = 0,
        cid_num: str = UNKNOWN,
        cid_name: str = UNKNOWN,
        context: str = "from-internal",
        exten: str = "s",
        priority: int = 1,
        line: str | None = None,
        created: float = 0.0,
    ) -> None:
        self.name = name
        self.state = state
        self.cid_num = cid_num
        self.cid_name = cid_name
        self.conn_num = UNKNOWN
        self.conn_name = UNKNOWN
        self.context = context
        self.exten = exten
        self.priority = priority
        self.uniqueid = uniqueid
        self.linkedid = linkedid
        self.bridge = None
        self.line = line
        self.created = created
        self.application = "AppDial"
        self.hung_up = False

    def snapshot(self, prefix: str = "") -> Pairs:
        """The standard channel block (``Channel`` ... ``Linkedid``), optionally prefixed (``Dest``)."""
        p = prefix
        return [
            (f"{p}Channel", self.name),
            (f"{p}ChannelState", str(self.state)),
            (f"{p}ChannelStateDesc", STATE_DESC[self.state]),
            (f"{p}CallerIDNum", self.cid_num),
            (f"{p}CallerIDName", self.cid_name),
            (f"{p}ConnectedLineNum", self.conn_num),
            (f"{p}ConnectedLineName", self.conn_name),
            (f"{p}Language", "en"),
            (f"{p}AccountCode", ""),
            (f"{p}Context", self.context),
            (f"{p}Exten", self.exten),
            (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Linkedid", self.linkedid),
        ]

    def __repr__(self) -> str:
        return f"Channel({self.name})"


class Bridge:
    """A mixing or holding bridge; ``members`` in the order they entered."""

    __slots__ = ("uniqueid", "type", "technology", "creator", "name", "members")

    def __init__(self, uniqueid: str, type_: str = "basic", creator: str = UNKNOWN, name: str = UNKNOWN) -> None:
        self.uniqueid = uniqueid
        self.type = type_
        self.technology = "holding_bridge" if type_ == "parking" else "simple_bridge"
        self.creator = creator
        self.name = name
        self.members: list[Channel] = []

    def snapshot(self, prefix: str = "") -> Pairs:
        """The bridge block (``BridgeUniqueid`` ... ``BridgeVideoSourceMode``), optionally prefixed."""
        p = prefix
        return [
            (f"{p}BridgeUniqueid", self.uniqueid),
            (f"{p}BridgeType", self.type),
            (f"{p}BridgeTechnology", self.technology),
            (f"{p}BridgeCreator", self.creator),
            (f"{p}BridgeName", self.name),
            (f"{p}BridgeNumChannels", str(len(self.members))),
            (f"{p}BridgeVideoSourceMode", "none"),
        ]
