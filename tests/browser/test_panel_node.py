"""SysMsgServerNode: the panel connects to a messaging node on another host with a renewed token."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
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
