"""What call tracking produces: events for operators' lines, and actions it asks for."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LineEvent:
    """One PROTOCOL.md event for one line, before the publisher numbers it (``seq``).

    ``type`` is ``call.ringing`` ... ``call.ended`` or ``agent.state``; ``call``
    is the full call object (PROTOCOL.md) after the change; ``data`` holds the
    other fields of the message (``agent.state``: ``state``, ``reason``, ``queues``).
    """

    line: str
    type: str
    call: dict | None = None
    data: dict = field(default_factory=dict)

    def message(self) -> dict:
        """The browser message without ``seq``."""
        out: dict = {"type": self.type}
        if self.call is not None:
            out["call"] = self.call
        out.update(self.data)
        return out


@dataclass
class ActionRequest:
    """An AMI action that tracking wants sent (e.g. QueuePause on commutation start)."""

    action: str
    fields: dict = field(default_factory=dict)
    reason: str = ""
