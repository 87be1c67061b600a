"""Call features driven over AMI: Park and pickup, BlindTransfer, Redirect, Atxfer.

Event orders follow the recorded traces: Park hangs up the parker's leg;
a pickup bridges a new operator channel with the parked caller; BlindTransfer
gives ``Unhold`` then ``BlindTransfer`` before the transferer's Hangup; Atxfer
consults through a Local pair that is optimised away after completion.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from connector.simulator.dial import ANSWER, Dial, Talk, connect, phone_leg, trunk_leg
from connector.simulator.pbx import Pbx
from connector.simulator.wire import UNKNOWN, Channel

PICKUP_HANGUP_DELAY = 0.6  # the parker's leg goes a moment after ParkedCall, as recorded


class FeatureError(Exception):
    """The action cannot apply to that channel; the message is Asterisk's."""


def talk_of(pbx: Pbx, channel: Channel | None) -> Talk:
    """The two-party bridge ``channel`` is in, or FeatureError."""
    owner = pbx.owners.get(channel.name) if channel is not None else None
    if not isinstance(owner, Talk):
        raise FeatureError("Channel is not in a bridge")
    return owner


class Parked:
    """A caller waiting in a parking slot (holding bridge, music on hold)."""

    def __init__(self, pbx: Pbx, parkee: Channel, slot: str, parker_line: str) -> None:
        self.pbx = pbx
        self.parkee = parkee
        self.slot = slot
        self.parker_line = parker_line
        self.parked_at = time.time()
        self.timer = asyncio.get_running_loop().call_later(pbx.config.parking_timeout, self.time_out)

    def pairs(self) -> list:
        """The parking fields shared by ParkedCall, UnParkedCall and friends."""
        elapsed = int(time.time() - self.parked_at)
        timeout = int(self.pbx.config.parking_timeout)
        return [
            ("ParkerDialString", f"{self.pbx.config.tech}/{self.parker_line}"),
            ("Parkinglot", self.pbx.config.parking_lot),
            ("ParkingSpace", self.slot),
            ("ParkingTimeout", str(max(timeout - elapsed, 0))),
            ("ParkingDuration", str(elapsed)),
        ]

    def release(self) -> None:
        """Take the parkee out of the lot (music off, leave the holding bridge)."""
        pbx = self.pbx
        self.timer.cancel()
        pbx.parked.pop(self.slot, None)
        pbx.moh(self.parkee, False)
        pbx.leave(pbx.parking_bridge, self.parkee)

    def hangup(self, channel: Channel, cause: int = 16) -> None:
        """Owner hook: the parked caller hangs up (ParkedCallGiveUp)."""
        pbx = self.pbx
        pbx.hangup_request(channel, cause)
        pbx.emit("ParkedCallGiveUp", [*channel.snapshot("Parkee"), *self.pairs()])
        self.release()
        pbx.destroy(channel, cause)

    def time_out(self) -> None:
        """comebacktoorigin=yes: the parked caller dials the operator who parked him."""
        pbx = self.pbx
        pbx.emit("ParkedCallTimeOut", [*self.parkee.snapshot("Parkee"), *self.pairs()])
        self.release()
        self.parkee.context, self.parkee.exten, self.parkee.priority = (
            "park-dial",
            f"{pbx.config.tech}/{self.parker_line}",
            1,
        )
        pbx.spawn(connect(pbx, self.parkee, self.parker_line))


def park(
    pbx: Pbx, channel: Channel, timeout_channel: Channel | None, slot: str | None
) -> tuple[str, Callable[[], None]]:
    """Check a Park of ``channel`` (the remote party); returns the slot and the step that parks.

    The caller answers the action first, then runs the step: the bridged peer,
    the operator's leg, is hung up a moment later.
    """
    talk = talk_of(pbx, channel)
    low, high = pbx.config.parking_slots
    if slot:
        if slot in pbx.parked or not slot.isdigit() or not low <= int(slot) <= high:
            raise FeatureError(f"Parking space {slot} is not available")
    else:
        free = [str(n) for n in range(low, high + 1) if str(n) not in pbx.parked]
        if not free:
            raise FeatureError("No parking space available")
        slot = free[0]
    peer = talk.peer(channel)
    parker = timeout_channel or peer
    parker_line = parker.line or parker.name.split("/", 1)[-1].rsplit("-", 1)[0]
    return slot, lambda: _do_park(pbx, talk, channel, peer, slot, parker_line)


