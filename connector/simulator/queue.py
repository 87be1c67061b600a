"""A ring-all queue call: ``Queue(support)`` with ``Local/{line}@from-queue/n`` members.

Each member attempt is a Local pair: the caller dials ``;1`` (queue events name
``;1``), ``;2`` dials the phone. With ``/n`` the pair stays in the media path,
so an answered call is two bridges, caller-``;1`` and ``;2``-phone.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from connector.simulator.dial import ANSWER, Dial, Talk, phone_leg
from connector.simulator.pbx import Member, Pbx
from connector.simulator.wire import UNKNOWN, Channel

RETRY_SECONDS = 2.0


@dataclass
class Attempt:
    """One member being rung: its Local pair, phone leg and Dial."""

    member: Member
    one: Channel
    two: Channel
    phone: Channel | None = None
    dial: Dial | None = None
    started: float = 0.0


class QueueCall:
    """One caller waiting in the queue until a member answers or the caller gives up."""

    def __init__(self, pbx: Pbx, caller: Channel) -> None:
        self.pbx = pbx
        self.caller = caller
        self.queue = pbx.config.queue
        self.attempts: list[Attempt] = []
        self.joined = time.time()
        self.connected: Attempt | None = None
        self.done = False

    def _queue_pairs(self, count: int) -> list:
        return [("Queue", self.queue), ("Position", "1"), ("Count", str(count))]

    def _member_pairs(self, attempt: Attempt) -> list:
        member = attempt.member
        return [("Queue", self.queue), ("Interface", member.interface), ("MemberName", f"Operator {member.line}")]

    def start(self) -> None:
        """Answer(), join the queue with music on hold and ring the members."""
        pbx, caller = self.pbx, self.caller
        caller.priority = 2
        pbx.set_state(caller, 6)  # Answer()
        caller.priority = 3
        pbx.queue_stats["calls"] += 1
        pbx.own(self, caller)
        pbx.emit("DeviceStateChange", [("Device", f"Queue:{self.queue}"), ("State", "RINGING")])
        pbx.emit("QueueCallerJoin", [*caller.snapshot(), *self._queue_pairs(1)], "agent,all")
        pbx.moh(caller, True)
        self.ring_members()

    def ring_members(self) -> None:
        """Ring every free, unpaused, registered member at once (strategy ringall)."""
        pbx, caller, did = self.pbx, self.caller, self.pbx.config.queue_did
        if self.done or self.connected:
            return
        free = [
            m
            for m in pbx.members.values()
            if not m.paused and not pbx.line_busy(m.line) and pbx.behaviour(m.line).mode != "offline"
        ]
        if not free:
            asyncio.get_running_loop().call_later(RETRY_SECONDS, self.ring_members)
            return
        fresh: list[Attempt] = []
        for member in free:
            one, two = pbx.new_local_pair(member.line, "from-queue", caller.linkedid)
            pbx.set_callerid(one, did, UNKNOWN)
            two.conn_num = did
            pbx.set_callerid(two, caller.cid_num, caller.cid_name)
            pbx.set_connected(two, did, UNKNOWN)
            pbx.emit(
                "LocalBridge",
                [
                    *one.snapshot("LocalOne"),
                    *two.snapshot("LocalTwo"),
                    ("Context", "from-queue"),
                    ("Exten", member.line),
                    ("LocalOptimization", "No"),
                ],
            )
            attempt = Attempt(member, one, two, started=time.time())
            called = one.snapshot("Dest")
            called = [
                (
                    k,
                    caller.cid_num
                    if k == "DestConnectedLineNum"
                    else caller.cid_name
                    if k == "DestConnectedLineName"
                    else did
                    if k == "DestExten"
                    else v,
                )
                for k, v in called
            ]
            pbx.emit("AgentCalled", [*caller.snapshot(), *called, *self._member_pairs(attempt)], "agent,all")
            pbx.emit("DialBegin", [*caller.snapshot(), *one.snapshot("Dest"), ("DialString", member.interface)])
            pbx.own(self, one)
            fresh.append(attempt)
        self.attempts.extend(fresh)
        for attempt in fresh:
            line, two = attempt.member.line, attempt.two
            two.context, two.exten, two.priority = "from-internal", line, 2
            attempt.phone = phone_leg(pbx, line, two)
            attempt.dial = Dial(
                pbx,
                two,
                attempt.phone,
                line,
                line,
                on_ringing=lambda a=attempt: self._ringing(a),
                on_result=lambda status, a=attempt: self._result(a, status),
            )
            attempt.dial.end_caller_on_cancel = False
            attempt.dial.start()
            if attempt.dial.done:
                continue
            pbx.own(self, two)

    def _ringing(self, attempt: Attempt) -> None:
        pbx, one, phone = self.pbx, attempt.one, attempt.phone
        one.exten = pbx.config.queue_did
        one.conn_num, one.conn_name = self.caller.cid_num, self.caller.cid_name
        one.cid_num, one.cid_name = phone.cid_num, phone.cid_name
        pbx.set_state(one, 5)
        pbx.set_callerid(one, phone.cid_num, phone.cid_name)
        pbx.set_connected(one, self.caller.cid_num, self.caller.cid_name)
        pbx.emit("DialState", [*self.caller.snapshot(), *one.snapshot("Dest"), ("DialStatus", "RINGING")])

    def _result(self, attempt: Attempt, status: str) -> None:
        if status == ANSWER and self.connected is None and not self.done:
            self._connect(attempt)
        elif status != ANSWER and self.connected is None and not self.done:
            self._drop(attempt, status)

    def _drop(self, attempt: Attempt, status: str, cause: int = 16) -> None:
        """A member did not take the call: the Local pair goes; the caller keeps waiting."""
        pbx = self.pbx
        if attempt in self.attempts:
            self.attempts.remove(attempt)
        pbx.emit("DialEnd", [*self.caller.snapshot(), *attempt.one.snapshot("Dest"), ("DialStatus", status)])
        pbx.hangup_request(attempt.two, cause)
        pbx.destroy(attempt.one, cause)
        pbx.hangup_request(attempt.two, 16, soft=True)
        pbx.destroy(attempt.two, cause)
        if not self.attempts and not self.done:
            asyncio.get_running_loop().call_later(RETRY_SECONDS, self.ring_members)

    def _connect(self, winner: Attempt) -> None:
        pbx, caller = self.pbx, self.caller
        self.connected = winner
        losers = [a for a in self.attempts if a is not winner]
        inner = pbx.new_bridge()
        pbx.enter(inner, winner.phone)
        pbx.set_state(winner.one, 6)
        pbx.emit("DialEnd", [*caller.snapshot(), *winner.one.snapshot("Dest"), ("DialStatus", ANSWER)])
        for loser in losers:
            pbx.emit("DialEnd", [*caller.snapshot(), *loser.one.snapshot("Dest"), ("DialStatus", "CANCEL")])
        pbx.set_connected(caller, winner.member.line, f"Operator {winner.member.line}")
        for loser in losers:
            # Asterisk reports the losing member's DialEnd twice.
            pbx.emit("DialEnd", [*caller.snapshot(), *loser.one.snapshot("Dest"), ("DialStatus", "CANCEL")])
            pbx.hangup_request(loser.two, 26)
            pbx.destroy(loser.one, 26)
        pbx.moh(caller, False)
        for loser in losers:
            loser.dial.cancel(26)
        pbx.emit("DeviceStateChange", [("Device", f"Queue:{self.queue}"), ("State", "NOT_INUSE")])
        pbx.emit("QueueCallerLeave", [*caller.snapshot(), *self._queue_pairs(0)], "agent,all")
        waited = str(int(time.time() - self.joined))
        pbx.emit(
            "AgentConnect",
            [
                *caller.snapshot(),
                *winner.one.snapshot("Dest"),
                *self._member_pairs(winner),
                ("HoldTime", waited),
                ("RingTime", str(int(time.time() - winner.started))),
            ],
            "agent,all",
        )
        for loser in losers:
            pbx.hangup_request(loser.two, 16, soft=True)
            pbx.destroy(loser.two, 26)
        pbx.enter(inner, winner.two)
        outer = pbx.new_bridge()
        pbx.enter(outer, winner.one)
        pbx.enter(outer, caller)
        self.attempts = [winner]
        self.talk_time = time.time()
        Talk(pbx, winner.two, winner.phone, bridge=inner)
        outer_talk = Talk(pbx, caller, winner.one, bridge=outer)
        outer_talk.on_hangup = self._complete
        pbx.link_local(winner.one, winner.two)

    def _complete(self, channel: Channel) -> None:
        """AgentComplete when the caller-side bridge breaks up."""
        pbx, winner = self.pbx, self.connected
        member = winner.member
        member.calls_taken += 1
        member.last_call = int(time.time())
        pbx.queue_stats["completed"] += 1
        pbx.emit(
            "AgentComplete",
            [
                *self.caller.snapshot(),
                *winner.one.snapshot("Dest"),
                *self._member_pairs(winner),
                ("HoldTime", str(int(self.talk_time - self.joined))),
                ("TalkTime", str(int(time.time() - self.talk_time))),
                ("Reason", "caller" if channel is self.caller else "agent"),
            ],
            "agent,all",
        )

    def hangup(self, channel: Channel, cause: int = 16) -> None:
        """Owner hook while nobody has answered: the caller abandons, or one attempt is dropped."""
        pbx, caller = self.pbx, self.caller
        if channel is not caller:
            for attempt in list(self.attempts):
                if channel in (attempt.one, attempt.two):
                    attempt.dial.cancel()  # its result drops the attempt
            return
        self.done = True
        pbx.hangup_request(caller, None)
        for attempt in list(self.attempts):
            pbx.emit("DialEnd", [*caller.snapshot(), *attempt.one.snapshot("Dest"), ("DialStatus", "CANCEL")])
            pbx.hangup_request(attempt.two, 16)
            pbx.destroy(attempt.one, 16)
            attempt.dial.cancel()
            pbx.hangup_request(attempt.two, 16, soft=True)
            pbx.destroy(attempt.two, 16)
        self.attempts = []
        pbx.moh(caller, False)
        pbx.queue_stats["abandoned"] += 1
        pbx.emit("DeviceStateChange", [("Device", f"Queue:{self.queue}"), ("State", "NOT_INUSE")])
        held = str(int(time.time() - self.joined))
        pbx.emit(
            "QueueCallerAbandon",
            [
                *caller.snapshot(),
                ("Queue", self.queue),
                ("Position", "1"),
                ("OriginalPosition", "1"),
                ("HoldTime", held),
            ],
            "agent,all",
        )
        pbx.emit("QueueCallerLeave", [*caller.snapshot(), *self._queue_pairs(0)], "agent,all")
        pbx.hangup_request(caller, 16, soft=True)
        pbx.destroy(caller, pbx.abandon_cause())
