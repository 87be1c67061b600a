"""The simulated PBX: configuration, channels, bridges, phones and the event stream.

Everything here is synchronous and runs on one event loop, so the order in
which methods are called is exactly the order in which sessions see events.
Call flows (``dial``, ``calls``, ``features``) are built from these primitives.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from connector.simulator.wire import UNKNOWN, Bridge, Channel, Pairs, event

log = logging.getLogger(__name__)

CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "No answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    127: "Interworking, unspecified",
}


@dataclass
class Behaviour:
    """How a virtual phone (or the far end of an external number) treats an incoming call.

    ``mode``: ``answer`` (after ``answer_after`` seconds), ``manual`` (rings until
    answered by :meth:`Pbx.answer_line`, the caller gives up, or, when
    ``self_answer`` is set, that many seconds pass), ``busy`` (rejects with 486),
    ``no_answer`` (rings forever), ``offline`` (not registered).
    """

    mode: str = "answer"
    answer_after: float = 3.0
    self_answer: float = 0.0


@dataclass
class SimConfig:
    """What the simulated Asterisk looks like; the defaults match the recorded PBX."""

    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "terrasoft"
    secret: str = field(default="terrasoft", repr=False)
    protocol: str = "SIP/"
    lines: tuple[str, ...] = ("305", "306", "307")
    queue: str = "support"
    queue_members: tuple[str, ...] = ("305", "306")
    queue_interface: str = "Local/{0}@from-queue/n"
    queue_did: str = "74951230000"
    did_prefix: str = "74951230"
    trunk: str = "trunk"
    parking_lot: str = "default"
    parking_slots: tuple[int, int] = (701, 720)
    parking_timeout: float = 45.0
    login_failure_delay: float = 1.0
    atxfer_delay: float = 0.25
    local_optimize_delay: float = 0.3

    @property
    def tech(self) -> str:
        """``SIP`` or ``PJSIP``."""
        return self.protocol.rstrip("/")

    @property
    def pjsip(self) -> bool:
        """Whether chan_pjsip's behaviour applies."""
        return self.tech == "PJSIP"


@dataclass
class Member:
    """A static queue member (the vendor's ``Local/{line}@from-queue/n`` interface)."""

    line: str
    interface: str
    paused: bool = False
    reason: str = ""
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0


