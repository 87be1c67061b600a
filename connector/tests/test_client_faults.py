"""AmiClient under faults: drops, half-open links, backoff, restarts, floods (reliability plan 2-4, 7, 11-14)."""

from __future__ import annotations

import asyncio
import logging
import random
import time

import pytest

from connector.client import CONNECTED, RECONNECTING, AmiActionError, AmiClient, Backoff
from connector.tests.test_client import SECRET, options, running
from tests.fakeami import ClientProbe, FakeAMI

pytestmark = pytest.mark.timeout(30)


def test_backoff_doubles_to_the_cap_with_twenty_percent_jitter():
    backoff = Backoff(0.5, 30.0, 0.2, rng=random.Random(1))
    nominal = [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    delays = [backoff.next() for _ in nominal]
    for delay, expected in zip(delays, nominal, strict=True):
        assert expected * 0.8 <= delay <= expected * 1.2
    spread = [backoff.next() / 30 for _ in range(200)]
    assert min(spread) < 0.9 and max(spread) > 1.1  # really jittered, both ways
    backoff.reset()
    assert backoff.next() <= 0.6


async def test_reconnect_attempts_back_off_then_connect_once_ami_is_up():
    accepted: list[float] = []

    async def refuse(reader, writer):
        accepted.append(time.monotonic())
        writer.transport.abort()

    down = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = down.sockets[0].getsockname()[1]
    probe = ClientProbe()

    class Port:  # FakeAMI stand-in for options() until the real one listens on this port
        pass

    fake_port = Port()
    fake_port.port = port
    client = AmiClient(options(fake_port, backoff_base=0.05, backoff_cap=0.4), **probe.callbacks())
    task = asyncio.create_task(client.run())
    try:
        while len(accepted) < 7:
            await asyncio.sleep(0.01)
        gaps = [b - a for a, b in zip(accepted, accepted[1:], strict=False)]
        for gap, nominal in zip(gaps, [0.05, 0.1, 0.2, 0.4, 0.4, 0.4], strict=False):
            assert nominal * 0.8 - 0.01 <= gap <= nominal * 1.2 + 0.5, gaps  # upper slack: a busy CI machine
        down.close()
        await down.wait_closed()
        async with FakeAMI(secret=SECRET, port=port) as ami:
            came_up = time.monotonic()
            await client.wait_connected(5)
            assert time.monotonic() - came_up <= 0.4 * 1.2 + 0.6  # within one capped delay
            assert ami.actions[0].get("Action") == "Login"
            await client.stop()
            await asyncio.wait_for(task, 5)
    finally:
        task.cancel()
    # While AMI was down the client stayed "down" (its initial state) and said so only once it changed.
    assert [s for s, _ in probe.states] == [CONNECTED, "down"]


async def test_a_message_cut_by_a_reset_is_not_dispatched_and_the_client_resyncs():
    async with FakeAMI(secret=SECRET) as ami:
        probe = ClientProbe()
        client = AmiClient(options(ami), **probe.callbacks())
        async with running(client):
            await client.wait_connected(5)
            await ami.wait_for(lambda: len(probe.resyncs) == 1)
            await ami.send_raw(b"Event: Newchannel\r\nChannel: SIP/305-0000")
            await asyncio.sleep(0.05)
            ami.rst_now()
            await ami.wait_for(lambda: len(probe.resyncs) == 2)
            assert len(ami.sessions) == 2
            assert "Newchannel" not in probe.event_names()
            assert RECONNECTING in [s for s, _ in probe.states]
            assert probe.states[-1][0] == CONNECTED


async def test_a_half_open_link_is_detected_by_the_ping_deadline():
    async with FakeAMI(secret=SECRET) as ami:
        probe = ClientProbe()
        client = AmiClient(options(ami, ping_interval=0.5, ping_timeout=0.5), **probe.callbacks())
        async with running(client):
            await client.wait_connected(5)
            await ami.wait_for(lambda: ami.actions_named("Ping"))
            ami.stall()
            stalled_at = time.monotonic()
            await ami.wait_for(lambda: client.state == RECONNECTING, timeout=3)
            assert time.monotonic() - stalled_at <= 0.5 + 0.5 + 1.0  # interval + deadline (+ slack)
            assert "Ping" in client.state_detail
            ami.unstall()
            await client.wait_connected(5)
            assert len(ami.sessions) >= 2


async def test_in_flight_actions_fail_at_once_and_are_never_resent():
    async with FakeAMI(secret=SECRET) as ami:
        ami.never_answer("Originate")
        probe = ClientProbe()
        client = AmiClient(options(ami), **probe.callbacks())
        async with running(client):
            await ami.wait_for(lambda: len(probe.resyncs) == 1)
            calls = [
                asyncio.create_task(client.send_action("Originate", {"Channel": "SIP/305", "Exten": str(n)}))
                for n in range(3)
            ]
            await ami.wait_for_action("Originate", 3)
            dropped_at = time.monotonic()
            ami.rst_now()
            results = await asyncio.gather(*calls, return_exceptions=True)
            assert time.monotonic() - dropped_at < 1.0  # not the 10 s action timeout
            assert all(isinstance(r, AmiActionError) and r.code == "pbx_disconnected" for r in results)
            assert client.pending_count == 0
            await ami.wait_for(lambda: len(probe.resyncs) == 2)
            new_session = ami.sessions[-1]
            assert [a.get("Action") for a in new_session.actions if a.get("Action") == "Originate"] == []
            assert b"Originate" not in bytes(new_session.raw)
        ids = [a.action_id for a in ami.actions]
        assert len(ids) == len(set(ids))  # unique across reconnects


async def test_resync_after_reconnect_reflects_what_changed_during_the_outage():
    def channel(n: int) -> dict:
        return {"Channel": f"SIP/305-0000000{n}", "Uniqueid": f"1795700720.{n}", "Linkedid": f"1795700720.{n}"}

    async with FakeAMI(secret=SECRET, channels=[channel(1), channel(2), channel(3)]) as ami:
        probe = ClientProbe()
        client = AmiClient(options(ami), **probe.callbacks())
        async with running(client):
            await ami.wait_for(lambda: len(probe.resyncs) == 1)
            ami.stall()
            ami.rst_now()
            ami.channels = [channel(2), channel(3), channel(4), channel(5)]
            await asyncio.sleep(0.2)
            ami.unstall()
            await ami.wait_for(lambda: len(probe.resyncs) == 2)
        first = [m.get("Uniqueid") for m in probe.resyncs[0][0]]
        second = [m.get("Uniqueid") for m in probe.resyncs[1][0]]
        assert first == ["1795700720.1", "1795700720.2", "1795700720.3"]
        assert second == ["1795700720.2", "1795700720.3", "1795700720.4", "1795700720.5"]


async def test_an_asterisk_restart_waits_for_login_then_fully_booted_before_resync():
    async with FakeAMI(secret=SECRET) as ami:
        probe = ClientProbe()
        client = AmiClient(options(ami, fully_booted_wait=10), **probe.callbacks())
        async with running(client):
            await ami.wait_for(lambda: len(probe.resyncs) == 1)
            ami.fully_booted = False  # the restarted Asterisk is still loading modules
            await ami.restart(down_for=0.2)
            await ami.wait_for(lambda: RECONNECTING in [s for s, _ in probe.states])
            assert "shutting down" in [d for s, d in probe.states if s == RECONNECTING][0]
            await ami.wait_for(lambda: len(ami.sessions) == 2 and ami.sessions[1].logged_in)
            await asyncio.sleep(0.3)
            new = ami.sessions[1]
            assert [a.get("Action") for a in new.actions] == ["Login"]
            assert new.actions_before_login == []
            await ami.push_event({"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"})
            await ami.wait_for(lambda: len(probe.resyncs) == 2)
            assert [a.get("Action") for a in new.actions][:3] == ["Login", "CoreShowChannels", "QueueStatus"]


async def test_event_filters_are_installed_after_login():
    async with FakeAMI(secret=SECRET) as ami:
        client = AmiClient(options(ami, events="call,agent", event_filters=("!Event: RTCP*", "!Event: VarSet")))
        async with running(client):
            await client.wait_connected(5)
            await ami.wait_for(lambda: len(ami.actions_named("CoreShowChannels")) == 1)
        login = ami.actions_named("Login")[0]
        assert login.get("Events") == "call,agent"
        assert [f.get("Filter") for f in ami.actions_named("Filter")] == ["!Event: RTCP*", "!Event: VarSet"]
        names = [a.get("Action") for a in ami.actions]
        assert names.index("Filter") > names.index("Login")


async def test_an_event_flood_never_blocks_reading_and_ends_in_a_resync():
    async with FakeAMI(secret=SECRET) as ami:
        seen: list[str] = []
        resyncs: list[int] = []

        async def slow_consumer(message, at):
            seen.append(message.event)
            await asyncio.sleep(0.001)  # a consumer far slower than the wire

        client = AmiClient(
            options(ami, event_buffer=200),
            on_event=slow_consumer,
            on_resync=lambda channels, queues: resyncs.append(len(channels)),
        )
        async with running(client):
            await ami.wait_for(lambda: len(resyncs) == 1)
            event = b"Event: Newstate\r\nPrivilege: call,all\r\nChannel: SIP/305-00000001\r\nChannelStateDesc: Ringing\r\n\r\n"
            buffered: list[int] = []

            async def watch_buffer():
                while True:
                    buffered.append(len(client._delivery))
                    await asyncio.sleep(0.001)

            watcher = asyncio.create_task(watch_buffer())
            started = time.monotonic()
            await ami.send_raw(event * 5000)
            written_in = time.monotonic() - started
            assert ami.session.max_write_wait < 0.5  # a blocked read loop would stall this for good
            assert written_in < 2.0
            await ami.wait_for(lambda: client.dropped_events > 0)
            await ami.wait_for(lambda: len(resyncs) == 2, timeout=10)
            watcher.cancel()
            assert max(buffered) <= 200 + 5  # bounded: the limit plus a few state/resync items
            pong = await client.send_action("Ping")
            assert pong.response.get("Ping") == "Pong"
        assert 0 < len(seen) < 5000 + 10
        assert client.dropped_events + seen.count("Newstate") == 5000


async def test_the_secret_never_reaches_logs_errors_or_recordings(caplog):
    caplog.set_level(logging.DEBUG)
    recorded = bytearray()
    errors: list[str] = []
    for auth in ("fail", "stall", "ok"):
        async with FakeAMI(secret=SECRET, auth=auth) as ami:
            probe = ClientProbe()
            client = AmiClient(
                options(ami, login_timeout=0.3, auth_retry_interval=0.2),
                on_raw=lambda d, data, t: recorded.extend(data),
                **probe.callbacks(),
            )
            errors.append(repr(client.options))
            async with running(client):
                await ami.wait_for(lambda c=client, a=ami: len(a.connections) >= 2 or c.logged_in, timeout=5)
                if client.logged_in:
                    ami.never_answer("Originate")
                    call = asyncio.create_task(client.send_action("Originate", {"Channel": "SIP/305"}))
                    await ami.wait_for_action("Originate")
                    ami.rst_now()
                    try:
                        await call
                    except AmiActionError as exc:
                        errors.append(str(exc))
            errors.extend(detail for _s, detail in probe.states)
        assert SECRET.encode() in bytes(ami.raw)  # it really was sent to Asterisk...
    assert b"Secret: ********" in recorded
    assert SECRET.encode() not in recorded  # ...but never recorded,
    assert SECRET not in caplog.text  # logged,
    assert not any(SECRET in e for e in errors)  # or put in an error or state


async def test_a_link_that_drops_right_after_login_keeps_backing_off():
    async with FakeAMI(secret=SECRET) as ami:

        async def accept_then_drop(session, action):
            reply = ami.default_reply(action, session)
            asyncio.get_running_loop().call_later(0.02, session.reset)
            return reply

        ami.on_action("Login", accept_then_drop)
        client = AmiClient(options(ami, backoff_base=0.05, backoff_cap=0.8, stable_after=5))
        async with running(client):
            await ami.wait_for(lambda: len(ami.connections) >= 5, timeout=10)
            assert client.backoff.attempt >= 4  # never reset: no connection held for stable_after
        gaps = [b - a for a, b in zip(ami.connections, ami.connections[1:], strict=False)]
        # 0.05, 0.1, 0.2, 0.4 s (-20 % at worst): not a fixed 0.05 s loop. Sleeps are never early.
        assert sum(gaps[:4]) >= (0.05 + 0.1 + 0.2 + 0.4) * 0.8, gaps


async def test_a_connection_closed_during_login_fails_the_login_at_once():
    async with FakeAMI(secret=SECRET) as ami:
        ami.on_action("Login", lambda session, action: session.close())
        client = AmiClient(options(ami, login_timeout=30, backoff_base=0.05))
        async with running(client):
            await ami.wait_for(lambda: len(ami.connections) >= 3, timeout=3)  # not one per 30 s timeout
            assert client.state_detail.startswith("login failed")


async def test_a_connection_closed_mid_list_fails_the_list_and_resyncs_on_the_next():
    channels = [{"Channel": f"SIP/305-{n:08x}", "Uniqueid": f"1795700720.{n}"} for n in range(50)]
    async with FakeAMI(secret=SECRET, channels=channels) as ami:
        probe = ClientProbe()
        client = AmiClient(options(ami), **probe.callbacks())
        async with running(client):
            await ami.wait_for(lambda: len(probe.resyncs) == 1)
            ami.drop_after(1000)  # part of the next CoreShowChannels reply, then FIN
            with pytest.raises(AmiActionError) as excinfo:
                await client.send_action("CoreShowChannels")
            assert excinfo.value.code == "pbx_disconnected"
            await ami.wait_for(lambda: len(probe.resyncs) == 2)
        assert [len(channels) for channels, _queues in probe.resyncs] == [50, 50]
        assert "CoreShowChannel" not in probe.event_names()  # no half list leaked out as live events
