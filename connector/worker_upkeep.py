"""The worker's periodic chores, off the AMI read loop: operators' lines and the status heartbeat.

Every ``interval`` seconds, while the worker leads, it re-reads which lines
belong to operators (profiles change in the web process, which is another
process) and hands a changed set to the tracker, then refreshes
``ConnectorStatus.updated_at`` so ``/health/`` can tell a live worker from a
dead one. Polling the database is deliberate: it needs no message that could be
lost, and the query is one small index scan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async

logger = logging.getLogger("connector.worker")

DEFAULT_INTERVAL = 5.0


def operator_lines() -> frozenset[str] | None:
    """The lines the tracker follows: every active user's profile line, unless he disabled integration.

    The seat does not matter: a call on the line of a user without a licence is
    still an operator's call (history, ``internal`` direction), he just has no
    panel. ``None`` while no profile has a line at all (a fresh install or a
    scenario replay): then every phone endpoint that proves itself counts, as
    ``ami_replay`` does without ``--line``.
    """
    from profiles.models import Profile

    lines = frozenset(
        Profile.objects.filter(user__is_active=True, integration_disabled=False, line__isnull=False)
        .exclude(line="")
        .values_list("line", flat=True)
    )
    return lines or None


def touch_connector_status() -> None:
    """Heartbeat: the status row's ``updated_at`` is now (the state itself is written by the history writer)."""
    from django.utils import timezone

    from connector.models import ConnectorStatus

    ConnectorStatus.objects.filter(pk=1).update(updated_at=timezone.now())


_UNSET = object()


class Upkeep:
    """Keeps the tracker's lines current and the status row fresh; each step can be called on its own.

    ``load_lines() -> frozenset | None`` and ``heartbeat()`` are plain (blocking)
    functions; they run on a worker thread with Django's connection handling.
    Either may be ``None`` (tests, or nothing to do).
    """

    def __init__(
        self,
        tracker: Any,
        *,
        load_lines: Callable[[], frozenset[str] | None] | None = None,
        heartbeat: Callable[[], None] | None = None,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.tracker = tracker
        self.load_lines = load_lines
        self.heartbeat = heartbeat
        self.interval = interval
        self.lines: object = _UNSET
        self.beats = 0
        self._failing: set[str] = set()

    async def refresh_lines(self) -> bool:
        """Read the operators' lines; True when the set changed (and the tracker got it)."""
        if self.load_lines is None:
            return False
        lines = await self._run("lines", self.load_lines)
        if lines is _UNSET or lines == self.lines:
            return False
        first = self.lines is _UNSET
        self.lines = lines
        self.tracker.set_lines(lines)
        if lines is None:
            logger.info("No operator has a line yet: tracking every phone endpoint seen")
        elif first:
            logger.info("Tracking %d operator line(s)", len(lines))
        else:
            logger.info("Operators' lines changed: tracking %d line(s)", len(lines))
        return True

    async def beat(self) -> None:
        """Refresh the status row's ``updated_at``."""
        if self.heartbeat is not None and await self._run("heartbeat", self.heartbeat) is not _UNSET:
            self.beats += 1

    async def run(self, on_lines_changed: Callable[[], None] | None = None) -> None:
        """Heartbeat now, then every ``interval``: lines and heartbeat. Runs until cancelled; never raises.

        ``on_lines_changed()`` is called after the tracker got a new set of lines.
        """
        while True:
            await self.beat()
            await asyncio.sleep(self.interval)
            if await self.refresh_lines() and on_lines_changed is not None:
                on_lines_changed()

    async def _run(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            result = await database_sync_to_async(fn)()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if what not in self._failing:
                # Once per outage: the step is retried every interval.
                logger.warning("Worker upkeep (%s) failed: %s: %s", what, type(exc).__name__, exc)
                self._failing.add(what)
            return _UNSET
        if what in self._failing:
            logger.info("Worker upkeep (%s) works again", what)
            self._failing.discard(what)
        return result
