"""Why a call ended, from the leg's own evidence (see docs/call-tracking.md).

The same outcome looks different per channel driver (a caller giving up is
Hangup cause 0 or 16 on chan_sip, 127 on chan_pjsip), so the order matters:
a transfer or an answer decides first; then Cause 26 (answered elsewhere),
which outranks the DialEnd CANCEL that comes with it; then the queue's own
abandon notice; then the DialStatus; hangup causes only as a last resort.
"""

from __future__ import annotations

from connector.ami.calls import Call

ANSWERED_ELSEWHERE = 26
BUSY_CAUSES = frozenset({17, 21})  # user busy, call rejected
NO_ANSWER_CAUSES = frozenset({18, 19})  # no user responding, no answer
FAILED_CAUSES = frozenset({1, 2, 3, 20, 22, 27, 28, 29, 31, 34, 38, 41, 42, 44, 58, 66, 88, 102})
CALLER_GAVE_UP_CAUSES = frozenset({0, 16, 127})

# Originate's Reason codes (OriginateResponse): only a hint, chan_pjsip says 0 for a busy phone.
ORIGINATE_REASONS = {"0": "failed", "1": "hung up", "3": "no answer", "5": "busy", "8": "congestion"}


def end_reason(call: Call) -> str:
    """The PROTOCOL.md ``end_reason`` of a call that is ending now."""
    ev = call.evidence
    if call.answered_at is not None:
        return "completed"
    if ANSWERED_ELSEWHERE in ev.causes or ev.answered_elsewhere:
        return "answered_elsewhere"
    if call.originate and ev.leg_status != "ANSWER":
        return "failed"  # the operator's own phone did not take the click-to-call
    if ev.abandoned:
        return "cancelled"
    if ev.rang_out:
        return "no_answer"
    statuses = ev.dial_statuses
    if "BUSY" in statuses:
        return "busy"
    if "NOANSWER" in statuses:
        return "no_answer"
    if "CANCEL" in statuses:
        return "cancelled"
    if statuses & {"CONGESTION", "CHANUNAVAIL", "INVALIDARGS", "DONTCALL", "TORTURE"}:
        return "failed"
    if ev.causes & BUSY_CAUSES:
        return "busy"
    if ev.causes & NO_ANSWER_CAUSES:
        return "no_answer"
    if ev.causes & FAILED_CAUSES:
        return "failed"
    if ev.remote_gone or ev.causes & CALLER_GAVE_UP_CAUSES:
        return "cancelled"
    return "failed" if call.placed else "no_answer"


def failure_text(call: Call) -> str | None:
    """Asterisk's own reason for a failed call, for the ``call.ended`` message."""
    ev = call.evidence
    parts = []
    status = ev.leg_status if call.originate and ev.leg_status != "ANSWER" else None
    status = status or next(iter(sorted(ev.dial_statuses - {"ANSWER"})), None)
    if status:
        parts.append(status)
    if ev.cause_text:
        parts.append(ev.cause_text)
    if not parts and ev.originate_reason is not None:
        parts.append(f"Originate reason {ev.originate_reason} ({ORIGINATE_REASONS.get(ev.originate_reason, 'failed')})")
    return ", ".join(parts) or None
