"""The client's actions in flight and its keepalive, on their own (the wire is covered in test_client*.py)."""

from __future__ import annotations

import asyncio

import pytest

from connector.ami.message import Message
from connector.client_actions import PendingActions, keep_alive
from connector.client_options import AmiActionError

pytestmark = pytest.mark.timeout(10)


def answer(action_id: str, response: str = "Success", **headers: str) -> Message:
    return Message({"Response": response, "ActionID": action_id, **headers})


async def test_an_answer_wakes_its_sender_and_the_action_is_forgotten():
    pending = PendingActions()
    written = []
    sender = asyncio.create_task(pending.send("Ping", "a-1", lambda: written.append("a-1"), 5.0))
    await asyncio.sleep(0)
    assert written == ["a-1"] and len(pending) == 1
    pending.consume(answer("a-1", Ping="Pong"))
    reply = await sender
    assert reply.response.get("Ping") == "Pong"
    assert len(pending) == 0


async def test_a_refusal_is_pbx_error_with_asterisks_message():
    pending = PendingActions()
    sender = asyncio.create_task(pending.send("Redirect", "a-2", lambda: None, 5.0))
    await asyncio.sleep(0)
    pending.consume(answer("a-2", "Error", Message="Channel does not exist"))
    with pytest.raises(AmiActionError) as caught:
        await sender
    assert (caught.value.code, caught.value.message) == ("pbx_error", "Channel does not exist")


async def test_no_answer_is_pbx_timeout_and_frees_the_action():
    pending = PendingActions()
    with pytest.raises(AmiActionError) as caught:
        await pending.send("Ping", "a-3", lambda: None, 0.05)
    assert caught.value.code == "pbx_timeout"
    assert "Ping" in caught.value.message
    assert len(pending) == 0


async def test_a_write_that_fails_leaves_nothing_pending():
    pending = PendingActions()

    def broken_write() -> None:
        raise OSError("transport closed")

    with pytest.raises(OSError):
        await pending.send("Ping", "a-4", broken_write, 5.0)
    assert len(pending) == 0


async def test_a_drop_fails_every_action_in_flight_as_pbx_disconnected():
    pending = PendingActions()
    senders = [asyncio.create_task(pending.send("Ping", f"a-{n}", lambda: None, 5.0)) for n in range(3)]
    await asyncio.sleep(0)
    assert pending.fail_all("the link to Asterisk dropped") == 3
    for sender in senders:
        with pytest.raises(AmiActionError) as caught:
            await sender
        assert caught.value.code == "pbx_disconnected"
    assert len(pending) == 0
    assert pending.fail_all("again") == 0


async def test_an_unanswered_ping_loses_the_link():
    lost = []

    async def ping(timeout: float) -> None:
        raise AmiActionError("pbx_timeout", "no answer")

    await asyncio.wait_for(keep_alive(ping, 0.01, 0.5, lost.append), 2)
    assert lost == ["no answer to Ping within 0.5 s"]


async def test_keepalive_pings_every_interval_and_stops_quietly_once_disconnected():
    pings = []
    lost = []

    async def ping(timeout: float) -> None:
        pings.append(timeout)
        if len(pings) == 3:
            raise AmiActionError("pbx_disconnected", "the link to Asterisk dropped")

    await asyncio.wait_for(keep_alive(ping, 0.01, 0.25, lost.append), 2)
    assert pings == [0.25, 0.25, 0.25]
    assert lost == []  # the link is already gone: nothing more to report
