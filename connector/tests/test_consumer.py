"""The websocket consumer: refusals, hello, isolation between lines (plan cases 30-33)."""

import datetime as dt

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from connector.publisher import CONNECTOR_GROUP, group_for_line, group_for_user
from connector.tests.consumer_helpers import (
    communicator,
    connect_user,
    expect_refusal,
    group_members,
    release_db_connections,
    session_cookie,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(30), pytest.mark.usefixtures("fresh_layer")]


def event(line, seq, kind="call.ringing", call_id="c9"):
    return {"type": "call.event", "event": {"type": kind, "line": line, "seq": seq, "call": {"id": call_id}}}


@database_sync_to_async
def update_profile(user, **fields):
    from profiles.models import Profile

    profile = Profile.for_user(user)
    for key, value in fields.items():
        setattr(profile, key, value)
    profile.save()


async def test_it_refuses_anonymous_sockets():
    ws = communicator()
    connected, _ = await ws.connect(timeout=5)
    assert connected
    await expect_refusal(ws, 4401, "unauthenticated")
    assert not get_channel_layer().groups


@pytest.mark.parametrize("origin", [b"https://evil.example", b"null", b"http://localhost.evil.example"])
async def test_it_refuses_a_foreign_origin(alice, origin):
    _client, session_id = await session_cookie(alice)
    ws = communicator(session_id, origin=origin)
    connected, _ = await ws.connect(timeout=5)
    assert connected is False


async def test_it_refuses_a_missing_origin(alice):
    _client, session_id = await session_cookie(alice)
    connected, _ = await communicator(session_id, origin=None).connect(timeout=5)
    assert connected is False


@pytest.mark.parametrize("origin", [b"https://localhost", b"http://localhost:8080", b"http://localhost\x0b"])
async def test_it_refuses_an_allowed_host_with_another_scheme_or_port(alice, origin):
    _client, session_id = await session_cookie(alice)
    connected, _ = await communicator(session_id, origin=origin).connect(timeout=5)
    assert connected is False
    assert not get_channel_layer().groups


async def test_it_refuses_a_control_character_in_any_header(alice):
    _client, session_id = await session_cookie(alice)
    ws = communicator(session_id, extra_headers=[(b"user-agent", b"x\x0bAction: Command")])
    connected, _ = await ws.connect(timeout=5)
    assert connected is False


async def test_a_token_socket_without_origin_is_accepted(alice):
    from connector.tokens import issue_token

    token = await database_sync_to_async(issue_token)(alice)
    ws = communicator(query=f"token={token}", origin=None)
    connected, _ = await ws.connect(timeout=5)
    assert connected
    hello = await ws.receive_json_from(timeout=5)
    assert (hello["type"], hello["line"]) == ("hello", "305")
    await ws.disconnect()


async def test_it_refuses_an_expired_session(alice):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    _client, session_id = await session_cookie(alice)
    expired = timezone.now() - dt.timedelta(seconds=1)
    await database_sync_to_async(Session.objects.filter(session_key=session_id).update)(expire_date=expired)
    ws = communicator(session_id)
    await ws.connect(timeout=5)
    await expect_refusal(ws, 4401, "unauthenticated")


async def test_it_refuses_a_deactivated_user_even_with_an_old_session(alice):
    _client, session_id = await session_cookie(alice)
    alice.is_active = False
    await database_sync_to_async(alice.save)()
    ws = communicator(session_id)
    await ws.connect(timeout=5)
    # Django no longer resolves the session of an inactive user: the socket is anonymous.
    await expect_refusal(ws, 4401, "unauthenticated")


async def test_it_refuses_an_inactive_user_holding_a_token(alice):
    from connector.tokens import issue_token

    token = await database_sync_to_async(issue_token)(alice)
    alice.is_active = False
    await database_sync_to_async(alice.save)()
    ws = communicator(query=f"token={token}")
    await ws.connect(timeout=5)
    await expect_refusal(ws, 4403, "inactive")


async def test_it_refuses_a_user_without_a_seat(carol):
    ws, _ = await _connect_expecting_refusal(carol)
    await expect_refusal(ws, 4402, "no_seat")


