"""AMI actions understood by the simulator, answered the way Asterisk 20 answers them."""

from __future__ import annotations

import asyncio
import re
import time

from connector.ami.message import Message
from connector.simulator import control, features
from connector.simulator.atxfer import Atxfer
from connector.simulator.calls import originate
from connector.simulator.lists import core_show_channels, queue_status, status
from connector.simulator.pbx import Pbx
from connector.simulator.server import Session
from connector.simulator.wire import Channel

TRUE = {"true", "yes", "1", "on", "y"}


def _find(pbx: Pbx, name: str | None) -> Channel | None:
    return pbx.find(name) if name else None


async def dispatch(session: Session, message: Message) -> None:
    """Answer one action; anything before a successful Login is refused."""
    action = (message.get("Action") or "").strip()
    if not action:
        session.error(message, "Missing action in request")
        return
    name = action.lower()
    if name == "login":
        await session.login(message)
        return
    if not session.authenticated:
        session.error(message, "Permission denied")
        return
    handler = HANDLERS.get(name)
    if handler is None:
        session.error(
            message, f"Invalid/unknown command: {action}. Use Action: ListCommands to show available commands."
        )
        return
    await handler(session, message)


async def ping(session: Session, message: Message) -> None:
    """``Ping`` -> ``Pong`` with a timestamp."""
    session.respond(message, "Success", [("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])


async def logoff(session: Session, message: Message) -> None:
    """``Logoff`` -> ``Goodbye``, then the connection closes."""
    session.respond(message, "Goodbye", [("Message", "Thanks for all the fish.")])
    session.close()


async def events(session: Session, message: Message) -> None:
    """``Events``: ``EventMask: off`` silences this session."""
    mask = (message.get("EventMask") or "on").strip().lower()
    session.events = mask != "off"
    session.respond(message, "Success", [("Events", "On" if session.events else "Off")])


async def filter_(session: Session, message: Message) -> None:
    """``Filter``: a regular expression on the event text; ``!`` excludes."""
    expression = message.get("Filter") or ""
    allow = not expression.startswith("!")
    try:
        pattern = re.compile(expression if allow else expression[1:])
    except re.error:
        session.error(message, "Filter Not Added")
        return
    session.filters.append((allow, pattern))
    session.ok(message, "Filter Added Successfully")


async def originate_action(session: Session, message: Message) -> None:
    """``Originate`` (Async or not); the outcome as OriginateResponse or the Response."""
    pbx = session.pbx
    channel = message.get("Channel")
    if not channel:
        session.error(message, "Channel not specified")
        return
    exten, context = message.get("Exten") or "", message.get("Context") or ""
    if not exten or not context:
        session.error(message, "Exten and Context must be specified")
        return
    try:
        priority = int(message.get("Priority") or "1")
        timeout = int(message.get("Timeout") or "30000") / 1000.0
    except ValueError:
        session.error(message, "Invalid priority or timeout")
        return
    action_id = message.action_id
    is_async = (message.get("Async") or "").lower() in TRUE
    outcome: asyncio.Future = asyncio.get_running_loop().create_future()

    def report(success, reason, name, uniqueid, cid_num, cid_name) -> None:
        if not outcome.done():
            outcome.set_result(success)
        if not is_async:
            return  # a synchronous Originate answers with its Response only
        pairs = [("ActionID", action_id)] if action_id is not None else []
        pairs += [
            ("Response", "Success" if success else "Failure"),
            ("Channel", name),
            ("Context", context),
            ("Exten", exten),
            ("Reason", str(reason)),
            ("Uniqueid", uniqueid),
            ("CallerIDNum", cid_num),
            ("CallerIDName", cid_name),
        ]
        pbx.emit("OriginateResponse", pairs)

    if is_async:
        session.ok(message, "Originate successfully queued")
    pbx.spawn(originate(pbx, channel, context, exten, priority, message.get("CallerID"), timeout, report))
    if is_async:
        return
    # Like Asterisk, a synchronous Originate holds this session until the first leg answers or fails.
    if await outcome:
        session.ok(message, "Originate successfully queued")
    else:
        session.error(message, "Originate failed")


async def hangup(session: Session, message: Message) -> None:
    """``Hangup`` of a channel name or ``/regex/``."""
    pbx = session.pbx
    name = message.get("Channel") or ""
    targets: list[Channel]
    if len(name) > 2 and name.startswith("/") and name.endswith("/"):
        try:
            pattern = re.compile(name[1:-1])
        except re.error:
            session.error(message, "Invalid regex")
            return
        targets = [c for c in pbx.channels.values() if pattern.search(c.name)]
    else:
        channel = _find(pbx, name)
        if channel is None:
            session.error(message, "No such channel")
            return
        targets = [channel]
    try:
        cause = int(message.get("Cause") or "16")
    except ValueError:
        cause = 16
    session.ok(message, "Channel Hungup")
    for channel in targets:
        if not channel.hung_up:
            pbx.hangup(channel, cause)


async def park(session: Session, message: Message) -> None:
    """``Park`` the remote party; the reply carries Asterisk's stray LF."""
    pbx = session.pbx
    channel = _find(pbx, message.get("Channel"))
    if channel is None:
        session.error(message, f"Channel does not exist: {message.get('Channel') or ''}")
        return
    timeout_channel = _find(pbx, message.get("TimeoutChannel"))
    try:
        _slot, do_park = features.park(pbx, channel, timeout_channel, message.get("ParkingSpace"))
    except features.FeatureError as exc:
        session.error(message, str(exc))
        return
    # Asterisk's reply carries a stray LF before the terminating CRLF.
    session.respond(message, "Success", [("Message", "Park successful")], trailer="\n")
    do_park()


async def redirect(session: Session, message: Message) -> None:
    """``Redirect`` a bridged channel to another extension."""
    pbx = session.pbx
    channel = _find(pbx, message.get("Channel"))
    if channel is None:
        session.error(message, f"Channel does not exist: {message.get('Channel') or ''}")
        return
    try:
        features.talk_of(pbx, channel)
    except features.FeatureError as exc:
        session.error(message, str(exc))
        return
    session.ok(message, "Redirect successful")
    features.redirect(pbx, channel, message.get("Exten") or "", message.get("Context") or "from-internal")


async def blind_transfer(session: Session, message: Message) -> None:
    """``BlindTransfer`` of the operator's channel."""
    pbx = session.pbx
    channel = _find(pbx, message.get("Channel"))
    if channel is None:
        session.error(message, "No such channel")
        return
    try:
        features.talk_of(pbx, channel)
    except features.FeatureError:
        session.error(message, "Transfer failed")
        return
    session.ok(message, "Transfer succeeded")
    features.blind_transfer(pbx, channel, message.get("Exten") or "", message.get("Context") or "from-internal")


async def atxfer(session: Session, message: Message) -> None:
    """``Atxfer``: queued at once, the consultation starts a moment later."""
    pbx = session.pbx
    channel = _find(pbx, message.get("Channel"))
    if channel is None:
        session.error(message, "Channel specified does not exist")
        return
    try:
        transfer = Atxfer(pbx, channel, message.get("Exten") or "", message.get("Context") or "from-internal")
    except features.FeatureError as exc:
        session.error(message, str(exc))
        return
    session.ok(message, "Atxfer successfully queued")

    def begin() -> None:
        if not channel.hung_up and not transfer.caller.hung_up:
            transfer.start()

    asyncio.get_running_loop().call_later(pbx.config.atxfer_delay, begin)


async def cancel_atxfer(session: Session, message: Message) -> None:
    """``CancelAtxfer``: drop the consultation."""
    pbx = session.pbx
    channel = _find(pbx, message.get("Channel"))
    owner = pbx.owners.get(channel.name) if channel is not None else None
    if not isinstance(owner, Atxfer):
        session.error(message, "No active transfer attempt")
        return
    session.ok(message, "CancelAtxfer successfully queued")
    owner.cancel()


async def play_dtmf(session: Session, message: Message) -> None:
    """``PlayDTMF``: accepted (no DTMF events: the account cannot see them)."""
    channel = _find(session.pbx, message.get("Channel"))
    if channel is None:
        session.error(message, "Channel not found")
        return
    if not message.get("Digit"):
        session.error(message, "No digit specified")
        return
    session.ok(message, "DTMF successfully queued")


async def demo_answer(session: Session, message: Message) -> None:
    """``DemoAnswer``: the demo's answer-on-phone."""
    answered, text = control.demo_answer(session.pbx, message.get("Channel") or "")
    if answered:
        session.ok(message, text)
    else:
        session.error(message, text)


async def queue_pause(session: Session, message: Message) -> None:
    """``QueuePause`` of a member interface (all queues, or ``Queue``)."""
    pbx = session.pbx
    interface = message.get("Interface") or ""
    paused = (message.get("Paused") or "").lower() in TRUE
    queue = message.get("Queue")
    member = next((m for m in pbx.members.values() if m.interface == interface), None)
    if member is None or (queue and queue != pbx.config.queue):
        session.error(message, "Interface not found")
        return
    member.paused = paused
    member.reason = (message.get("Reason") or "") if paused else ""
    if paused:
        member.last_pause = int(time.time())
    session.ok(message, "Interface paused successfully" if paused else "Interface unpaused successfully")
    pbx.emit(
        "DeviceStateChange",
        [("Device", f"Queue:{pbx.config.queue}_pause_{interface}"), ("State", "INUSE" if paused else "NOT_INUSE")],
    )
    pbx.emit("QueueMemberPause", pbx.member_pairs(member, pbx.member_status(member), ringinuse=True), "agent,all")


HANDLERS = {
    "ping": ping,
    "logoff": logoff,
    "events": events,
    "filter": filter_,
    "coreshowchannels": core_show_channels,
    "status": status,
    "queuestatus": queue_status,
    "originate": originate_action,
    "hangup": hangup,
    "park": park,
    "redirect": redirect,
    "blindtransfer": blind_transfer,
    "atxfer": atxfer,
    "cancelatxfer": cancel_atxfer,
    "playdtmf": play_dtmf,
    "queuepause": queue_pause,
    "demoanswer": demo_answer,
}
