"""Queue membership and pause state per line, turned into ``agent.state`` events.

A line is ``not_ready`` while it is paused in any of its queues, else
``ready``; paused only with the reason :data:`WRAP_UP_REASON` it is
``wrap_up``. The first thing learnt about a line (the QueueStatus list at
login) is silent; every later change of state or reason is an event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from connector.ami.channels import LineMatcher
from connector.ami.events import LineEvent
from connector.ami.message import Message

queue_log = logging.getLogger("connector.queues")

# The QueuePause reason that means "wrap-up" (PROTOCOL.md agent.state); call control pauses with it.
WRAP_UP_REASON = "wrap-up"

MEMBER_EVENTS = frozenset(
    {
        "QueueMember",
        "QueueMemberStatus",
        "QueueMemberPause",
        "QueueMemberPaused",
        "QueueMemberAdded",
        "QueueMemberRemoved",
    }
)


@dataclass
class _LineQueues:
    paused: dict[str, str | None] = field(default_factory=dict)  # queue -> reason, while paused there
    queues: set[str] = field(default_factory=set)
    state: str = "ready"
    reason: str | None = None
    known: bool = False
    auto_paused: bool = False  # our QueuePause is on its way; member statuses may predate it


class AgentStates:
    """Pause state of every line, from QueueMember* events and the tracker's own auto-pause."""

    def __init__(self, matcher: LineMatcher, trace: bool = False) -> None:
        self.matcher = matcher
        self.trace = trace
        self._lines: dict[str, _LineQueues] = {}
        self.seen_any = False  # whether any queue information arrived at all

    def state(self, line: str) -> dict:
        """``{"state", "reason", "queues"}`` of a line (``ready`` when nothing is known)."""
        entry = self._lines.get(line)
        if entry is None:
            return {"state": "ready", "reason": None, "queues": []}
        return {"state": entry.state, "reason": entry.reason, "queues": sorted(entry.queues)}

    def is_member(self, line: str) -> bool:
        entry = self._lines.get(line)
        return bool(entry and entry.queues)

    def feed(self, message: Message) -> list[LineEvent]:
        """Events for a QueueMember* message (nothing for other messages)."""
        event = message.event
        if event not in MEMBER_EVENTS:
            return []
        interface = message.get("Interface") or message.get("Location") or message.get("StateInterface")
        line = self.matcher.line_of(interface) or self.matcher.line_of(message.get("StateInterface"))
        queue = message.get("Queue")
        if line is None or not queue:
            return []
        self.seen_any = True
        if self.trace:
            queue_log.info(
                "line %s queue %s: %s status=%s paused=%s reason=%s incall=%s",
                line,
                queue,
                event,
                message.get("Status"),
                message.get("Paused"),
                message.get("PausedReason") or message.get("Reason") or "",
                message.get("InCall"),
            )
        entry = self._lines.setdefault(line, _LineQueues())
        entry.paused.pop("", None)  # Asterisk's own word replaces our auto-pause guess
        if event == "QueueMemberRemoved":
            entry.queues.discard(queue)
            entry.paused.pop(queue, None)
        else:
            entry.queues.add(queue)
            paused = message.get("Paused")
            if event in ("QueueMemberPause", "QueueMemberPaused"):
                entry.auto_paused = False
            elif event == "QueueMemberStatus" and entry.auto_paused:
                paused = None
            if paused is not None:
                if paused.strip() == "1" or paused.strip().lower() == "true":
                    entry.paused[queue] = message.get("PausedReason") or message.get("Reason") or None
                else:
                    entry.paused.pop(queue, None)
        return self._settle(line, entry, silent=not entry.known and event == "QueueMember")

    def set_paused(self, line: str, reason: str) -> list[LineEvent]:
        """The tracker paused the line in all its queues (autoPauseOnCommutationStart)."""
        entry = self._lines.setdefault(line, _LineQueues())
        for queue in entry.queues or {""}:
            entry.paused[queue] = reason
        entry.auto_paused = True
        return self._settle(line, entry, silent=False)

    def reset(self) -> None:
        """Forget what was learnt (before a resync's QueueStatus list), keeping the last states."""
        for entry in self._lines.values():
            entry.queues.clear()
            entry.paused.clear()

    def _settle(self, line: str, entry: _LineQueues, silent: bool) -> list[LineEvent]:
        entry.paused = {q: r for q, r in entry.paused.items() if q in entry.queues or q == ""}
        if entry.paused:
            reasons = [r for q, r in sorted(entry.paused.items()) if r]
            others = [r for r in reasons if r.strip().lower() != WRAP_UP_REASON]
            # wrap-up only while no queue holds the line for another reason (or none)
            wrapping = bool(reasons) and not others and len(reasons) == len(entry.paused)
            state = "wrap_up" if wrapping else "not_ready"
            reason = WRAP_UP_REASON if wrapping else (others[0] if others else None)
        else:
            state, reason = "ready", None
        changed = (state, reason) != (entry.state, entry.reason)
        entry.state, entry.reason, entry.known = state, reason, True
        if silent or not changed:
            return []
        return [LineEvent(line, "agent.state", None, self.state(line))]
