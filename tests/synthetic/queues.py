"""Hand-built queue scenarios beyond the recordings (written by build.py).

Queue members are FreePBX-style ``Local/30X@from-queue/n`` pairs, as in the
queue-answered trace: members that ring out and are rung again, a member's
ringing phone picked up by someone else, a queue call blind-transferred
(the transferee is the member's Local ``;2``), and an attended transfer to
the queue's extension.
"""

from __future__ import annotations

from builder import CALLER, Scenario
from realworld import OP


def queue_ring_again() -> list[dict]:
    """Ring-all queue: 305 and 306 ring out after 15 s, the queue rings them again, 305 answers."""
    s = Scenario()
    trunk = s.answered_trunk()
    members = s.queue_ring(trunk, ["305", "306"])
    s.at(s.t + 15)
    for line, (one, _two, _phone) in members.items():
        interface = f"Local/{line}@from-queue/n"
        s.ev("AgentRingNoAnswer", trunk.snap(), one.snap("Dest"), Queue="support", Interface=interface,
             MemberName=f"Operator {line}", RingTime="15000")  # fmt: skip
    s.queue_ring_stops(trunk, members, "NOANSWER")
    s.at(s.t + 5)  # the queue's retry time
    again = s.queue_ring(trunk, ["305", "306"], join=False)
    s.at(s.t + 2)
    s.queue_answer(trunk, again, "305")
    s.at(s.t + 3)
    s.queue_hangup(trunk, again, "305")
    return s.finish()


def attended_transfer_to_queue() -> list[dict]:
    """307 consults the queue (extension 600); 305 answers it; 307 hangs up and 305 has the caller."""
    s = Scenario()
    trunk, phone = s.answered_direct("307", bridge="b-orig")
    s.at(s.t + 2)
    one, two = s.atxfer(phone, trunk, "600", linked=trunk)
    two.cid = OP["307"]
    s.ev("NewCallerid", two.snap())
    s.ev("LocalBridge", one.snap("LocalOne"), two.snap("LocalTwo"), Context="from-internal", Exten="600",
         LocalOptimization="Yes")  # fmt: skip
    one.cl = OP["307"]
    s.consult(one, phone, "b-orig")
    s.state(two, "Up")  # the queue extension answers first (Answer(), Queue(support))
    s.state(one, "Up")
    members = s.queue_ring(two, ["305"])
    s.at(s.t + 3)
    s.queue_answer(two, members, "305")
    s.at(s.t + 3)  # 307 talks with 305, then hangs up: the transfer completes
    s.ev("HangupRequest", phone.snap(), Cause="16")
    s.leave("b-consult", phone, 1)
    s.ev("BridgeMerge", FromBridgeUniqueid="b-consult", ToBridgeUniqueid="b-orig")
    s.leave("b-consult", one, 0)
    s.enter("b-orig", one, 2)
    s.ev("MusicOnHoldStop", trunk.snap())
    s.ev(
        "AttendedTransfer",
        phone.snap("OrigTransferer"),
        phone.snap("SecondTransferer"),
        trunk.snap("Transferee"),
        one.snap("TransferTarget"),
        Result="Success",
        IsExternal="No",
        DestType="Bridge",
        DestBridgeUniqueid="b-orig",
    )
    s.destroy("b-consult")
    s.hangup(phone)
    s.at(s.t + 0.3)  # the 600 Local pair optimises away: the caller joins 305's queue leg directly
    q1 = f"q1-{members['305'][2].uniqueid}"
    s.ev("LocalOptimizationBegin", one.snap("LocalOne"), two.snap("LocalTwo"), SourceUniqueid=two.uniqueid)
    s.leave("b-orig", trunk, 1)
    s.leave(q1, two, 1)
    s.enter(q1, trunk, 2)
    s.ev("LocalOptimizationEnd", one.snap("LocalOne"), two.snap("LocalTwo"), Success="Yes")
    s.hangup(two)
    s.leave("b-orig", one, 0)
    s.hangup(one)
    s.connected(members["305"][2], CALLER)
    s.at(s.t + 4)
    s.queue_hangup(trunk, members, "305")
    return s.finish()


def queue_call_pickup() -> list[dict]:
    """The queue rings member 305; 306 (not a member) picks the ringing phone up and talks to the caller."""
    s = Scenario()
    trunk = s.answered_trunk()
    members = s.queue_ring(trunk, ["305"])
    s.at(s.t + 3)
    picker = s.pickup(members["305"][2], "306", CALLER)
    s.queue_answer(trunk, members, "305", picker=picker)  # the member's Local half now reaches the picker
    s.at(s.t + 3)
    s.queue_hangup(trunk, members, "305", picker=picker)
    return s.finish()


def queue_blind_transfer() -> list[dict]:
    """305 answers a queue call and blind-transfers it to 306: the transferee is the member's Local ``;2``."""
    s = Scenario()
    trunk, members = s.queue_call_answered("305")
    one, two, phone = members["305"]
    q2 = f"q2-{phone.uniqueid}"
    s.at(s.t + 3)
    fields = (("Channel", phone.name), ("Exten", "306"), ("Context", "from-internal"))
    s.action("BlindTransfer", "rec-5", *fields, message="Transfer succeeded")
    s.ev("BlindTransfer", phone.snap("Transferer"), two.snap("Transferee"), BridgeUniqueid=q2, Result="Success",
         IsExternal="Yes", Context="from-internal", Extension="306")  # fmt: skip
    s.ev("Unhold", phone.snap())
    s.leave(q2, two, 1)
    s.leave(q2, phone, 0)
    s.hangup(phone)
    target = s.dial_on(two, "306")
    s.at(s.t + 2)
    s.answer_on(two, target, "b-after")
    s.at(s.t + 3)
    s.end_queue_call(trunk, one, two, target, f"q1-{phone.uniqueid}", "b-after")
    return s.finish()


SCENARIOS = {
    "queue-ring-again": queue_ring_again,
    "queue-call-pickup": queue_call_pickup,
    "queue-blind-transfer": queue_blind_transfer,
    "attended-transfer-to-queue": attended_transfer_to_queue,
}
