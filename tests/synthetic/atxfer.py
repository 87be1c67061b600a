"""Hand-built attended-transfer scenarios (written by build.py), cut from the recorded Atxfer.

The recording stops at the moment the consultation exists; from there each
follows what Asterisk's attended-transfer state machine does: the target
refuses (busy), or the connector hangs up the consultation's Local ``;1``
half ("transfer target hangup": the operator goes back to his caller).
"""

from __future__ import annotations

from builder import CALLER, Channel, Scenario, operator


def _consultation(after: float, at: float, answered: bool) -> tuple[Scenario, dict[str, Channel], str, str]:
    """The recorded Atxfer from 305 to 306 up to ``after``, continued by hand from ``at``.

    Gives the scenario, the channels (trunk, phone, Local ``one`` and ``two``,
    306's ``target``), the caller's bridge and the consultation bridge.
    """
    s = Scenario.resume("attended-transfer", after=after, at=at)
    op, six = ("305", "Operator 305"), ("306", "Operator 306")
    trunk = Channel("SIP/trunk-00000047", "1795700752.126", "1795700752.126", CALLER, op)
    phone = Channel("SIP/305-00000048", "1795700752.127", "1795700752.126", op, six)
    one = Channel("Local/306@from-internal-0000000b;1", "1795700757.128", "1795700752.126", six, op)
    two = Channel("Local/306@from-internal-0000000b;2", "1795700757.129", "1795700752.126", op, six)
    target = Channel("SIP/306-00000049", "1795700757.130", "1795700752.126", six, op)
    trunk.state = phone.state = "Up"
    one.state, two.state, target.state = ("Up", "Up", "Up") if answered else ("Ringing", "Ring", "Ringing")
    entered = [
        r["msg"].split("BridgeUniqueid: ")[1].split("\r\n")[0]
        for r in s.records
        if r["msg"].startswith("Event: BridgeEnter") and "SIP/305-00000048" in r["msg"]
    ]
    bridge, consultation = entered[0], entered[1]  # with the caller; then with the Local pair to 306
    channels = {"trunk": trunk, "phone": phone, "one": one, "two": two, "target": target}
    return s, channels, bridge, consultation


def attended_transfer_refused() -> list[dict]:
    """Atxfer to 306, whose phone rejects the consultation call: 305 is back with the caller."""
    s, c, bridge, consultation = _consultation(after=4.61, at=6.0, answered=False)
    trunk, phone, one, two, target = c["trunk"], c["phone"], c["one"], c["two"], c["target"]
    s.dial_end(two, target, "BUSY")
    s.hangup(target, 17, "User busy")
    s.ev("HangupRequest", two.snap(), Cause="17")
    s.hangup(two, 17, "User busy")
    s.leave(consultation, one, 1)
    s.hangup(one, 17, "User busy")
    s.leave(consultation, phone, 0)
    phone.cl = CALLER
    s.enter(bridge, phone, 2)
    s.ev("MusicOnHoldStop", trunk.snap())
    s.ev("NewConnectedLine", phone.snap())
    s.at(9.0)
    s.hangs_up(trunk, phone, bridge)
    return s.finish()


def _cancel_consultation(answered: bool) -> list[dict]:
    """Atxfer to 306, then the connector hangs up the consultation's Local ``;1`` (transfer_cancel).

    Asterisk takes that as "transfer target hangup": the Local pair and 306's
    leg go away and the operator is moved back into the caller's bridge
    (REBRIDGE, with an Unhold of the operator's channel).
    """
    s, c, bridge, consultation = _consultation(
        after=7.61 if answered else 4.61, at=9.0 if answered else 6.0, answered=answered
    )
    trunk, phone, one, two, target = c["trunk"], c["phone"], c["one"], c["two"], c["target"]
    s.drop_consultation(one, consultation)
    s.ev("SoftHangupRequest", two.snap(), Cause="16")
    if answered:
        far = "02ed27d3-e714-482d-963a-9b0d11348a66"  # 306 talking with the Local ;2 half
        s.leave(far, two, 1)
        s.ev("HangupRequest", target.snap(), Cause="16")
        s.leave(far, target, 0)
        s.destroy(far)
        s.hangup(two)
        s.hangup(target)
    else:
        s.dial_end(two, target, "CANCEL")
        s.hangup(target)
        s.hangup(two)
    s.rebridge(phone, trunk, consultation, bridge)
    s.connected(phone, CALLER)
    s.at(s.t + 3)
    s.hangs_up(trunk, phone, bridge)
    return s.finish()


