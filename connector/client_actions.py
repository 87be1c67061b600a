"""The AMI client's actions in flight, and the keepalive Ping that proves the link alive.

Every action waits for its own answer (matched by ActionID), its deadline
(``pbx_timeout``) or the link's drop (``pbx_disconnected``); none is ever
re-sent. A Ping left unanswered past its deadline means a half-open link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from connector.ami.correlate import Correlator, Outcome, Reply, Verdict
from connector.ami.message import Message
from connector.client_options import AmiActionError

logger = logging.getLogger("connector.client")  # one logger for the whole client


class PendingActions:
    """The actions sent on the current link that still wait for their answer."""

    def __init__(self) -> None:
        self._correlator = Correlator()
        self._waiters: dict[str, asyncio.Future] = {}

    def __len__(self) -> int:
        return len(self._correlator)

    async def send(
        self, action: str, action_id: str, write: Callable[[], None], timeout: float, until_event: str | None = None
    ) -> Reply:
        """Expect the answer to ``action_id``, ``write()`` the action, then wait for that answer.

        With ``until_event`` the answer also takes that event (same ActionID).
        Raises ``pbx_timeout`` after ``timeout`` s; the action is forgotten
        however it ends, even if ``write`` raises.
        """
        self._correlator.register(action_id, final_event=until_event)
        future = asyncio.get_running_loop().create_future()
        self._waiters[action_id] = future
        try:
            write()
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise AmiActionError("pbx_timeout", f"Asterisk did not answer {action} within {timeout:g} s") from None
        finally:
            self._correlator.cancel(action_id)
            self._waiters.pop(action_id, None)

    def consume(self, message: Message) -> Outcome:
        """Match one incoming message; an answer that completes its action wakes the sender."""
        outcome = self._correlator.consume(message)
        if outcome.verdict is Verdict.COMPLETED:
            self._complete(outcome.action_id, outcome.reply)
        return outcome

    def fail_all(self, reason: str) -> int:
        """Every action in flight fails now with ``pbx_disconnected``; how many there were."""
        failed = self._correlator.fail_all(reason)
        for action_id in failed:
            waiter = self._waiters.pop(action_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_exception(AmiActionError("pbx_disconnected", reason))
        return len(failed)

    def _complete(self, action_id: str, reply: Reply) -> None:
        waiter = self._waiters.pop(action_id, None)
        if waiter is None or waiter.done():
            return
        if reply.items_mismatch:
            logger.warning(
                "AMI list %s: ListItems says %s, %d received", action_id, reply.expected_items, len(reply.events)
            )
        if reply.ok:
            waiter.set_result(reply)
        else:
            waiter.set_exception(AmiActionError("pbx_error", reply.message or "Asterisk refused the action"))


async def keep_alive(
    ping: Callable[[float], Awaitable[object]], interval: float, timeout: float, lose: Callable[[str], None]
) -> None:
    """Ping every ``interval`` s; no answer within ``timeout`` s calls ``lose`` (the link is half-open).

    ``ping(timeout)`` sends one Ping. Returns when the link is lost or already gone.
    """
    while True:
        await asyncio.sleep(interval)
        try:
            await ping(timeout)
        except AmiActionError as exc:
            if exc.code == "pbx_timeout":
                lose(f"no answer to Ping within {timeout:g} s")
                return
            if exc.code == "pbx_disconnected":
                return
