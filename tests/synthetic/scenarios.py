"""Hand-built AMI scenarios for what the recordings do not show (written by build.py).

Each follows the event order and fields of the recorded Asterisk 20 traces:
a caller abandoning a ring-all queue, a transfer to a queue, a Redirect, a
parked call timing out back to the operator, and phone Hold/Unhold. The
steps they are made of are in ``builder.py``.
"""

from __future__ import annotations

from builder import Scenario, msg


def queue_abandon() -> list[dict]:
    """Ring-all queue, both members ring, the caller gives up after 5 s."""
    s = Scenario()
    trunk = s.answered_trunk()
    members = s.queue_ring(trunk, ["305", "306"])
    s.at(s.t + 5)
    s.ev("HangupRequest", trunk.snap(), Cause="16")
    s.queue_ring_stops(trunk, members, "CANCEL")
    s.ev("QueueCallerAbandon", trunk.snap(), Queue="support", Position="1", OriginalPosition="1", HoldTime="5")
    s.hangup(trunk, 0, "Unknown")
    return s.finish()


def transfer_to_queue() -> list[dict]:
    """307 answers a direct call and blind-transfers it to the queue; 306 answers, 305 loses."""
    s = Scenario()
    trunk, phone = s.answered_direct("307")
    s.at(s.t + 2)
    s.action("BlindTransfer", "rec-5", ("Channel", phone.name), ("Exten", "600"), message="Transfer succeeded")
    s.ev(
        "BlindTransfer",
        phone.snap("Transferer"),
        trunk.snap("Transferee"),
        BridgeUniqueid=f"b-{phone.uniqueid}",
        Result="Success",
        IsExternal="Yes",
        Context="from-internal",
        Extension="600",
    )
    s.leave(f"b-{phone.uniqueid}", phone, 1)
    s.leave(f"b-{phone.uniqueid}", trunk, 0)
    s.hangup(phone)
    members = s.queue_ring(trunk, ["305", "306"])
    s.at(s.t + 3)
    s.queue_answer(trunk, members, "306")
    s.at(s.t + 4)
    s.queue_hangup(trunk, members, "306")
    return s.finish()


def redirect() -> list[dict]:
    """An AMI Redirect sends 305's caller to 306: no transfer event at all; 306 answers."""
    s = Scenario()
    trunk, phone = s.answered_direct("305")
    s.at(s.t + 2)
    fields = (("Channel", trunk.name), ("Exten", "306"), ("Context", "from-internal"), ("Priority", "1"))
    s.action("Redirect", "rec-5", *fields, message="Redirect successful")
    s.leave(f"b-{phone.uniqueid}", trunk, 1)
    s.leave(f"b-{phone.uniqueid}", phone, 0)
    s.hangup(phone)
    target = s.dial_on(trunk, "306")
    s.at(s.t + 2)
    s.answer_on(trunk, target, f"b-{target.uniqueid}")
    s.at(s.t + 3)
    s.hangs_up(trunk, target, f"b-{target.uniqueid}")
    return s.finish()


def park_timeout() -> list[dict]:
    """A parked call times out and comes back to 305 (the dial arrives before ParkedCallTimeOut)."""
    s = Scenario()
    trunk, phone = s.answered_direct("305")
    s.at(s.t + 2)
    s.add(
        msg(("Action", "Park"), ("ActionID", "rec-5"), ("Channel", trunk.name), ("TimeoutChannel", phone.name)), "out"
    )
    s.add("Response: Success\r\nActionID: rec-5\r\nMessage: Park successful\n\r\n\r\n")
    parked = dict(ParkerDialString="SIP/305", Parkinglot="default", ParkingSpace="701", ParkingTimeout="45")
    s.ev("ParkedCall", trunk.snap("Parkee"), **parked)
    s.leave(f"b-{phone.uniqueid}", trunk, 1)
    s.ev("BridgeEnter", trunk.snap(), BridgeUniqueid="parking-701", BridgeType="parking", BridgeNumChannels="1")
    s.at(s.t + 0.6)
    s.leave(f"b-{phone.uniqueid}", phone, 0)
    s.hangup(phone)
    s.at(s.t + 45)
    s.leave("parking-701", trunk, 0)
    back = s.dial_on(trunk, "305")
    s.ev("ParkedCallTimeOut", trunk.snap("Parkee"), **parked)
    s.at(s.t + 2)
    s.answer_on(trunk, back, f"b-{back.uniqueid}")
    s.at(s.t + 3)
    s.hangs_up(trunk, back, f"b-{back.uniqueid}")
    return s.finish()


def phone_hold() -> list[dict]:
    """305 puts the caller on hold from the phone and takes him back; then hangs up."""
    s = Scenario()
    trunk, phone = s.answered_direct("305")
    s.at(s.t + 2)
    s.hold(phone, trunk)
    s.at(s.t + 3)
    s.unhold(phone, trunk)
    s.at(s.t + 2)
    s.hangs_up(phone, trunk, f"b-{phone.uniqueid}")
    return s.finish()


SCENARIOS = {
    "queue-abandon": queue_abandon,
    "transfer-to-queue": transfer_to_queue,
    "redirect": redirect,
    "park-timeout": park_timeout,
    "phone-hold": phone_hold,
}
