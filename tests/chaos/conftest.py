"""Chaos-test fixtures: a redis-server of the test's own, daphne nodes sharing it, sockets with a session.

Everything runs on 127.0.0.1. Every process a test starts is stopped (or
killed) when the test ends, whatever happened.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from channels.layers import channel_layers
from websockets.asyncio.client import ClientConnection, connect

# server_env: the test database's URL and a clean environment for subprocesses (shared with the browser tests).
from tests.browser.conftest import free_port, server_env, start_process, stop_process, wait_for_port  # noqa: F401

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
LAYER_PREFIX = "asgi"  # channels-redis's default: daphne nodes and the test process use the same


class RedisServer:
    """A redis-server without persistence on a port of its own; can be killed and started again."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.starts += 1
        self.process = start_process(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            os.environ.copy(),
            self.workdir / f"redis-{self.starts}.log",
        )
        wait_for_port(self.port, self.process, timeout=10)

    def kill(self) -> None:
        """SIGKILL: everything it held (groups, queued messages) is gone."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
            self.process.log_file.close()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def members(self, group: str) -> set[str]:
        """The channel names Redis holds for a group (channels-redis keeps them in a ZSET)."""
        client = self.client()
        try:
            return {name.decode() for name in client.zrange(f"{LAYER_PREFIX}:group:{group}", 0, -1)}
        finally:
            client.close()


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    if not Path(REDIS_SERVER).exists():
        pytest.skip("needs /usr/bin/redis-server")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            stop_process(server.process)


@pytest.fixture
def test_layer(settings, redis_server):
    """This process's channel layer, on the test's Redis: what the worker's publisher would use."""

    def configure(**config) -> None:
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [redis_server.url], "prefix": LAYER_PREFIX, **config},
            }
        }
        channel_layers.backends.clear()

    configure()
    yield configure
    channel_layers.backends.clear()


@dataclass
class Node:
    """One daphne process serving the site."""

    process: subprocess.Popen
    port: int

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/telephony/"

    def log(self) -> str:
        return Path(self.process.log_path).read_text(errors="replace")[-3000:]


@dataclass
class Nodes:
    """Starts daphne nodes on the test's Redis; stops every one of them at the end of the test."""

    env: dict[str, str]
    started: list[Node] = field(default_factory=list)

    def start(self, count: int = 1, *daphne_args: str, **variables: str) -> list[Node]:
        daphne = str(Path(sys.executable).with_name("daphne"))
        env = {**self.env, **variables}
        nodes = []
        for _ in range(count):
            port = free_port()
            args = [daphne, "-b", "127.0.0.1", "-p", str(port), *daphne_args, "tests.chaos.asgi:application"]
            log_path = Path(env["BROWSER_TEST_LOGS"]) / f"daphne-{port}-{uuid.uuid4().hex[:6]}.log"
            nodes.append(Node(start_process(args, env, log_path), port))
            self.started.append(nodes[-1])
        # Started together, waited for together: each takes a few seconds to import Django.
        for node in nodes:
            wait_for_port(node.port, node.process, timeout=30)
        return nodes

    def stop_all(self) -> None:
        for node in self.started:
            if node.process.poll() is None:
                stop_process(node.process)
            elif not node.process.log_file.closed:
                node.process.log_file.close()


@pytest.fixture
def nodes(server_env, redis_server) -> Iterator[Nodes]:  # noqa: F811
    group = Nodes({**server_env, "REDIS_URL": redis_server.url})
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture
def alice_session(transactional_db, make_operator) -> tuple[object, str]:
    """alice (line 305) and the session id of a real login, committed for the daphne nodes to see."""
    from django.test import Client

    user = make_operator("alice", "305")
    client = Client()
    client.force_login(user)
    return user, client.cookies["sessionid"].value


async def open_socket(node: Node, session_id: str, port: int | None = None, **options) -> ClientConnection:
    """A browser tab's socket on ``node`` (through ``port`` when a proxy stands in between)."""
    port = port or node.port
    return await connect(
        f"ws://127.0.0.1:{port}/ws/telephony/",
        additional_headers={"Cookie": f"sessionid={session_id}"},
        origin=f"http://127.0.0.1:{port}",
        open_timeout=15,
        **options,
    )


async def receive(ws: ClientConnection, timeout: float = 10.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def receive_until(ws: ClientConnection, predicate: Callable[[dict], bool], timeout: float = 10.0) -> dict:
    """The first message that matches, skipping others (e.g. a ``connector.state``)."""
    deadline = time.monotonic() + timeout
    while True:
        message = await receive(ws, max(0.01, deadline - time.monotonic()))
        if predicate(message):
            return message


async def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> float:
    """Poll ``condition`` (a cheap sync check) until true; returns the seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(interval)
    return time.monotonic() - start


def ringing(seq: int, call_id: str, name: str = "Ivan Petrov") -> dict:
    """A ``call.event`` as the publisher sends it for line 305."""
    call = {"id": call_id, "line": "305", "direction": "inbound", "state": "ringing", "remote_name": name}
    return {"type": "call.event", "event": {"type": "call.ringing", "line": "305", "seq": seq, "call": call}}
