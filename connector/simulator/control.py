"""The demo's "answer on phone" hook: pick up a ringing virtual phone on request.

In ``DEMO_MODE`` the panel's ``demo_answer`` command becomes the AMI action
``DemoAnswer`` with ``Channel: <operator channel>`` (docs/internals.md); the
simulator answers it here. Only the simulator understands that action.
"""

from __future__ import annotations

from connector.simulator.pbx import Pbx


def demo_answer(pbx: Pbx, channel_name: str) -> tuple[bool, str]:
    """Answer the ringing phone behind ``channel_name`` (``SIP/305-0000002a``, or ``SIP/305``).

    Returns ``(answered, message)``; the message is the AMI reply text.
    """
    channel = pbx.find(channel_name)
    line = channel.line if channel is not None else None
    if line is None:
        # A bare ``SIP/305`` (or a queue member's Local half) names the line directly.
        endpoint = channel_name.split("/", 1)[-1].split("@", 1)[0].rsplit("-", 1)[0]
        line = endpoint if pbx.is_line(endpoint) else None
    if line is None:
        return False, "No such channel"
    if not pbx.answer_line(line):
        return False, "Channel is not ringing"
    return True, "Answered"
