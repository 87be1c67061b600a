"""Hand-built scenarios of everyday call-centre situations the recordings do not show (build.py writes them).

Event order and fields follow the recorded Asterisk 20 traces; where the
recordings have no example, they follow what Asterisk's code does:

* call pickup: ``ast_do_pickup`` answers the picker's channel, masquerades it
  into the ringing leg (the ringing leg is renamed ``...<ZOMBIE>`` and hangs
  up with Cause 26), publishes ``Pickup``, and the caller's Dial bridges with
  the picker's channel;
* an unregistered phone: Dial cannot even create the channel (no events for
  it at all); when a channel was created, the dial ends ``CHANUNAVAIL``;
* an Originate to an unregistered phone: ``OriginateResponse`` Failure,
  Reason 0, ``Uniqueid: <unknown>``, and no channel, DialBegin or DialEnd;
* call waiting: a second call rings the line's phone on a second channel;
* a line registered from two devices: one Dial creates a channel per device;
* an attended transfer made on the phone itself (two channels, REFER with Replaces).

Queue situations are in ``queues.py``; the steps all are made of are in ``builder.py``.
"""

from __future__ import annotations

from builder import CALLER, Scenario, event

OP = {line: (line, f"Operator {line}") for line in ("305", "306", "307", "308")}
SECOND = ("79257654321", "Anna Sidorova")
THIRD = ("79035550011", "Oleg Ivanov")


def _pickup(caller_id: tuple, endpoint: str) -> list[dict]:
    s = Scenario()
    trunk, phone = s.ring_direct(caller_id, "305", endpoint)
    s.at(s.t + 3)
    picker = s.pickup(phone, "306", caller_id)
    s.dial_end(trunk, picker, "ANSWER")  # the caller's Dial now holds the picker's channel
    s.state(trunk, "Up")
    s.bridge("b-pickup", picker, trunk)
    s.connected(trunk, OP["306"])
    s.at(s.t + 3)
    s.hangs_up(trunk, picker, "b-pickup")
    return s.finish()


def call_pickup() -> list[dict]:
    """305 rings; 306 dials the directed-pickup code and takes the call; the caller hangs up later."""
    return _pickup(CALLER, "trunk")


def internal_call_pickup() -> list[dict]:
    """307 calls 305; 306 picks the ringing phone up; 307 hangs up later."""
    return _pickup(OP["307"], "307")


def inbound_unregistered() -> list[dict]:
    """Two calls for the unregistered 308: a direct one (no channel at all) and a ring group with 305."""
    s = Scenario()
    trunk = s.channel("trunk", CALLER)
    s.new(trunk)
    s.state(trunk, "Ring")
    s.at(s.t + 0.2)  # Dial(SIP/308) cannot create the channel: nothing on AMI; the dialplan hangs up
    s.hangup(trunk, 20, "Subscriber absent", request=True)
    s.at(s.t + 2)
    caller = s.channel("trunk", SECOND)
    s.new(caller)
    s.state(caller, "Ring")
    absent = s.channel("308", OP["308"], linked=caller)
    s.new(absent)
    s.connected(absent, SECOND)
    s.dial(caller, absent, "308")
    phone = s.channel("305", OP["305"], linked=caller)
    s.new(phone)
    s.connected(phone, SECOND)
    s.dial(caller, phone, "305")
    s.dial_end(caller, absent, "CHANUNAVAIL")
    s.hangup(absent, 20, "Subscriber absent")
    s.state(phone, "Ringing")
    s.at(s.t + 2)
    s.answer_direct(caller, phone, "b-group")
    s.at(s.t + 3)
    s.hangs_up(caller, phone, "b-group")
    return s.finish()


def originate_unregistered() -> list[dict]:
    """Click-to-call from the unregistered 308: Asterisk answers Failure, Reason 0, and makes no channel."""
    s = Scenario()
    s.at(s.t + 1)
    fields = [
        ("Channel", "SIP/308"),
        ("Context", "from-internal"),
        ("Exten", "79031112233"),
        ("Priority", "1"),
        ("CallerID", '"79031112233" <79031112233>'),
        ("Timeout", "30000"),
        ("Async", "true"),
    ]
    s.action("Originate", "rec-5", *fields, message="Originate successfully queued")
    s.at(s.t + 0.01)
    s.add(
        event(
            "OriginateResponse",
            ActionID="rec-5",
            Response="Failure",
            Channel="SIP/308",
            Context="from-internal",
            Exten="79031112233",
            Reason="0",
            Uniqueid="<unknown>",
            CallerIDNum="79031112233",
            CallerIDName="79031112233",
        )
    )
    return s.finish()


