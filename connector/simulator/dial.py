"""Dial() and a two-party bridge: the building blocks of every simulated call.

The event order follows the recorded Asterisk 20 traces: the dialled leg is
``Newchannel(Down)``, ``NewConnectedLine``, ``DialBegin``, ``Newstate Ringing``,
``DialState RINGING``; on answer ``Newstate Up`` (callee), ``DialEnd ANSWER``,
``Newstate Up`` (caller), then the bridge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from connector.simulator.pbx import Behaviour, Pbx
from connector.simulator.wire import UNKNOWN, Bridge, Channel

ANSWER, BUSY, CANCEL, NOANSWER, CHANUNAVAIL = "ANSWER", "BUSY", "CANCEL", "NOANSWER", "CHANUNAVAIL"


def phone_leg(pbx: Pbx, line: str, caller: Channel | None, linkedid: str | None = None) -> Channel:
    """The operator's phone channel being dialled (``Exten: s``, then the connected line)."""
    channel = pbx.new_channel(
        line, linkedid or (caller.linkedid if caller else None), cid_num=line, cid_name=pbx.line_name(line)
    )
    if caller is not None:
        channel.exten = line
        pbx.set_connected(channel, caller.cid_num, caller.cid_name)
    return channel


def trunk_leg(pbx: Pbx, number: str, caller: Channel) -> Channel:
    """The trunk channel towards an external number: the dialled number becomes its CallerIDNum."""
    channel = pbx.new_channel(pbx.config.trunk, caller.linkedid, context="from-trunk")
    channel.exten = number
    channel.conn_num, channel.conn_name = caller.cid_num, caller.cid_name
    pbx.set_callerid(channel, number, caller.cid_name if caller.cid_num == number else UNKNOWN)
    pbx.set_connected(channel, caller.cid_num, caller.cid_name)
    return channel


class Dial:
    """One Dial() from ``caller`` (None for an Originate's first leg) to ``dest``.

    ``on_ringing`` and ``on_result`` are called synchronously, so a flow can put
    its own events exactly where Asterisk puts them.
    """

    def __init__(
        self,
        pbx: Pbx,
        caller: Channel | None,
        dest: Channel,
        dialstring: str,
        number: str,
        on_ringing: Callable[[], None] | None = None,
        on_result: Callable[[str], None] | None = None,
        behaviour: Behaviour | None = None,
    ) -> None:
        self.pbx = pbx
        self.caller = caller
        self.dest = dest
        self.dialstring = dialstring
        self.number = number
        self.on_ringing = on_ringing
        self.on_result = on_result
        self.behaviour = behaviour  # overrides the destination's own behaviour for this call
        self.result: asyncio.Future = asyncio.get_running_loop().create_future()
        self.status: str | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self.end_caller_on_cancel = True

    def _pairs(self) -> list:
        pairs = self.caller.snapshot() if self.caller is not None else []
        return pairs + self.dest.snapshot("Dest")

    async def run(self, timeout: float | None = None) -> str:
        """Ring the destination; returns ANSWER, BUSY, CANCEL or NOANSWER."""
        self.start(timeout)
        return await self.result

    def start(self, timeout: float | None = None, connect_caller: bool = True) -> None:
        """DialBegin and ringing (or an immediate BUSY); the outcome arrives in ``result``."""
        pbx, dest = self.pbx, self.dest
        pbx.own(self, dest)
        if self.caller is not None:
            pbx.own(self, self.caller)
        pbx.emit("DialBegin", [*self._pairs(), ("DialString", self.dialstring)])
        if self.caller is not None and dest.line and connect_caller:
            pbx.set_connected(self.caller, dest.cid_num, dest.cid_name)
        behaviour = self.behaviour or pbx.behaviour(self.number)
        if dest.line:
            pbx.device(dest.line, "RINGING")
        if behaviour.mode == "busy":
            self._end(BUSY)
            pbx.destroy(dest, 17)
            return
        pbx.set_state(dest, 5)
        if self.on_ringing is not None:
            self.on_ringing()
        pbx.emit("DialState", [*self._pairs(), ("DialStatus", "RINGING")])
        if dest.line:
            pbx.ringing[dest.line] = self
        loop = asyncio.get_running_loop()
        if behaviour.mode == "answer":
            self._timers.append(loop.call_later(behaviour.answer_after, self.answer))
        elif behaviour.mode == "manual" and behaviour.self_answer > 0:
            self._timers.append(loop.call_later(behaviour.self_answer, self.answer))
        if timeout is not None:
            self._timers.append(loop.call_later(timeout, self.time_out))

    def _end(self, status: str) -> None:
        self.pbx.emit("DialEnd", [*self._pairs(), ("DialStatus", status)])
        self._finish(status)

    def _finish(self, status: str) -> None:
        if self.status is not None:
            return
        self.status = status
        for timer in self._timers:
            timer.cancel()
        line = self.dest.line
        if line and self.pbx.ringing.get(line) is self:
            del self.pbx.ringing[line]
        self.result.set_result(status)
        if self.on_result is not None:
            self.on_result(status)

    @property
    def done(self) -> bool:
        """Whether the Dial has an outcome."""
        return self.status is not None

    def answer(self) -> bool:
        """The callee picks up."""
        if self.done:
            return False
        pbx, dest = self.pbx, self.dest
        if dest.line:
            pbx.ringing.pop(dest.line, None)
            pbx.device(dest.line, "INUSE")
        pbx.set_state(dest, 6)
        dest.exten = ""
        self.pbx.emit("DialEnd", [*self._pairs(), ("DialStatus", ANSWER)])
        if self.caller is not None:
            pbx.set_state(self.caller, 6)
        self._finish(ANSWER)
        return True

    def time_out(self) -> None:
        """The Dial timeout expired: DialEnd NOANSWER and the callee's leg goes."""
        if not self.done:
            self.pbx.emit("DialEnd", [*self._pairs(), ("DialStatus", NOANSWER)])
            self.pbx.destroy(self.dest, 16)
            self._finish(NOANSWER)

    def cancel(self, cause: int | None = None) -> None:
        """Stop ringing: DialEnd CANCEL and the callee's leg goes away."""
        if self.done:
            return
        self.pbx.emit("DialEnd", [*self._pairs(), ("DialStatus", CANCEL)])
        self.pbx.destroy(self.dest, cause if cause is not None else (127 if self.pbx.config.pjsip else 16))
        self._finish(CANCEL)

    def hangup(self, channel: Channel, cause: int = 16) -> None:
        """Owner hook: the caller gives up, or the callee's leg is hung up while ringing."""
        pbx = self.pbx
        if self.done:
            pbx.hangup_request(channel, cause)
            pbx.destroy(channel, cause)
            return
        if channel is self.dest:
            pbx.hangup_request(channel, cause)
            pbx.emit("DialEnd", [*self._pairs(), ("DialStatus", NOANSWER)])
            pbx.destroy(channel, cause)
            self._finish(NOANSWER)
            return
        pbx.hangup_request(channel, None)
        self.cancel()
        if self.end_caller_on_cancel:
            pbx.hangup_request(channel, 16, soft=True)
            pbx.destroy(channel, pbx.abandon_cause())


