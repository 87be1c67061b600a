"""The tracker's per-event rules: one ``on_<event>`` method per AMI event that matters.

Mixed into :class:`connector.ami.tracker.CallTracker`, which owns the state
and the helpers (``_ensure``, ``_new_call``, ``_answer`` ...). Why each rule is
as it is: docs/call-tracking.md.
"""

from __future__ import annotations

from connector.ami.calls import Call, Channel
from connector.ami.channels import number_from_dial_string
from connector.ami.message import Message

ORIGINATE_MEMORY = 120.0  # seconds an Originate's number is kept for its call (Timeout is usually 30 s)


def value_of(text: str | None) -> str | None:
    """Asterisk's placeholders for "nothing" become ``None``."""
    if text is None:
        return None
    text = text.strip()
    return None if text in ("", "<unknown>", "<Unknown>") else text


def is_local(channel: Channel) -> bool:
    return channel.name.lower().startswith("local/")


def _cause(message: Message) -> int | None:
    try:
        return int((message.get("Cause") or "").strip())
    except ValueError:
        return None


class RulesMixin:
    """AMI event handlers of the call tracker."""

    # -- channel life ---------------------------------------------------------

    def on_newchannel(self, m: Message) -> None:
        channel = self._ensure(m)
        if channel is not None:
            self.matcher.learn(channel.name, channel.first_cid_num)
            channel.line = None  # look again now that the endpoint may be known
            self.on_newstate(m)

    def on_newstate(self, m: Message) -> None:
        channel = self._ensure(m)
        line = self._line(channel)
        if channel is None or line is None or channel.state != "Ringing":
            return
        call = channel.call
        if call is None:
            # The phone rings before any Dial told us why: an Originate, or a call to the line.
            placed = bool(self._originate(line)) or (channel.cid_num or None) not in (line, channel.first_cid_num)
            call = self._new_call(line, channel, placed=placed)
            call.originate, call.offered = placed, True
            if placed:
                request = self._originate(line, take=True)
                self._set_remote(call, request.get("exten") or channel.cid_num, channel.cid_name, announce=False)
            else:
                self._set_remote(call, channel.cl_num, channel.cl_name, announce=False)
            self._announce(call)
        elif self.config.send_ring_started_on_ringing_state and not call.deferred:
            self._announce(call)

    def on_rename(self, m: Message) -> None:
        channel = self._channel(value_of(m.get("Uniqueid")), value_of(m.get("Channel")))
        new_name = value_of(m.get("Newname"))
        if channel is not None and new_name:
            self.by_name.pop(channel.name, None)
            channel.name = new_name
            self.by_name[new_name] = channel.uniqueid

    def on_newcallerid(self, m: Message) -> None:
        self._ensure(m)

    def on_newconnectedline(self, m: Message) -> None:
        channel = self._ensure(m)
        call = channel.call if channel else None
        if call is None or not call.live or is_local(channel) or call.state == "held":
            return
        number = channel.cl_num
        slots = {c.parking_slot for c in self.calls.get(call.line, {}).values() if c.parking_slot}
        if number and number not in slots:
            self._set_remote(call, number, channel.cl_name)

    def on_hanguprequest(self, m: Message) -> None:
        channel = self._channel(value_of(m.get("Uniqueid")), value_of(m.get("Channel")))
        if channel is not None:
            channel.hangup_requested = True

    on_softhanguprequest = on_hanguprequest

    def on_hangup(self, m: Message) -> None:
        channel = self._channel(value_of(m.get("Uniqueid")), value_of(m.get("Channel")))
        if channel is None:
            return
        cause = _cause(m)
        self._forget(channel)
        for call in self._calls_with_remote(channel.uniqueid):
            call.remote_left = False
            if call.answered_at is None:
                call.evidence.remote_gone = True
            if call.hold == "park":
                self._end(call)  # the parked caller gave up
            elif call.live and call.state == "held" and self._consulting_away(call):
                self._end(call)  # the caller hung up on hold while the operator consults someone else
        call = channel.call
        if call is None:
            return
        call.channels.discard(channel.uniqueid)
        if cause is not None:
            call.evidence.causes.add(cause)
            if not is_local(channel) and cause not in (0, 16):
                call.evidence.cause_text = value_of(m.get("Cause-txt"))
        if any(u in self.channels for u in call.channels):
            return
        remote_alive = call.remote in self.channels
        if call.hold == "park" and remote_alive:
            return  # parking hangs up the operator's leg; the call lives on in the lot
        if call.remote_left and remote_alive and call.answered_at is not None:
            self._transfer(call)  # the other party was redirected elsewhere
        else:
            self._end(call)

    def _consulting_away(self, call: Call) -> bool:
        """The operator's phone shares a bridge with someone outside the call (an attended transfer's consultation)."""
        for uniqueid in call.channels:
            channel = self.channels.get(uniqueid)
            if channel is None or is_local(channel) or not channel.bridge:
                continue
            if any(u not in call.channels and u != call.remote for u in self.bridges.get(channel.bridge, ())):
                return True
        return False

    # -- dialling ---------------------------------------------------------------

    def on_dialbegin(self, m: Message) -> None:
        dest = self._ensure(m, "Dest")
        if dest is None:
            return
        self.matcher.learn(dest.name, number_from_dial_string(m.get("DialString")))
        caller = self._ensure(m) if value_of(m.get("Uniqueid")) else None
        dest.dialled_by = caller.uniqueid if caller else None
        dest_line, caller_line = self._line(dest), self._line(caller)
        if dest_line is not None:
            self._offer(dest, caller, m)
        if caller is not None and caller_line is not None and not is_local(caller) and caller_line != dest_line:
            self._placed_dial(caller, dest, m)
        for call in self._calls_with_remote(caller.uniqueid if caller else ""):
            if call.remote_left and call.live and call.line != dest_line:
                self._transfer(call)  # a redirected party dials on: the call went elsewhere

    def _offer(self, dest: Channel, caller: Channel | None, m: Message) -> None:
        """A phone (or queue member) of a line is being dialled."""
        line = dest.line
        call = dest.call
        if call is None and caller is None:
            call = self._pickup_call(dest)
            if call is not None:
                return
            call = self._new_call(line, dest, placed=True)
            call.originate = True
            request = self._originate(line, take=True)
            number = request.get("exten")
            if not number and dest.cid_num not in (line, dest.first_cid_num):
                number = dest.cid_num  # Originate's CallerID overwrote the phone's own
            self._set_remote(call, number, dest.cid_name, announce=False)
            parked = any(c.hold == "park" for c in self.calls.get(line, {}).values())
            call.deferred = parked and call.remote_number is None  # it may be the pickup of the parked call
            if not call.deferred:
                self._announce(call)
            return
        if call is None:
            owner = caller.call or (self._sibling(caller) or caller).call
            if owner is not None and owner.line == line:
                call = owner  # a queue member's Local half dialling the phone
            else:
                mine = [c for c in self._calls_with_remote(caller.uniqueid) if c.line == line]
                held = [c for c in mine if c.hold]
                if held:
                    self._attach(held[0], dest)  # a parked call timed out and comes back
                    return
                forked = [c for c in mine if c.answered_at is None and c.state != "ended" and not c.placed]
                if forked:
                    # one Dial to several devices of the line (PJSIP_DIAL_CONTACTS): one call
                    forked[0].channels.add(dest.uniqueid)
                    dest.call, dest.had_call = forked[0], True
                    return
                call = self._new_call(line, dest, placed=False)
                call.remote = caller.uniqueid
                number = m.get("DestConnectedLineNum") or caller.cid_num
                name = m.get("DestConnectedLineName") if m.get("DestConnectedLineNum") else caller.cid_name
                self._set_remote(call, number, name, announce=False)
                if caller.line and not is_local(caller):
                    # an Originate may have dressed the caller in the callee's own number
                    self._set_remote(call, call.remote_number or caller.line, call.remote_name, announce=False)
                    call.direction = "internal"
            self._attach(call, dest)
        if not is_local(dest):
            call.offered = True
        ring_on_state = self.config.send_ring_started_on_ringing_state
        if not call.announced and (not ring_on_state or dest.state == "Ringing" or call.placed):
            self._announce(call)

    def _pickup_call(self, dest: Channel) -> Call | None:
        """An Originate of a line to the slot its parked call waits in is the pickup of that call."""
        request = self._originate(dest.line)
        for call in self.calls.get(dest.line, {}).values():
            if call.hold == "park" and call.parking_slot in (dest.cid_num, dest.cl_num, request.get("exten")):
                self.originates.pop(dest.line, None)
                self._attach(call, dest)
                return call
        return None

    def _placed_dial(self, caller: Channel, dest: Channel, m: Message) -> None:
        """An operator's phone dials out (or an answered click-to-call dials the number)."""
        number = number_from_dial_string(m.get("DialString"))
        if not number or not any(ch.isdigit() for ch in number):
            number = value_of(m.get("DestCallerIDNum")) or number
        name = value_of(m.get("DestCallerIDName"))
        call = caller.call
        if call is None:
            call = self._new_call(caller.line, caller, placed=True)
            call.remote = dest.uniqueid
            self._set_remote(call, number, name, announce=False)
            if dest.line:
                call.direction = "internal"
            self._announce(call)
            return
        if call.remote is None:
            call.remote = dest.uniqueid
        if call.remote_number is None:
            self._set_remote(call, number, name, announce=call.announced)
        call.deferred = False  # it dials out: a click-to-call after all
        self._announce(call)

    def on_dialend(self, m: Message) -> None:
        status = (m.get("DialStatus") or "").strip().upper()
        dest = self._channel(value_of(m.get("DestUniqueid")), value_of(m.get("DestChannel")))
        caller = self._channel(value_of(m.get("Uniqueid")), value_of(m.get("Channel")))
        if not status:
            return
        if dest is not None and dest.call is not None:
            if caller is None:
                dest.call.evidence.leg_status = status
            else:
                dest.call.evidence.dial_statuses.add(status)
        if caller is not None and caller.call is not None and (dest is None or dest.call is not caller.call):
            caller.call.evidence.dial_statuses.add(status)
        if status == "ANSWER" and caller is not None and dest is not None:
            if dest.dialled_by is None:
                dest.dialled_by = caller.uniqueid  # a Dial answered by a channel it never began (call pickup)
            self._answered_elsewhere(caller, dest)

    def _origin(self, channel: Channel) -> Channel:
        """The channel a call really comes from, through Local pairs (``;2`` <- ``;1`` <- caller)."""
        for _ in range(8):
            if not is_local(channel):
                break
            sibling = self._sibling(channel)
            source = self.channels.get(sibling.dialled_by or "") if sibling else None
            if source is None:
                break
            channel = source
        return channel

    def _answered_elsewhere(self, caller: Channel, dest: Channel) -> None:
        """A ring-all dial was answered by ``dest``: every other leg still ringing lost."""
        origin = self._origin(caller)
        sibling = self._sibling(dest) if is_local(dest) else None
        winners = {dest.uniqueid, sibling.uniqueid if sibling else ""}
        for call in self._all_calls():
            if call.answered_at is not None or call.channels & winners or call.remote in winners:
                continue
            remote = self.channels.get(call.remote or "")
            if remote is not None and self._origin(remote) is origin:
                call.evidence.answered_elsewhere = True

    def on_agentcalled(self, m: Message) -> None:
        dest = self._ensure(m, "Dest")
        caller = self._ensure(m)
        line = self.matcher.line_of(m.get("Interface")) or self._line(dest)
        if dest is None or caller is None or line is None:
            return
        dest.line = line
        call = dest.call
        if call is None:
            call = self._new_call(line, dest, placed=False)
            call.remote = caller.uniqueid
            self._set_remote(call, caller.cid_num, caller.cid_name, announce=False)
        call.queue = value_of(m.get("Queue")) or call.queue

    def on_agentringnoanswer(self, m: Message) -> None:
        member = self._channel(value_of(m.get("DestUniqueid")), value_of(m.get("DestChannel")))
        if member is not None and member.call is not None:
            member.call.evidence.rang_out = True

    def on_queuecallerabandon(self, m: Message) -> None:
        for call in self._calls_with_remote(value_of(m.get("Uniqueid")) or ""):
            if call.answered_at is None:
                call.evidence.abandoned = True

    def on_originateresponse(self, m: Message) -> None:
        line = self.matcher.line_of(m.get("Channel"))
        if line is None or (m.get("Response") or "").strip().lower() != "failure":
            return
        pending = self._originate(line, take=True)  # still pending: no leg of it ever reached the phone
        for call in self.calls.get(line, {}).values():
            if call.originate and call.evidence.leg_status != "ANSWER":
                call.evidence.originate_reason = value_of(m.get("Reason"))
        if pending:
            self._originate_never_rang(line, pending, m)

    def _originate_never_rang(self, line: str, request: dict, m: Message) -> None:
        """An Originate that failed before any channel rang (phone unregistered): a failed call all the same.

        The operator asked for the call, so it shows as dialled and ended
        ``failed`` with Asterisk's Reason, instead of silently nothing.
        """
        number = request.get("exten") or value_of(m.get("Exten"))
        if any(c.parking_slot and c.parking_slot == number for c in self.calls.get(line, {}).values()):
            return  # a failed resume: the parked call simply stays parked
        calls = self.calls.setdefault(line, {})
        call_id = f"originate-{(value_of(m.action_id) or str(self._at))[:40]}"  # ids are stored in 64 chars
        while call_id in calls:
            call_id += "+"
        call = Call(id=call_id, line=line, started_at=request.get("at", self._at), placed=True)
        call.direction, call.originate = "outbound", True
        call.evidence.originate_reason = value_of(m.get("Reason")) or "0"
        calls[call_id] = call
        self._set_remote(call, number, None, announce=False)
        self._announce(call)
        self._end(call, "failed")

    def _on_action(self, m: Message) -> None:
        """Actions the connector sent: an Originate tells which number a click-to-call is for."""
        if (m.get("Action") or "").strip().lower() != "originate":
            return
        target = value_of(m.get("Channel"))
        self.matcher.learn(target, self.matcher.candidate(target))  # the app originates only to phones
        line = self.matcher.line_of(target)
        if line is not None and value_of(m.get("Exten")):
            self.originates[line] = {"exten": value_of(m.get("Exten")), "at": self._at}

    def _originate(self, line: str, take: bool = False) -> dict:
        """The Originate recently asked for ``line`` (one that never rang must not colour later calls)."""
        request = self.originates.get(line)
        if request is None or self._at - request["at"] > ORIGINATE_MEMORY:
            self.originates.pop(line, None)
            return {}
        if take:
            del self.originates[line]
        return request
