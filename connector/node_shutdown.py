"""Open sockets leave their channel-layer groups when a daphne node stops (SIGTERM).

daphne's own shutdown hook cancels the sockets without a disconnect, and it
gives up altogether (``KeyError: 'application_instance'``) as soon as one
connection has no application, e.g. an idle keep-alive connection from the
balancer. So the node registers a hook of its own with the Twisted reactor
daphne runs on; it calls each live socket's ``disconnect``, which leaves its
groups. Without it a stopped node's sockets stay group members until
``group_expiry`` and every event to them fills a queue nobody reads.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import weakref
from typing import Protocol

logger = logging.getLogger(__name__)

LEAVE_TIMEOUT = 5.0  # a node stopping must not wait long on an unreachable Redis


class Leaver(Protocol):
    async def disconnect(self, code: int) -> None: ...


_live: weakref.WeakSet = weakref.WeakSet()
_installed = False


def track(socket: Leaver) -> None:
    """Remember an accepted socket; on the first one, hook into the reactor's shutdown if daphne runs us."""
    _live.add(socket)
    _install_once()


def forget(socket: Leaver) -> None:
    """The socket closed by itself: nothing to do for it at shutdown."""
    _live.discard(socket)


async def leave_all(timeout: float = LEAVE_TIMEOUT) -> int:
    """Disconnect every live socket (code 1001, going away); returns how many there were."""
    sockets = list(_live)
    _live.clear()
    if not sockets:
        return 0
    results = await asyncio.wait_for(
        asyncio.gather(*(socket.disconnect(1001) for socket in sockets), return_exceptions=True), timeout
    )
    for result in results:
        if isinstance(result, Exception):
            logger.warning("a socket could not leave its groups at shutdown: %s", result.__class__.__name__)
    return len(sockets)


def _install_once() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    # Only when a Twisted reactor is already running (daphne): importing it here would install one.
    if "twisted.internet.reactor" not in sys.modules:
        return
    from twisted.internet import defer, reactor

    def before_shutdown():
        future = asyncio.ensure_future(_leave_all_logged())
        return defer.Deferred.fromFuture(future)

    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)


async def _leave_all_logged() -> None:
    try:
        count = await leave_all()
    except Exception as exc:  # the node is going away whatever happens; say why groups may linger
        logger.warning("sockets could not leave their groups at shutdown: %s", exc.__class__.__name__)
        return
    if count:
        logger.info("%d socket(s) left their groups before the node stopped", count)
