"""Matching AMI replies to the actions that asked for them, by ActionID.

An action is registered before it is sent. Each incoming message then gets
one verdict from :meth:`Correlator.consume`:

* ``COMPLETED``: it finishes a pending action; ``outcome.reply`` holds the
  response and, for a list action, the list items collected.
* ``LIST_ITEM`` / ``WAITING``: it belongs to a pending action that is not
  finished yet (an item of its list; or its ``EventList: start`` response).
* ``EVENT``: an ordinary event to dispatch. Live events that arrive in the
  middle of a list carry no ActionID of a pending list, so they stay events;
  so do events with an ActionID nobody waits for (``OriginateResponse`` of an
  action already answered).
* ``UNMATCHED``: a response with an unknown ActionID or none at all (or a
  message that is neither event nor response); the caller logs and drops it.

A list reply (CoreShowChannels, QueueStatus, Status) starts with a response
carrying ``EventList: start``, then events with the same ActionID, and ends
with the event carrying ``EventList: Complete`` and ``ListItems: N``.
The reply shape is taken from the wire: a response without ``EventList:
start`` finishes its action even if a list was expected (an ``Error``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from connector.ami.message import Message


class Verdict(enum.Enum):
    """What an incoming message means to the caller."""

    COMPLETED = "completed"
    WAITING = "waiting"
    LIST_ITEM = "list_item"
    EVENT = "event"
    UNMATCHED = "unmatched"


@dataclass
class Reply:
    """Everything Asterisk answered to one action.

    ``error`` is set (and ``response`` may be None) when the action did not get
    its answer: the link dropped (``fail_all``) or its deadline passed (``expire``);
    a caller that kept the ``Reply`` from :meth:`Correlator.reply_for` sees it.
    """

    action_id: str
    response: Message | None = None
    events: list[Message] = field(default_factory=list)
    complete_event: Message | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Asterisk answered ``Success`` (or ``Follows``/``Goodbye``) and the reply is whole."""
        if self.error is not None or self.response is None:
            return False
        return _succeeded(self.response)

    @property
    def message(self) -> str | None:
        """Asterisk's own ``Message:`` text, or the local error."""
        if self.error is not None:
            return self.error
        return self.response.get("Message") if self.response is not None else None

    @property
    def expected_items(self) -> int | None:
        """``ListItems`` announced by the list's end event, if it said (and it was a number)."""
        if self.complete_event is None:
            return None
        value = self.complete_event.get("ListItems")
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    @property
    def items_mismatch(self) -> bool:
        """The end event announced a different number of items than arrived (worth a log line)."""
        expected = self.expected_items
        return expected is not None and expected != len(self.events)


@dataclass(slots=True)
class Outcome:
    """The verdict on one message; ``reply`` is set when ``verdict`` is ``COMPLETED``."""

    verdict: Verdict
    message: Message
    reply: Reply | None = None
    action_id: str | None = None


@dataclass
class _Pending:
    reply: Reply
    is_list: bool
    deadline: float | None
    final_event: str | None
    in_list: bool = False
    answered: bool = False


class Correlator:
    """ActionID bookkeeping for one AMI connection. Pure: no I/O, no clock of its own."""

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, action_id: object) -> bool:
        return action_id in self._pending

    @property
    def pending_ids(self) -> list[str]:
        """ActionIDs still waiting, oldest first."""
        return list(self._pending)

    def register(
        self,
        action_id: str,
        is_list: bool = False,
        deadline: float | None = None,
        final_event: str | None = None,
    ) -> None:
        """Expect a reply to ``action_id`` (call before sending the action).

        ``is_list``: a multi-event reply is expected (the wire decides in the
        end). ``deadline``: the time after which :meth:`expire` gives up.
        ``final_event``: after a successful response, also wait for this event
        with the same ActionID (``OriginateResponse`` of an async Originate).
        """
        if not action_id:
            raise ValueError("an action needs a non-empty ActionID")
        if action_id in self._pending:
            raise ValueError(f"ActionID {action_id!r} is already pending")
        self._pending[action_id] = _Pending(Reply(action_id), is_list, deadline, final_event)

    def reply_for(self, action_id: str) -> Reply | None:
        """The reply being collected for a pending action (its items so far)."""
        pending = self._pending.get(action_id)
        return pending.reply if pending is not None else None

    def cancel(self, action_id: str) -> bool:
        """Stop waiting for ``action_id`` (the caller gave up); True if it was pending."""
        return self._pending.pop(action_id, None) is not None

    def consume(self, message: Message) -> Outcome:
        """Classify one incoming message; see the module docstring."""
        if message.event is not None:
            # OriginateResponse is an event that also carries a Response header: Event decides.
            if not self._pending:
                return Outcome(Verdict.EVENT, message)  # the hot path: a live event, nothing in flight
            action_id = message.get_exact("ActionID")
            pending = self._pending.get(action_id) if action_id is not None else None
            if pending is None:
                return Outcome(Verdict.EVENT, message, action_id=action_id)
            return self._on_event(action_id, pending, message)
        action_id = message.get("ActionID")
        pending = self._pending.get(action_id) if action_id is not None else None
        if message.response is None or pending is None or pending.answered:
            return Outcome(Verdict.UNMATCHED, message, action_id=action_id)
        return self._on_response(action_id, pending, message)

    def _on_response(self, action_id: str, pending: _Pending, message: Message) -> Outcome:
        pending.answered = True
        pending.reply.response = message
        if (message.get("EventList") or "").lower() == "start":
            pending.in_list = True
            return Outcome(Verdict.WAITING, message, action_id=action_id)
        if pending.final_event is not None and _succeeded(message):
            return Outcome(Verdict.WAITING, message, action_id=action_id)
        return self._complete(action_id, message)

    def _on_event(self, action_id: str, pending: _Pending, message: Message) -> Outcome:
        if pending.final_event is not None and message.event == pending.final_event:
            pending.reply.events.append(message)
            return self._complete(action_id, message)
        if (message.get("EventList") or "").lower() == "complete":
            pending.reply.complete_event = message
            return self._complete(action_id, message)
        if pending.in_list or pending.is_list:
            # Items normally follow the start response; one that overtakes it is kept too.
            pending.reply.events.append(message)
            return Outcome(Verdict.LIST_ITEM, message, action_id=action_id)
        return Outcome(Verdict.EVENT, message, action_id=action_id)

    def _complete(self, action_id: str, message: Message) -> Outcome:
        pending = self._pending.pop(action_id)
        return Outcome(Verdict.COMPLETED, message, pending.reply, action_id)

    def fail_all(self, reason: str) -> list[str]:
        """The link dropped: forget every pending action (they are never re-sent); their ids."""
        failed = list(self._pending)
        for pending in self._pending.values():
            pending.reply.error = reason
        self._pending.clear()
        return failed

    def expire(self, now: float) -> list[str]:
        """Give up on every action whose deadline is at or before ``now``; their ids."""
        late = [aid for aid, p in self._pending.items() if p.deadline is not None and p.deadline <= now]
        for action_id in late:
            self._pending.pop(action_id).reply.error = "timeout"
        return late

    def next_deadline(self) -> float | None:
        """The earliest deadline among pending actions (when to call :meth:`expire` next)."""
        deadlines = [p.deadline for p in self._pending.values() if p.deadline is not None]
        return min(deadlines) if deadlines else None


def _succeeded(response: Message) -> bool:
    return (response.response or "").lower() in ("success", "follows", "goodbye")
