"""The connection badge and message: a countdown to the next attempt, refusals in the server's words."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def seconds_shown(page) -> int:
    text = page.locator("#tp-link").text_content()
    return int(re.search(r"(\d+) s", text).group(1))


def test_the_offline_badge_counts_down(page, panel):
    panel.hello(seq=0)
    # A refusal waits the longest backoff step: time enough to watch the number fall.
    panel.routes[-1].close(code=4402, reason="no_seat")
    page.locator('#tp-link[data-state="offline"]').wait_for()
    first = seconds_shown(page)
    assert first > 3
    page.wait_for_timeout(2200)
    later = seconds_shown(page)
    assert first - 3 <= later <= first - 1


def test_a_refusal_is_said_as_it_is_not_as_a_failure(page, panel):
    panel.hello(seq=0)
    panel.push({"type": "error", "code": "logged_out", "message": "You have been signed out.", "close_code": 4401})
    panel.routes[-1].close(code=4401, reason="logged_out")
    page.locator('#tp-link[data-state="offline"]').wait_for()
    assert page.locator("#tp-message").text_content() == "You have been signed out."
