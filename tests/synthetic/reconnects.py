"""Hand-built reconnect scenarios (written by build.py): the AMI link drops and comes back.

After the new banner and login, the CoreShowChannels list tells what is
live; Uniqueids of live channels are unchanged across the reconnect.
"""

from __future__ import annotations

from builder import CALLER, Channel, Scenario, event, load, msg


def _relogin(s: Scenario, listed: list[tuple[Channel, str, str]]) -> None:
    """A reconnect: banner, login, and a CoreShowChannels list of ``(channel, bridge, duration)``."""
    s.add("Asterisk Call Manager/9.0.0\r\n")
    s.action("Login", "rec-20", ("Username", "terrasoft"), ("Secret", "terrasoft"), message="Authentication accepted")
    s.add(msg(("Event", "FullyBooted"), ("Privilege", "system,all"), ("Status", "Fully Booted")))
    s.add(msg(("Action", "CoreShowChannels"), ("ActionID", "rec-21")), "out")
    s.add(
        msg(
            ("Response", "Success"), ("ActionID", "rec-21"), ("EventList", "start"), ("Message", "Channels will follow")
        )
    )
    for c, bridge, duration in listed:
        fields = dict(Context="from-internal", Exten="s", Application="Dial", Duration=duration, BridgeId=bridge)
        s.add(event("CoreShowChannel", c.snap(), ActionID="rec-21", **fields))
    s.add(
        msg(
            ("Event", "CoreShowChannelsComplete"),
            ("ActionID", "rec-21"),
            ("EventList", "Complete"),
            ("ListItems", str(len(listed))),
        )
    )


def reconnect_mid_call() -> list[dict]:
    """The AMI link drops during an answered call and comes back with the call still up."""
    s = Scenario.resume("inbound-answered", after=4.0, at=5.0)
    trunk = Channel("SIP/trunk-00000029", "1795700624.92", "1795700624.92", CALLER, ("305", "Operator 305"))
    phone = Channel("SIP/305-0000002a", "1795700624.93", "1795700624.92", ("305", "Operator 305"), CALLER)
    trunk.state = phone.state = "Up"
    bridge = "49ad526c-cbc8-4ffe-beb9-1dd04f66f862"
    _relogin(s, [(trunk, bridge, "00:00:05"), (phone, bridge, "00:00:05")])
    rest = [r for r in load("inbound-answered") if r["t"] > 6.0]
    return s.records + rest


def reconnect_outage() -> list[dict]:
    """During an outage 305's call ends and a new call rings 306; 306 answers after the reconnect."""
    s = Scenario.resume("inbound-answered", after=4.0, at=20.0)
    s._uid = 500
    trunk = s.channel("trunk", CALLER)
    phone = s.channel("306", ("306", "Operator 306"), linked=trunk, cl=CALLER)
    trunk.state, phone.state = "Ring", "Ringing"
    _relogin(s, [(trunk, "", "00:00:04"), (phone, "", "00:00:03")])
    s.at(22.0)
    s.answer_direct(trunk, phone, "b-after")
    s.at(25.0)
    s.hangs_up(trunk, phone, "b-after")
    return s.finish()


SCENARIOS = {
    "reconnect-mid-call": reconnect_mid_call,
    "reconnect-outage": reconnect_outage,
}
