"""The whole chain in a real browser: fake AMI -> ami_worker -> Redis -> daphne -> Chromium.

Real processes as in production (the worker and daphne share only Redis and
PostgreSQL); the fake AMI replays a recorded Asterisk 20 call with a hostile
caller name and records the actions the panel's buttons cause.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, read_log
from tests.browser.live_pbx import FakeAmiThread, start_worker, stop_process, trace_messages

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

XSS_NAME = "<img src=x onerror=alert(1)>"


@pytest.fixture
def pbx(live_site, server_env, make_operator, transactional_db):
    """alice (line 305, debug mode on), a fake AMI and a worker logged in to it."""
    make_operator("alice", "305", debug_mode=True)
    fake = FakeAmiThread()
    worker = start_worker(server_env, fake.ami.port)
    fake.worker = worker
    try:
        try:
            fake.wait_action("Login", timeout=30)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nworker log:\n{read_log(worker)}") from None
        yield fake
    finally:
        stop_process(worker)
        fake.close()


def test_an_inbound_call_end_to_end(page, live_site, pbx, artifacts_dir):
    dialogs, console = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: console.append(message.text))
    log_in(page, live_site, "alice")
    response = page.goto(f"{live_site}/")
    # No inline script may run: the panel's configuration is JSON data, its code comes from /static/.
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("#tp-link")).to_have_attribute("data-state", "connected", timeout=15000)
    expect(page.locator("#tp-pbx")).to_have_attribute("data-state", "connected", timeout=15000)

    phases = trace_messages("inbound-answered.jsonl", {"Ivan Petrov": XSS_NAME})
    answer_at = next(i for i, m in enumerate(phases) if b"ChannelStateDesc: Up" in m and b"SIP/305-" in m)
    hangup_at = next(i for i, m in enumerate(phases) if m.startswith(b"Event: HangupRequest"))
    ringing, answered, hung_up = phases[: answer_at - 3], phases[answer_at - 3 : hangup_at - 1], phases[hangup_at - 1 :]

    # The phone rings: one popup, the caller's name as literal text.
    pbx.push(ringing)
    popup = page.locator(".tp-popup")
    expect(popup).to_have_count(1, timeout=15000)
    expect(popup.locator(".tp-popup-name")).to_have_text(XSS_NAME)
    expect(popup.locator(".tp-popup-number")).to_have_text("79161234567")
    card = page.locator(".tp-call")
    expect(card).to_have_attribute("data-state", "ringing")
    assert page.locator("img").count() == 0

    # Answered: the card says so and its timer runs.
    pbx.push(answered)
    expect(card).to_have_attribute("data-state", "active", timeout=15000)
    expect(popup).to_have_count(0)
    expect(card.locator(".tp-state")).to_have_text("Talking")
    expect(card.locator(".tp-name")).to_have_text(XSS_NAME)
    expect(card.locator(".tp-timer")).to_have_text(re.compile(r"00:0[1-9]"), timeout=5000)
    page.screenshot(path=str(artifacts_dir / "panel.png"))

    # Hold parks the other party (the fake AMI only acknowledges; no park events follow).
    card.locator(".tp-hold").click()
    park = pbx.wait_action("Park")
    assert park.get("Channel") == "SIP/trunk-00000029"

    # Hang up from the browser: the worker sends Hangup for the operator's channel.
    card.locator(".tp-hangup").click()
    hangup = pbx.wait_action("Hangup")
    assert hangup.get("Channel") == "SIP/305-0000002a"
    expect(page.locator("#tp-message")).not_to_have_attribute("data-kind", "error")
    pbx.push(hung_up)
    expect(card).to_have_attribute("data-state", "ended", timeout=15000)
    expect(card).to_have_count(0, timeout=10000)

    # Debug mode: messages in and out, time-stamped, in the console.
    stamp = r"^\[telephony \d{4}-\d\d-\d\dT[\d:.]+Z\] "
    assert any(re.match(stamp + "in", line) and "call.ringing" in line for line in console)
    assert any(re.match(stamp + "out", line) and "hangup" in line for line in console)
    assert dialogs == []
    assert page.locator("img").count() == 0


def test_a_tel_link_on_the_history_page_originates(page, live_site, pbx):
    log_in(page, live_site, "alice")
    pbx.push(trace_messages("inbound-no-answer.jsonl"))
    # The missed call lands in the history, its number rendered by the |tel filter.
    page.goto(f"{live_site}/calls/")
    link = page.locator('main a.tel[href="tel:79161234567"]').first
    for _attempt in range(20):
        if link.count():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("#tp-link")).to_have_attribute("data-state", "connected", timeout=15000)
    url = page.url
    link.click()
    originate = pbx.wait_action("Originate")
    assert originate.get("Channel") == "SIP/305"
    assert originate.get("Exten") == "79161234567"
    assert originate.get("Context") == "from-internal"
    assert page.url == url

    # Not ready with a reason: QueuePause on the line's queue interface.
    page.select_option("#tp-agent-select", "not_ready")
    page.fill("#tp-agent-reason", "lunch")
    page.click("#tp-agent button[type=submit]")
    try:
        pause = pbx.wait_action("QueuePause")
    except AssertionError as exc:
        message = page.locator("#tp-message").text_content()
        raise AssertionError(f"{exc}; panel says {message!r}; worker log:\n{read_log(pbx.worker)}") from None
    assert "305" in pause.get("Interface")
    assert (pause.get("Paused"), pause.get("Reason")) == ("true", "lunch")
