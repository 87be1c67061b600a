"""Helpers for the worker tests: recorded events, renumbered copies of a call, a running worker."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

from connector.ami.trace import read_trace
from connector.worker import Worker

TRACES = Path(__file__).resolve().parents[2] / "tests" / "traces" / "asterisk-20.20.1-sip"

_UNIQUEID = re.compile(rb"\b1795\d{6}\.(\d+)\b")
_SUFFIX = re.compile(rb"-0000[0-9a-f]{4}\b")
_BRIDGE = re.compile(rb"(BridgeUniqueid: [0-9a-f]{8})-")


def scenario_events(name: str) -> list[bytes]:
    """The live events of a recorded scenario (no banner, no replies to the recorder's actions)."""
    out = []
    for record in read_trace(TRACES / name):
        text = record.data.decode()
        if record.direction == "in" and text.startswith("Event:") and "\r\nActionID:" not in text:
            out.append(record.data)
    return out


def renumbered(events: list[bytes], copy: int, lines: dict[str, str] | None = None) -> list[bytes]:
    """The same call again as a new one: fresh Uniqueids, channel suffixes and bridges; lines renamed.

    ``lines`` maps the recording's lines to others (``{"305": "401"}``), so
    many distinct calls on many lines can be made from one recording.
    """
    out = []
    for data in events:
        data = _UNIQUEID.sub(lambda m: b"%d.%s" % (1900000000 + copy, m.group(1)), data)
        data = _SUFFIX.sub(b"-%08x" % (copy * 16 + 1), data)
        data = _BRIDGE.sub(rb"\1-%04x-" % (copy % 0x10000), data)
        for old, new in (lines or {}).items():
            data = re.sub(rb"\b%s\b" % old.encode(), new.encode(), data)
        out.append(data)
    return out


@contextlib.asynccontextmanager
async def running(worker: Worker, timeout: float = 10.0):
    """Run ``worker`` for the block; stop it and wait for a clean end afterwards."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout)