def call_waiting() -> list[dict]:
    """305 talks; a second caller rings through, 305 holds the first and answers; a third gives up."""
    s = Scenario()
    first, line_a = s.answered_direct("305", bridge="b-first")
    s.at(s.t + 2)
    second, line_b = s.ring_direct(SECOND, "305")
    s.at(s.t + 3)
    s.hold(line_a, first)
    s.answer_direct(second, line_b, "b-second")
    s.at(s.t + 4)
    s.hangs_up(line_b, second, "b-second")
    s.unhold(line_a, first)
    s.at(s.t + 2)
    third, line_c = s.ring_direct(THIRD, "305")
    s.at(s.t + 4)
    s.ev("HangupRequest", third.snap(), Cause="16")
    s.dial_end(third, line_c, "CANCEL")
    s.hangup(line_c, 16)
    s.hangup(third, 0, "Unknown")
    s.at(s.t + 1)
    s.hangs_up(first, line_a, "b-first")
    return s.finish()


def two_devices() -> list[dict]:
    """305 is registered from two devices; one Dial rings both (PJSIP_DIAL_CONTACTS): one call per Dial.

    First call: the second device answers, the first gets Cause 26. Second
    call: nobody answers and the caller gives up.
    """
    s = Scenario()
    for caller_id, answered in ((CALLER, True), (SECOND, False)):
        trunk = s.channel("trunk", caller_id)
        s.new(trunk)
        s.state(trunk, "Ring")
        devices = [s.channel("305", OP["305"], linked=trunk) for _ in range(2)]
        for n, device in enumerate(devices):
            s.new(device)
            s.connected(device, caller_id)
            s.dial(trunk, device, f"305/sip:305@192.0.2.{10 + n}:5060")
        s.connected(trunk, OP["305"])
        for device in devices:
            s.state(device, "Ringing")
        s.at(s.t + 3)
        bridge = f"b-{devices[1].uniqueid}"
        if answered:
            s.state(devices[1], "Up")
            s.dial_end(trunk, devices[1], "ANSWER")
            s.dial_end(trunk, devices[0], "CANCEL")
            s.hangup(devices[0], 26, "Answered elsewhere")
            s.state(trunk, "Up")
            s.bridge(bridge, devices[1], trunk)
            s.at(s.t + 3)
            s.hangs_up(trunk, devices[1], bridge)
        else:
            s.ev("HangupRequest", trunk.snap(), Cause="16")
            for device in devices:
                s.dial_end(trunk, device, "CANCEL")
                s.hangup(device)
            s.hangup(trunk, 0, "Unknown")
        s.at(s.t + 2)
    return s.finish()


def phone_attended_transfer() -> list[dict]:
    """305 holds the caller on his phone, calls 306 on a second channel, then transfers (REFER/Replaces)."""
    s = Scenario()
    trunk, first = s.answered_direct("305", bridge="b-caller")
    s.at(s.t + 2)
    s.hold(first, trunk)
    second, target = s.answered_direct("306", OP["305"], bridge="b-consult", endpoint="305")
    s.at(s.t + 3)
    s.ev(
        "AttendedTransfer",
        first.snap("OrigTransferer"),
        second.snap("SecondTransferer"),
        trunk.snap("Transferee"),
        target.snap("TransferTarget"),
        OrigBridgeUniqueid="b-caller",
        SecondBridgeUniqueid="b-consult",
        Result="Success",
        IsExternal="Yes",
        DestType="Bridge",
        DestBridgeUniqueid="b-consult",
    )
    s.leave("b-consult", second, 1)
    s.leave("b-caller", trunk, 1)
    s.enter("b-consult", trunk, 2)
    s.ev("MusicOnHoldStop", trunk.snap())
    s.leave("b-caller", first, 0)
    s.hangup(first)
    s.hangup(second)
    s.connected(target, CALLER)
    s.at(s.t + 4)
    s.hangs_up(trunk, target, "b-consult")
    return s.finish()


SCENARIOS = {
    "phone-attended-transfer": phone_attended_transfer,
    "two-devices": two_devices,
    "call-pickup": call_pickup,
    "internal-call-pickup": internal_call_pickup,
    "inbound-unregistered": inbound_unregistered,
    "originate-unregistered": originate_unregistered,
    "call-waiting": call_waiting,
}
