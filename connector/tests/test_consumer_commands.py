"""Commands over the socket: strict shapes, floods, results, and the worker round trip (cases 25-29)."""

import json

import pytest
from channels.db import database_sync_to_async

from connector.consumers import FLOOD_LIMIT, MAX_MESSAGE_CHARS, TelephonyConsumer
from connector.tests.consumer_helpers import connect_user, expect_refusal, running_worker
from connector.tests.test_control import ALICE_CALL, PbxError, RecordingClient

pytestmark = [pytest.mark.usefixtures("fresh_layer"), pytest.mark.django_db(transaction=True), pytest.mark.timeout(30)]


async def test_invalid_json_gets_an_error_and_the_socket_stays(alice):
    ws, _ = await connect_user(alice)
    await ws.send_to(text_data="{not json")
    assert await ws.receive_json_from(timeout=5) == {
        "type": "error",
        "code": "invalid_json",
        "message": "The message is not valid JSON.",
    }
    await ws.send_json_to({"type": "snapshot", "ref": "s1"})
    assert (await ws.receive_json_from(timeout=5))["type"] == "hello"
    assert await ws.receive_json_from(timeout=5) == {"type": "result", "ref": "s1", "ok": True, "error": None}
    await ws.disconnect()


async def test_oversized_and_binary_frames_get_an_error(alice):
    ws, _ = await connect_user(alice)
    await ws.send_to(text_data=json.dumps({"type": "call", "ref": 1, "number": "1" * MAX_MESSAGE_CHARS}))
    assert (await ws.receive_json_from(timeout=5))["code"] == "too_large"
    await ws.send_to(bytes_data=b"\x00\x01")
    assert (await ws.receive_json_from(timeout=5))["code"] == "invalid_message"
    await ws.send_json_to({"type": "snapshot", "ref": 2})
    assert (await ws.receive_json_from(timeout=5))["type"] == "hello"
    await ws.disconnect()


@pytest.mark.parametrize(
    "message,reply",
    [
        ({"type": "reboot", "ref": 5}, {"type": "result", "ref": 5, "ok": False, "code": "unknown_command"}),
        ({"type": "reboot"}, {"type": "error", "code": "unknown_command"}),
        ([1, 2], {"type": "error", "code": "invalid_command"}),
        ({"type": "hangup", "ref": "h"}, {"type": "result", "ref": "h", "ok": False, "code": "invalid_command"}),
        ({"type": "call", "ref": {"x": 1}, "number": "305"}, {"type": "error", "code": "invalid_command"}),
    ],
)
async def test_malformed_commands_get_one_clear_reply(alice, message, reply):
    ws, _ = await connect_user(alice)
    await ws.send_json_to(message)
    got = await ws.receive_json_from(timeout=5)
    assert got["type"] == reply["type"]
    code = got["error"]["code"] if got["type"] == "result" else got["code"]
    assert code == reply["code"]
    if "ref" in reply:
        assert (got["ref"], got["ok"]) == (reply["ref"], reply["ok"])
    assert await ws.receive_nothing(timeout=0.2)
    await ws.disconnect()


async def test_a_flood_closes_the_socket_with_4008(alice, bob):
    bob_ws, _ = await connect_user(bob)
    ws, _ = await connect_user(alice)
    for _ in range(FLOOD_LIMIT + 5):
        await ws.send_to(text_data="x")
    for _ in range(FLOOD_LIMIT):
        assert (await ws.receive_json_from(timeout=5))["code"] == "invalid_json"
    await expect_refusal(ws, 4008, "flood")
    # Other sockets are unaffected.
    await bob_ws.send_json_to({"type": "snapshot", "ref": 1})
    assert (await bob_ws.receive_json_from(timeout=5))["type"] == "hello"
    await bob_ws.disconnect()


async def test_a_command_without_a_worker_times_out(alice, monkeypatch):
    monkeypatch.setattr(TelephonyConsumer, "command_timeout", 0.3)
    ws, _ = await connect_user(alice)
    await ws.send_json_to({"type": "hangup", "ref": "h1", "call_id": "c1"})
    reply = await ws.receive_json_from(timeout=5)
    assert reply == {
        "type": "result",
        "ref": "h1",
        "ok": False,
        "error": {"code": "pbx_timeout", "message": "The telephony service did not answer in time."},
    }


