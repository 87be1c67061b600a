"""Events -> channel layer. The only module that knows channel-layer names.

The channel layer is at-most-once: a failed ``group_send`` is logged once per
outage and never raised to the AMI loop. Lines whose messages were lost get a
``resync`` event when publishing works again, so their sockets send a fresh
``hello`` snapshot (see docs/internals.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol

from channels.db import database_sync_to_async

from connector.ami.events import LineEvent

logger = logging.getLogger(__name__)

CONNECTOR_GROUP = "connector.state"
COMMAND_CHANNEL = "connector.commands"
RESYNC = "resync"

_GROUP_SAFE = re.compile(r"[A-Za-z0-9_.\-]{1,80}")


def group_for_line(line: str) -> str:
    """The group of every socket watching ``line``: ``line.305``.

    A line with characters a group name may not hold (or a very long one) gets
    a stable hashed name under a different prefix, so it can never collide.
    """
    if _GROUP_SAFE.fullmatch(line):
        return f"line.{line}"
    return "line-h." + hashlib.sha256(line.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def group_for_user(user_id: int | str) -> str:
    """The group of every socket a user has open (profile and licence changes)."""
    return f"user.{int(user_id)}"


class EventSink(Protocol):
    """What the publisher needs from the history writer."""

    def submit(self, event: LineEvent, seq: int) -> None: ...

    def record_connector_state(self, state: str, detail: str) -> None: ...

    def load_line_seqs(self) -> dict[str, int]: ...


def browser_message(event: LineEvent, seq: int) -> dict:
    """The message a browser on ``event.line`` gets, with private ``_`` keys removed."""
    message = {key: value for key, value in event.message().items() if not key.startswith("_")}
    call = message.get("call")
    if isinstance(call, dict):
        message["call"] = {key: value for key, value in call.items() if not key.startswith("_")}
    message["seq"] = seq
    message["line"] = event.line
    return message


class Publisher:
    """Numbers each line's events, records them, then sends them to the line's group.

    ``publish`` only numbers, records and queues: a sender task does the
    ``group_send`` calls in order, so a slow or dead Redis never holds up the
    AMI read loop. The queue is bounded; what does not fit is dropped and its
    lines resync.
    """

    def __init__(
        self,
        channel_layer: Any,
        history_writer: EventSink | None = None,
        *,
        send_timeout: float = 5.0,
        retry_interval: float = 1.0,
        max_pending: int = 10_000,
    ) -> None:
        self.channel_layer = channel_layer
        self.history_writer = history_writer
        self.send_timeout = send_timeout
        self.retry_interval = retry_interval
        self.max_pending = max_pending
        self.seqs: dict[str, int] = {}
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._queue: deque[tuple[str, dict, str | None]] = deque()
        self._outage = False
        self._overflowing = False
        self._resync_lines: set[str] = set()
        self._connector_state: dict | None = None
        self._connector_pending = False
        self._drop: list[str | None] = []
        self._sender: asyncio.Task | None = None
        self._closed = False
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    # -- start-up ---------------------------------------------------------

    async def load_seqs(self, resync: bool = True) -> None:
        """Continue every line's ``seq`` from ``LineState`` (a restarted worker).

        With ``resync``, every known line is told to resync, because events the
        previous worker numbered may not have reached the database.
        """
        if self.history_writer is None:
            return
        try:
            loaded = await database_sync_to_async(self.history_writer.load_line_seqs)()
        except Exception:
            logger.warning("Could not load line counters; numbering starts again at 1", exc_info=True)
            return
        for line, seq in loaded.items():
            self.seqs[line] = max(self.seqs.get(line, 0), seq)
        if resync and loaded:
            await self.resync_lines(loaded.keys())

    # -- publishing -------------------------------------------------------

    def next_seq(self, line: str) -> int:
        """Take the next number of ``line``'s counter."""
        seq = self.seqs.get(line, 0) + 1
        self.seqs[line] = seq
        return seq

    async def publish(self, events: Iterable[LineEvent]) -> None:
        """Number, record and queue ``events`` in order. Never blocks on the layer, never raises."""
        for event in events:
            seq = self.next_seq(event.line)
            if self.history_writer is not None:
                # Recorded before it is sent: the database is always a prefix of the stream.
                self.history_writer.submit(event, seq)
            if self._take_drop(event.line):
                logger.debug("Test hook dropped %s seq %s for line %s", event.type, seq, event.line)
                continue
            message = {"type": "call.event", "event": browser_message(event, seq)}
            self._enqueue(group_for_line(event.line), message, event.line)

    async def publish_connector_state(self, state: str, detail: str = "") -> None:
        """Tell every open socket the AMI link state (``connected``/``reconnecting``/``down``)."""
        self._connector_state = {"type": "connector.state", "state": state, "detail": detail}
        if self.history_writer is not None:
            self.history_writer.record_connector_state(state, detail)
        self._enqueue(CONNECTOR_GROUP, dict(self._connector_state), None)

    async def resync_lines(self, lines: Iterable[str]) -> None:
        """Ask every socket of ``lines`` to send its browser a fresh snapshot."""
        for line in lines:
            self._enqueue(group_for_line(line), self._resync_message(line), line)

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything queued has been sent (or given up). False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def drop_next(self, line: str | None = None) -> None:
        """Test hook: number but do not send the next event (of ``line``, or of any line)."""
        self._drop.append(line)

    @property
    def in_outage(self) -> bool:
        """True while the channel layer refuses messages."""
        return self._outage

    async def close(self, drain_timeout: float = 2.0) -> None:
        """Send what is queued (waiting at most ``drain_timeout``), then stop the sender task."""
        if self._sender is not None and not self._outage and drain_timeout > 0:
            await self.drain(drain_timeout)
        self._closed = True
        if self._sender is not None:
            # The flag ends the loop even if a finishing send swallows the cancellation.
            self._wakeup.set()
            self._sender.cancel()
            await asyncio.wait({self._sender}, timeout=self.send_timeout + 1)
            self._sender = None

    # -- internals --------------------------------------------------------

    def _take_drop(self, line: str) -> bool:
        for index, wanted in enumerate(self._drop):
            if wanted is None or wanted == line:
                del self._drop[index]
                return True
        return False

    def _resync_message(self, line: str) -> dict:
        return {"type": "call.event", "event": {"type": RESYNC, "line": line, "seq": self.seqs.get(line, 0)}}

    def _mark_lost(self, line: str | None) -> None:
        self.dropped += 1
        if line is None:
            self._connector_pending = True
        else:
            self._resync_lines.add(line)

    def _enqueue(self, group: str, message: dict, line: str | None) -> None:
        if self._closed:
            self._mark_lost(line)
            return
        if self._outage:
            # Lost by design; the line resyncs when the layer is back.
            self._mark_lost(line)
            return
        if len(self._queue) >= self.max_pending:
            if not self._overflowing:
                self._overflowing = True
                logger.error(
                    "Channel layer too slow: %d messages queued; dropping, lines will resync", len(self._queue)
                )
            self._mark_lost(line)
            return
        self._queue.append((group, message, line))
        self._idle.clear()
        self._wakeup.set()
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._run(), name="publisher-sender")

    async def _group_send(self, group: str, message: dict) -> None:
        async with asyncio.timeout(self.send_timeout):
            await self.channel_layer.group_send(group, message)

    async def _run(self) -> None:
        """The sender: deliver the queue in order; during an outage, probe until the layer is back."""
        while not self._closed:
            if self._outage:
                self._idle.set()  # nothing is queued during an outage
                await asyncio.sleep(self.retry_interval)
                await self._try_recover()
            elif self._queue:
                group, message, line = self._queue.popleft()
                await self._send(group, message, line)
            elif self._resync_lines or self._connector_pending:
                # Messages were dropped on overflow: the queue has drained, so resync now.
                self._overflowing = False
                await self._try_recover()
            else:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()

    async def _send(self, group: str, message: dict, line: str | None) -> None:
        try:
            await self._group_send(group, message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failed += 1
            self._mark_lost(line)
            self._start_outage(exc)
            return
        self.sent += 1

    def _start_outage(self, exc: BaseException) -> None:
        self._outage = True
        logger.error(
            "Channel layer unavailable (%s: %s); events are not delivered until it returns",
            type(exc).__name__,
            exc or "timeout",
        )
        # Everything still queued is lost too; its lines resync later.
        while self._queue:
            self._mark_lost(self._queue.popleft()[2])

    async def _try_recover(self) -> None:
        """Send the last connector state and one resync per line that lost messages."""
        try:
            if self._connector_pending and self._connector_state is not None:
                await self._group_send(CONNECTOR_GROUP, dict(self._connector_state))
                self.sent += 1
            self._connector_pending = False
            for line in sorted(self._resync_lines):
                # Unmark before the await: a drop on this line during the send marks it again.
                self._resync_lines.discard(line)
                try:
                    await self._group_send(group_for_line(line), self._resync_message(line))
                except BaseException:
                    self._resync_lines.add(line)
                    raise
                self.sent += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not self._outage:
                self._start_outage(exc)
            return
        if self._outage:
            self._outage = False
            logger.warning("Channel layer is back; open sockets told to resync")
