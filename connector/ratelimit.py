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

GLOBAL_KEY = "__all__"

# Sliding windows in one round trip: every key (the user's, and the site-wide one) must have room,
# then the attempt is added to all of them. Returns 0 when allowed, otherwise the milliseconds
# until the fullest window frees a slot. ARGV: now, window, member, then one limit per key.
_SLIDING_WINDOW_LUA = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local member = ARGV[3]
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[3 + i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local until_free = tonumber(oldest[2]) + window - now
    if until_free < 1 then until_free = 1 end
    if until_free > wait then wait = until_free end
  end
end
if wait > 0 then
  return wait
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
end
return 0
"""


class MemoryRateLimiter:
    """Per-key sliding windows in this process only; ``global_limit`` (0 = off) caps all keys together."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic, global_limit: int = 0
    ) -> None:
        self.limit = limit
        self.window = window
        self.global_limit = global_limit
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    async def hit(self, key: str) -> float | None:
        """Record one attempt; ``None`` when allowed, else the seconds to wait before retrying."""
        now = self.clock()
        windows = [(self._window(key, now), self.limit)]
        if self.global_limit:
            windows.append((self._window(GLOBAL_KEY, now), self.global_limit))
        waits = [hits[0] + self.window - now for hits, limit in windows if len(hits) >= limit]
        if waits:
            return max(max(waits), 0.001)
        for hits, _limit in windows:
            hits.append(now)
        return None

    def _window(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits


class RedisRateLimiter:
    """The same sliding windows kept in Redis, so all processes share one count per key."""

    def __init__(
        self, redis_url: str, limit: int, window: float, prefix: str = KEY_PREFIX, global_limit: int = 0
    ) -> None:
        import redis.asyncio as redis_asyncio

        self.limit = limit
        self.window = window
        self.global_limit = global_limit
        self.prefix = prefix
        self._redis = redis_asyncio.Redis.from_url(redis_url)
        self._script = self._redis.register_script(_SLIDING_WINDOW_LUA)
        self._counter = 0

    async def hit(self, key: str) -> float | None:
        """Record one attempt; ``None`` when allowed, else the seconds to wait before retrying."""
        now_ms = int(time.time() * 1000)
        self._counter += 1
        member = f"{now_ms}-{id(self):x}-{self._counter}"
        keys, limits = [self.prefix + key], [self.limit]
        if self.global_limit:
            keys.append(self.prefix + GLOBAL_KEY)
            limits.append(self.global_limit)
        wait_ms = await self._script(keys=keys, args=[now_ms, int(self.window * 1000), member, *limits])
        return None if int(wait_ms) == 0 else int(wait_ms) / 1000

    async def close(self) -> None:
        await self._redis.aclose()


def originate_rate_limiter() -> MemoryRateLimiter | RedisRateLimiter:
    """The limiter the settings ask for: ``ORIGINATE_RATE_LIMIT`` calls per ``ORIGINATE_RATE_WINDOW`` s
    per user, and ``ORIGINATE_GLOBAL_RATE_LIMIT`` (0 = off) for all users together."""
    limit = int(settings.ORIGINATE_RATE_LIMIT)
    window = float(settings.ORIGINATE_RATE_WINDOW)
    global_limit = int(getattr(settings, "ORIGINATE_GLOBAL_RATE_LIMIT", 0) or 0)
    if settings.REDIS_URL:
        return RedisRateLimiter(settings.REDIS_URL, limit, window, global_limit=global_limit)
    return MemoryRateLimiter(limit, window, global_limit=global_limit)


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
