"""One call as seen from one operator's line, and what it knows about its channels."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


def iso_time(at: float | None) -> str | None:
    """Unix time -> ISO 8601 UTC with milliseconds and ``Z`` (PROTOCOL.md)."""
    if at is None:
        return None
    moment = datetime.fromtimestamp(round(at, 3), tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Evidence:
    """What Asterisk said about how the call went; read only when the call ends."""

    dial_statuses: set[str] = field(default_factory=set)  # DialEnd of the main dial
    leg_status: str | None = None  # DialEnd of an Originate's first leg (the operator's phone)
    causes: set[int] = field(default_factory=set)  # Hangup causes of the operator's channels
    cause_text: str | None = None
    remote_gone: bool = False  # the other party hung up while the call was not answered
    abandoned: bool = False  # QueueCallerAbandon for the caller
    answered_elsewhere: bool = False  # the caller's dial was answered by another destination
    rang_out: bool = False  # AgentRingNoAnswer: the queue gave up on this member
    originate_reason: str | None = None  # OriginateResponse Reason on failure


@dataclass
class Call:
    """A call on one line. ``channels`` are the operator's side (phone, queue Local halves)."""

    id: str
    line: str
    started_at: float
    placed: bool  # the operator placed it (opening event ``call.dialing``)
    direction: str = "inbound"
    state: str = "new"  # before the opening event; then PROTOCOL.md's states
    remote_number: str | None = None
    remote_name: str | None = None
    queue: str | None = None
    parking_slot: str | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    end_reason: str | None = None
    extra: dict = field(default_factory=dict)
    # what the tracker needs, never published
    channels: set[str] = field(default_factory=set)  # Uniqueids of the operator's side
    remote: str | None = None  # Uniqueid of the other party's channel
    linkedid: str | None = None
    originate: bool = False  # an Originate rang the operator's phone first
    offered: bool = False  # a phone of this line was dialled for it
    deferred: bool = False  # an Originate leg that may be the pickup of a parked call: not shown yet
    hold: str | None = None  # "park" or "phone" while held
    remote_left: bool = False  # the other party left the bridge without hanging up (Redirect)
    evidence: Evidence = field(default_factory=Evidence)

    @property
    def announced(self) -> bool:
        return self.state != "new"

    @property
    def live(self) -> bool:
        return self.state not in ("new", "ended")

    def as_dict(self) -> dict:
        """The PROTOCOL.md call object (plus ``_linkedid``/``_uniqueid`` for the history)."""
        duration = None
        if self.answered_at is not None and self.ended_at is not None:
            duration = round(max(0.0, self.ended_at - self.answered_at), 3)
        return {
            "id": self.id,
            "line": self.line,
            "direction": self.direction,
            "state": "ringing" if self.state == "new" else self.state,
            "remote_number": self.remote_number,
            "remote_name": self.remote_name,
            "queue": self.queue,
            "parking_slot": self.parking_slot,
            "started_at": iso_time(self.started_at),
            "answered_at": iso_time(self.answered_at),
            "ended_at": iso_time(self.ended_at),
            "duration": duration,
            "end_reason": self.end_reason,
            "extra": dict(self.extra),
            "_linkedid": self.linkedid or "",
            "_uniqueid": self.id,
        }


@dataclass
class Channel:
    """One live Asterisk channel as the tracker knows it."""

    uniqueid: str
    name: str
    line: str | None
    linkedid: str | None = None
    state: str = ""
    cid_num: str | None = None
    cid_name: str | None = None
    cl_num: str | None = None
    cl_name: str | None = None
    first_cid_num: str | None = None  # caller ID at creation (an Originate overwrites it later)
    bridge: str | None = None
    hangup_requested: bool = False
    call: Call | None = None
    had_call: bool = False  # it has been part of a call (a transferred leg must not start another)
    dialled_by: str | None = None  # Uniqueid of the channel that dialled this one
