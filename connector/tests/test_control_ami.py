"""Call control through a real AmiClient to FakeAMI over TCP: the exact bytes Asterisk would get."""

import asyncio
import contextlib

import pytest
from channels.layers import channel_layers

from connector.client import AmiClient, ClientOptions
from connector.config import ConnectorConfig
from connector.control import CommandHandler
from connector.ratelimit import MemoryRateLimiter
from connector.tests.consumer_helpers import Tracker, connect_user, running_worker
from connector.tests.test_control import ALICE_CALL
from tests.fakeami import FakeAMI

pytestmark = pytest.mark.timeout(30)

BOB_CALL = {"operator_channel": "SIP/306-00000050", "remote_channel": "SIP/trunk-0000004f", "parking_slot": None}
CALLS = {("305", "c1"): dict(ALICE_CALL), ("306", "b1"): dict(BOB_CALL)}


@contextlib.asynccontextmanager
async def ami_client(**overrides):
    async with FakeAMI() as ami:
        options = ClientOptions(
            port=ami.port, username="terrasoft", secret="terrasoft", fully_booted_wait=0.2, **overrides
        )
        client = AmiClient(options)
        task = asyncio.create_task(client.run())
        try:
            await client.wait_connected(5)
            yield ami, client
        finally:
            await client.stop()
            await asyncio.wait_for(task, 5)


def handler_for(client, limit=10, config=None):
    return CommandHandler(client, Tracker(CALLS), config or ConnectorConfig(), MemoryRateLimiter(limit, 60))


def msg(command, line="305", user_id=1):
    return {"type": "connector.command", "reply_to": "x", "request_id": 1, "user_id": user_id, "line": line,
            "context": "", "command": command}  # fmt: skip


def wire(ami, name):
    """The raw bytes FakeAMI received for the first action ``name``, rebuilt from its ActionID."""
    action = ami.actions_named(name)[0]
    start = bytes(ami.raw).index(f"Action: {name}\r\nActionID: {action.get('ActionID')}\r\n".encode())
    end = bytes(ami.raw).index(b"\r\n\r\n", start) + 4
    return bytes(ami.raw)[start:end], action.get("ActionID")


async def test_click_to_call_sends_exactly_the_traced_originate():
    async with ami_client() as (ami, client):
        result = await handler_for(client).handle(msg({"type": "call", "ref": 1, "number": "79031112233"}))
        assert result["ok"] is True
        raw, action_id = wire(ami, "Originate")
    assert (
        raw
        == (
            f"Action: Originate\r\nActionID: {action_id}\r\nChannel: SIP/305\r\nContext: from-internal\r\n"
            'Exten: 79031112233\r\nPriority: 1\r\nCallerID: "79031112233" <79031112233>\r\n'
            "Timeout: 30000\r\nAsync: true\r\n\r\n"
        ).encode()
    )


async def test_hold_and_resume_send_park_and_originate_to_the_slot():
    calls_parked = {("305", "c1"): {**ALICE_CALL, "operator_channel": None, "parking_slot": "701"}}
    async with ami_client() as (ami, client):
        handler = handler_for(client)
        assert (await handler.handle(msg({"type": "hold", "ref": 1, "call_id": "c1"})))["ok"]
        handler.tracker = Tracker(calls_parked)
        assert (await handler.handle(msg({"type": "resume", "ref": 2, "call_id": "c1"})))["ok"]
        park, park_id = wire(ami, "Park")
        resume = ami.actions_named("Originate")[0]
    assert (
        park
        == (
            f"Action: Park\r\nActionID: {park_id}\r\nChannel: SIP/trunk-00000047\r\nTimeoutChannel: SIP/305-00000048\r\n\r\n"
        ).encode()
    )
    assert (resume.get("Channel"), resume.get("Context"), resume.get("Exten")) == ("SIP/305", "from-internal", "701")


async def test_refused_commands_send_nothing_to_asterisk():
    async with ami_client() as (ami, client):
        handler = handler_for(client)
        results = [
            await handler.handle(
                msg({"type": "call", "ref": 1, "number": "100\r\nAction: Command\r\nCommand: core show version"})
            ),  # fmt: skip
            await handler.handle(msg({"type": "call", "ref": 2, "number": "100\r\n\r\nAction: Logoff"})),
            await handler.handle(msg({"type": "hangup", "ref": 3, "call_id": "b1"})),
            await handler.handle(msg({"type": "hold", "ref": 4, "call_id": "b1"})),
            await handler.handle(
                msg({"type": "transfer", "ref": 5, "call_id": "b1", "number": "307", "mode": "blind"})
            ),
            await handler.handle(msg({"type": "hangup", "ref": 6, "call_id": "SIP/306-00000050"})),
        ]
        await asyncio.sleep(0.1)
        assert [r["error"]["code"] for r in results] == ["invalid_number"] * 2 + ["forbidden"] * 4
        sent = {a.get("Action") for a in ami.actions}
        assert sent <= {"Login", "CoreShowChannels", "QueueStatus", "Status", "Ping"}
        assert b"Action: Command" not in ami.raw
        assert b"SIP/306" not in ami.raw


async def test_asterisks_own_error_message_is_returned():
    async with ami_client() as (ami, client):
        ami.on_action(
            "Originate", lambda session, action: {"Response": "Error", "Message": "Extension does not exist."}
        )
        result = await handler_for(client).handle(msg({"type": "call", "ref": 1, "number": "999"}))
    assert result["error"] == {"code": "pbx_error", "message": "Extension does not exist."}


async def test_an_unanswered_action_gives_pbx_timeout():
    async with ami_client(action_timeout=0.3) as (ami, client):
        ami.never_answer("Hangup")
        result = await handler_for(client).handle(msg({"type": "hangup", "ref": 1, "call_id": "c1"}))
        assert result["error"]["code"] == "pbx_timeout"
        assert client.pending_count == 0


async def test_the_rate_limit_caps_what_asterisk_receives():
    async with ami_client() as (ami, client):
        handler = handler_for(client, limit=3)
        results = [await handler.handle(msg({"type": "call", "ref": i, "number": "305"})) for i in range(6)]
        assert [r["ok"] for r in results].count(True) == 3
        assert len(ami.actions_named("Originate")) == 3


@pytest.mark.django_db(transaction=True)
async def test_hangup_from_the_browser_reaches_asterisk(alice):
    channel_layers.backends.clear()
    async with ami_client() as (ami, client):
        async with running_worker(client, calls=CALLS):
            ws, _ = await connect_user(alice)
            await ws.send_json_to({"type": "hangup", "ref": "h", "call_id": "c1"})
            assert await ws.receive_json_from(timeout=5) == {"type": "result", "ref": "h", "ok": True, "error": None}
            await ws.send_json_to({"type": "hangup", "ref": "b", "call_id": "b1"})
            assert (await ws.receive_json_from(timeout=5))["error"]["code"] == "forbidden"
            await ws.disconnect()
        hangups = ami.actions_named("Hangup")
    assert [h.get("Channel") for h in hangups] == ["SIP/305-00000048"]
    channel_layers.backends.clear()
