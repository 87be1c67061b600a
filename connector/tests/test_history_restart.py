"""Publisher and HistoryWriter together: a restarted worker continues each line's seq."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer

from connector.ami.events import LineEvent
from connector.history import HistoryWriter, live_snapshot
from connector.publisher import Publisher, group_for_line

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def ringing(line: str, call_id: str) -> LineEvent:
    call = {
        "id": call_id,
        "line": line,
        "direction": "inbound",
        "state": "ringing",
        "remote_number": "79161234567",
        "remote_name": None,
        "started_at": "2026-11-26T10:00:00Z",
    }
    return LineEvent(line, "call.ringing", call)


async def run_worker(events: list[LineEvent], layer) -> Publisher:
    """One worker life: load counters, publish, flush history, stop."""
    writer = HistoryWriter(retry_initial=0.02)
    publisher = Publisher(layer, writer)
    await publisher.load_seqs()
    await publisher.publish(events)
    assert await publisher.drain(timeout=5)
    await publisher.close()
    await database_sync_to_async(writer.stop)(5)
    return publisher


async def test_seq_continues_after_a_restart_and_matches_the_snapshot():
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add(group_for_line("305"), channel)

    first = await run_worker([ringing("305", "a"), ringing("305", "b"), ringing("306", "c")], layer)
    assert first.seqs == {"305": 2, "306": 1}
    snapshot = await database_sync_to_async(live_snapshot)("305")
    assert snapshot["seq"] == 2 and {c["id"] for c in snapshot["calls"]} == {"a", "b"}

    second = await run_worker([ringing("305", "d")], layer)
    assert second.seqs == {"305": 3, "306": 1}
    received = []
    while True:
        try:
            received.append((await asyncio.wait_for(layer.receive(channel), 0.2))["event"])
        except TimeoutError:
            break
    assert [(m["type"], m["seq"]) for m in received] == [
        ("call.ringing", 1),
        ("call.ringing", 2),
        ("resync", 2),  # the restarted worker asks open sockets for a fresh snapshot
        ("call.ringing", 3),
    ]
    assert (await database_sync_to_async(live_snapshot)("305"))["seq"] == 3