def _do_park(pbx: Pbx, talk: Talk, channel: Channel, peer: Channel, slot: str, parker_line: str) -> None:
    parked = Parked(pbx, channel, slot, parker_line)
    pbx.parked[slot] = parked
    pbx.emit("ParkedCall", [*channel.snapshot("Parkee"), *parked.pairs()])
    pbx.leave(talk.bridge, channel)
    if pbx.parking_bridge is None:
        pbx.parking_bridge = pbx.new_bridge("parking", "Parking", pbx.config.parking_lot)
    pbx.enter(pbx.parking_bridge, channel)
    pbx.moh(channel, True)
    pbx.own(parked, channel)
    pbx.own(None, peer)

    def drop_parker() -> None:
        if peer.hung_up:
            return
        pbx.leave(talk.bridge, peer)
        pbx.destroy_bridge(talk.bridge)
        pbx.destroy(peer, 16)

    asyncio.get_running_loop().call_later(PICKUP_HANGUP_DELAY, drop_parker)


def pick_up(pbx: Pbx, retriever: Channel, slot: str) -> None:
    """The operator's originated channel reached ``parkedcalls,701``: bridge it with the parkee."""
    parked = pbx.parked.get(slot)
    if parked is None:
        pbx.hangup_request(retriever, 16)
        pbx.destroy(retriever, 16)
        return
    parkee = parked.parkee
    bridge = pbx.new_bridge()
    pairs = parked.pairs()
    parked.release()
    pbx.emit("UnParkedCall", [*parkee.snapshot("Parkee"), *retriever.snapshot("Retriever"), *pairs])
    pbx.enter(bridge, parkee)
    retriever.linkedid = parkee.linkedid
    pbx.enter(bridge, retriever)
    pbx.set_connected(retriever, parkee.cid_num, parkee.cid_name)
    pbx.set_connected(parkee, retriever.cid_num, retriever.cid_name)
    Talk(pbx, parkee, retriever, bridge=bridge)


def blind_transfer(pbx: Pbx, channel: Channel, exten: str, context: str) -> None:
    """The operator's leg leaves; the party he talked to dials ``exten``."""
    talk = talk_of(pbx, channel)
    peer = talk.peer(channel)
    pbx.emit("Unhold", channel.snapshot())
    pbx.emit(
        "BlindTransfer",
        [
            ("Result", "Success"),
            *channel.snapshot("Transferer"),
            *peer.snapshot("Transferee"),
            *talk.bridge.snapshot(),
            ("IsExternal", "Yes"),
            ("Context", context),
            ("Extension", exten),
        ],
    )
    _leave_and_dial(pbx, talk, leaving=channel, staying=peer, exten=exten, context=context)


def redirect(pbx: Pbx, channel: Channel, exten: str, context: str) -> None:
    """Send ``channel`` to ``exten@context``; its bridged peer is released (no transfer event)."""
    talk = talk_of(pbx, channel)
    _leave_and_dial(pbx, talk, leaving=talk.peer(channel), staying=channel, exten=exten, context=context)


def _leave_and_dial(pbx: Pbx, talk: Talk, leaving: Channel, staying: Channel, exten: str, context: str) -> None:
    pbx.own(None, leaving, staying)
    pbx.leave(talk.bridge, leaving)
    staying.context, staying.exten, staying.priority = context, exten, 1
    pbx.leave(talk.bridge, staying)
    pbx.destroy_bridge(talk.bridge)
    pbx.destroy(leaving, 16)
    talk.finish()
    staying.priority = 2
    pbx.spawn(connect(pbx, staying, exten))


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
