"""One audit record per call-control attempt: a ``connector.audit`` log line and an ``AuditEntry`` row.

Both places that decide a command's fate call :func:`submit`: the socket for
what it refuses before the worker (bad shape, bad number, unknown type), the
worker's :class:`connector.control.CommandHandler` for everything it handles
(executed, ``forbidden``, ``rate_limited``, PBX errors). Each attempt is thus
written once. The row is written on a background task through
``database_sync_to_async``, so neither the socket nor the AMI loop waits on
the database; a database outage loses rows (logged once a minute), never a
command.
"""

from __future__ import annotations

import asyncio
import logging
import time

from channels.db import database_sync_to_async

logger = logging.getLogger(__name__)
audit_log = logging.getLogger("connector.audit")

SOURCE_SOCKET = "socket"
SOURCE_WORKER = "worker"
_pending: set[asyncio.Task] = set()
_failure_logged = 0.0  # a database outage: one warning a minute, not one per command


def describe(command: object) -> tuple[str, str]:
    """``(action, target)`` of a raw command: its type, and its number or call id (cut to fit)."""
    data = command if isinstance(command, dict) else {}
    action = str(data.get("type"))[:40] if "type" in data else ""
    target = data.get("number") if "number" in data else data.get("call_id", "")
    return action, str(target if target is not None else "")[:80]


def log_attempt(user_id: object, line: object, command: object, code: str | None, source: str) -> None:
    """The audit log line; values are ``repr``-escaped so a CR/LF in a number cannot forge lines."""
    data = command if isinstance(command, dict) else {}
    audit_log.info(
        "user=%r line=%r command=%r call_id=%r number=%r ok=%s error=%r source=%s",
        user_id,
        line,
        str(data.get("type"))[:40],
        str(data["call_id"])[:80] if "call_id" in data else None,
        str(data["number"])[:64] if "number" in data else None,
        code is None,
        code,
        source,
    )


def write_entry(user_id: object, line: object, command: object, code: str | None, detail: str, source: str) -> None:
    """Write one :class:`connector.models.AuditEntry` (synchronous; runs in a worker thread)."""
    from connector.models import AuditEntry

    action, target = describe(command)
    AuditEntry.objects.create(
        user_id=user_id if isinstance(user_id, int) and not isinstance(user_id, bool) else None,
        line=str(line or "")[:40],
        action=action,
        target=target,
        result=AuditEntry.OK if code is None else str(code)[:40],
        detail=f"{source}: {detail}"[:200] if detail else source,
    )


async def _write(user_id, line, command, code, detail, source) -> None:
    global _failure_logged
    try:
        await database_sync_to_async(write_entry)(user_id, line, command, code, detail, source)
    except Exception as exc:
        if time.monotonic() - _failure_logged >= 60.0:
            _failure_logged = time.monotonic()
            logger.warning("could not write an audit entry (%s); the log line remains", exc.__class__.__name__)


def submit(
    user_id: object, line: object, command: object, code: str | None, detail: str = "", source: str = SOURCE_WORKER
) -> asyncio.Task:
    """Log the attempt now and write its row in the background (call from the event loop).

    ``code`` is ``None`` for success, else the error code the browser gets.
    """
    log_attempt(user_id, line, command, code, source)
    task = asyncio.get_running_loop().create_task(_write(user_id, line, command, code, detail, source))
    _pending.add(task)  # keep a reference until done, or the task may be collected mid-write
    task.add_done_callback(_pending.discard)
    return task


async def drain(timeout: float = 5.0) -> None:
    """Wait until the rows submitted so far are written (tests, shutdown)."""
    loop = asyncio.get_running_loop()
    tasks = [task for task in _pending if not task.done() and task.get_loop() is loop]
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)
