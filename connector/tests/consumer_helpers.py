"""Helpers for the websocket consumer tests: the real ASGI stack, sessions, a stand-in worker."""

from __future__ import annotations

import asyncio
import contextlib

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from connector.control import CommandHandler
from connector.publisher import COMMAND_CHANNEL

ORIGIN = (b"origin", b"http://localhost")


def application():
    from telephony_site.asgi import application as app

    return app


@database_sync_to_async
def session_cookie(user) -> tuple[Client, str]:
    """A logged-in test client for ``user`` and its session id."""
    client = Client()
    client.force_login(user)
    return client, client.cookies["sessionid"].value


def communicator(
    session_id: str | None = None,
    query: str = "",
    origin: bytes | None = b"http://localhost",
    host: bytes | None = b"localhost",
    extra_headers: list[tuple[bytes, bytes]] = (),
):
    """A socket on the real ASGI stack; like a browser on http://localhost it sends Host and Origin."""
    headers = [(b"host", host)] if host is not None else []
    if origin is not None:
        headers.append((b"origin", origin))
    if session_id:
        headers.append((b"cookie", f"sessionid={session_id}".encode()))
    headers.extend(extra_headers)
    path = "/ws/telephony/" + (f"?{query}" if query else "")
    return WebsocketCommunicator(application(), path, headers=headers)


async def connect_user(user, query: str = ""):
    """Open a socket as ``user`` (session cookie) and return it with the ``hello`` it was sent."""
    _client, session_id = await session_cookie(user)
    ws = communicator(session_id, query)
    connected, _ = await ws.connect(timeout=5)
    assert connected
    hello = await ws.receive_json_from(timeout=5)
    return ws, hello


async def expect_refusal(ws, close_code: int, error_code: str) -> dict:
    """The refusal contract: an ``error`` message naming the reason, then a close with the code."""
    error = await ws.receive_json_from(timeout=5)
    assert error["type"] == "error"
    assert error["code"] == error_code
    assert error["message"]
    closed = await ws.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": close_code, "reason": error_code}
    return error


async def release_db_connections() -> None:
    """Close the executor thread's connection (a logout run inside a test can leave one open)."""
    from django.db import connections

    await database_sync_to_async(connections.close_all)()


async def group_members(group: str) -> set[str]:
    """The channels in a group of the in-memory layer."""
    return set(get_channel_layer().groups.get(group, {}))


class Tracker:
    """A call tracker stand-in: ``{(line, call_id): channels}``."""

    def __init__(self, calls: dict) -> None:
        self.calls = calls

    def call_channels(self, line, call_id):
        return self.calls.get((line, call_id))


@contextlib.asynccontextmanager
async def running_worker(client, calls: dict | None = None, limit: int = 10, global_limit: int = 0):
    """Serve ``connector.command`` messages like the worker does, with a real CommandHandler."""
    from django.conf import settings

    from connector.ratelimit import MemoryRateLimiter

    handler = CommandHandler(
        client, Tracker(calls or {}), settings.ASTERISK, MemoryRateLimiter(limit, 60, global_limit=global_limit)
    )
    layer = get_channel_layer()

    async def serve():
        while True:
            message = await layer.receive(COMMAND_CHANNEL)
            result = await handler.handle(message)
            await layer.send(message["reply_to"], {"type": "command.result", "result": result})

    task = asyncio.create_task(serve())
    try:
        yield handler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await handler.close()
