"""Attended transfer in the panel as the tracker reports it: the caller's call is held while consulting."""

from __future__ import annotations

import pytest

from tests.browser.fakesocket import make_call

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def _start_attended_transfer(page, panel) -> object:
    panel.hello([make_call("c1", "active")], seq=1)
    card = page.locator('.tp-call[data-call-id="c1"]')
    card.locator(".tp-transfer-toggle").click()
    card.locator(".tp-transfer-number").fill("306")
    card.locator(".tp-transfer-attended").click()
    panel.result(panel.wait_command("transfer"))
    # Atxfer moves the operator's phone into the consultation: the call with the caller is held.
    panel.push({"type": "call.held", "seq": 2, "call": make_call("c1", "held")})
    page.locator('.tp-call[data-call-id="c1"][data-state="held"]').wait_for()
    return card


def test_a_held_call_being_consulted_offers_complete_and_cancel_not_resume(page, panel):
    card = _start_attended_transfer(page, panel)
    card.locator(".tp-transfer-complete").wait_for()
    assert card.locator(".tp-transfer-cancel").count() == 1
    assert card.locator(".tp-resume").count() == 0
    card.locator(".tp-transfer-complete").click()
    assert panel.wait_command("transfer_complete")["call_id"] == "c1"


def test_the_caller_coming_back_ends_the_consultation_buttons(page, panel):
    card = _start_attended_transfer(page, panel)
    card.locator(".tp-transfer-cancel").click()
    cancel = panel.wait_command("transfer_cancel")
    assert cancel["call_id"] == "c1"
    # The target refused before the result came: the caller is back first.
    panel.push({"type": "call.resumed", "seq": 3, "call": make_call("c1", "active")})
    card.locator(".tp-transfer-toggle").wait_for()
    assert card.locator(".tp-transfer-complete").count() == 0
    panel.result(cancel)
    # A later Hold from the panel parks the call: Resume is back, not the transfer buttons.
    panel.push({"type": "call.held", "seq": 4, "call": make_call("c1", "held", parking_slot="701")})
    card.locator(".tp-resume").wait_for()
    assert card.locator(".tp-transfer-complete").count() == 0


def test_an_ended_card_says_the_call_was_transferred(page, panel):
    panel.hello([make_call("c1", "active")], seq=1)
    card = page.locator('.tp-call[data-call-id="c1"]')
    card.wait_for()
    panel.push({"type": "call.transferred", "seq": 2, "call": make_call("c1", "active")})
    ended = make_call("c1", "ended", end_reason="transferred", duration=12)
    panel.push({"type": "call.ended", "seq": 3, "call": ended})
    page.locator('.tp-call[data-call-id="c1"][data-state="ended"]').wait_for()
    assert card.locator(".tp-state").text_content() == "Ended · Transferred"
    assert card.locator(".tp-timer").text_content() == "00:12"


def test_an_ordinary_end_shows_no_reason(page, panel):
    panel.hello([make_call("c1", "active")], seq=1)
    card = page.locator('.tp-call[data-call-id="c1"]')
    card.wait_for()
    panel.push({"type": "call.ended", "seq": 2, "call": make_call("c1", "ended", end_reason="completed")})
    page.locator('.tp-call[data-call-id="c1"][data-state="ended"]').wait_for()
    assert card.locator(".tp-state").text_content() == "Ended"


def test_an_end_reason_without_a_label_is_left_out(page, panel):
    panel.hello([make_call("c1", "active")], seq=1)
    card = page.locator('.tp-call[data-call-id="c1"]')
    card.wait_for()
    panel.push({"type": "call.ended", "seq": 2, "call": make_call("c1", "ended", end_reason="rerouted")})
    page.locator('.tp-call[data-call-id="c1"][data-state="ended"]').wait_for()
    assert card.locator(".tp-state").text_content() == "Ended"


def test_a_call_held_on_the_phone_offers_no_resume_that_would_fail(page, panel):
    panel.hello([make_call("c1", "held"), make_call("c2", "held", parking_slot="701")], seq=1)
    phone_held = page.locator('.tp-call[data-call-id="c1"]')
    parked = page.locator('.tp-call[data-call-id="c2"]')
    parked.locator(".tp-resume").wait_for()
    assert phone_held.locator(".tp-resume").count() == 0
    assert phone_held.locator(".tp-hangup").count() == 1
    assert phone_held.locator(".tp-meta").text_content() == "held on the phone: resume it there"
    assert parked.locator(".tp-meta").text_content() == "parked in 701"


def test_a_consultation_survives_moving_to_another_page(page, panel, live_site):
    _start_attended_transfer(page, panel)
    page.goto(f"{live_site}/profile/")  # the panel is on every page: a new page is a new panel
    panel.wait_connected(2)
    panel.hello([make_call("c1", "held")], seq=2)
    card = page.locator('.tp-call[data-call-id="c1"]')
    card.locator(".tp-transfer-complete").wait_for()
    assert card.locator(".tp-resume").count() == 0
    card.locator(".tp-transfer-cancel").click()
    panel.result(panel.wait_command("transfer_cancel"))
    card.locator(".tp-transfer-complete").wait_for(state="detached")
    assert page.evaluate("localStorage.getItem('telephony.consulting')") is None


def test_another_tab_shows_the_consultation_and_its_end(browser_context, page, panel, live_site):
    from tests.browser.fakesocket import FakeSocket

    second = browser_context.new_page()
    other = FakeSocket(second)
    second.goto(f"{live_site}/profile/")
    other.wait_connected()
    other.hello([make_call("c1", "active")], seq=1)
    theirs = second.locator('.tp-call[data-call-id="c1"]')
    theirs.locator(".tp-transfer-toggle").wait_for()
    _start_attended_transfer(page, panel)
    other.push({"type": "call.held", "seq": 2, "call": make_call("c1", "held")})
    theirs.locator(".tp-transfer-complete").wait_for()
    # Completed in the first tab: the call is transferred away, and the second tab forgets it too.
    page.locator('.tp-call[data-call-id="c1"] .tp-transfer-complete').click()
    panel.result(panel.wait_command("transfer_complete"))
    theirs.locator(".tp-transfer-complete").wait_for(state="detached")


def test_a_stored_consultation_of_a_call_that_is_gone_is_forgotten(page, panel, live_site):
    page.evaluate("localStorage.setItem('telephony.consulting', JSON.stringify(['old', 'c1']))")
    page.reload()
    panel.wait_connected(2)
    panel.hello([make_call("c1", "held")], seq=1)
    page.locator('.tp-call[data-call-id="c1"] .tp-transfer-complete').wait_for()
    assert page.evaluate("JSON.parse(localStorage.getItem('telephony.consulting'))") == ["c1"]
    page.evaluate("localStorage.setItem('telephony.consulting', '{not json')")
    page.reload()
    panel.wait_connected(3)
    panel.hello([make_call("c1", "held")], seq=1)
    card = page.locator('.tp-call[data-call-id="c1"]')
    card.wait_for()
    assert card.locator(".tp-transfer-complete").count() == 0  # garbled storage: as if none was stored
