"""The panel against the real consumer: a messaging node on another host with a renewed token,
and a server that closes the socket (daphne's ``--websocket_timeout``)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, start_daphne, stop_process
from tests.browser.fakesocket import FakeSocket, make_call

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def set_node(value: str) -> None:
    from settings.models import SystemSetting

    SystemSetting.objects.update_or_create(code="SysMsgServerNode", defaults={"value": value})


def token_of(url: str) -> str | None:
    return parse_qs(urlsplit(url).query).get("token", [None])[0]


def test_it_connects_to_the_node_with_a_token_from_the_site(page, live_site, operator):
    # The same daphne under another host name: no session cookie goes there, only the token.
    port = urlsplit(live_site).port
    set_node(f"ws://localhost:{port}")
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    log_in(page, live_site, "alice")
    expect(page.locator("#tp-link")).to_have_attribute("data-state", "connected", timeout=15000)
    assert sockets and sockets[0].startswith(f"ws://localhost:{port}/ws/telephony/?token=")
    assert token_of(sockets[0])


def test_the_token_is_renewed_and_a_reconnect_uses_the_fresh_one(page, live_site, operator):
    set_node("wss://node.example.com:2014")
    issued = []

    def issue(route):
        issued.append(f"token-{len(issued) + 1}")
        route.fulfill(
            status=200, content_type="application/json", body=json.dumps({"token": issued[-1], "expires_in": 2})
        )

    page.route("**/telephony/token/", issue)
    socket = FakeSocket(page)
    log_in(page, live_site, "alice")
    socket.wait_connected()
    assert socket.urls[0].startswith("wss://node.example.com:2014/ws/telephony/?token=")
    assert token_of(socket.urls[0]) == "token-1"
    socket.hello([make_call("c1", "active")], seq=1)
    page.locator('.tp-call[data-call-id="c1"]').wait_for()
    # Renewed at 70 % of its 2 s lifetime, while the socket stays up.
    socket.wait_until(lambda: len(issued) >= 3, timeout=6, what="two token renewals")
    assert len(socket.routes) == 1
    socket.routes[-1].close(code=1006)
    socket.wait_connected(2)
    assert token_of(socket.urls[1]) not in (None, "token-1")
    # The live view stayed on screen across the reconnect.
    assert page.locator('.tp-call[data-call-id="c1"]').count() == 1


def test_it_reconnects_when_the_server_closes_the_socket(page, server_env, flush_redis, operator):
    # Reliability plan 24: daphne rotates every socket after 3 s; the panel re-authenticates and gets hello.
    process, base_url = start_daphne(server_env, "--websocket_timeout", "3", log_name="daphne-rotating.log")
    try:
        sockets, hellos = [], []

        def watch(ws) -> None:
            sockets.append(ws)
            ws.on("framereceived", lambda payload: hellos.append(payload) if '"hello"' in str(payload) else None)

        page.on("websocket", watch)
        log_in(page, base_url, "alice")
        expect(page.locator("#tp-link")).to_have_attribute("data-state", "connected", timeout=15000)
        page.wait_for_timeout(100)
        deadline_ms = 20000
        while len(sockets) < 3 and deadline_ms > 0:
            page.wait_for_timeout(250)
            deadline_ms -= 250
        assert len(sockets) >= 3, f"{len(sockets)} connections"
        # Every new socket was authenticated again and restored from a fresh hello.
        assert len(hellos) >= 2
        assert all(ws.url.endswith("/ws/telephony/?lang=en") for ws in sockets)
        expect(page.locator("#tp-link")).to_have_attribute("data-state", "connected", timeout=10000)
    finally:
        stop_process(process)