async def test_it_refuses_a_user_with_integration_disabled(make_operator):
    user = await database_sync_to_async(make_operator)("erin", "309", integration_disabled=True)
    ws, _ = await _connect_expecting_refusal(user)
    await expect_refusal(ws, 4405, "integration_disabled")


async def test_it_refuses_a_user_without_a_line(make_operator):
    user = await database_sync_to_async(make_operator)("frank", None)
    ws, _ = await _connect_expecting_refusal(user)
    await expect_refusal(ws, 4404, "no_line")


async def test_it_refuses_everyone_when_the_library_is_none(alice):
    from settings.models import SystemSetting
    from settings.registry import LIB_NONE, SYS_MSG_LIB

    await database_sync_to_async(SystemSetting.objects.update_or_create)(code=SYS_MSG_LIB, defaults={"value": LIB_NONE})
    ws, _ = await _connect_expecting_refusal(alice)
    await expect_refusal(ws, 4406, "library_disabled")
    assert not get_channel_layer().groups


async def _connect_expecting_refusal(user):
    _client, session_id = await session_cookie(user)
    ws = communicator(session_id)
    connected, _ = await ws.connect(timeout=5)
    assert connected  # accepted only to say why, then closed
    return ws, session_id


async def test_hello_carries_the_snapshot(alice):
    from connector.models import Call, ConnectorStatus, LineState

    @database_sync_to_async
    def seed():
        LineState.objects.create(line="305", seq=7, agent_state="not_ready", agent_reason="break")
        ConnectorStatus.objects.update_or_create(pk=1, defaults={"state": "connected"})
        started = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
        Call.objects.create(call_id="c1", line="305", direction="inbound", state="active",
                            remote_number="79161234567", remote_name="Ivan Petrov", started_at=started)  # fmt: skip
        Call.objects.create(call_id="c0", line="305", direction="inbound", state="ended", started_at=started)
        Call.objects.create(call_id="c2", line="306", direction="inbound", state="active", started_at=started)

    await seed()
    await update_profile(alice, debug_mode=True)
    ws, hello = await connect_user(alice)
    assert hello["type"] == "hello"
    assert hello["line"] == "305"
    assert hello["debug"] is True
    assert hello["seq"] == 7
    assert hello["connector"] == {"state": "connected"}
    assert hello["agent"]["state"] == "not_ready"
    assert [c["id"] for c in hello["calls"]] == ["c1"]
    assert hello["calls"][0]["remote_name"] == "Ivan Petrov"
    await ws.disconnect()


async def test_it_joins_only_its_own_groups(alice, bob):
    ws, _ = await connect_user(alice)
    layer = get_channel_layer()
    mine = {name for name, members in layer.groups.items() if members}
    assert mine == {group_for_line("305"), group_for_user(alice.pk), CONNECTOR_GROUP}
    await ws.disconnect()
    assert await group_members(group_for_line("305")) == set()


async def test_alice_never_receives_bobs_events(alice, bob):
    alice_ws, _ = await connect_user(alice, query="line=306&user=2")
    bob_ws, _ = await connect_user(bob)
    await alice_ws.send_json_to({"type": "subscribe", "line": "306", "ref": 1})
    reply = await alice_ws.receive_json_from(timeout=5)
    assert reply["error"]["code"] == "unknown_command"
    layer = get_channel_layer()
    await layer.group_send(group_for_line("306"), event("306", 1))
    assert (await bob_ws.receive_json_from(timeout=5))["line"] == "306"
    assert await alice_ws.receive_nothing(timeout=0.5)
    await alice_ws.disconnect()
    await bob_ws.disconnect()


async def test_events_already_in_the_hello_are_not_sent_again(alice):
    from connector.models import LineState

    await database_sync_to_async(LineState.objects.create)(line="305", seq=4)
    ws, hello = await connect_user(alice)
    assert hello["seq"] == 4
    layer = get_channel_layer()
    await layer.group_send(group_for_line("305"), event("305", 4))
    await layer.group_send(group_for_line("305"), event("305", 5, "call.answered"))
    received = await ws.receive_json_from(timeout=5)
    assert (received["type"], received["seq"]) == ("call.answered", 5)
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


