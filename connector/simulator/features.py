"""Call features driven over AMI: Park and pickup, BlindTransfer and Redirect (Atxfer: ``atxfer``).

Event orders follow the recorded traces: Park hangs up the parker's leg;
a pickup bridges a new operator channel with the parked caller; BlindTransfer
gives ``Unhold`` then ``BlindTransfer`` before the transferer's Hangup.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from connector.simulator.dial import Talk, connect
from connector.simulator.pbx import Pbx
from connector.simulator.wire import Channel

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
