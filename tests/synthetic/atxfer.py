"""Hand-built attended-transfer scenarios (written by build.py), cut from the recorded Atxfer.

The recording stops at the moment the consultation exists; from there each
follows what Asterisk's attended-transfer state machine does: the target
refuses (busy), or the connector hangs up the consultation's Local ``;1``
half ("transfer target hangup": the operator goes back to his caller).
"""

from __future__ import annotations

from scenarios import CALLER, Channel, Scenario, load, msg


def attended_transfer_refused() -> list[dict]:
    """Atxfer to 306, whose phone rejects the consultation call: 305 is back with the caller."""
    records = load("attended-transfer")
    cut = next(i for i, r in enumerate(records) if r["t"] > 4.61)
    s = Scenario()
    s.records = records[:cut]
    s.t = records[cut - 1]["t"]
    s.at(6.0)
    op = ("305", "Operator 305")
    trunk = Channel("SIP/trunk-00000047", "1795700752.126", "1795700752.126", CALLER, op)
    phone = Channel("SIP/305-00000048", "1795700752.127", "1795700752.126", op, ("306", "Operator 306"))
    one = Channel("Local/306@from-internal-0000000b;1", "1795700757.128", "1795700752.126", ("306", "Operator 306"), op)
    two = Channel("Local/306@from-internal-0000000b;2", "1795700757.129", "1795700752.126", op, ("306", "Operator 306"))
    target = Channel("SIP/306-00000049", "1795700757.130", "1795700752.126", ("306", "Operator 306"), op)
    trunk.state = phone.state = "Up"
    one.state, two.state, target.state = "Ringing", "Ring", "Ringing"
    entered = [
        r["msg"].split("BridgeUniqueid: ")[1].split("\r\n")[0]
        for r in records
        if r["msg"].startswith("Event: BridgeEnter") and "SIP/305-00000048" in r["msg"]
    ]
    bridge, consultation = entered[0], entered[1]  # with the caller; then with the Local pair to 306
    s.dial_end(two, target, "BUSY")
    s.hangup(target, 17, "User busy")
    s.ev("HangupRequest", two.snap(), Cause="17")
    s.hangup(two, 17, "User busy")
    s.ev("BridgeLeave", one.snap(), BridgeUniqueid=consultation, BridgeType="basic", BridgeNumChannels="1")
    s.hangup(one, 17, "User busy")
    s.ev("BridgeLeave", phone.snap(), BridgeUniqueid=consultation, BridgeType="basic", BridgeNumChannels="0")
    phone.cl = CALLER
    s.ev("BridgeEnter", phone.snap(), BridgeUniqueid=bridge, BridgeType="basic", BridgeNumChannels="2")
    s.ev("MusicOnHoldStop", trunk.snap())
    s.ev("NewConnectedLine", phone.snap())
    s.at(9.0)
    s.ev("HangupRequest", trunk.snap(), Cause="16")
    s.leave(bridge, trunk, 1)
    s.leave(bridge, phone, 0)
    s.hangup(trunk)
    s.hangup(phone)
    return s.finish()


