"""Hovered panel buttons stay readable: the site's button:hover must not turn their text white on white."""

from __future__ import annotations

import re

import pytest

from tests.browser.fakesocket import make_call

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def luminance(css: str) -> float:
    r, g, b = (int(x) / 255 for x in re.findall(r"\d+", css)[:3])
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(page, selector: str) -> float:
    page.hover(selector)
    fg, bg = page.eval_on_selector(selector, "e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]")
    light, dark = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_hovered_buttons_keep_readable_text(page, panel):
    panel.hello([make_call("c1", "active")], seq=1)
    page.locator('.tp-call[data-call-id="c1"] .tp-hold').wait_for()
    for selector in (
        "#tp-dial .tp-call-btn",
        "#tp-agent button[type=submit]",
        ".tp-call .tp-hold",
        ".tp-call .tp-hangup",
    ):
        assert contrast(page, selector) >= 4.5, selector
