"""Rate limits: originates per user (toll-fraud guard) and messages per websocket.

The originate limit is a sliding window shared by every process through Redis
when ``REDIS_URL`` is set (so it holds across worker failover and nodes), and
kept in memory otherwise (the one-process demo).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from django.conf import settings

KEY_PREFIX = "telephony:ratelimit:originate:"

# Sliding window in one round trip: drop old entries, count, add when under the limit.
# Returns 0 when allowed, otherwise the milliseconds until the oldest entry leaves the window.
_SLIDING_WINDOW_LUA = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local member = ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  local wait = tonumber(oldest[2]) + window - now
  if wait < 1 then wait = 1 end
  return wait
end
redis.call('ZADD', key, now, member)
redis.call('PEXPIRE', key, window)
return 0
"""


class MemoryRateLimiter:
    """A per-key sliding window in this process only."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    async def hit(self, key: str) -> float | None:
        """Record one attempt; ``None`` when allowed, else the seconds to wait before retrying."""
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(hits[0] + self.window - now, 0.001)
        hits.append(now)
        return None


class RedisRateLimiter:
    """The same sliding window kept in Redis, so all processes share one count per key."""

    def __init__(self, redis_url: str, limit: int, window: float, prefix: str = KEY_PREFIX) -> None:
        import redis.asyncio as redis_asyncio

        self.limit = limit
        self.window = window
        self.prefix = prefix
        self._redis = redis_asyncio.Redis.from_url(redis_url)
        self._script = self._redis.register_script(_SLIDING_WINDOW_LUA)
        self._counter = 0

    async def hit(self, key: str) -> float | None:
        """Record one attempt; ``None`` when allowed, else the seconds to wait before retrying."""
        now_ms = int(time.time() * 1000)
        self._counter += 1
        member = f"{now_ms}-{id(self):x}-{self._counter}"
        wait_ms = await self._script(
            keys=[self.prefix + key], args=[now_ms, int(self.window * 1000), self.limit, member]
        )
        return None if int(wait_ms) == 0 else int(wait_ms) / 1000

    async def close(self) -> None:
        await self._redis.aclose()


def originate_rate_limiter() -> MemoryRateLimiter | RedisRateLimiter:
    """The limiter the settings ask for (``ORIGINATE_RATE_LIMIT`` calls per ``ORIGINATE_RATE_WINDOW`` s)."""
    limit = int(settings.ORIGINATE_RATE_LIMIT)
    window = float(settings.ORIGINATE_RATE_WINDOW)
    if settings.REDIS_URL:
        return RedisRateLimiter(settings.REDIS_URL, limit, window)
    return MemoryRateLimiter(limit, window)


class MessageRateGuard:
    """Counts one websocket's incoming messages; ``allow()`` is False once a flood is detected.

    More than ``limit`` messages within any ``window`` seconds is a flood.
    """

    def __init__(self, limit: int = 30, window: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._times: deque[float] = deque()

    def allow(self) -> bool:
        now = self.clock()
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        self._times.append(now)
        return len(self._times) <= self.limit
