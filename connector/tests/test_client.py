"""AmiClient against FakeAMI over real TCP: login, actions, correlation, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

import pytest

from connector.ami.actions import UnsafeActionValue
from connector.client import AUTH_FAILED, CONNECTED, AmiActionError, AmiClient, ClientOptions
from tests.fakeami import ClientProbe, FakeAMI

pytestmark = pytest.mark.timeout(30)

SECRET = "Zq9-very-private-4711"


def options(ami: FakeAMI, **overrides) -> ClientOptions:
    base = dict(
        host="127.0.0.1",
        port=ami.port,
        username="terrasoft",
        secret=SECRET,
        backoff_base=0.05,
        backoff_cap=0.2,
        fully_booted_wait=0.5,
    )
    base.update(overrides)
    return ClientOptions(**base)


@contextlib.asynccontextmanager
async def running(client: AmiClient):
    task = asyncio.create_task(client.run())
    try:
        yield task
    finally:
        await client.stop()
        await asyncio.wait_for(task, 5)


async def test_it_logs_in_subscribes_and_resyncs():
    channels = [{"Channel": "SIP/305-0000001f", "Uniqueid": "1795700720.1", "Linkedid": "1795700720.1"}]
    queue = [{"Event": "QueueMember", "Queue": "support", "Location": "Local/305@from-queue/n", "Paused": "0"}]
    async with FakeAMI(secret=SECRET, channels=channels, queue_status=queue) as ami:
        probe = ClientProbe()
        client = AmiClient(options(ami), **probe.callbacks())
        async with running(client):
            await client.wait_connected(5)
            await ami.wait_for(lambda: probe.resyncs)
            login = ami.actions_named("Login")[0]
            assert login.get("Username") == "terrasoft"
            assert login.get("Secret") == SECRET
            assert login.get("Events") == "on"
            got_channels, got_queue = probe.resyncs[0]
            assert [m.get("Channel") for m in got_channels] == ["SIP/305-0000001f"]
            assert [m.get("Location") for m in got_queue] == ["Local/305@from-queue/n"]
            assert (CONNECTED, f"127.0.0.1:{ami.port}") in probe.states
            # The list items went to the resync, not to the live events.
            assert "CoreShowChannel" not in probe.event_names()
            assert "FullyBooted" in probe.event_names()
        assert ami.session.actions_before_login == []


async def test_it_logs_in_with_an_md5_challenge():
    async with FakeAMI(secret=SECRET) as ami:
        client = AmiClient(options(ami, auth_type="md5"))
        async with running(client):
            await client.wait_connected(5)
            login = ami.actions_named("Login")[0]
            assert login.get("AuthType") == "MD5"
            assert login.get("Secret") is None
            assert ami.actions[0].get("Action") == "Challenge"
        assert SECRET.encode() not in bytes(ami.raw)


async def test_it_reports_auth_failure_and_retries_slowly(caplog):
    caplog.set_level(logging.DEBUG)
    async with FakeAMI(secret="another") as ami:
        probe = ClientProbe()
        client = AmiClient(options(ami, auth_retry_interval=0.6), **probe.callbacks())
        assert ClientOptions().auth_retry_interval == 60.0  # the production policy
        async with running(client):
            await ami.wait_for(lambda: len(ami.logins) >= 3, timeout=5)
        assert client.state != CONNECTED
        assert AUTH_FAILED in [s for s, _ in probe.states]
        times = [t for t, _ok in ami.logins]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert all(gap >= 0.6 for gap in gaps), gaps
        refusals = [r for r in caplog.records if "login refused" in r.getMessage()]
        assert len(refusals) >= len(times) - 1
        text = refusals[0].getMessage()
        assert "terrasoft" in text and "127.0.0.1" in text and str(ami.port) in text
        assert SECRET not in caplog.text
        assert all(SECRET not in detail for _s, detail in probe.states)


async def test_a_login_stall_times_out_and_reconnects():
    async with FakeAMI(secret=SECRET, auth="stall") as ami:
        client = AmiClient(options(ami, login_timeout=0.3))
        async with running(client):
            await ami.wait_for(lambda: len(ami.connections) >= 3, timeout=5)
            assert not client.logged_in
            # The stalled attempts were closed by the client, not left hanging.
            await ami.wait_for(lambda: ami.sessions[0].closed.is_set() and ami.sessions[1].closed.is_set())
            gap = ami.connections[1] - ami.connections[0]
            assert gap >= 0.3  # the login timeout, then a backoff delay
        assert client.pending_count == 0


async def test_it_sends_no_action_before_login():
    async with FakeAMI(secret=SECRET) as ami:
        client = AmiClient(options(ami))
        with pytest.raises(AmiActionError) as excinfo:
            await client.send_action("Originate", {"Channel": "SIP/305"})
        assert excinfo.value.code == "pbx_disconnected"
        async with running(client):
            await client.wait_connected(5)
        assert ami.actions_named("Originate") == []
        assert ami.actions[0].get("Action") == "Login"


async def test_an_action_returns_the_response_or_asterisks_error():
    async with FakeAMI(secret=SECRET) as ami:
        ami.on_action("Redirect", lambda s, a: {"Response": "Error", "Message": "Channel specified does not exist"})
        probe = ClientProbe()
        client = AmiClient(options(ami), **probe.callbacks())
        async with running(client):
            await ami.wait_for(lambda: probe.resyncs)
            result = await client.send_action("Park", {"Channel": "SIP/trunk-0000001e", "ParkingSpace": "701"})
            assert result.response.get("Message") == "Park successful"
            with pytest.raises(AmiActionError) as excinfo:
                await client.send_action("Redirect", {"Channel": "SIP/305-00000001", "Exten": "306"})
            assert excinfo.value.code == "pbx_error"
            assert excinfo.value.message == "Channel specified does not exist"
            with pytest.raises(UnsafeActionValue):
                await client.send_action("Originate", {"Exten": "100\r\nAction: Command"})
            assert client.pending_count == 0
        assert b"Action: Command" not in bytes(ami.raw)


async def test_an_action_waits_for_its_originate_response():
    async with FakeAMI(secret=SECRET) as ami:

        async def originate(session, action):
            await session.reply(action, {"Response": "Success", "Message": "Originate successfully queued"})
            await session.send_message({"Event": "Newchannel", "Channel": "SIP/305-00000002"})
            return {"Event": "OriginateResponse", "Response": "Failure", "Reason": "5", "Channel": "SIP/305"}

        ami.on_action("Originate", originate)
        probe = ClientProbe()
        client = AmiClient(options(ami), **probe.callbacks())
        async with running(client):
            await client.wait_connected(5)
            result = await client.send_action(
                "Originate", {"Channel": "SIP/305", "Exten": "79031112233"}, until_event="OriginateResponse"
            )
            assert result.events[0].get("Reason") == "5"
            await ami.wait_for(lambda: "Newchannel" in probe.event_names())


async def test_an_unanswered_action_times_out_and_keeps_the_link():
    async with FakeAMI(secret=SECRET) as ami:
        ami.never_answer("Originate")
        probe = ClientProbe()
        client = AmiClient(options(ami), **probe.callbacks())
        async with running(client):
            await ami.wait_for(lambda: probe.resyncs)
            with pytest.raises(AmiActionError) as excinfo:
                await client.send_action("Originate", {"Channel": "SIP/305", "Exten": "100"}, timeout=0.3)
            assert excinfo.value.code == "pbx_timeout"
            assert client.pending_count == 0
            pong = await client.send_action("Ping")
            assert pong.response.get("Ping") == "Pong"
            assert len(ami.connections) == 1


async def test_200_concurrent_actions_each_get_their_own_answer():
    async with FakeAMI(secret=SECRET) as ami:
        held = []

        def collect(session, action):
            held.append((session, action))

        ami.on_action("Getvar", collect)
        # No keepalive Ping during the test: on a loaded machine one could be in flight at the end.
        client = AmiClient(options(ami, ping_interval=600))
        async with running(client):
            await client.wait_connected(5)
            calls = [
                asyncio.create_task(client.send_action("Getvar", {"Variable": f"V{i}"}, timeout=10)) for i in range(200)
            ]
            await ami.wait_for(lambda: len(held) == 200)
            random.Random(7).shuffle(held)
            session = held[0][0]
            await session.send_message({"Response": "Success", "ActionID": "nobody-1", "Value": "x"})
            await session.send_message({"Response": "Success", "Value": "no id"})
            for n, (sess, action) in enumerate(held):
                if n % 10 == 0:
                    await sess.send_message({"Event": "Newstate", "Channel": f"SIP/306-{n:08x}"})
                await sess.reply(action, {"Response": "Success", "Variable": action.get("Variable"), "Value": "ok"})
            results = await asyncio.gather(*calls)
            assert [r.response.get("Variable") for r in results] == [f"V{i}" for i in range(200)]
            ids = [a.action_id for a in ami.actions]
            assert len(ids) == len(set(ids))
            # The login resync (CoreShowChannels, QueueStatus) may still be answering: nothing may be left.
            await ami.wait_for(lambda: client.pending_count == 0, timeout=5)


async def test_stop_cuts_a_stalled_login_short():
    async with FakeAMI(secret=SECRET, auth="stall") as ami:
        client = AmiClient(options(ami, login_timeout=30))
        task = asyncio.create_task(client.run())
        await ami.wait_for_action("Login")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await client.stop()
        await asyncio.wait_for(task, 2)
        assert loop.time() - started < 1.0
        assert client.pending_count == 0


async def test_a_large_event_list_is_collected_while_live_events_flow(caplog):
    channels = [{"Channel": f"SIP/305-{n:08x}", "Uniqueid": f"1795700720.{n}"} for n in range(2000)]
    async with FakeAMI(secret=SECRET) as ami:
        probe = ClientProbe()

        def interleaved(session, action):
            out = [{"Response": "Success", "EventList": "start", "Message": "Channels will follow"}]
            for n, channel in enumerate(channels):
                out.append({"Event": "CoreShowChannel", **channel})
                if n % 100 == 0:
                    out.append(f"Event: Newchannel\r\nChannel: SIP/306-{n:08x}\r\n\r\n".encode())
            out.append({"Event": "CoreShowChannelsComplete", "EventList": "Complete", "ListItems": "2001"})
            return out

        ami.on_action("CoreShowChannels", interleaved)
        client = AmiClient(options(ami), **probe.callbacks())
        async with running(client):
            await ami.wait_for(lambda: probe.resyncs, timeout=10)
            assert len(probe.resyncs[0][0]) == 2000
            assert probe.event_names().count("Newchannel") == 20
            assert "ListItems says 2001, 2000 received" in caplog.text

            def never_complete(session, action):
                return [{"Response": "Success", "EventList": "start", "Message": "Channel status will follow"}]

            ami.on_action("Status", never_complete)
            with pytest.raises(AmiActionError) as excinfo:
                await client.send_action("Status", timeout=0.3)
            assert excinfo.value.code == "pbx_timeout"
            assert client.pending_count == 0


async def test_any_chunking_of_the_stream_gives_the_same_events():
    name = "Иван Петров"  # a UTF-8 character will be cut between two writes
    events = [
        {"Event": "Newchannel", "Channel": f"SIP/trunk-{n:08x}", "CallerIDName": name, "AppData": ""} for n in range(50)
    ]
    async with FakeAMI(secret=SECRET) as ami:
        probe = ClientProbe()
        client = AmiClient(options(ami), **probe.callbacks())
        async with running(client):
            await ami.wait_for(lambda: probe.resyncs)
            rng = random.Random(11)
            ami.chunking(lambda data: [rng.randint(1, 7) for _ in range(len(data))])
            for event in events:
                await ami.push_event(event)
            await ami.wait_for(lambda: probe.event_names().count("Newchannel") == 50)
        got = [m for m in probe.events if m.event == "Newchannel"]
        assert [m.get("Channel") for m in got] == [e["Channel"] for e in events]
        assert all(m.get("CallerIDName") == name and m.get("AppData") == "" for m in got)


async def test_slow_replies_meet_or_miss_the_action_deadline():
    async with FakeAMI(secret=SECRET) as ami:
        probe = ClientProbe()
        client = AmiClient(options(ami), **probe.callbacks())
        async with running(client):
            await ami.wait_for(lambda: probe.resyncs)
            ami.reply_delay = 0.3
            with pytest.raises(AmiActionError) as excinfo:
                await client.send_action("Hangup", {"Channel": "SIP/305-00000001"}, timeout=0.1)
            assert excinfo.value.code == "pbx_timeout"
            result = await client.send_action("Hangup", {"Channel": "SIP/305-00000001"}, timeout=2)
            assert result.message == "Channel Hungup"  # the late first answer was not taken for this one
            assert client.pending_count == 0


async def test_a_bad_terminator_does_not_swallow_the_next_event():
    async with FakeAMI(secret=SECRET) as ami:
        probe = ClientProbe()
        client = AmiClient(options(ami), **probe.callbacks())
        async with running(client):
            await ami.wait_for(lambda: probe.resyncs)
            await ami.push_event({"Event": "Newstate", "Channel": "SIP/305-00000001"}, terminator="\n")
            await ami.push_event({"Event": "Hangup", "Channel": "SIP/305-00000001", "Cause": "16"})
            await ami.wait_for(lambda: "Hangup" in probe.event_names())
        assert probe.event_names()[-2:] == ["Newstate", "Hangup"]
