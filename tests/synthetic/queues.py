"""Hand-built queue scenarios beyond the recordings (written by build.py).

Queue members are FreePBX-style ``Local/30X@from-queue/n`` pairs, as in the
queue-answered trace: members that ring out and are rung again, a member's
ringing phone picked up by someone else, a queue call blind-transferred
(the transferee is the member's Local ``;2``), and an attended transfer to
the queue's extension.
"""

from __future__ import annotations

from realworld import OP, answer_direct, ring_direct
from scenarios import CALLER, Scenario, msg


def queue_ring_again() -> list[dict]:
    """Ring-all queue: 305 and 306 ring out after 15 s, the queue rings them again, 305 answers."""
    s = Scenario()
    trunk = s.channel("trunk", CALLER)
    s.new(trunk)
    s.state(trunk, "Ring")
    s.state(trunk, "Up")
    members = s.queue_ring(trunk, ["305", "306"])
    s.at(s.t + 15)
    for line, (one, _two, _phone) in members.items():
        interface = f"Local/{line}@from-queue/n"
        s.ev("AgentRingNoAnswer", trunk.snap(), one.snap("Dest"), Queue="support", Interface=interface,
             MemberName=f"Operator {line}", RingTime="15000")  # fmt: skip
    for one, two, phone in members.values():
        s.dial_end(trunk, one, "NOANSWER")
        s.hangup(one)
        s.dial_end(two, phone, "CANCEL")
        s.hangup(phone)
        s.hangup(two)
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
    trunk, phone = ring_direct(s, CALLER, "307")
    s.at(s.t + 2)
    answer_direct(s, trunk, phone, "b-orig")
    s.at(s.t + 2)
    s.add(msg(("Action", "Atxfer"), ("ActionID", "rec-5"), ("Channel", phone.name), ("Exten", "600"),
              ("Context", "from-internal")), "out")  # fmt: skip
    s.add(msg(("Response", "Success"), ("ActionID", "rec-5"), ("Message", "Atxfer successfully queued")))
    s.ev("Hold", phone.snap())
    s.ev("MusicOnHoldStart", trunk.snap(), Class="default")
    one, two = s.local_pair("600", "from-internal", trunk)
    s.new(one)
    s.new(two, state="Ring")
    two.cid = OP["307"]
    s.ev("NewCallerid", two.snap())
    s.ev("LocalBridge", one.snap("LocalOne"), two.snap("LocalTwo"), Context="from-internal", Exten="600",
         LocalOptimization="Yes")  # fmt: skip
    one.cl = OP["307"]
    s.ev("BridgeCreate", BridgeUniqueid="b-consult", BridgeType="basic", BridgeNumChannels="0")
    s.ev("BridgeEnter", one.snap(), BridgeUniqueid="b-consult", BridgeType="basic", BridgeNumChannels="1")
    s.leave("b-orig", phone, 1)
    s.ev("BridgeEnter", phone.snap(), BridgeUniqueid="b-consult", BridgeType="basic", BridgeNumChannels="2")
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
    s.ev("BridgeEnter", one.snap(), BridgeUniqueid="b-orig", BridgeType="basic", BridgeNumChannels="2")
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
    s.ev("BridgeDestroy", BridgeUniqueid="b-consult", BridgeType="basic", BridgeNumChannels="0")
    s.hangup(phone)
    s.at(s.t + 0.3)  # the 600 Local pair optimises away: the caller joins 305's queue leg directly
    q1 = f"q1-{members['305'][2].uniqueid}"
    s.ev("LocalOptimizationBegin", one.snap("LocalOne"), two.snap("LocalTwo"), SourceUniqueid=two.uniqueid)
    s.leave("b-orig", trunk, 1)
    s.leave(q1, two, 1)
    s.ev("BridgeEnter", trunk.snap(), BridgeUniqueid=q1, BridgeType="basic", BridgeNumChannels="2")
    s.ev("LocalOptimizationEnd", one.snap("LocalOne"), two.snap("LocalTwo"), Success="Yes")
    s.hangup(two)
    s.leave("b-orig", one, 0)
    s.hangup(one)
    member = members["305"][2]
    s.connected(member, CALLER)
    s.at(s.t + 4)
    one305, two305, _ = members["305"]
    s.ev("HangupRequest", trunk.snap(), Cause="16")
    s.leave(q1, trunk, 1)
    s.leave(q1, one305, 0)
    s.hangup(one305)
    s.hangup(trunk)
    s.leave(f"q2-{member.uniqueid}", two305, 1)
    s.hangup(two305)
    s.leave(f"q2-{member.uniqueid}", member, 0)
    s.hangup(member)
    return s.finish()