def attended_transfer_cancelled() -> list[dict]:
    """transfer_cancel while 305 consults with 306 (who answered): 305 is back with the caller."""
    return _cancel_consultation(answered=True)


def attended_transfer_cancelled_ringing() -> list[dict]:
    """transfer_cancel while 306 still rings: his call ends cancelled, 305 is back with the caller."""
    return _cancel_consultation(answered=False)


def queue_attended_transfer_cancelled() -> list[dict]:
    """305 answered a queue call, consults 306 (ringing), and cancels: back in the queue leg's bridge."""
    s = Scenario()
    trunk, members = s.queue_call_answered("305")
    _one, two, phone = members["305"]
    q2 = f"q2-{phone.uniqueid}"
    s.at(s.t + 2)
    one6, two6 = s.atxfer(phone, two, "306", linked=trunk)
    s.consult(one6, phone, q2)
    two6.cid = operator("305")
    target = s.dial_on(two6, "306", caller_id=operator("305"))
    s.state(one6, "Ringing")
    s.at(s.t + 2)
    s.drop_consultation(one6, "b-consult")
    s.dial_end(two6, target, "CANCEL")
    s.hangup(target)
    s.hangup(two6)
    s.rebridge(phone, two, "b-consult", q2)
    s.at(s.t + 3)
    s.queue_hangup(trunk, members, "305")
    return s.finish()


def _caller_leaves(answered: bool) -> list[dict]:
    """Atxfer to 306; the caller, alone on hold in the first bridge, hangs up before the transfer completes.

    305 and 306 go on talking (306 answers after the caller left when he was
    still ringing), then 305 hangs up: the consultation is torn down.
    """
    s, c, bridge, consultation = _consultation(
        after=7.61 if answered else 4.61, at=9.0 if answered else 6.0, answered=answered
    )
    trunk, phone, one, two, target = c["trunk"], c["phone"], c["one"], c["two"], c["target"]
    far = "02ed27d3-e714-482d-963a-9b0d11348a66"  # 306 talking with the Local ;2 half
    s.ev("HangupRequest", trunk.snap(), Cause="16")
    s.ev("MusicOnHoldStop", trunk.snap())
    s.leave(bridge, trunk, 0)
    s.destroy(bridge)
    s.hangup(trunk)
    if not answered:
        s.at(s.t + 2)
        s.state(target, "Up")
        s.dial_end(two, target, "ANSWER")
        s.state(two, "Up")
        s.ev("BridgeCreate", BridgeUniqueid=far, BridgeType="basic", BridgeNumChannels="0")
        s.enter(far, target, 1)
        s.state(one, "Up")
        s.enter(far, two, 2)
    s.at(s.t + 3)
    s.ev("HangupRequest", phone.snap(), Cause="16")
    s.leave(consultation, phone, 1)
    s.leave(consultation, one, 0)
    s.destroy(consultation)
    s.hangup(phone)
    s.ev("SoftHangupRequest", one.snap(), Cause="16")
    s.hangup(one)
    s.ev("SoftHangupRequest", two.snap(), Cause="16")
    s.leave(far, two, 1)
    s.ev("HangupRequest", target.snap(), Cause="16")
    s.leave(far, target, 0)
    s.destroy(far)
    s.hangup(two)
    s.hangup(target)
    return s.finish()


def attended_transfer_caller_left() -> list[dict]:
    """The caller hangs up while 305 consults 306 (who answered): his call on 305 ends there."""
    return _caller_leaves(answered=True)


def attended_transfer_caller_left_ringing() -> list[dict]:
    """The caller hangs up while 306 still rings for 305's consultation."""
    return _caller_leaves(answered=False)


SCENARIOS = {
    "attended-transfer-caller-left": attended_transfer_caller_left,
    "attended-transfer-caller-left-ringing": attended_transfer_caller_left_ringing,
    "queue-attended-transfer-cancelled": queue_attended_transfer_cancelled,
    "attended-transfer-refused": attended_transfer_refused,
    "attended-transfer-cancelled": attended_transfer_cancelled,
    "attended-transfer-cancelled-ringing": attended_transfer_cancelled_ringing,
}
