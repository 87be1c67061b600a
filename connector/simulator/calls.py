"""The call flows that start calls: inbound over the trunk, from a phone, and Originate."""

from __future__ import annotations

import re

from connector.simulator.dial import ANSWER, BUSY, NOANSWER, Dial, connect, phone_leg
from connector.simulator.pbx import Behaviour, Pbx
from connector.simulator.wire import UNKNOWN, Channel

OWN_PICKUP_SECONDS = 1.0  # a manual phone rung by an Originate answers by itself after this
CALLER_ID_RE = re.compile(r'^\s*(?:"(?P<quoted>[^"]*)"|(?P<bare>[^<]*?))\s*<(?P<num>[^>]*)>\s*$')


def parse_caller_id(text: str) -> tuple[str, str]:
    """``"Ivan Petrov" <79161234567>`` -> (number, name); a bare number is both."""
    match = CALLER_ID_RE.match(text or "")
    if not match:
        text = (text or "").strip()
        return text, text
    name = match.group("quoted") if match.group("quoted") is not None else (match.group("bare") or "").strip()
    number = match.group("num").strip()
    return number, name or number


def route(pbx: Pbx, did: str) -> str | None:
    """The line a DID reaches (``74951230305`` -> ``305``), or None for the queue DID."""
    prefix = pbx.config.did_prefix
    if did.startswith(prefix) and pbx.is_line(did[len(prefix) :]):
        return did[len(prefix) :]
    if pbx.is_line(did):
        return did
    return None


def inbound_call(pbx: Pbx, number: str, name: str, did: str) -> Channel:
    """An external caller rings the DID: straight to a line, or through the queue."""
    config = pbx.config
    trunk = pbx.new_channel(
        config.trunk,
        cid_num=number,
        cid_name=name or number,
        context="from-trunk",
        exten=did,
        state=4 if config.pjsip else 0,
    )
    pbx.emit("DeviceStateChange", [("Device", f"{config.tech}/{config.trunk}"), ("State", "INUSE")])
    if not config.pjsip:
        pbx.set_state(trunk, 4)
    line = route(pbx, did)
    if line is None:
        from connector.simulator.queue import QueueCall  # the queue module builds on this one

        QueueCall(pbx, trunk).start()
        return trunk
    trunk.context, trunk.exten, trunk.priority = "from-internal", line, 2
    pbx.spawn(connect(pbx, trunk, line))
    return trunk


def phone_call(pbx: Pbx, line: str, number: str) -> Channel:
    """The operator dials ``number`` on his phone (another line or an external number)."""
    channel = pbx.new_channel(line, cid_num=line, cid_name=pbx.line_name(line), exten=number)
    pbx.set_state(channel, 4)
    channel.priority = 2
    pbx.spawn(connect(pbx, channel, number))
    return channel


def originate_failure_reason(pbx: Pbx, status: str) -> int:
    """Asterisk's OriginateResponse Reason: 5 busy (chan_sip; chan_pjsip says 0), 3 no answer."""
    if status == BUSY:
        return 0 if pbx.config.pjsip else 5
    if status == NOANSWER:
        return 3
    return 0


async def originate(
    pbx: Pbx,
    channel_spec: str,
    context: str,
    exten: str,
    priority: int,
    caller_id: str | None,
    timeout: float,
    report,
) -> bool:
    """Ring the line named by ``SIP/305``; on answer run ``exten@context``.

    ``report(success, reason, channel, uniqueid, cid_num, cid_name)`` is called once,
    when the first leg answers or fails (what OriginateResponse tells).
    """
    tech, _slash, line = channel_spec.partition("/")
    cid_num, cid_name = parse_caller_id(caller_id) if caller_id else (line, pbx.line_name(line))
    if tech != pbx.config.tech or not pbx.is_line(line) or pbx.behaviour(line).mode == "offline":
        report(False, 0, channel_spec, "<unknown>", cid_num or UNKNOWN, cid_name or UNKNOWN)
        return False
    channel = phone_leg(pbx, line, None)
    if caller_id:
        channel.exten = ""
        pbx.set_callerid(channel, cid_num, cid_name)
        pbx.set_connected(channel, cid_num, cid_name)
    behaviour = pbx.behaviour(line)
    if behaviour.mode == "manual":
        # The operator asked for this call: he picks up his own ringing handset.
        behaviour = Behaviour("answer", OWN_PICKUP_SECONDS)
    status = await Dial(pbx, None, channel, line, line, behaviour=behaviour).run(timeout)
    if status != ANSWER:
        report(False, originate_failure_reason(pbx, status), channel_spec, "<unknown>", cid_num, cid_name)
        return False
    report(True, 4, channel.name, channel.uniqueid, cid_num, cid_name)
    channel.context, channel.exten, channel.priority = context, exten, priority
    slot = pbx.parked.get(exten)
    if slot is not None or context == "parkedcalls":
        from connector.simulator.features import pick_up  # parking builds on this module

        pick_up(pbx, channel, exten)
        return True
    channel.priority = priority + 1
    await connect(pbx, channel, exten)
    return True