def queue_call_pickup() -> list[dict]:
    """The queue rings member 305; 306 (not a member) picks the ringing phone up and talks to the caller."""
    s = Scenario()
    trunk = s.channel("trunk", CALLER)
    s.new(trunk)
    s.state(trunk, "Ring")
    s.state(trunk, "Up")
    members = s.queue_ring(trunk, ["305"])
    one, two, phone = members["305"]
    s.at(s.t + 3)
    picker = s.channel("306", OP["306"])
    s.new(picker)
    s.state(picker, "Ring")
    s.connected(picker, CALLER)
    s.state(picker, "Up")
    s.ev("Rename", phone.snap(), Newname=phone.name + "<ZOMBIE>")
    s.ev("Pickup", picker.snap(), phone.snap("Target"))
    phone.name += "<ZOMBIE>"
    s.hangup(phone, 26, "Answered elsewhere")
    s.dial_end(two, picker, "ANSWER")  # the member's Local half now reaches the picker
    s.state(two, "Up")
    s.bridge("q2-pickup", picker, two)
    s.state(one, "Up")
    s.dial_end(trunk, one, "ANSWER")
    s.ev("QueueCallerLeave", trunk.snap(), Queue="support", Position="1", Count="0")
    s.ev("AgentConnect", trunk.snap(), one.snap("Dest"), Queue="support", Interface="Local/305@from-queue/n")
    s.bridge("q1-pickup", one, trunk)
    s.at(s.t + 3)
    s.ev("HangupRequest", trunk.snap(), Cause="16")
    s.leave("q1-pickup", trunk, 1)
    s.leave("q1-pickup", one, 0)
    s.hangup(one)
    s.hangup(trunk)
    s.leave("q2-pickup", two, 1)
    s.hangup(two)
    s.leave("q2-pickup", picker, 0)
    s.hangup(picker)
    return s.finish()


def queue_blind_transfer() -> list[dict]:
    """305 answers a queue call and blind-transfers it to 306: the transferee is the member's Local ``;2``."""
    s = Scenario()
    trunk = s.channel("trunk", CALLER)
    s.new(trunk)
    s.state(trunk, "Ring")
    s.state(trunk, "Up")
    members = s.queue_ring(trunk, ["305"])
    s.at(s.t + 2)
    s.queue_answer(trunk, members, "305")
    one, two, phone = members["305"]
    q2 = f"q2-{phone.uniqueid}"
    s.at(s.t + 3)
    s.add(msg(("Action", "BlindTransfer"), ("ActionID", "rec-5"), ("Channel", phone.name), ("Exten", "306"),
              ("Context", "from-internal")), "out")  # fmt: skip
    s.add(msg(("Response", "Success"), ("ActionID", "rec-5"), ("Message", "Transfer succeeded")))
    s.ev("BlindTransfer", phone.snap("Transferer"), two.snap("Transferee"), BridgeUniqueid=q2, Result="Success",
         IsExternal="Yes", Context="from-internal", Extension="306")  # fmt: skip
    s.ev("Unhold", phone.snap())
    s.leave(q2, two, 1)
    s.leave(q2, phone, 0)
    s.hangup(phone)
    target = s.channel("306", OP["306"], linked=trunk)
    s.new(target)
    s.connected(target, CALLER)
    s.dial(two, target, "306")
    s.state(target, "Ringing")
    s.at(s.t + 2)
    s.state(target, "Up")
    s.dial_end(two, target, "ANSWER")
    s.bridge("b-after", target, two)
    s.at(s.t + 3)
    q1 = f"q1-{phone.uniqueid}"
    s.ev("HangupRequest", trunk.snap(), Cause="16")
    s.leave(q1, trunk, 1)
    s.leave(q1, one, 0)
    s.hangup(one)
    s.hangup(trunk)
    s.leave("b-after", two, 1)
    s.hangup(two)
    s.leave("b-after", target, 0)
    s.hangup(target)
    return s.finish()


SCENARIOS = {
    "queue-ring-again": queue_ring_again,
    "queue-call-pickup": queue_call_pickup,
    "queue-blind-transfer": queue_blind_transfer,
    "attended-transfer-to-queue": attended_transfer_to_queue,
}
