"""The socket through a real daphne process: what a browser really sees on the wire (cases 25, 31, 32)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.test import Client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url(settings_dict: dict) -> str:
    user = quote(settings_dict.get("USER") or "")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{quote(password)}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{settings_dict.get('HOST') or '127.0.0.1'}:{settings_dict.get('PORT') or 5432}/{settings_dict['NAME']}"


@pytest.fixture(scope="module")
def daphne_url(django_db_setup, django_db_blocker, tmp_path_factory):
    """A daphne process serving the site against the test database, in-memory layer (one process)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("daphne shares the test database with this process: PostgreSQL only")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASTERISK_", "DJANGO_", "REDIS_", "PYTEST_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="telephony_site.settings",
        DATABASE_URL=_database_url(connection.settings_dict),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    port = _free_port()
    log_path = tmp_path_factory.mktemp("daphne") / "daphne.log"
    daphne = str(Path(sys.executable).with_name("daphne"))
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [daphne, "-b", "127.0.0.1", "-p", str(port), "telephony_site.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"daphne did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"ws://127.0.0.1:{port}/ws/telephony/"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _origin(ws_url: str) -> str:
    """The page origin a browser on this daphne sends: same host and port, http."""
    return "http://" + ws_url.split("://", 1)[1].split("/", 1)[0]


def _cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def test_a_foreign_origin_is_refused_at_the_handshake(daphne_url):
    with pytest.raises(InvalidStatus) as info:
        async with connect(daphne_url, origin="https://evil.example", open_timeout=10):
            pass
    assert info.value.response.status_code == 403


@pytest.mark.parametrize("origin", ["http://127.0.0.1:1", "https://{hostport}", "null"])
async def test_an_allowed_host_with_another_scheme_or_port_is_refused(daphne_url, origin):
    origin = origin.format(hostport=_origin(daphne_url).split("://", 1)[1])
    with pytest.raises(InvalidStatus) as info:
        async with connect(daphne_url, origin=origin, open_timeout=10):
            pass
    assert info.value.response.status_code == 403


def _raw_handshake(ws_url: str, extra: bytes) -> bytes:
    """Send a websocket upgrade by hand (clients refuse to send bad header bytes) and read the status."""
    hostport = ws_url.split("://", 1)[1].split("/", 1)[0]
    host, port = hostport.rsplit(":", 1)
    request = (
        (
            f"GET /ws/telephony/ HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {_origin(ws_url)}\r\n"
        ).encode()
        + extra
        + b"\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        return conn.recv(4096)


def test_a_header_with_a_vertical_tab_is_refused(daphne_url):
    assert _raw_handshake(daphne_url, b"").startswith(b"HTTP/1.1 101")  # the hand-made upgrade is sound
    status = _raw_handshake(daphne_url, b"User-Agent: x\x0bAction: Command\r\n").split(b"\r\n", 1)[0]
    assert status.split(b" ")[1] in (b"400", b"403"), status


@pytest.mark.parametrize("path", ["/ws/calls/305/", "/ws/telephony/305/", "/ws/telephony"])
async def test_no_other_socket_path_opens(daphne_url, alice, path):
    from channels.db import database_sync_to_async

    cookie = await database_sync_to_async(_cookie)(alice)
    url = daphne_url.replace("/ws/telephony/", path)
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        async with connect(
            url, origin=_origin(daphne_url), additional_headers={"Cookie": cookie}, open_timeout=10
        ) as ws:
            await ws.recv()  # a socket that opened would get hello here


async def test_an_anonymous_socket_hears_why_and_is_closed_with_4401(daphne_url):
    async with connect(daphne_url, origin=_origin(daphne_url), open_timeout=10) as ws:
        error = json.loads(await ws.recv())
        assert (error["type"], error["code"], error["close_code"]) == ("error", "unauthenticated", 4401)
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd.code == 4401  # daphne 4.2 sends no close reason: the error message carries it


async def test_an_operator_gets_hello_errors_and_a_refused_2_mib_frame(daphne_url, alice):
    from channels.db import database_sync_to_async

    cookie = await database_sync_to_async(_cookie)(alice)
    headers = {"Cookie": cookie}
    async with connect(
        daphne_url, origin=_origin(daphne_url), additional_headers=headers, open_timeout=10, max_size=None
    ) as ws:
        hello = json.loads(await ws.recv())
        assert (hello["type"], hello["line"]) == ("hello", "305")
        await ws.send("{nope")
        assert json.loads(await ws.recv())["code"] == "invalid_json"
        await ws.send(json.dumps({"type": "snapshot", "ref": 1}))
        assert json.loads(await ws.recv())["type"] == "hello"
        assert json.loads(await ws.recv()) == {"type": "result", "ref": 1, "ok": True, "error": None}
        await ws.send("x" * (2 * 1024 * 1024))
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    # daphne drops the connection (no close frame, 1006) rather than read 2 MiB; or says 1009.
    assert info.value.rcvd is None or info.value.rcvd.code == 1009
    async with connect(daphne_url, origin=_origin(daphne_url), additional_headers=headers, open_timeout=10) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"  # the node still serves


async def test_a_thousand_messages_a_second_close_the_socket_and_the_node_keeps_serving(daphne_url, alice, bob):
    # Plan case 25: a flooding client is cut off with 4008; another operator's socket is unaffected.
    from channels.db import database_sync_to_async

    alice_cookie = await database_sync_to_async(_cookie)(alice)
    bob_cookie = await database_sync_to_async(_cookie)(bob)
    origin = _origin(daphne_url)
    async with connect(daphne_url, origin=origin, additional_headers={"Cookie": bob_cookie}, open_timeout=10) as bob_ws:
        assert json.loads(await bob_ws.recv())["type"] == "hello"
        async with connect(
            daphne_url, origin=origin, additional_headers={"Cookie": alice_cookie}, open_timeout=10
        ) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
            started = time.monotonic()
            try:
                for _ in range(1000):
                    await ws.send("{}")
            except ConnectionClosed:
                pass  # closed while still sending
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            assert info.value.rcvd.code == 4008
            assert time.monotonic() - started < 10
        await bob_ws.send(json.dumps({"type": "snapshot", "ref": 1}))
        assert json.loads(await asyncio.wait_for(bob_ws.recv(), 10))["type"] == "hello"
