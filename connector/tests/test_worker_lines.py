"""The live worker tracks the operators' configured lines and follows profile changes."""

from __future__ import annotations

import asyncio

import pytest

from connector.ami.tracker import CallTracker, TrackerConfig
from connector.config import ConnectorConfig
from connector.tests.worker_helpers import TRACES, renumbered, running, scenario_events
from connector.worker import Worker, WorkerParts
from connector.worker_upkeep import Upkeep, operator_lines
from tests.fakeami import FakeAMI

pytestmark = pytest.mark.timeout(30)

SECRET = "lines-secret-9d2e"
FAST = {"backoff_base": 0.05, "backoff_cap": 0.2, "fully_booted_wait": 0.3}


class Captured:
    """Stands in for the publisher: keeps what the worker publishes."""

    def __init__(self) -> None:
        self.events = []
        self.states = []

    async def publish(self, events) -> None:
        self.events.extend(events)

    async def publish_connector_state(self, state: str, detail: str = "") -> None:
        self.states.append((state, detail))


def directions(events) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for event in events:
        if event.call is not None:
            out.setdefault(event.line, set()).add(event.call["direction"])
    return out


def make_worker(config: ConnectorConfig, publisher, load_lines, interval: float = 5.0) -> Worker:
    tracker = CallTracker(TrackerConfig.from_connector(config))
    upkeep = Upkeep(tracker, load_lines=load_lines, interval=interval)
    parts = WorkerParts(config=config, tracker=tracker, publisher=publisher, upkeep=upkeep, client_options=dict(FAST))
    return Worker(parts)


async def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (frozenset({"305", "306"}), {"305": {"internal"}, "306": {"internal"}}),
        (frozenset({"305"}), {"305": {"outbound"}}),
        (frozenset({"306"}), {"306": {"inbound"}}),
    ],
)
async def test_an_internal_call_is_internal_only_between_configured_lines(lines, expected):
    captured = Captured()
    config = ConnectorConfig(filePath=str(TRACES / "internal-call.jsonl"))
    worker = make_worker(config, captured, lambda: lines)
    worker.speed = 0
    async with running(worker):
        await wait_until(lambda: captured.states and captured.states[-1][0] == "down")
    assert worker.parts.tracker.config.lines == lines
    assert directions(captured.events) == expected


@pytest.mark.django_db(transaction=True)
def test_operator_lines_are_active_users_lines_with_or_without_a_seat(make_operator, django_user_model):
    make_operator("alice", "305")
    make_operator("carol", "307", seat=False)
    make_operator("erin", "308", integration_disabled=True)
    frank = make_operator("frank", "309")
    django_user_model.objects.filter(pk=frank.pk).update(is_active=False)
    make_operator("gina", None)
    assert operator_lines() == frozenset({"305", "307"})


@pytest.mark.django_db(transaction=True)
def test_without_any_line_every_phone_is_tracked(make_operator):
    make_operator("gina", None)
    assert operator_lines() is None


async def add_operator(username: str, line: str) -> None:
    """Create a licensed operator from another thread, as the web process would."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from profiles.models import Profile

    def create() -> None:
        try:
            user = get_user_model().objects.create(username=username)
            profile = Profile.for_user(user)
            profile.line, profile.has_seat = line, True
            profile.save()
        finally:
            connection.close()

    await asyncio.to_thread(create)


@pytest.mark.django_db(transaction=True)
async def test_a_line_added_after_start_is_tracked():
    captured = Captured()
    internal = scenario_events("internal-call.jsonl")
    async with FakeAMI(secret=SECRET) as ami:
        config = ConnectorConfig(url="127.0.0.1", port=ami.port, userName="terrasoft", secret=SECRET)
        worker = make_worker(config, captured, operator_lines, interval=0.1)
        tracker = worker.parts.tracker
        await add_operator("alice", "305")
        async with running(worker):
            await ami.wait_for(lambda: ami.actions_named("QueueStatus"))
            assert tracker.config.lines == frozenset({"305"})
            for event in renumbered(internal, 1):
                await ami.push_event(event)
            await wait_until(lambda: any(e.type == "call.ended" for e in captured.events))
            before = list(captured.events)
            captured.events.clear()

            await add_operator("bob", "306")
            await wait_until(lambda: tracker.config.lines == frozenset({"305", "306"}))
            for event in renumbered(internal, 2):
                await ami.push_event(event)
            await wait_until(lambda: len([e for e in captured.events if e.type == "call.ended"]) == 2)
    assert directions(before) == {"305": {"outbound"}}
    assert directions(captured.events) == {"305": {"internal"}, "306": {"internal"}}
    assert [e.type for e in captured.events if e.line == "306"] == ["call.ringing", "call.answered", "call.ended"]


def answered_call(line: str) -> list[dict]:
    """An answered inbound call on ``line`` as CoreShowChannels lists it: trunk leg + phone leg, bridged."""
    common = {"ChannelState": "6", "ChannelStateDesc": "Up", "Linkedid": "1795700900.10", "BridgeId": "bridge-9"}
    return [
        {
            "Channel": "SIP/trunk-00000090",
            "Uniqueid": "1795700900.10",
            "CallerIDNum": "79161234599",
            "ConnectedLineNum": line,
            "Context": "from-trunk",
            "Duration": "00:00:20",
            **common,
        },
        {
            "Channel": f"SIP/{line}-00000091",
            "Uniqueid": "1795700900.11",
            "CallerIDNum": line,
            "ConnectedLineNum": "79161234599",
            "Context": "from-internal",
            "Duration": "00:00:18",
            **common,
        },
    ]


@pytest.mark.django_db(transaction=True)
async def test_a_call_already_up_on_a_line_added_later_shows_after_a_resync():
    captured = Captured()
    async with FakeAMI(secret=SECRET) as ami:
        ami.channels = answered_call("306")
        config = ConnectorConfig(url="127.0.0.1", port=ami.port, userName="terrasoft", secret=SECRET)
        worker = make_worker(config, captured, operator_lines, interval=0.1)
        tracker = worker.parts.tracker
        await add_operator("alice", "305")
        async with running(worker):
            await ami.wait_for(lambda: ami.actions_named("QueueStatus"))
            assert not tracker.live_calls("306")
            await add_operator("bob", "306")
            await ami.wait_for(lambda: len(ami.actions_named("CoreShowChannels")) == 2)
            await wait_until(lambda: tracker.live_calls("306"))
            assert len(ami.sessions) == 1  # the same connection: asked again, not reconnected
    (call,) = tracker.live_calls("306")
    assert call["state"] == "active" and call["remote_number"] == "79161234599"
    assert [e.type for e in captured.events if e.line == "306"] == ["call.ringing", "call.answered"]


async def test_a_failing_read_keeps_the_old_lines_is_logged_once_and_retried(caplog):
    answers = [frozenset({"305"}), RuntimeError("database down"), RuntimeError("database down"), frozenset({"306"})]

    def load_lines():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    tracker = CallTracker(TrackerConfig())
    upkeep = Upkeep(tracker, load_lines=load_lines)
    assert await upkeep.refresh_lines() is True
    assert await upkeep.refresh_lines() is False
    assert await upkeep.refresh_lines() is False
    assert tracker.config.lines == frozenset({"305"})  # kept while the database is away
    assert await upkeep.refresh_lines() is True
    assert tracker.config.lines == frozenset({"306"})
    assert caplog.text.count("database down") == 1
    assert "works again" in caplog.text