def _cancel_consultation(answered: bool) -> list[dict]:
    """Atxfer to 306, then the connector hangs up the consultation's Local ``;1`` (transfer_cancel).

    Asterisk takes that as "transfer target hangup": the Local pair and 306's
    leg go away and the operator is moved back into the caller's bridge
    (REBRIDGE, with an Unhold of the operator's channel).
    """
    records = load("attended-transfer")
    cut = next(i for i, r in enumerate(records) if r["t"] > (7.61 if answered else 4.61))
    s = Scenario()
    s.records = records[:cut]
    s.t = records[cut - 1]["t"]
    s.at(9.0 if answered else 6.0)
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
        for r in records
        if r["msg"].startswith("Event: BridgeEnter") and "SIP/305-00000048" in r["msg"]
    ]
    bridge, consultation = entered[0], entered[1]  # with the caller; then with the Local pair to 306
    hangup = msg(("Action", "Hangup"), ("ActionID", "rec-6"), ("Channel", one.name))
    s.add(hangup, "out")
    s.add(msg(("Response", "Success"), ("ActionID", "rec-6"), ("Message", "Channel Hungup")))
    s.ev("SoftHangupRequest", one.snap(), Cause="16")
    s.ev("BridgeLeave", one.snap(), BridgeUniqueid=consultation, BridgeType="basic", BridgeNumChannels="1")
    s.hangup(one)
    s.ev("SoftHangupRequest", two.snap(), Cause="16")
    if answered:
        far = "02ed27d3-e714-482d-963a-9b0d11348a66"  # 306 talking with the Local ;2 half
        s.leave(far, two, 1)
        s.ev("HangupRequest", target.snap(), Cause="16")
        s.leave(far, target, 0)
        s.ev("BridgeDestroy", BridgeUniqueid=far, BridgeType="basic", BridgeNumChannels="0")
        s.hangup(two)
        s.hangup(target)
    else:
        s.dial_end(two, target, "CANCEL")
        s.hangup(target)
        s.hangup(two)
    s.ev("BridgeLeave", phone.snap(), BridgeUniqueid=consultation, BridgeType="basic", BridgeNumChannels="0")
    s.ev("BridgeDestroy", BridgeUniqueid=consultation, BridgeType="basic", BridgeNumChannels="0")
    s.ev("BridgeEnter", phone.snap(), BridgeUniqueid=bridge, BridgeType="basic", BridgeNumChannels="2")
    s.ev("Unhold", phone.snap())
    s.ev("MusicOnHoldStop", trunk.snap())
    s.connected(phone, CALLER)
    s.at(s.t + 3)
    s.ev("HangupRequest", trunk.snap(), Cause="16")
    s.leave(bridge, trunk, 1)
    s.leave(bridge, phone, 0)
    s.hangup(trunk)
    s.hangup(phone)
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
    trunk = s.channel("trunk", CALLER)
    s.new(trunk)
    s.state(trunk, "Ring")
    s.state(trunk, "Up")
    members = s.queue_ring(trunk, ["305"])
    s.at(s.t + 2)
    s.queue_answer(trunk, members, "305")
    _one, two, phone = members["305"]
    q2 = f"q2-{phone.uniqueid}"
    s.at(s.t + 2)
    s.add(msg(("Action", "Atxfer"), ("ActionID", "rec-5"), ("Channel", phone.name), ("Exten", "306"),
              ("Context", "from-internal")), "out")  # fmt: skip
    s.add(msg(("Response", "Success"), ("ActionID", "rec-5"), ("Message", "Atxfer successfully queued")))
    s.ev("Hold", phone.snap())
    s.ev("MusicOnHoldStart", two.snap(), Class="default")
    one6, two6 = s.local_pair("306", "from-internal", trunk)
    s.new(one6)
    s.new(two6, state="Ring")
    s.ev("BridgeCreate", BridgeUniqueid="b-consult", BridgeType="basic", BridgeNumChannels="0")
    s.ev("BridgeEnter", one6.snap(), BridgeUniqueid="b-consult", BridgeType="basic", BridgeNumChannels="1")
    s.leave(q2, phone, 1)
    s.ev("BridgeEnter", phone.snap(), BridgeUniqueid="b-consult", BridgeType="basic", BridgeNumChannels="2")
    target = s.channel("306", ("306", "Operator 306"), linked=trunk)
    s.new(target)
    s.connected(target, ("305", "Operator 305"))
    two6.cid = ("305", "Operator 305")
    s.dial(two6, target, "306")
    s.state(target, "Ringing")
    s.state(one6, "Ringing")
    s.at(s.t + 2)
    s.add(msg(("Action", "Hangup"), ("ActionID", "rec-6"), ("Channel", one6.name)), "out")
    s.add(msg(("Response", "Success"), ("ActionID", "rec-6"), ("Message", "Channel Hungup")))
    s.ev("SoftHangupRequest", one6.snap(), Cause="16")
    s.ev("BridgeLeave", one6.snap(), BridgeUniqueid="b-consult", BridgeType="basic", BridgeNumChannels="1")
    s.hangup(one6)
    s.dial_end(two6, target, "CANCEL")
    s.hangup(target)
    s.hangup(two6)
    s.leave("b-consult", phone, 0)
    s.ev("BridgeDestroy", BridgeUniqueid="b-consult", BridgeType="basic", BridgeNumChannels="0")
    s.ev("BridgeEnter", phone.snap(), BridgeUniqueid=q2, BridgeType="basic", BridgeNumChannels="2")
    s.ev("Unhold", phone.snap())
    s.ev("MusicOnHoldStop", two.snap())
    s.at(s.t + 3)
    s.queue_hangup(trunk, members, "305")
    return s.finish()


SCENARIOS = {
    "queue-attended-transfer-cancelled": queue_attended_transfer_cancelled,
    "attended-transfer-refused": attended_transfer_refused,
    "attended-transfer-cancelled": attended_transfer_cancelled,
    "attended-transfer-cancelled-ringing": attended_transfer_cancelled_ringing,
}
