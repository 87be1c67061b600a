"""Template helpers for the communication panel: tel: links and the panel's configuration.

Load with ``{% load telephony %}``.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, json_script
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

register = template.Library()

# Only these characters may reach a tel: href; everything else (letters, spaces, "javascript:") is dropped.
_NOT_DIALLABLE = re.compile(r"[^0-9+*#]")


def tel_href(number: object) -> str:
    """The ``tel:`` URL for a number, or "" when nothing diallable is left.

    ``#`` is percent-encoded so the browser does not read it as a fragment.
    """
    digits = _NOT_DIALLABLE.sub("", str(number or ""))
    if not digits:
        return ""
    return "tel:" + quote(digits, safe="+*")


@register.filter(name="tel")
def tel(number: object, label: object = None) -> SafeString | str:
    """Render a phone number as ``<a class="tel" href="tel:DIGITS">number</a>``.

    The panel turns every such link into click-to-call. The visible text is
    escaped; the href carries only digits, ``+``, ``*`` and ``#``. A value with
    nothing diallable renders as plain escaped text. ``{{ n|tel:"label" }}``
    shows another text.
    """
    if number is None or number == "":
        return ""
    href = tel_href(number)
    text = number if label in (None, "") else label
    if not href:
        return format_html("{}", text)
    return format_html('<a class="tel" href="{}">{}</a>', href, text)


def panel_labels() -> dict[str, str]:
    """Every string the panel's script shows, translated for the current language."""
    return {
        "inbound": _("Incoming"),
        "outbound": _("Outgoing"),
        "internal": _("Internal"),
        "ringing": _("Ringing"),
        "dialing": _("Dialling"),
        "active": _("Talking"),
        "held": _("On hold"),
        "ended": _("Ended"),
        # The same words as the call history's results (connector.models.EndReason).
        "end_no_answer": _("No answer"),
        "end_busy": _("Busy"),
        "end_failed": _("Failed"),
        "end_cancelled": _("Cancelled"),
        "end_answered_elsewhere": _("Answered elsewhere"),
        "end_transferred": _("Transferred"),
        "unknown_number": _("Unknown number"),
        "hangup": _("Hang up"),
        "reject": _("Reject"),
        "hold": _("Hold"),
        "resume": _("Resume"),
        "transfer": _("Transfer"),
        "transfer_to": _("Transfer to number"),
        "blind": _("Blind transfer"),
        "attended": _("Consult first"),
        "transfer_complete": _("Complete transfer"),
        "transfer_cancel": _("Cancel transfer"),
        "keypad": _("Keypad"),
        "keypad_for": _("Keypad: send tones"),
        "demo_answer": _("Answer on phone"),
        "dismiss": _("Dismiss"),
        "incoming_call": _("Incoming call"),
        "incoming_from": _("Incoming call from %(caller)s"),
        "via_queue": _("via queue %(queue)s"),
        "parked_in": _("parked in %(slot)s"),
        "held_on_phone": _("held on the phone: resume it there"),
        "connected": _("Connected"),
        "connecting": _("Connecting…"),
        "offline": _("Offline, reconnecting in %(seconds)s s"),
        "pbx_connected": _("PBX connected"),
        "pbx_reconnecting": _("PBX reconnecting"),
        "pbx_down": _("PBX unavailable"),
        "not_connected": _("Not connected to the messaging server."),
        "calling": _("Calling %(number)s…"),
        "failed": _("Failed: %(message)s"),
        "no_calls": _("No calls"),
        "agent_ready": _("Ready"),
        "agent_not_ready": _("Not ready"),
        "agent_wrap_up": _("Wrap-up"),
        "agent_paused_reason": _("Not ready: %(reason)s"),
    }


@register.simple_tag(takes_context=True)
def telephony_panel_config(context) -> SafeString:
    """The panel's configuration as a ``<script type="application/json" id="telephony-config">``.

    CSP forbids inline script; JSON data is allowed and read by ``static/js/panel.js``.
    """
    from settings.registry import SYS_MSG_SERVER_NODE, get_setting

    profile = context.get("telephony_profile")
    try:
        token_url = reverse("telephony-token")
    except NoReverseMatch:
        token_url = "/telephony/token/"
    config = {
        "node": get_setting(SYS_MSG_SERVER_NODE),
        "ws_path": "/ws/telephony/",
        "token_url": token_url,
        "line": getattr(profile, "line", None),
        "debug": bool(getattr(profile, "debug_mode", False)),
        "demo": bool(context.get("demo_mode", getattr(settings, "DEMO_MODE", False))),
        "labels": panel_labels(),
    }
    return json_script(config, "telephony-config")
