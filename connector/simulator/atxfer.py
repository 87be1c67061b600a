"""Attended transfer (AMI ``Atxfer``), as recorded on Asterisk 20.

The operator consults the target through ``Local/<exten>@<context>-...;1/;2``
while the caller hears music. Hanging up the operator's leg completes it
(``BridgeMerge``, ``AttendedTransfer``), and about 0.3 s later Local
optimisation moves the caller into the target's bridge. Hanging up any
consultation leg, or ``CancelAtxfer``, returns the operator to the caller.
"""

from __future__ import annotations

import asyncio

from connector.simulator.dial import ANSWER, Dial, Talk, phone_leg, trunk_leg
from connector.simulator.features import talk_of
from connector.simulator.pbx import Pbx
from connector.simulator.wire import UNKNOWN, Channel


class Atxfer:
    """An attended transfer: the operator consults ``exten`` while the caller hears music."""

    def __init__(self, pbx: Pbx, transferer: Channel, exten: str, context: str) -> None:
        self.pbx = pbx
        self.transferer = transferer
        self.talk = talk_of(pbx, transferer)
        self.caller = self.talk.peer(transferer)
        self.exten = exten
        self.context = context
        self.dial: Dial | None = None
        self.consult: Talk | None = None
        self.abandoned = False

    def start(self) -> None:
        """Put the caller on hold and dial the target through a Local pair."""
        pbx, me, caller = self.pbx, self.transferer, self.caller
        pbx.emit("Hold", me.snapshot())
        pbx.moh(caller, True)
        one, two = pbx.new_local_pair(self.exten, self.context, me.linkedid)
        self.one, self.two = one, two
        self.bridge = pbx.new_bridge()
        pbx.set_callerid(two, me.cid_num, me.cid_name)
        pbx.emit(
            "LocalBridge",
            [
                *one.snapshot("LocalOne"),
                *two.snapshot("LocalTwo"),
                ("Context", self.context),
                ("Exten", self.exten),
                ("LocalOptimization", "Yes"),
            ],
        )
        pbx.set_connected(one, me.cid_num, me.cid_name)
        pbx.enter(self.bridge, one)
        pbx.leave(self.talk.bridge, me)
        pbx.enter(self.bridge, me)
        pbx.set_connected(me, UNKNOWN, UNKNOWN)
        two.context, two.exten, two.priority = self.context, self.exten, 2
        if pbx.is_line(self.exten):
            target = phone_leg(pbx, self.exten, two)
            dialstring = self.exten
        else:
            target = trunk_leg(pbx, self.exten, two)
            dialstring = f"{pbx.config.trunk}/{self.exten}"
        self.target = target
        self.dial = Dial(pbx, two, target, dialstring, self.exten, on_ringing=self._ringing, on_result=self._result)
        self.dial.end_caller_on_cancel = False
        pbx.own(self, me, caller, one)
        self.dial.start(connect_caller=True)
        if not self.dial.done:
            pbx.own(self, two)

    def _ringing(self) -> None:
        pbx, one, target = self.pbx, self.one, self.target
        pbx.set_connected(self.transferer, target.cid_num, target.cid_name)
        one.cid_num, one.cid_name = target.cid_num, target.cid_name
        one.conn_num, one.conn_name = self.transferer.cid_num, self.transferer.cid_name
        pbx.set_state(one, 5)
        pbx.set_callerid(one, target.cid_num, target.cid_name)
        pbx.emit("DialState", [*one.snapshot("Dest"), ("DialStatus", "RINGING")])

    def _result(self, status: str) -> None:
        pbx = self.pbx
        if status != ANSWER:
            self._abandon_consultation()
            return
        inner = pbx.new_bridge()
        pbx.enter(inner, self.target)
        pbx.set_state(self.one, 6)
        pbx.emit("DialEnd", [*self.one.snapshot("Dest"), ("DialStatus", ANSWER)])
        pbx.enter(inner, self.two)
        self.consult = Talk(pbx, self.two, self.target, bridge=inner)
        pbx.link_local(self.one, self.two)
        pbx.own(self, self.one)

    def _abandon_consultation(self) -> None:
        """The target did not answer or left: the operator goes back to his caller."""
        if self.abandoned:
            return
        self.abandoned = True
        pbx, me = self.pbx, self.transferer
        if self.dial is not None and not self.dial.done:
            self.dial.cancel()  # its result comes back here and is ignored
        elif self.consult is not None and not self.consult.ending and not self.target.hung_up:
            pbx.hangup(self.target, 16)
        for half in (self.one, self.two):
            pbx.local_partner.pop(half.name, None)
            if not half.hung_up:
                pbx.own(None, half)
                pbx.hangup_request(half, 16)
                if half.bridge is not None:
                    pbx.leave(half.bridge, half)
                pbx.destroy(half, 16)
        if me.hung_up:
            return
        if self.caller.hung_up:
            # Nobody to go back to: the operator's leg is released.
            if me.bridge is not None:
                pbx.leave(me.bridge, me)
                pbx.destroy_bridge(self.bridge)
            pbx.hangup_request(me, 16, soft=True)
            pbx.destroy(me, 16)
            return
        pbx.leave(self.bridge, me)
        pbx.destroy_bridge(self.bridge)
        pbx.enter(self.talk.bridge, me)
        pbx.moh(self.caller, False)
        pbx.set_connected(me, self.caller.cid_num, self.caller.cid_name)
        pbx.own(self.talk, me, self.caller)

    def cancel(self) -> None:
        """CancelAtxfer: drop the consultation, keep the original call."""
        self._abandon_consultation()

    def hangup(self, channel: Channel, cause: int = 16) -> None:
        """Owner hook: the transferer hanging up completes the transfer."""
        pbx = self.pbx
        if channel in (self.one, self.two):
            self._abandon_consultation()
        elif channel is self.transferer and self.consult is not None and not self.caller.hung_up:
            self._complete(cause)
        elif channel is self.transferer:
            self.cancel()
            pbx.own(self.talk, self.transferer, self.caller)
            pbx.hangup(channel, cause)
        elif channel is self.caller:
            pbx.hangup_request(channel, cause)
            pbx.moh(channel, False)
            pbx.leave(self.talk.bridge, channel)
            pbx.destroy_bridge(self.talk.bridge)
            pbx.destroy(channel, cause)

    def _complete(self, cause: int) -> None:
        pbx, me, caller, one, target = self.pbx, self.transferer, self.caller, self.one, self.target
        outer = self.talk.bridge
        pbx.hangup_request(me, cause)
        pbx.leave(self.bridge, me)
        pbx.emit("BridgeMerge", [*outer.snapshot("To"), *self.bridge.snapshot("From")])
        pbx.leave(self.bridge, one)
        pbx.enter(outer, one)
        pbx.moh(caller, False)
        pbx.set_connected(one, caller.cid_num, caller.cid_name)
        pbx.set_connected(target, caller.cid_num, caller.cid_name)
        pbx.set_connected(caller, target.cid_num, target.cid_name)
        pbx.emit(
            "AttendedTransfer",
            [
                ("Result", "Success"),
                *me.snapshot("OrigTransferer"),
                *outer.snapshot("Orig"),
                *me.snapshot("SecondTransferer"),
                *self.bridge.snapshot("Second"),
                *caller.snapshot("Transferee"),
                *one.snapshot("TransferTarget"),
                ("IsExternal", "No"),
                ("DestType", "Bridge"),
                ("DestBridgeUniqueid", outer.uniqueid),
            ],
        )
        pbx.destroy_bridge(self.bridge)
        pbx.own(None, me)
        pbx.destroy(me, cause)
        pbx.own(_Deferred(self), caller, one)
        asyncio.get_running_loop().call_later(pbx.config.local_optimize_delay, self._optimize)

    def _optimize(self) -> None:
        """LocalOptimizationBegin/End: the caller takes ``;2``'s place beside the target."""
        pbx, caller, one, two = self.pbx, self.caller, self.one, self.two
        if caller.hung_up or two.hung_up or self.consult is None:
            return
        outer, inner = self.talk.bridge, self.consult.bridge
        pbx.emit(
            "LocalOptimizationBegin",
            [
                *one.snapshot("LocalOne"),
                *two.snapshot("LocalTwo"),
                *caller.snapshot("Source"),
                ("DestUniqueId", two.uniqueid),
                ("Id", "1"),
            ],
        )
        pbx.leave(outer, caller)
        pbx.set_callerid(two, caller.cid_num, caller.cid_name)
        pbx.leave(inner, two)
        pbx.enter(inner, caller, swap=two)
        pbx.emit(
            "LocalOptimizationEnd",
            [*one.snapshot("LocalOne"), *two.snapshot("LocalTwo"), ("Success", "No"), ("Id", "1")],
        )
        pbx.local_partner.pop(one.name, None)
        pbx.local_partner.pop(two.name, None)
        pbx.hangup_request(two, 16, soft=True)
        pbx.hangup_request(one, 16)
        pbx.own(None, one, two)
        pbx.destroy(two, 16)
        pbx.leave(outer, one)
        pbx.destroy_bridge(outer)
        pbx.destroy(one, 16)
        self.talk.finish()
        Talk(pbx, caller, self.target, bridge=inner)


class _Deferred:
    """Between completion and Local optimisation: finish optimising, then hang up as asked."""

    def __init__(self, transfer: Atxfer) -> None:
        self.transfer = transfer

    def hangup(self, channel: Channel, cause: int = 16) -> None:
        """Owner hook: optimise first, so the hangup meets the final bridge."""
        self.transfer._optimize()
        self.transfer.pbx.hangup(channel, cause)
