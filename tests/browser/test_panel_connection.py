"""The panel's connection in a real browser: seq gaps, reconnects, refusals, debug logging.

The page comes from a real daphne; the websocket is answered by the test
(Playwright routing, ``panel`` fixture).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.fakesocket import make_call

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def test_a_seq_gap_asks_for_a_snapshot_and_old_events_are_ignored(page, panel):
    panel.hello([make_call("c1", "active")], seq=5)
    page.locator('.tp-call[data-call-id="c1"]').wait_for()
    panel.push({"type": "call.held", "seq": 6, "call": make_call("c1", "held")})
    page.locator('.tp-call[data-call-id="c1"][data-state="held"]').wait_for()
    assert panel.commands("snapshot") == []
    # 6 -> 8: event 7 was lost.
    panel.push({"type": "call.resumed", "seq": 8, "call": make_call("c1", "active")})
    snapshot = panel.wait_command("snapshot")
    assert set(snapshot) == {"type", "ref"}
    page.locator('.tp-call[data-call-id="c1"][data-state="active"]').wait_for()
    # A late duplicate of an older event does not roll the card back.
    panel.push({"type": "call.held", "seq": 7, "call": make_call("c1", "held")})
    panel.hello([make_call("c1", "active"), make_call("c3", "ringing")], seq=8)
    page.locator('.tp-call[data-call-id="c3"]').wait_for()
    assert page.locator('.tp-call[data-call-id="c1"]').get_attribute("data-state") == "active"
    assert len(panel.commands("snapshot")) == 1


def test_it_reconnects_by_itself_and_restores_from_hello(page, panel):
    panel.hello([make_call("old", "active")], seq=4)
    page.locator('.tp-call[data-call-id="old"]').wait_for()
    panel.routes[-1].close(code=1011, reason="server restart")
    page.locator('#tp-link[data-state="offline"]').wait_for()
    # The live view stays on screen while offline.
    assert page.locator('.tp-call[data-call-id="old"]').count() == 1
    panel.wait_connected(2)
    panel.hello([make_call("new", "ringing")], seq=9)
    page.locator('.tp-call[data-call-id="new"]').wait_for()
    page.locator('.tp-call[data-call-id="old"]').wait_for(state="detached")
    assert page.locator("#tp-link").text_content() == "Connected"


def test_pbx_reconnecting_is_shown(page, panel):
    panel.hello(seq=0, connector={"state": "reconnecting"})
    page.locator("#tp-pbx", has_text="PBX reconnecting").wait_for()
    panel.push({"type": "connector.state", "state": "connected"})
    page.locator("#tp-pbx", has_text="PBX connected").wait_for()
    panel.push({"type": "connector.state", "state": "down"})
    page.locator('#tp-pbx[data-state="down"]').wait_for()


def test_debug_mode_logs_every_message_with_a_timestamp(page, panel):
    lines = []
    page.on("console", lambda message: lines.append(message.text))
    panel.hello(seq=0, debug=True)
    panel.push({"type": "call.ringing", "seq": 1, "call": make_call("d1", "ringing")})
    page.locator('.tp-call[data-call-id="d1"]').wait_for()
    page.fill("#tp-number", "306")
    page.press("#tp-number", "Enter")
    panel.wait_command("call")
    panel.wait_until(lambda: any(" out" in line for line in lines), what="the outgoing message in the console")
    stamp = r"\[telephony \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\]"
    assert any(re.match(stamp + " in", line) and "hello" in line for line in lines)
    assert any(re.match(stamp + " in", line) and "call.ringing" in line for line in lines)
    assert any(re.match(stamp + " out", line) and "306" in line for line in lines)


def test_without_debug_mode_nothing_is_logged(page, panel):
    lines = []
    page.on("console", lambda message: lines.append(message.text))
    panel.hello(seq=0, debug=False)
    panel.push({"type": "call.ringing", "seq": 1, "call": make_call("d1", "ringing")})
    page.locator('.tp-call[data-call-id="d1"]').wait_for()
    assert not [line for line in lines if line.startswith("[telephony")]


def test_a_refusal_shows_the_servers_reason(page, panel):
    panel.push({"type": "error", "code": "no_seat", "message": "You have no telephony licence.", "close_code": 4402})
    panel.routes[-1].close(code=4402, reason="no_seat")
    page.locator("#tp-message", has_text="You have no telephony licence.").wait_for()
    page.locator('#tp-link[data-state="offline"]').wait_for()
    # Refused: the next attempt waits the longest backoff step, not one second.
    page.wait_for_timeout(2500)
    assert len(panel.routes) == 1


def test_the_reconnect_delay_grows_with_jitter_and_a_cap(page, panel):
    delays = page.evaluate(
        "() => [0, 1, 2, 3, 4, 5, 8, 20].map((n) => [0, 1, 2, 3, 4, 5].map(() => Telephony.backoffDelay(n)))"
    )
    for attempt, samples in zip([0, 1, 2, 3, 4, 5, 8, 20], delays, strict=True):
        ceiling = min(30000, 1000 * 2**attempt)
        assert all(ceiling / 2 <= delay <= ceiling for delay in samples), (attempt, samples)
    assert len({delay for samples in delays for delay in samples}) > 10


def test_a_new_hello_shows_a_changed_line(page, panel):
    panel.hello(seq=0)
    assert page.locator("#tp-line").text_content() == "305"
    panel.hello(seq=0, line="office")
    expect(page.locator("#tp-line")).to_have_text("office")


def test_the_socket_tells_the_server_the_pages_language(browser_context, page, panel, live_site):
    assert "lang=en" in panel.urls[0]
    browser_context.add_cookies([{"name": "django_language", "value": "ru", "url": live_site}])
    page.goto(f"{live_site}/profile/")
    panel.wait_connected(2)
    assert page.evaluate("document.documentElement.lang") == "ru"
    assert panel.urls[-1].endswith("/ws/telephony/?lang=ru")
