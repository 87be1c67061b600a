"""Call tracking: AMI messages in, per-line call events out (PROTOCOL.md).

The tracker keeps every live channel (by Uniqueid) and every call of every
line. Channels are tied to calls by what the traffic proves: the dial that
reached a phone, the queue member's Local pair, the bridge both parties share,
the parked call's Uniqueid. The rules and the reasons behind them are in
docs/call-tracking.md. Pure: no Django, asyncio or sockets; ``feed`` never
raises (a bug in one rule is logged and the stream goes on).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from connector.ami.bridging import BridgeRulesMixin
from connector.ami.calls import Call, Channel
from connector.ami.channels import LineMatcher, parse_channel
from connector.ami.endreasons import end_reason, failure_text
from connector.ami.events import ActionRequest, LineEvent
from connector.ami.message import Message
from connector.ami.queues import AgentStates
from connector.ami.resync import resync_calls
from connector.ami.rules import RulesMixin, is_local, value_of

logger = logging.getLogger("connector.tracker")

IN_CALL = "in call"


@dataclass(frozen=True)
class TrackerConfig:
    """The connector parameters that change how calls are tracked (docs/internals.md)."""

    lines: frozenset[str] | None = None  # None: every phone endpoint seen is an operator's line
    protocol: str = "SIP/"
    queue_extension_format: str = "Local/{0}@from-queue/n"
    send_ring_started_on_ringing_state: bool = True
    auto_pause_on_commutation_start: bool = False
    packet_info_config: tuple[str, ...] = ()
    trace_queues_state: bool = False

    @classmethod
    def from_connector(cls, config: object, lines: frozenset[str] | None = None) -> TrackerConfig:
        """From ``settings.ASTERISK`` (a ``ConnectorConfig``, read by attribute name)."""
        return cls(
            lines=lines,
            protocol=getattr(config, "protocol", "SIP/"),
            queue_extension_format=getattr(config, "queueExtensionFormat", "Local/{0}@from-queue/n"),
            send_ring_started_on_ringing_state=getattr(config, "sendRingStartedOnRingingState", True),
            auto_pause_on_commutation_start=getattr(config, "autoPauseOnCommutationStart", False),
            packet_info_config=tuple(getattr(config, "packetInfoConfig", ()) or ()),
            trace_queues_state=getattr(config, "traceQueuesState", False),
        )


class CallTracker(RulesMixin, BridgeRulesMixin):
    """Feed it every AMI message (and the actions the connector sends); it returns events."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.matcher = LineMatcher(self.config.lines, self.config.protocol, self.config.queue_extension_format)
        self.agents = AgentStates(self.matcher, self.config.trace_queues_state)
        self.channels: dict[str, Channel] = {}
        self.by_name: dict[str, str] = {}
        self.bridges: dict[str, set[str]] = {}
        self.calls: dict[str, dict[str, Call]] = {}  # line -> call id -> call, until it ends
        self.originates: dict[str, dict] = {}  # line -> the last Originate asked for it
        self._out: list[LineEvent | ActionRequest] = []
        self._at = 0.0

    # -- public interface ---------------------------------------------------

    def set_lines(self, lines: frozenset[str] | set[str] | None) -> None:
        """Change the operators' lines (profiles changed); ``None`` tracks every phone seen."""
        lines = None if lines is None else frozenset(lines)
        self.config = replace(self.config, lines=lines)
        self.matcher.lines = lines
        for channel in self.channels.values():
            channel.line = self.matcher.line_of(channel.name)

    def feed(self, message: Message, at: float) -> list[LineEvent | ActionRequest]:
        """Events (and actions to send) caused by one message; ``at`` is its Unix time."""
        self._out = []
        self._at = at
        if message.banner is not None:
            return []
        try:
            if message.get("Action"):
                self._on_action(message)
                return []
            event = message.event
            if not event:
                return []
            self._out.extend(self.agents.feed(message))
            self._copy_extra(message)
            handler = getattr(self, f"on_{event.lower()}", None)
            if handler is not None:
                handler(message)
            self._copy_extra(message)
        except Exception:
            logger.exception("call tracking failed on %r; continuing", message.event)
        return self._out

    def resync(self, channels: list[Message], queue_status: list[Message], at: float) -> list[LineEvent]:
        """After a reconnect: the CoreShowChannel items and QueueMember items rebuild the live state.

        Calls whose channels are gone end (``failed`` unless known), calls that
        started meanwhile appear, and no call appears twice.
        """
        try:
            return resync_calls(self, channels, queue_status, at)
        except Exception:
            logger.exception("resync failed; continuing with what is known")
            return [e for e in self._out if isinstance(e, LineEvent)]

    def live_calls(self, line: str) -> list[dict]:
        """The line's calls that have started and not ended, oldest first."""
        calls = [c for c in self.calls.get(line, {}).values() if c.live]
        return [c.as_dict() for c in sorted(calls, key=lambda c: (c.started_at, c.id))]

    def agent_state(self, line: str) -> dict:
        """``{"state", "reason", "queues"}`` of the line's queue membership."""
        return self.agents.state(line)

    def call_channels(self, line: str, call_id: str) -> dict | None:
        """What call control needs: the operator's and the other party's channel names, slot, bridge."""
        call = self.calls.get(line, {}).get(call_id)
        if call is None or not call.live:
            return None
        mine = [self.channels[u] for u in sorted(call.channels) if u in self.channels]
        phones = [c for c in mine if not is_local(c)] or mine
        operator = next((c for c in phones if c.bridge), phones[-1] if phones else None)
        remote = self.channels.get(call.remote or "")
        consultation = self._consultation(call, operator, remote)
        return {
            "operator_channel": operator.name if operator else None,
            "remote_channel": remote.name if remote else None,
            "parking_slot": call.parking_slot,
            "bridge": operator.bridge if operator else None,
            "consultation_channel": consultation.name if consultation else None,
        }

    def _consultation(self, call: Call, operator: Channel | None, remote: Channel | None) -> Channel | None:
        """During an attended transfer: the channel the operator consults with, away from his caller.

        Atxfer moves the operator's phone into a second bridge with the Local
        ``;1`` half that dials the target, while the caller waits in the first
        one. Hanging that ``;1`` up is Asterisk's "transfer target hangup": the
        operator goes back to the caller.
        """
        if operator is None or remote is None or not operator.bridge or remote.bridge == operator.bridge:
            return None
        others = [
            self.channels[u]
            for u in sorted(self.bridges.get(operator.bridge, ()))
            if u in self.channels and u not in call.channels and u != remote.uniqueid
        ]
        if not others:
            return None
        return next((c for c in others if c.name.endswith(";1")), others[0])

    # -- channels -----------------------------------------------------------

    def _channel(self, uniqueid: str | None, name: str | None = None) -> Channel | None:
        if uniqueid and uniqueid in self.channels:
            return self.channels[uniqueid]
        if name and name in self.by_name:
            return self.channels.get(self.by_name[name])
        return None

    def _ensure(self, message: Message, prefix: str = "") -> Channel | None:
        """The channel a message names (``prefix`` ``Dest``, ``Transferee``...), created if new."""
        uniqueid = value_of(message.get(prefix + "Uniqueid"))
        name = value_of(message.get(prefix + "Channel"))
        channel = self._channel(uniqueid, name)
        if channel is None:
            if not uniqueid or not name:
                return None
            channel = Channel(uniqueid=uniqueid, name=name, line=None)
            channel.first_cid_num = value_of(message.get(prefix + "CallerIDNum"))
            self.channels[uniqueid] = channel
            self.by_name[name] = uniqueid
        for attr, key in (
            ("state", "ChannelStateDesc"),
            ("cid_num", "CallerIDNum"),
            ("cid_name", "CallerIDName"),
            ("cl_num", "ConnectedLineNum"),
            ("cl_name", "ConnectedLineName"),
            ("linkedid", "Linkedid"),
        ):
            value = message.get(prefix + key)
            if value is not None:
                setattr(channel, attr, value_of(value))
        return channel

    def _line(self, channel: Channel | None) -> str | None:
        if channel is None:
            return None
        if channel.line is None:
            channel.line = self.matcher.line_of(channel.name)
        return channel.line

    def _sibling(self, channel: Channel) -> Channel | None:
        parsed = parse_channel(channel.name)
        sibling = parsed.sibling if parsed else None
        return self._channel(None, sibling) if sibling else None

    def _forget(self, channel: Channel) -> None:
        self.channels.pop(channel.uniqueid, None)
        if self.by_name.get(channel.name) == channel.uniqueid:
            del self.by_name[channel.name]
        if channel.bridge and channel.bridge in self.bridges:
            self.bridges[channel.bridge].discard(channel.uniqueid)

    # -- calls --------------------------------------------------------------

    def _new_call(self, line: str, channel: Channel, placed: bool) -> Call:
        calls = self.calls.setdefault(line, {})
        call_id = channel.uniqueid
        while call_id in calls:
            call_id += "+"
        call = Call(id=call_id, line=line, started_at=self._at, placed=placed, linkedid=channel.linkedid)
        call.direction = "outbound" if placed else "inbound"
        calls[call_id] = call
        self._attach(call, channel)
        return call

    def _attach(self, call: Call, channel: Channel) -> None:
        """Make ``channel`` (and its Local twin) part of the operator's side of ``call``."""
        for member in (channel, self._sibling(channel) if is_local(channel) else None):
            if member is None or member.call is call:
                continue
            old = member.call
            if old is not None:
                if old.announced:
                    continue
                for uniqueid in old.channels:  # an unannounced call is absorbed whole
                    if uniqueid in self.channels:
                        self.channels[uniqueid].call = call
                        call.channels.add(uniqueid)
                call.queue = call.queue or old.queue
                call.offered = call.offered or old.offered
                self.calls.get(old.line, {}).pop(old.id, None)
            member.call = call
            member.had_call = True
            call.channels.add(member.uniqueid)

    def _emit(self, call: Call, type_: str, data: dict | None = None) -> None:
        self._out.append(LineEvent(call.line, type_, call.as_dict(), data or {}))

    def _announce(self, call: Call) -> None:
        if call.announced:
            return
        call.state = "dialing" if call.placed else "ringing"
        self._emit(call, f"call.{call.state}")

    def _set_remote(self, call: Call, number: str | None, name: str | None, announce: bool = True) -> None:
        """The other party's number and name; ``call.updated`` when an announced call changes."""
        number, name = value_of(number), value_of(name)
        if not number or number == call.line or call.state in ("held", "ended"):
            return
        if name == number:
            name = None
        if (number, name) == (call.remote_number, call.remote_name):
            return
        call.remote_number, call.remote_name = number, name
        if self.matcher.is_line(number):
            call.direction = "internal"
        elif call.direction == "internal":
            call.direction = "outbound" if call.placed else "inbound"
        if announce and call.live:
            self._emit(call, "call.updated")

    def _answer(self, call: Call) -> None:
        self._announce(call)
        call.state = "active"
        call.answered_at = self._at
        self._emit(call, "call.answered")
        if self.config.auto_pause_on_commutation_start:
            line = call.line
            known = self.agents.is_member(line) or not self.agents.seen_any
            if known and self.agents.state(line)["state"] == "ready":  # not_ready / wrap_up: paused already
                interface = self.matcher.queue_interface(line)
                fields = {"Interface": interface, "Paused": True, "Reason": IN_CALL}
                self._out.append(ActionRequest("QueuePause", fields, "autoPauseOnCommutationStart"))
                self._out.extend(self.agents.set_paused(line, IN_CALL))

    def _hold(self, call: Call, kind: str, slot: str | None = None) -> None:
        if call.state == "active":
            call.state, call.hold, call.parking_slot = "held", kind, slot
            self._emit(call, "call.held")
        elif call.state == "held" and kind == "park" and slot != call.parking_slot:
            call.hold, call.parking_slot = kind, slot
            self._emit(call, "call.updated")

    def _resume(self, call: Call) -> None:
        if call.state == "held":
            call.state, call.hold, call.parking_slot = "active", None, None
            self._emit(call, "call.resumed")

    def _transfer(self, call: Call | None) -> None:
        if call is not None and call.live:
            self._emit(call, "call.transferred")
            self._end(call, "transferred")

    def _end(self, call: Call, reason: str | None = None) -> None:
        """The one ``call.ended`` of a call; a call nobody was shown is dropped quietly."""
        if call.state == "ended":
            return
        if not call.announced:
            if call.deferred or not (call.offered or call.originate or call.placed):
                self._drop(call)
                return
            self._announce(call)
        call.ended_at = self._at
        call.end_reason = reason or end_reason(call)
        call.state = "ended"
        data = {}
        if call.end_reason == "failed":
            text = failure_text(call)
            if text:
                data["asterisk_reason"] = text
        self._emit(call, "call.ended", data)
        self._drop(call)

    def _drop(self, call: Call) -> None:
        if call.state != "ended":
            call.state = "ended"
        self.calls.get(call.line, {}).pop(call.id, None)
        for uniqueid in call.channels:
            channel = self.channels.get(uniqueid)
            if channel is not None and channel.call is call:
                channel.call = None

    def _all_calls(self) -> list[Call]:
        return [call for calls in self.calls.values() for call in calls.values()]

    def _calls_with_remote(self, uniqueid: str) -> list[Call]:
        return [call for call in self._all_calls() if call.remote == uniqueid]

    def _copy_extra(self, message: Message) -> None:
        """packetInfoConfig: named AMI fields / channel variables go into ``call.extra``."""
        names = self.config.packet_info_config
        if not names:
            return
        for prefix in ("", "Dest"):
            channel = self._channel(
                value_of(message.get(prefix + "Uniqueid")), value_of(message.get(prefix + "Channel"))
            )
            if channel is None:
                continue
            calls = ([channel.call] if channel.call else []) + self._calls_with_remote(channel.uniqueid)
            if not calls:
                continue
            variables = {}
            for item in message.getall(prefix + "ChanVariable"):
                key, sep, value = item.partition("=")
                if sep:
                    variables[key.strip()] = value
            for name in names:
                value = message.get(prefix + name) if prefix else message.get(name)
                if value is None:
                    value = variables.get(name)
                if value is not None:
                    for call in calls:
                        call.extra[name] = value
