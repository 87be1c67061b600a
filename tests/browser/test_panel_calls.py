"""The communication panel's calls in a real browser, driven by a scripted websocket.

The page comes from a real daphne; the websocket is answered by the test
(Playwright routing, ``panel`` fixture), so every call situation can be
produced on demand, including a hostile caller name.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.browser.fakesocket import FakeSocket, make_call

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def test_it_shows_the_calls_from_hello_with_a_running_timer(page, panel):
    panel.hello(
        [make_call("c1", "active", answered_at="2000-01-01T00:00:00Z", started_at="1999-12-31T23:59:50Z")],
        seq=3,
    )
    card = page.locator('.tp-call[data-call-id="c1"]')
    card.wait_for()
    assert card.locator(".tp-number").text_content() == "79161234567"
    assert card.locator(".tp-name").text_content() == "Ivan Petrov"
    assert card.locator(".tp-state").text_content() == "Talking"
    assert card.locator(".tp-direction").text_content() == "Incoming"
    # Counted from answered_at: a call answered long ago shows hours.
    assert re.fullmatch(r"\d+:\d\d:\d\d", card.locator(".tp-timer").text_content())
    assert page.locator("#tp-link").text_content() == "Connected"
    assert page.locator("#tp-pbx").text_content() == "PBX connected"


def test_the_timer_runs_from_answered_at(page, panel):
    panel.hello([make_call("c1", "active")], seq=1)
    timer = page.locator('.tp-call[data-call-id="c1"] .tp-timer')
    timer.wait_for()
    first = timer.text_content()
    assert re.fullmatch(r"00:0[0-2]", first)
    expect(timer).to_have_text(re.compile(r"00:0[2-5]"), timeout=5000)


def test_a_ringing_call_pops_up_and_reject_sends_hangup(page, panel):
    panel.hello(seq=0)
    panel.push({"type": "call.ringing", "seq": 1, "call": make_call("c1", "ringing", queue="support")})
    popup = page.locator('.tp-popup[data-call-id="c1"]')
    popup.wait_for()
    assert popup.get_attribute("role") == "alertdialog"
    assert page.locator("#tp-popups").get_attribute("aria-live") == "assertive"
    assert popup.locator(".tp-popup-name").text_content() == "Ivan Petrov"
    assert popup.locator(".tp-popup-number").text_content() == "79161234567"
    assert "support" in popup.locator(".tp-popup-meta").text_content()
    # Not demo mode: no helper button that pretends to answer.
    assert popup.locator(".tp-answer").count() == 0

    popup.get_by_role("button", name="Reject").click()
    hangup = panel.wait_command("hangup")
    assert hangup["call_id"] == "c1" and hangup["ref"]
    panel.result(hangup)
    ended = make_call("c1", "ended", end_reason="cancelled", ended_at="2030-01-01T00:00:00Z")
    panel.push({"type": "call.ended", "seq": 2, "call": ended})
    popup.wait_for(state="detached")
    assert page.locator('.tp-call[data-call-id="c1"]').get_attribute("data-state") == "ended"


def test_the_popup_goes_when_the_call_is_answered_and_can_be_dismissed(page, panel):
    panel.hello(seq=0)
    panel.push({"type": "call.ringing", "seq": 1, "call": make_call("c1", "ringing")})
    panel.push({"type": "call.ringing", "seq": 2, "call": make_call("c2", "ringing", remote_number="79990000000")})
    page.locator('.tp-popup[data-call-id="c1"]').wait_for()
    page.locator('.tp-popup[data-call-id="c2"]').wait_for()
    panel.push({"type": "call.answered", "seq": 3, "call": make_call("c1", "active")})
    page.locator('.tp-popup[data-call-id="c1"]').wait_for(state="detached")
    # Keyboard: Escape on a focused popup button dismisses it.
    page.locator('.tp-popup[data-call-id="c2"] .tp-dismiss').focus()
    page.keyboard.press("Escape")
    page.locator('.tp-popup[data-call-id="c2"]').wait_for(state="detached")
    assert page.locator('.tp-call[data-call-id="c2"]').get_attribute("data-state") == "ringing"


def test_buttons_follow_the_call_state(page, panel):
    panel.hello([make_call("c1", "active")], seq=1)
    card = page.locator('.tp-call[data-call-id="c1"]')
    card.wait_for()
    assert card.locator(".tp-resume").count() == 0
    card.locator(".tp-hold").click()
    hold = panel.wait_command("hold")
    assert hold["call_id"] == "c1"
    panel.result(hold)
    panel.push({"type": "call.held", "seq": 2, "call": make_call("c1", "held", parking_slot="701")})
    card.locator(".tp-resume").wait_for()
    assert card.locator(".tp-hold").count() == 0
    assert card.locator(".tp-transfer-toggle").count() == 0
    assert "701" in card.locator(".tp-meta").text_content()
    card.locator(".tp-resume").click()
    assert panel.wait_command("resume")["call_id"] == "c1"
    panel.push({"type": "call.resumed", "seq": 3, "call": make_call("c1", "active")})

    # Keypad: each key is one dtmf command.
    card.locator(".tp-keypad-toggle").wait_for()
    card.locator(".tp-keypad-toggle").click()
    assert card.locator(".tp-keypad-toggle").get_attribute("aria-expanded") == "true"
    card.locator(".tp-key", has_text="5").click()
    card.locator(".tp-key", has_text="#").click()
    panel.wait_command("dtmf", 2)
    assert [c["digits"] for c in panel.commands("dtmf")] == ["5", "#"]


def test_attended_transfer_offers_complete_and_cancel(page, panel):
    panel.hello([make_call("c1", "active")], seq=1)
    card = page.locator('.tp-call[data-call-id="c1"]')
    card.locator(".tp-transfer-toggle").click()
    card.locator(".tp-transfer-number").fill("306")
    card.locator(".tp-transfer-attended").click()
    transfer = panel.wait_command("transfer")
    assert (transfer["call_id"], transfer["number"], transfer["mode"]) == ("c1", "306", "attended")
    panel.result(transfer)
    card.locator(".tp-transfer-complete").wait_for()
    card.locator(".tp-transfer-complete").click()
    assert panel.wait_command("transfer_complete")["call_id"] == "c1"

    # Blind transfer: Enter in the number box.
    panel.push({"type": "call.updated", "seq": 2, "call": make_call("c2", "active", remote_number="100")})
    other = page.locator('.tp-call[data-call-id="c2"]')
    other.locator(".tp-transfer-toggle").click()
    other.locator(".tp-transfer-number").fill("307")
    other.locator(".tp-transfer-number").press("Enter")
    blind = panel.wait_command("transfer", 2)
    assert (blind["call_id"], blind["number"], blind["mode"]) == ("c2", "307", "blind")


def test_a_failed_command_shows_asterisks_reason(page, panel):
    panel.hello(seq=0)
    page.fill("#tp-number", "+7 (903) 111-22-33")
    page.press("#tp-number", "Enter")
    call = panel.wait_command("call")
    assert call["number"] == "+79031112233"
    panel.result(call, ok=False, code="pbx_error", message="Extension does not exist.")
    page.locator("#tp-message", has_text="Extension does not exist.").wait_for()
    assert page.locator("#tp-message").get_attribute("data-kind") == "error"


def test_a_hostile_caller_name_is_shown_as_text(page, panel):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    name = "<img src=x onerror=alert(1)>"
    panel.hello(seq=0)
    panel.push(
        {
            "type": "call.ringing",
            "seq": 1,
            "call": make_call("x1", "ringing", remote_name=name, remote_number="javascript:alert(1)"),
        }
    )
    panel.push(
        {
            "type": "call.ringing",
            "seq": 2,
            "call": make_call("x2", "ringing", remote_name='"</script><script>alert(2)</script>'),
        }
    )
    page.locator('.tp-popup[data-call-id="x2"]').wait_for()
    assert page.locator('.tp-call[data-call-id="x1"] .tp-name').text_content() == name
    assert page.locator('.tp-popup[data-call-id="x1"] .tp-popup-name').text_content() == name
    assert page.locator('.tp-call[data-call-id="x1"] .tp-number').text_content() == "javascript:alert(1)"
    assert page.locator("#telephony-panel img").count() == 0
    assert page.locator("img").count() == 0
    assert page.locator("#tp-calls script, #tp-popups script").count() == 0
    assert page.locator('#telephony-panel a[href^="javascript"]').count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []


def test_a_tel_link_becomes_click_to_call(page, panel):
    panel.hello(seq=0)
    # A number as the history and profile pages render it with the |tel filter.
    page.evaluate(
        """() => {
            const a = document.createElement('a');
            a.href = 'tel:+7916%23'; a.className = 'tel'; a.id = 'history-number';
            const inner = document.createElement('span'); inner.textContent = '+7 916 #';
            a.append(inner); document.querySelector('main').append(a);
        }"""
    )
    url = page.url
    page.click("#history-number span")
    call = panel.wait_command("call")
    assert call["number"] == "+7916#"
    assert page.url == url
    page.locator("#tp-message", has_text="Calling +7916#").wait_for()


def test_agent_state_switch_and_pause_state(page, panel):
    panel.hello(seq=2)
    assert page.locator("#tp-agent-state").text_content() == "Ready"
    assert page.locator("#tp-agent-reason").is_hidden()
    page.select_option("#tp-agent-select", "not_ready")
    page.fill("#tp-agent-reason", "lunch")
    page.click("#tp-agent button[type=submit]")
    command = panel.wait_command("agent_state")
    assert (command["state"], command["reason"]) == ("not_ready", "lunch")
    panel.result(command)
    panel.push({"type": "agent.state", "seq": 3, "state": "not_ready", "reason": "lunch", "queues": ["support"]})
    page.locator("#tp-agent-state", has_text="Not ready: lunch").wait_for()
    panel.push({"type": "agent.state", "seq": 4, "state": "wrap_up", "reason": None, "queues": ["support"]})
    page.locator('#tp-agent-state[data-state="wrap_up"]').wait_for()


def test_one_popup_per_call_across_tabs(browser_context, page, panel, live_site):
    second = browser_context.new_page()
    other = FakeSocket(second)
    second.goto(f"{live_site}/profile/")
    other.wait_connected()
    for socket in (panel, other):
        socket.hello(seq=0)
    ringing = {"type": "call.ringing", "seq": 1, "call": make_call("c1", "ringing")}
    panel.push(ringing)
    other.push(ringing)
    for tab in (page, second):
        tab.locator('.tp-call[data-call-id="c1"]').wait_for()
    panel.wait_until(
        lambda: page.locator(".tp-popup").count() + second.locator(".tp-popup").count() >= 1,
        what="a popup in one tab",
    )
    # Give the other tab time to (wrongly) show a second popup.
    page.wait_for_timeout(1500)
    second.wait_for_timeout(100)
    assert page.locator(".tp-popup").count() + second.locator(".tp-popup").count() == 1
    # Closing the tab that shows it hands the popup to the other tab.
    owner, rest = (page, second) if page.locator(".tp-popup").count() else (second, page)
    owner.close()
    rest.locator('.tp-popup[data-call-id="c1"]').wait_for(timeout=10000)


def test_the_panel_is_keyboard_usable(page, panel):
    panel.hello([make_call("c1", "active")], seq=1)
    page.locator('.tp-call[data-call-id="c1"]').wait_for()
    page.focus("#tp-number")
    page.keyboard.type("79031112233")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Call"
    page.keyboard.press("Enter")
    assert panel.wait_command("call")["number"] == "79031112233"
    for button in page.locator("#telephony-panel button").all():
        assert (button.get_attribute("aria-label") or button.text_content()).strip()


def test_demo_mode_offers_answer_on_phone(page, live_site, operator):
    # The page as a demo site renders it: the configuration says demo.
    def as_demo(route):
        response = route.fetch()
        body = response.text().replace('"demo": false', '"demo": true')
        route.fulfill(response=response, body=body)

    socket = FakeSocket(page)
    log_in(page, live_site, "alice")
    socket.wait_connected()
    page.route(lambda url: url.endswith("/profile/"), as_demo)
    page.goto(f"{live_site}/profile/")
    socket.wait_connected(2)
    socket.hello([make_call("c1", "ringing")], seq=1)
    page.locator('.tp-popup[data-call-id="c1"] .tp-answer').click()
    assert socket.wait_command("demo_answer")["call_id"] == "c1"
    page.locator('.tp-call[data-call-id="c1"] .tp-answer').click()
    assert socket.wait_command("demo_answer", 2)["call_id"] == "c1"


def test_an_update_keeps_what_the_operator_was_doing(page, panel):
    panel.hello([make_call("c1", "active")], seq=1)
    card = page.locator('.tp-call[data-call-id="c1"]')
    card.locator(".tp-transfer-toggle").click()
    card.locator(".tp-transfer-number").fill("30")
    card.locator(".tp-keypad-toggle").click()
    card.locator(".tp-transfer-number").focus()
    panel.push({"type": "call.updated", "seq": 2, "call": make_call("c1", "active", remote_name="Petr Ivanov")})
    expect(card.locator(".tp-name")).to_have_text("Petr Ivanov")
    assert card.locator(".tp-transfer-number").input_value() == "30"
    assert card.locator(".tp-keypad").is_visible()
    page.keyboard.type("6")
    assert card.locator(".tp-transfer-number").input_value() == "306"


def test_the_panel_speaks_russian(chromium_browser, live_site, operator):
    context = chromium_browser.new_context(locale="ru-RU", extra_http_headers={"Accept-Language": "ru"})
    try:
        page = context.new_page()
        socket = FakeSocket(page)
        log_in(page, live_site, "alice")
        socket.wait_connected()
        socket.hello([make_call("c1", "active")], seq=1)
        card = page.locator('.tp-call[data-call-id="c1"]')
        expect(card.locator(".tp-hangup")).to_have_text("Завершить")
        assert page.locator("html").get_attribute("lang") == "ru"
    finally:
        context.close()


def test_keyboard_focus_survives_hold_and_resume(page, panel):
    panel.hello([make_call("c1", "active")], seq=1)
    card = page.locator('.tp-call[data-call-id="c1"]')
    card.locator(".tp-hold").focus()
    page.keyboard.press("Enter")
    panel.wait_command("hold")
    panel.push({"type": "call.held", "seq": 2, "call": make_call("c1", "held", parking_slot="701")})
    card.locator(".tp-resume").wait_for()
    assert page.evaluate("document.activeElement.classList.contains('tp-resume')")
    page.keyboard.press("Enter")
    panel.wait_command("resume")
    panel.push({"type": "call.ended", "seq": 3, "call": make_call("c1", "ended", end_reason="completed")})
    # Ended: no buttons left, focus on the card rather than on a stray button.
    expect(card).to_have_attribute("data-state", "ended")
    assert page.evaluate("document.activeElement.classList.contains('tp-call')")
    card.wait_for(state="detached", timeout=8000)
    assert page.evaluate("document.activeElement.id") == "tp-number"


def test_wrap_up_shows_the_time_left(page, panel):
    panel.hello(seq=0)
    page.select_option("#tp-agent-select", "wrap_up")
    assert page.locator("#tp-agent-reason").is_hidden()
    page.click("#tp-agent button[type=submit]")
    command = panel.wait_command("agent_state")
    assert command["state"] == "wrap_up" and "reason" not in command
    panel.push({"type": "result", "ref": command["ref"], "ok": True, "error": None, "data": {"wrap_up_seconds": 30}})
    panel.push({"type": "agent.state", "seq": 1, "state": "wrap_up", "reason": "wrap-up", "queues": ["support"]})
    badge = page.locator("#tp-agent-state")
    expect(badge).to_have_text(re.compile(r"^Wrap-up · 00:(2\d|30)$"))
    panel.push({"type": "agent.state", "seq": 2, "state": "ready", "reason": None, "queues": ["support"]})
    expect(badge).to_have_text("Ready")
