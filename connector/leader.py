"""One active worker per Asterisk: a Redis lock with a time-to-live.

The active worker holds the key and renews it every third of the TTL; a
standby polls until the key is free (the active one stopped, or died and the
TTL ran out) and takes over. Renewal and release only touch the key while it
still holds this worker's own token. Without Redis (the one-process demo)
:class:`NoLock` stands in and always leads.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import uuid

logger = logging.getLogger(__name__)

DEFAULT_KEY = "telephony:ami-worker:leader"
DEFAULT_TTL = 15.0

# Compare-and-set in one round trip, so a worker never renews or frees a lock another one holds.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def worker_identity() -> str:
    """``host:pid:random``: unique per worker process, readable in the admin."""
    return f"{platform.node()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class NoLock:
    """The lock when there is no Redis: one process, always the leader."""

    def __init__(self, identity: str | None = None) -> None:
        self.identity = identity or worker_identity()
        self.held = False

    async def acquire(self, stop: asyncio.Event) -> bool:
        self.held = True
        return True

    async def keep(self, stop: asyncio.Event) -> None:
        """Hold the lock until ``stop`` is set (nothing can take it away)."""
        await stop.wait()

    async def release(self) -> None:
        self.held = False

    async def close(self) -> None:
        return None


class RedisLock:
    """A leader lock in Redis: ``SET key token NX PX ttl``, renewed while held."""

    def __init__(
        self, redis_url: str, key: str = DEFAULT_KEY, ttl: float = DEFAULT_TTL, identity: str | None = None
    ) -> None:
        from redis import asyncio as aioredis

        self.key = key
        self.ttl = ttl
        self.identity = identity or worker_identity()
        self.held = False
        self._redis = aioredis.from_url(redis_url, socket_timeout=max(1.0, ttl / 3), socket_connect_timeout=2.0)
        self._warned = False

    async def try_acquire(self) -> bool:
        """One attempt; Redis errors count as "not acquired" (logged once per outage)."""
        try:
            self.held = bool(await self._redis.set(self.key, self.identity, nx=True, px=int(self.ttl * 1000)))
        except Exception as exc:  # redis-py raises several types for an unreachable server
            self._warn(exc)
            return False
        self._warned = False
        return self.held

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this worker leads (True) or ``stop`` is set (False)."""
        announced = False
        while not stop.is_set():
            if await self.try_acquire():
                logger.info("This worker (%s) is now the active AMI worker", self.identity)
                return True
            if not announced:
                logger.info("Another worker is active; standing by (%s)", await self.holder())
                announced = True
            try:
                await asyncio.wait_for(stop.wait(), self.ttl / 3)
            except TimeoutError:
                pass
        return False

    async def renew(self) -> bool:
        """Extend the TTL; False when the lock is no longer ours (or Redis cannot say)."""
        try:
            renewed = await self._redis.eval(_RENEW, 1, self.key, self.identity, int(self.ttl * 1000))
        except Exception as exc:
            self._warn(exc)
            return False
        self.held = bool(renewed)
        return self.held

    async def keep(self, stop: asyncio.Event) -> None:
        """Renew every third of the TTL until ``stop`` is set; return early when leadership is lost.

        A renewal that fails is retried until the TTL would have run out, so a
        short Redis hiccup does not stop the worker.
        """
        loop = asyncio.get_running_loop()
        last_renewed = loop.time()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.ttl / 3)
                return
            except TimeoutError:
                pass
            if await self.renew():
                last_renewed = loop.time()
                continue
            if await self._owned_by_other() or loop.time() - last_renewed >= self.ttl:
                self.held = False
                logger.error("This worker lost the AMI leader lock; stepping down")
                return

    async def holder(self) -> str:
        try:
            value = await self._redis.get(self.key)
        except Exception:
            return "unknown"
        return value.decode() if value else "nobody"

    async def release(self) -> None:
        if not self.held:
            return
        try:
            await self._redis.eval(_RELEASE, 1, self.key, self.identity)
        except Exception as exc:
            self._warn(exc)
        self.held = False

    async def close(self) -> None:
        await self._redis.aclose()

    async def _owned_by_other(self) -> bool:
        try:
            value = await self._redis.get(self.key)
        except Exception:
            return False
        return value is not None and value.decode() != self.identity

    def _warn(self, exc: Exception) -> None:
        if not self._warned:
            logger.warning("Redis unavailable for the leader lock: %s: %s", type(exc).__name__, exc)
            self._warned = True


def leader_lock(redis_url: str = "", key: str = DEFAULT_KEY, ttl: float = DEFAULT_TTL) -> NoLock | RedisLock:
    """The lock for this deployment: Redis when ``REDIS_URL`` is set, otherwise none."""
    if not redis_url:
        return NoLock()
    return RedisLock(redis_url, key=key, ttl=ttl)