class Pbx:
    """The state of the simulated PBX and the single source of its events."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.started = time.time()
        self._unique = itertools.count(1)
        self._chan_seq = itertools.count(1)
        self._local_seq = itertools.count(1)
        self.listeners: list[Callable[[Pairs], None]] = []
        self.channels: dict[str, Channel] = {}
        self.behaviours: dict[str, Behaviour] = {line: Behaviour() for line in self.config.lines}
        self.world = Behaviour()  # external numbers called over the trunk
        self.numbers: dict[str, Behaviour] = {}  # per external number overrides
        self.ringing: dict[str, object] = {}  # line -> the Dial ringing it
        self.parking_bridge: Bridge | None = None
        self.parked: dict[str, object] = {}  # slot -> Parked
        now = int(self.started)
        self.members = {
            line: Member(line, self.config.queue_interface.replace("{0}", line), login_time=now)
            for line in self.config.queue_members
        }
        self.queue_stats = {"calls": 0, "completed": 0, "abandoned": 0}
        self.tasks: set[asyncio.Task] = set()
        self.owners: dict[str, object] = {}  # channel name -> the flow that handles its hangup
        self.by_line: dict[str, dict[str, Channel]] = {}  # line -> its live channels, oldest first
        self.local_partner: dict[str, Channel] = {}  # a bridged Local half -> its other half

    # --- ids and the event stream -------------------------------------------------

    def next_uniqueid(self) -> str:
        """A Uniqueid in Asterisk's ``<epoch>.<n>`` form."""
        return f"{int(time.time())}.{next(self._unique)}"

    def emit(self, name: str, pairs: Pairs, privilege: str = "call,all") -> None:
        """Send one event to every listening session."""
        message = event(name, pairs, privilege)
        for listener in list(self.listeners):
            listener(message)

    def spawn(self, coro) -> asyncio.Task:
        """Run a call flow in the background, keeping a reference until it ends."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._flow_done)
        return task

    def _flow_done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("A simulated call flow failed", exc_info=task.exception())

    # --- channels ----------------------------------------------------------------

    def line_name(self, line: str) -> str:
        """The caller ID name of a line's phone (``Operator 305``)."""
        return f"Operator {line}" if line in self.config.lines else line

    def is_line(self, number: str) -> bool:
        """Whether ``number`` is one of the simulated operators' lines."""
        return number in self.config.lines

    def new_channel(self, endpoint: str, linkedid: str | None = None, **fields) -> Channel:
        """Create ``SIP/305-0000002a`` (or PJSIP/, or the trunk) and emit Newchannel."""
        uniqueid = self.next_uniqueid()
        name = f"{self.config.tech}/{endpoint}-{next(self._chan_seq):08x}"
        line = endpoint if self.is_line(endpoint) else None
        channel = Channel(name, uniqueid, linkedid or uniqueid, line=line, created=time.time(), **fields)
        self.channels[name] = channel
        if line:
            self.by_line.setdefault(line, {})[name] = channel
        self.emit("Newchannel", channel.snapshot())
        return channel

    def new_local_pair(self, exten: str, context: str, linkedid: str) -> tuple[Channel, Channel]:
        """``Local/306@from-queue-00000009;1`` and ``;2``: Newchannel for both halves."""
        base = f"Local/{exten}@{context}-{next(self._local_seq):08x}"
        one = Channel(f"{base};1", self.next_uniqueid(), linkedid, context=context, exten=exten, created=time.time())
        two = Channel(
            f"{base};2", self.next_uniqueid(), linkedid, state=4, context=context, exten=exten, created=time.time()
        )
        for channel in (one, two):
            self.channels[channel.name] = channel
            self.emit("Newchannel", channel.snapshot())
        return one, two

    def set_state(self, channel: Channel, state: int) -> None:
        """Newstate, when the state changes."""
        if channel.state != state:
            channel.state = state
            self.emit("Newstate", channel.snapshot())

    def set_connected(self, channel: Channel, num: str, name: str) -> None:
        """NewConnectedLine with the other party's number and name."""
        channel.conn_num, channel.conn_name = num, name
        self.emit("NewConnectedLine", channel.snapshot())

    def set_callerid(self, channel: Channel, num: str, name: str) -> None:
        """NewCallerid (e.g. an Originate's CallerID overwrites the phone's own)."""
        channel.cid_num, channel.cid_name = num, name
        self.emit("NewCallerid", [*channel.snapshot(), ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])

    def hangup_request(self, channel: Channel, cause: int | None = 16, soft: bool = False) -> None:
        """HangupRequest, or SoftHangupRequest with ``soft``."""
        pairs = channel.snapshot()
        if cause is not None:
            pairs.append(("Cause", str(cause)))
        self.emit("SoftHangupRequest" if soft else "HangupRequest", pairs)

    def destroy(self, channel: Channel, cause: int = 16) -> None:
        """Emit Hangup and forget the channel (idempotent)."""
        if channel.hung_up:
            return
        channel.hung_up = True
        self.emit("Hangup", [*channel.snapshot(), ("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, ""))])
        self.channels.pop(channel.name, None)
        self.owners.pop(channel.name, None)
        if channel.line:
            self.by_line.get(channel.line, {}).pop(channel.name, None)
        if channel.line:
            self.device(channel.line, "NOT_INUSE")
        partner = self.local_partner.pop(channel.name, None)
        if partner is not None:
            self.local_partner.pop(partner.name, None)
            if not partner.hung_up:
                # A Local channel cannot outlive its other half.
                self.hangup(partner, cause)

    def link_local(self, one: Channel, two: Channel) -> None:
        """Hang up each half of a bridged Local pair when the other goes."""
        self.local_partner[one.name] = two
        self.local_partner[two.name] = one

    def abandon_cause(self) -> int:
        """Cause of a caller's leg that gave up while ringing: 0 on chan_sip, 127 on chan_pjsip."""
        return 127 if self.config.pjsip else 0

    # --- bridges -----------------------------------------------------------------

    def new_bridge(self, type_: str = "basic", creator: str = UNKNOWN, name: str = UNKNOWN) -> Bridge:
        """BridgeCreate for a new bridge."""
        bridge = Bridge(str(uuid.uuid4()), type_, creator, name)
        self.emit("BridgeCreate", bridge.snapshot())
        return bridge

    def enter(self, bridge: Bridge, channel: Channel, swap: Channel | None = None) -> None:
        """BridgeEnter (``SwapUniqueid`` when replacing a Local half)."""
        bridge.members.append(channel)
        channel.bridge = bridge
        pairs = [*bridge.snapshot(), *channel.snapshot()]
        if swap is not None:
            pairs.append(("SwapUniqueid", swap.uniqueid))
        self.emit("BridgeEnter", pairs)

    def leave(self, bridge: Bridge, channel: Channel) -> None:
        """BridgeLeave."""
        if channel in bridge.members:
            bridge.members.remove(channel)
        if channel.bridge is bridge:
            channel.bridge = None
        self.emit("BridgeLeave", [*bridge.snapshot(), *channel.snapshot()])

    def destroy_bridge(self, bridge: Bridge) -> None:
        """BridgeDestroy."""
        self.emit("BridgeDestroy", bridge.snapshot())

    def moh(self, channel: Channel, start: bool) -> None:
        """MusicOnHoldStart / MusicOnHoldStop."""
        if start:
            self.emit("MusicOnHoldStart", [*channel.snapshot(), ("Class", "default")])
        else:
            self.emit("MusicOnHoldStop", channel.snapshot())

    # --- phones, device state, queue members ---------------------------------------

    def behaviour(self, number: str) -> Behaviour:
        """How a line's phone or an external number answers."""
        if self.is_line(number):
            return self.behaviours.setdefault(number, Behaviour())
        return self.numbers.get(number, self.world)

    def device(self, line: str, state: str) -> None:
        """DeviceStateChange / ExtensionStatus / QueueMemberStatus for a phone."""
        device = f"{self.config.tech}/{line}"
        self.emit("DeviceStateChange", [("Device", device), ("State", state)])
        status, text = {"RINGING": (8, "Ringing"), "INUSE": (1, "InUse")}.get(state, (0, "Idle"))
        self.emit(
            "ExtensionStatus",
            [
                ("Exten", line),
                ("Context", "from-internal"),
                ("Hint", f"SIP/{line}&PJSIP/{line}"),
                ("Status", str(status)),
                ("StatusText", text),
            ],
        )
        member = self.members.get(line)
        if member is not None:
            member_status = {"RINGING": 6, "INUSE": 2}.get(state, 1)
            self.emit("QueueMemberStatus", self.member_pairs(member, member_status, ringinuse=True), "agent,all")

    def member_pairs(self, member: Member, status: int, ringinuse: bool = False) -> Pairs:
        """The member block shared by QueueMember, QueueMemberStatus and QueueMemberPause."""
        in_call = 1 if status == 2 else 0
        pairs = [
            ("Queue", self.config.queue),
            ("MemberName" if ringinuse else "Name", f"Operator {member.line}"),
            ("Interface" if ringinuse else "Location", member.interface),
            ("StateInterface", f"hint:{member.line}@from-internal"),
            ("Membership", "static"),
            ("Penalty", "0"),
            ("CallsTaken", str(member.calls_taken)),
            ("LastCall", str(member.last_call)),
            ("LastPause", str(member.last_pause)),
            ("LoginTime", str(member.login_time)),
            ("InCall", str(in_call)),
            ("Status", str(status)),
            ("Paused", "1" if member.paused else "0"),
            ("PausedReason", member.reason),
        ]
        if ringinuse:
            pairs.append(("Ringinuse", "0"))
        pairs.append(("Wrapuptime", "0"))
        return pairs

    def member_status(self, member: Member) -> int:
        """1 idle, 2 in use, 6 ringing (Asterisk's AST_DEVICE_* numbers)."""
        if member.line in self.ringing:
            return 6
        return 2 if self.line_busy(member.line) else 1

    def line_busy(self, line: str) -> bool:
        """Whether the line has any channel."""
        return bool(self.by_line.get(line))

    def answer_line(self, line: str) -> bool:
        """Answer the virtual phone of ``line`` if it is ringing; False when it is not."""
        dial = self.ringing.get(line)
        if dial is None:
            return False
        return dial.answer()

    def hangup_line(self, line: str) -> bool:
        """The operator puts the receiver down: hang up the line's newest channel."""
        channels = self.channels_of(line)
        if not channels:
            return False
        self.hangup(channels[-1], 16)
        return True

    def hangup(self, channel: Channel, cause: int = 16) -> None:
        """Hang up one channel the way its current role requires (ringing, talking, parked...)."""
        if channel.hung_up:
            return
        owner = self.owners.get(channel.name)
        if owner is not None:
            owner.hangup(channel, cause)
        else:
            self.hangup_request(channel, cause)
            self.destroy(channel, cause)

    def own(self, owner: object, *channels: Channel) -> None:
        """Route later hangups of ``channels`` to ``owner.hangup(channel, cause)``."""
        for channel in channels:
            self.owners[channel.name] = owner

    def find(self, name: str) -> Channel | None:
        """The live channel with this name."""
        return self.channels.get(name)

    def channels_of(self, line: str) -> list[Channel]:
        """The line's live channels, oldest first."""
        return list(self.by_line.get(line, {}).values())
