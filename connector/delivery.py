"""Delivery from the AMI client to its consumers, off the read loop.

The read loop only appends to a bounded buffer; one dispatcher task calls
the consumers' callbacks in order (sync or async). When the buffer is full,
new events are refused (``put`` returns False) so the socket keeps being read;
the client then schedules a resync instead.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from connector.ami.message import Message

# The consumers' callbacks (sync or async), as the client takes them.
EventCallback = Callable[[Message, float], "Awaitable[None] | None"]
ResyncCallback = Callable[[list[Message], list[Message]], "Awaitable[None] | None"]
StateCallback = Callable[[str, str], "Awaitable[None] | None"]
RawHook = Callable[[str, bytes, float], None]

logger = logging.getLogger("connector.client")

SLICE = 0.005  # longest run of callbacks before the read loop gets its turn


async def _call(callback: Callable | None, *args) -> None:
    """Call a sync or async callback; a failing consumer is logged, never raised into the client."""
    if callback is None:
        return
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("AMI consumer callback %r failed", getattr(callback, "__name__", callback))


class Delivery:
    """A bounded, ordered buffer of ``(kind, *args)`` items and the task that hands them out."""

    def __init__(self, limit: int, handlers: dict[str, Callable | None]) -> None:
        self.limit = limit
        self.handlers = handlers
        self.dropped = 0
        self._buffer: deque[tuple] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._buffer)

    def put(self, kind: str, *args: object, force: bool = False) -> bool:
        """Queue one item; False (and counted) when the buffer is full and ``force`` is not set."""
        if not force and len(self._buffer) >= self.limit:
            self.dropped += 1
            return False
        self._buffer.append((kind, *args))
        self._ready.set()
        return True

    async def run(self, after_each: Callable[[], None] | None = None) -> None:
        """Hand items to their handlers for ever (cancel to stop).

        Handlers that never suspend would keep the loop to themselves while the
        buffer is full, and the socket would go unread: give way every ``SLICE`` s.
        """
        slice_started = time.monotonic()
        while True:
            if not self._buffer:
                self._ready.clear()
                await self._ready.wait()
                slice_started = time.monotonic()
                continue
            kind, *args = self._buffer.popleft()
            await _call(self.handlers.get(kind), *args)
            if after_each is not None:
                after_each()
            if time.monotonic() - slice_started >= SLICE:
                await asyncio.sleep(0)
                slice_started = time.monotonic()

    async def finish(self, task: asyncio.Task, timeout: float = 2.0) -> None:
        """Let queued items go out (up to ``timeout``), then stop ``task`` (the one running :meth:`run`)."""
        deadline = time.monotonic() + timeout
        while self._buffer and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.01)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