async def test_call_goes_to_the_worker_with_the_profile_context(alice):
    from profiles.models import Profile

    await database_sync_to_async(Profile.objects.filter(user=alice).update)(outgoing_context="from-sales")
    client = RecordingClient()
    async with running_worker(client):
        ws, _ = await connect_user(alice)
        await ws.send_json_to({"type": "call", "ref": "c", "number": "79031112233"})
        assert await ws.receive_json_from(timeout=5) == {"type": "result", "ref": "c", "ok": True, "error": None}
    assert client.sent == [
        b"Action: Originate\r\nActionID: t-1\r\nChannel: SIP/305\r\nContext: from-sales\r\nExten: 79031112233\r\n"
        b'Priority: 1\r\nCallerID: "79031112233" <79031112233>\r\nTimeout: 30000\r\nAsync: true\r\n\r\n'
    ]
    await ws.disconnect()


async def test_injection_in_a_number_never_reaches_the_worker(alice, caplog):
    caplog.set_level("INFO", logger="connector.audit")
    client = RecordingClient()
    async with running_worker(client):
        ws, _ = await connect_user(alice)
        for ref, number in enumerate(["100\r\nAction: Command\r\nCommand: core show version", "305&DAHDI/g1/1"]):
            await ws.send_json_to({"type": "call", "ref": ref, "number": number})
            reply = await ws.receive_json_from(timeout=5)
            assert (reply["ref"], reply["ok"], reply["error"]["code"]) == (ref, False, "invalid_number")
        await ws.send_json_to({"type": "call", "ref": "x", "number": "305", "channel": "SIP/999", "context": "admin"})
        assert (await ws.receive_json_from(timeout=5))["error"]["code"] == "invalid_command"
    assert client.sent == []
    audit = [r.getMessage() for r in caplog.records if r.name == "connector.audit"]
    assert len(audit) == 3
    assert "number='100\\r\\nAction: Command" in audit[0] and "error='invalid_number'" in audit[0]
    await ws.disconnect()


async def test_alice_cannot_hang_up_bobs_call(alice, bob):
    client = RecordingClient()
    calls = {("306", "b1"): {**ALICE_CALL, "operator_channel": "SIP/306-00000050"}}
    async with running_worker(client, calls=calls):
        ws, _ = await connect_user(alice)
        await ws.send_json_to({"type": "hangup", "ref": 1, "call_id": "b1"})
        reply = await ws.receive_json_from(timeout=5)
        assert reply["error"]["code"] == "forbidden"
    assert client.sent == []
    await ws.disconnect()


async def test_pbx_errors_reach_the_browser_with_asterisks_message(alice):
    client = RecordingClient(fail={"Hangup": PbxError("pbx_error", "No such channel")})
    async with running_worker(client, calls={("305", "c1"): dict(ALICE_CALL)}):
        ws, _ = await connect_user(alice)
        await ws.send_json_to({"type": "hangup", "ref": 1, "call_id": "c1"})
        reply = await ws.receive_json_from(timeout=5)
    assert reply == {
        "type": "result",
        "ref": 1,
        "ok": False,
        "error": {"code": "pbx_error", "message": "No such channel"},
    }
    await ws.disconnect()


async def test_rate_limit_reaches_the_browser_with_retry_after(alice):
    client = RecordingClient()
    async with running_worker(client, limit=2):
        ws, _ = await connect_user(alice)
        replies = []
        for ref in range(3):
            await ws.send_json_to({"type": "call", "ref": ref, "number": "305"})
            replies.append(await ws.receive_json_from(timeout=5))
    assert [r["ok"] for r in replies] == [True, True, False]
    assert replies[2]["error"]["code"] == "rate_limited"
    assert replies[2]["error"]["retry_after"] > 0
    assert len(client.sent) == 2
    await ws.disconnect()


async def test_wrap_up_result_carries_its_duration(alice, settings):
    settings.WRAP_UP_SECONDS = 45
    async with running_worker(RecordingClient()):
        ws, _ = await connect_user(alice)
        await ws.send_json_to({"type": "agent_state", "ref": 1, "state": "wrap_up"})
        reply = await ws.receive_json_from(timeout=5)
    assert reply["ok"] is True and reply["data"] == {"wrap_up_seconds": 45.0}
    await ws.disconnect()
