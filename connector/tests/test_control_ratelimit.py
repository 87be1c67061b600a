"""Originate rate limits (case 35): in memory, and shared across processes through Redis."""

import asyncio
import uuid

import pytest

from connector.ratelimit import (
    MemoryRateLimiter,
    MessageRateGuard,
    RedisRateLimiter,
    originate_rate_limiter,
)

pytestmark = pytest.mark.timeout(15)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_limiter_is_a_sliding_window():
    clock = Clock()
    limiter = MemoryRateLimiter(3, 10, clock=clock)
    assert [await limiter.hit("alice") for _ in range(3)] == [None, None, None]
    clock.now += 4
    assert await limiter.hit("alice") == pytest.approx(6)
    assert await limiter.hit("bob") is None
    clock.now += 6  # the three hits at t=0 leave the window; the refused one was not counted
    assert [await limiter.hit("alice") for _ in range(4)][2:] == [None, pytest.approx(10)]


async def test_redis_limiter_is_shared_by_every_process(redis_url):
    prefix = f"test:ratelimit:{uuid.uuid4().hex}:"
    node_1 = RedisRateLimiter(redis_url, 3, 10, prefix=prefix)
    node_2 = RedisRateLimiter(redis_url, 3, 10, prefix=prefix)
    try:
        results = [await node_1.hit("7"), await node_2.hit("7"), await node_1.hit("7"), await node_2.hit("7")]
        assert results[:3] == [None, None, None]
        assert 9 <= results[3] <= 10
        assert await node_2.hit("8") is None
        ttl = await node_1._redis.pttl(prefix + "7")
        assert 0 < ttl <= 10000
    finally:
        await node_1._redis.delete(prefix + "7", prefix + "8")
        await node_1.close()
        await node_2.close()


async def test_redis_limiter_frees_slots_when_the_window_passes(redis_url):
    prefix = f"test:ratelimit:{uuid.uuid4().hex}:"
    limiter = RedisRateLimiter(redis_url, 1, 0.2, prefix=prefix)
    try:
        assert await limiter.hit("u") is None
        assert await limiter.hit("u") is not None
        await asyncio.sleep(0.3)
        assert await limiter.hit("u") is None
    finally:
        await limiter.close()


def test_the_limiter_follows_the_settings(settings, redis_url):
    settings.ORIGINATE_RATE_LIMIT = 4
    settings.ORIGINATE_RATE_WINDOW = 30
    settings.REDIS_URL = ""
    memory = originate_rate_limiter()
    assert isinstance(memory, MemoryRateLimiter)
    assert (memory.limit, memory.window) == (4, 30)
    settings.REDIS_URL = redis_url
    assert isinstance(originate_rate_limiter(), RedisRateLimiter)


def test_message_guard_detects_a_flood():
    clock = Clock()
    guard = MessageRateGuard(limit=5, window=1.0, clock=clock)
    assert all(guard.allow() for _ in range(5))
    assert guard.allow() is False
    clock.now += 1.5
    assert guard.allow() is True
