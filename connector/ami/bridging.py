"""Tracker rules for bridges, hold, parking and transfers (mixed into ``CallTracker``).

"Answered" means the operator's side shares a bridge with another party, not
that a channel went Up. Parking is a hold during which the operator's own
leg is destroyed; the call is found again through the parked channel's
Uniqueid. Transfers end the transferring operator's call; the target's line
gets its own call from the dial that reaches it. See docs/call-tracking.md.
"""

from __future__ import annotations

from connector.ami.calls import Call
from connector.ami.message import Message
from connector.ami.rules import is_local, value_of


class BridgeRulesMixin:
    """Bridge, hold, parking and transfer handlers of the call tracker."""

    def on_bridgeenter(self, m: Message) -> None:
        channel = self._ensure(m)
        bridge = value_of(m.get("BridgeUniqueid"))
        if channel is None or not bridge:
            return
        if channel.bridge and channel.bridge != bridge:
            self.bridges.get(channel.bridge, set()).discard(channel.uniqueid)
        channel.bridge = bridge
        self.bridges.setdefault(bridge, set()).add(channel.uniqueid)
        self._check_bridge(bridge)

    def _check_bridge(self, bridge: str) -> None:
        members = [self.channels[u] for u in sorted(self.bridges.get(bridge, ())) if u in self.channels]
        for channel in members:
            if channel.call is None and not channel.had_call and not is_local(channel) and len(members) > 1:
                self._bridged_without_dial(channel, [c for c in members if c is not channel])
        seen: set[int] = set()
        for channel in members:
            call = channel.call
            if call is None or id(call) in seen or call.state == "ended":
                continue
            seen.add(id(call))
            others = [c for c in members if c.uniqueid not in call.channels]
            if not others:
                if call.state == "held" and call.hold == "phone" and any(is_local(c) for c in members):
                    self._resume(call)  # a queue member's phone back with its Local half: the consultation is over
                continue
            remote = next((c for c in others if c.uniqueid == call.remote), None)
            remote = remote or next((c for c in others if not is_local(c)), others[0])
            if call.deferred:
                held = [c for c in self._calls_with_remote(remote.uniqueid) if c.line == call.line and c.hold]
                if held:  # the hidden Originate leg was the pickup after all
                    self._attach(held[0], channel)
                    self._resume(held[0])
                    continue
            if call.state in ("new", "ringing", "dialing"):
                call.remote, call.remote_left = remote.uniqueid, False
                self._answer(call)
            elif call.state == "held":
                if remote.uniqueid == call.remote:
                    self._resume(call)  # back with the same party: the hold is over
            elif self._consulting(call, bridge):
                self._hold(call, "phone")  # an attended transfer whose Hold event we did not get
            else:
                # with the operator again (a Local pair optimised away): not redirected after all
                call.remote, call.remote_left = remote.uniqueid, False

    def _consulting(self, call: Call, bridge: str) -> bool:
        """The operator's phone joined another party while his own caller still waits in his bridge."""
        party = self.channels.get(call.remote or "")
        if party is None or party.hangup_requested or party.bridge in (None, bridge):
            return False
        return any(
            self.channels[u].bridge == bridge and not is_local(self.channels[u])
            for u in call.channels
            if u in self.channels
        )

    def _bridged_without_dial(self, channel, others: list) -> None:
        """A phone talking to someone no Dial of ours explained (call pickup, a call to a queue)."""
        line = self._line(channel)
        if line is None:
            return
        other = next((c for c in others if not is_local(c)), others[0])
        other_line = self._line(other)
        placed = other.uniqueid != other.linkedid or channel.uniqueid == channel.linkedid
        placed = placed and channel.dialled_by != other.uniqueid  # the other's Dial reached this phone
        call = self._new_call(line, channel, placed=placed and other_line is None)
        call.offered = True
        call.remote = other.uniqueid
        if other_line is not None and other_line != line:
            self._set_remote(call, other_line, None, announce=False)
            call.direction = "internal"
        else:
            number = channel.cl_num if channel.cl_num not in (None, line) else other.cid_num
            self._set_remote(
                call, number, channel.cl_name if number == channel.cl_num else other.cid_name, announce=False
            )

    def on_bridgeleave(self, m: Message) -> None:
        channel = self._ensure(m)
        bridge = value_of(m.get("BridgeUniqueid"))
        if channel is None or not bridge:
            return
        members = self.bridges.get(bridge, set())
        members.discard(channel.uniqueid)
        if channel.bridge == bridge:
            channel.bridge = None
        if channel.hangup_requested:
            return
        for call in self._calls_with_remote(channel.uniqueid):
            # The other party leaves the operator without hanging up: a Redirect, unless it was parked.
            if call.state == "active" and call.channels & members:
                call.remote_left = True

    def on_bridgemerge(self, m: Message) -> None:
        source = value_of(m.get("FromBridgeUniqueid"))
        target = value_of(m.get("ToBridgeUniqueid"))
        if not source or not target:
            return
        moved = self.bridges.pop(source, set())
        for uniqueid in moved:
            if uniqueid in self.channels:
                self.channels[uniqueid].bridge = target
        self.bridges.setdefault(target, set()).update(moved)
        self._check_bridge(target)

    def on_bridgedestroy(self, m: Message) -> None:
        bridge = value_of(m.get("BridgeUniqueid"))
        if bridge and not self.bridges.get(bridge):
            self.bridges.pop(bridge, None)

    # -- hold -------------------------------------------------------------------

    def on_hold(self, m: Message) -> None:
        channel = self._ensure(m)
        if channel is not None and channel.call is not None and not is_local(channel):
            self._hold(channel.call, "phone")

    def on_unhold(self, m: Message) -> None:
        channel = self._ensure(m)
        call = channel.call if channel else None
        if call is not None and call.hold == "phone":
            self._resume(call)  # an Unhold without our Hold (BlindTransfer sends one) changes nothing

    # -- parking ----------------------------------------------------------------

    def _parked(self, m: Message) -> Call | None:
        parkee = value_of(m.get("ParkeeUniqueid"))
        calls = [c for c in self._calls_with_remote(parkee or "") if c.live]
        if not calls:
            line = self.matcher.line_of(m.get("ParkerDialString"))
            name = value_of(m.get("ParkeeChannel"))
            for call in self.calls.get(line or "", {}).values():
                remote = self.channels.get(call.remote or "")
                if call.live and remote is not None and remote.name == name:
                    calls.append(call)
        return calls[0] if calls else None

    def on_parkedcall(self, m: Message) -> None:
        call = self._parked(m)
        if call is not None:
            self._hold(call, "park", value_of(m.get("ParkingSpace")))

    def on_unparkedcall(self, m: Message) -> None:
        call = self._parked(m)
        if call is None:
            return
        retriever = self._ensure(m, "Retriever")
        line = self._line(retriever)
        if line == call.line:
            self._attach(call, retriever)
            self._resume(call)
            return
        remote = (call.remote_number, call.remote_name, call.direction, call.remote)
        self._transfer(call)  # someone else took the parked call
        if retriever is not None and line is not None and retriever.call is None:
            taken = self._new_call(line, retriever, placed=True)
            taken.remote = remote[3]
            self._set_remote(taken, remote[0], remote[1], announce=False)
            taken.direction = remote[2]
            self._announce(taken)

    def on_parkedcallgiveup(self, m: Message) -> None:
        call = self._parked(m)
        if call is not None:
            self._end(call)

    # -- call pickup --------------------------------------------------------------

    def on_pickup(self, m: Message) -> None:
        """Pickup()/directed pickup: another phone takes a ringing call (Asterisk masquerades it).

        The picker's channel takes the ringing leg's place in the caller's
        Dial; the ringing leg hangs up with Cause 26. The ringing line's call
        ends ``answered_elsewhere``; the picker's line gets the caller as an
        inbound call that rings and is answered when the bridge forms.
        """
        target = self._channel(value_of(m.get("TargetUniqueid")), value_of(m.get("TargetChannel")))
        picker = self._ensure(m)
        taken = target.call if target is not None else None
        if taken is not None:
            taken.evidence.answered_elsewhere = True
        line = self._line(picker)
        call = picker.call if picker is not None else None
        if picker is not None and line is not None and call is None:
            call = self._new_call(line, picker, placed=False)
            call.offered = True
            if taken is not None:
                call.remote, call.queue = taken.remote, taken.queue
                self._set_remote(call, taken.remote_number, taken.remote_name, announce=False)
            else:
                self._set_remote(call, picker.cl_num, picker.cl_name, announce=False)
            self._announce(call)
        if taken is None or taken is call:
            return
        # A queue member's Local pair now leads to the picker's phone: it is no longer the ringing line's.
        moved = [self.channels[u] for u in sorted(taken.channels) if u in self.channels and is_local(self.channels[u])]
        for channel in moved:
            taken.channels.discard(channel.uniqueid)
            channel.call = call
            if call is not None:
                call.channels.add(channel.uniqueid)
        if moved and not any(u in self.channels and u != target.uniqueid for u in taken.channels):
            self._end(taken)

    # -- transfers --------------------------------------------------------------

    def on_blindtransfer(self, m: Message) -> None:
        if (m.get("Result") or "Success").strip().lower() != "success":
            return
        transferer = self._channel(value_of(m.get("TransfererUniqueid")), value_of(m.get("TransfererChannel")))
        if transferer is not None:
            self._transfer(transferer.call)

    def on_attendedtransfer(self, m: Message) -> None:
        if (m.get("Result") or "Success").strip().lower() != "success":
            return
        for prefix in ("OrigTransferer", "SecondTransferer"):
            channel = self._channel(value_of(m.get(prefix + "Uniqueid")), value_of(m.get(prefix + "Channel")))
            if channel is not None:
                self._transfer(channel.call)
        target = self._channel(value_of(m.get("TransferTargetUniqueid")), value_of(m.get("TransferTargetChannel")))
        if target is None:
            return
        near = {target.uniqueid}
        sibling = self._sibling(target) if is_local(target) else None
        if sibling is not None:
            near.add(sibling.uniqueid)
        calls = [target.call] if target.call else [c for c in self._all_calls() if c.remote in near]
        transferee = self._channel(value_of(m.get("TransfereeUniqueid")), value_of(m.get("TransfereeChannel")))
        for call in calls:
            if call.live:
                if transferee is not None:
                    call.remote, call.remote_left = transferee.uniqueid, False
                number = m.get("TransfereeCallerIDNum")
                self._set_remote(call, number, m.get("TransfereeCallerIDName"))
