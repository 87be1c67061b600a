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


async def test_memory_global_limit_caps_users_together():
    clock = Clock()
    limiter = MemoryRateLimiter(3, 10, clock=clock, global_limit=4)
    results = [await limiter.hit(user) for user in ("a", "b", "c", "a", "b", "c")]
    assert results[:4] == [None] * 4
    assert all(r is not None for r in results[4:])
    clock.now += 10
    assert await limiter.hit("c") is None


async def test_redis_global_limit_is_shared_and_does_not_count_refusals(redis_url):
    prefix = f"test:ratelimit:{uuid.uuid4().hex}:"
    node_1 = RedisRateLimiter(redis_url, 2, 10, prefix=prefix, global_limit=3)
    node_2 = RedisRateLimiter(redis_url, 2, 10, prefix=prefix, global_limit=3)
    try:
        results = [await node_1.hit("a"), await node_2.hit("b"), await node_1.hit("c"), await node_2.hit("d")]
        assert results[:3] == [None, None, None]
        assert results[3] is not None
        # The refused attempt was not recorded against user d.
        assert await node_1._redis.zcard(prefix + "d") == 0
        assert await node_1._redis.zcard(prefix + "__all__") == 3
    finally:
        await node_1._redis.delete(*[prefix + k for k in ("a", "b", "c", "d", "__all__")])
        await node_1.close()
        await node_2.close()


def test_the_global_limit_follows_the_settings(settings):
    settings.REDIS_URL = ""
    settings.ORIGINATE_GLOBAL_RATE_LIMIT = 25
    assert originate_rate_limiter().global_limit == 25