async def test_an_event_for_another_line_in_my_group_is_dropped(alice):
    ws, _ = await connect_user(alice)
    await get_channel_layer().group_send(group_for_line("305"), event("306", 99))
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


async def test_resync_resends_hello_and_connector_state_is_forwarded(alice):
    ws, _ = await connect_user(alice)
    layer = get_channel_layer()
    await layer.group_send(group_for_line("305"), {"type": "call.event", "event": {"type": "resync", "line": "305", "seq": 3}})  # fmt: skip
    assert (await ws.receive_json_from(timeout=5))["type"] == "hello"
    await layer.group_send(CONNECTOR_GROUP, {"type": "connector.state", "state": "reconnecting", "detail": "x"})
    assert await ws.receive_json_from(timeout=5) == {"type": "connector.state", "state": "reconnecting"}
    await ws.disconnect()


async def test_a_line_change_rejoins_and_resends_hello(alice):
    ws, hello = await connect_user(alice)
    assert hello["line"] == "305"
    await update_profile(alice, line="315")
    hello = await ws.receive_json_from(timeout=5)
    assert (hello["type"], hello["line"]) == ("hello", "315")
    layer = get_channel_layer()
    await layer.group_send(group_for_line("305"), event("305", 1))
    assert await ws.receive_nothing(timeout=0.3)
    await layer.group_send(group_for_line("315"), event("315", 1))
    assert (await ws.receive_json_from(timeout=5))["line"] == "315"
    await ws.disconnect()


async def test_debug_mode_change_resends_hello(alice):
    ws, hello = await connect_user(alice)
    assert hello["debug"] is False
    await update_profile(alice, debug_mode=True)
    hello = await ws.receive_json_from(timeout=5)
    assert hello["debug"] is True
    await ws.disconnect()


@pytest.mark.parametrize(
    "change,close_code,code",
    [
        ({"integration_disabled": True}, 4405, "integration_disabled"),
        ({"has_seat": False}, 4402, "no_seat"),
        ({"line": None}, 4404, "no_line"),
    ],
)
async def test_profile_changes_close_open_sockets(alice, change, close_code, code):
    ws, _ = await connect_user(alice)
    await update_profile(alice, **change)
    await expect_refusal(ws, close_code, code)
    assert await group_members(group_for_line("305")) == set()


async def test_deactivation_closes_open_sockets(alice):
    ws, _ = await connect_user(alice)
    alice.is_active = False
    await database_sync_to_async(alice.save)()
    error = await ws.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] in ("inactive", "logged_out")
    closed = await ws.receive_output(timeout=5)
    assert (closed["code"], closed["reason"]) in ((4401, "logged_out"), (4403, "inactive"))


async def test_logout_closes_that_sessions_sockets_only(alice):
    client, session_id = await session_cookie(alice)
    ws = communicator(session_id)
    assert (await ws.connect(timeout=5))[0]
    await ws.receive_json_from(timeout=5)
    other_ws, _ = await connect_user(alice)  # a second browser, its own session
    await database_sync_to_async(client.logout)()
    await expect_refusal(ws, 4401, "logged_out")
    assert await other_ws.receive_nothing(timeout=0.5)
    await get_channel_layer().group_send(group_for_line("305"), event("305", 1))
    assert (await other_ws.receive_json_from(timeout=5))["seq"] == 1
    await other_ws.disconnect()
    await release_db_connections()


async def test_a_snapshot_that_cannot_be_read_closes_with_4500(alice, monkeypatch):
    from connector import consumers

    def broken(line):
        raise RuntimeError("database is down")

    monkeypatch.setattr(consumers, "_live_snapshot", broken)
    _client, session_id = await session_cookie(alice)
    ws = communicator(session_id)
    assert (await ws.connect(timeout=5))[0]
    await expect_refusal(ws, 4500, "unavailable")
    assert await group_members(group_for_line("305")) == set()
    await release_db_connections()