class Talk:
    """Two channels in a basic bridge; ``caller`` is the one running the dialplan."""

    def __init__(self, pbx: Pbx, caller: Channel, dest: Channel, bridge: Bridge | None = None) -> None:
        self.pbx = pbx
        self.caller = caller
        self.dest = dest
        if bridge is None:
            bridge = pbx.new_bridge()
            pbx.enter(bridge, dest)
            pbx.enter(bridge, caller)
        self.bridge = bridge
        self.ended = asyncio.get_running_loop().create_future()
        self.on_hangup: Callable[[Channel], None] | None = None
        self.ending = False
        pbx.own(self, caller, dest)

    def peer(self, channel: Channel) -> Channel:
        """The other party of ``channel`` in this bridge."""
        return self.dest if channel is self.caller else self.caller

    def hangup(self, channel: Channel, cause: int = 16) -> None:
        """One side hangs up; the other is released with the same cause."""
        pbx, other = self.pbx, self.peer(channel)
        self.ending = True
        pbx.hangup_request(channel, cause)
        if self.on_hangup is not None:
            self.on_hangup(channel)
        pbx.leave(self.bridge, channel)
        pbx.leave(self.bridge, other)
        if channel is self.caller:
            pbx.hangup_request(channel, 16, soft=True)
            pbx.destroy(channel, cause)
            pbx.destroy_bridge(self.bridge)
            pbx.destroy(other, cause)
        else:
            pbx.destroy(channel, cause)
            pbx.destroy_bridge(self.bridge)
            pbx.hangup_request(other, 16, soft=True)
            pbx.destroy(other, cause)
        self.finish()

    def finish(self) -> None:
        """Mark the conversation over (for flows waiting on ``ended``)."""
        if not self.ended.done():
            self.ended.set_result(True)


async def dial_number(
    pbx: Pbx, caller: Channel, number: str, timeout: float | None = None
) -> tuple[str, Channel | None]:
    """Dial a line or an external number from ``caller``; a line that is offline is CHANUNAVAIL."""
    if pbx.is_line(number):
        if pbx.behaviour(number).mode == "offline":
            return CHANUNAVAIL, None
        dest = phone_leg(pbx, number, caller)
        dialstring = number
    else:
        dest = trunk_leg(pbx, number, caller)
        dialstring = f"{pbx.config.trunk}/{number}"
    dial = Dial(pbx, caller, dest, dialstring, number)
    return await dial.run(timeout), dest


async def connect(pbx: Pbx, caller: Channel, number: str, timeout: float | None = None) -> Talk | None:
    """Dial and, on answer, bridge; on any other outcome release the caller like Asterisk does."""
    status, dest = await dial_number(pbx, caller, number, timeout)
    if status == ANSWER:
        return Talk(pbx, caller, dest)
    if status != CANCEL and not caller.hung_up:
        caller.priority += 1
        pbx.hangup_request(caller, 16, soft=True)
        pbx.destroy(caller, 17 if status == BUSY else 16)
    return None
