"""The client's delivery buffer: bounded, ordered, and never keeps the event loop to itself."""

from __future__ import annotations

import asyncio
import time

import pytest

from connector.delivery import SLICE, Delivery

pytestmark = pytest.mark.timeout(30)


async def test_it_refuses_items_beyond_its_limit_and_counts_them():
    delivery = Delivery(3, {"event": None})
    assert [delivery.put("event", n) for n in range(5)] == [True, True, True, False, False]
    assert delivery.put("state", "down", force=True) is True
    assert (len(delivery), delivery.dropped) == (4, 2)


async def test_busy_callbacks_still_let_the_read_loop_run():
    handled = []

    def busy(n: int) -> None:
        time.sleep(0.001)  # a consumer that never suspends, like the tracker
        handled.append(n)

    delivery = Delivery(1000, {"event": busy})
    for n in range(300):
        delivery.put("event", n)
    ticks: list[float] = []

    async def read_loop_stand_in() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0)

    ticker = asyncio.create_task(read_loop_stand_in())
    runner = asyncio.create_task(delivery.run())
    try:
        while len(handled) < 300:
            await asyncio.sleep(0.01)
    finally:
        runner.cancel()
        ticker.cancel()
        await asyncio.gather(runner, ticker, return_exceptions=True)
    assert handled == list(range(300))  # in order
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert len(ticks) > 20  # the other task ran all along, not only once the buffer was empty
    assert max(gaps) < SLICE + 0.05  # 0.3 s of work, handed out in slices
