"""The worker's filePath mode gives the same per-line events as ``ami_replay`` for the same file.

Both run the replay core of ``connector.ami.replay``; a reconnect inside the
file (a second banner, login, then the CoreShowChannels list) must resync the
worker's tracker just as it does ``ami_replay``'s. Absolute times differ on
purpose: the worker stamps messages from the wall clock, ``ami_replay`` from
the recording's clock.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from connector.ami.replay import LineNumbering
from connector.ami.trace import read_trace
from connector.ami.tracker import CallTracker, TrackerConfig
from connector.config import ConnectorConfig
from connector.tests.worker_helpers import running
from connector.worker import Worker, WorkerParts

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parents[2]
TRACES = ROOT / "tests" / "traces" / "asterisk-20.20.1-sip"
SYNTHETIC = ROOT / "tests" / "synthetic"
EXPECTED = ROOT / "tests" / "expected"
RECONNECTS = ["reconnect-mid-call.jsonl", "reconnect-outage.jsonl"]
_TIMES = ("started_at", "answered_at", "ended_at", "duration")


def scenario_path(name: str) -> Path:
    """A recorded trace when there is one, else the hand-built scenario."""
    recorded = TRACES / name
    return recorded if recorded.is_file() else SYNTHETIC / name


class CapturingPublisher:
    """Stands in for the Publisher: keeps what the worker publishes, numbered per line like ami_replay."""

    def __init__(self) -> None:
        self.numbering = LineNumbering()
        self.events: list[dict] = []
        self.states: list[tuple[str, str]] = []

    async def publish(self, events) -> None:
        self.events.extend(self.numbering.number(event) for event in events)

    async def publish_connector_state(self, state: str, detail: str = "") -> None:
        self.states.append((state, detail))


def without_times(events: list[dict]) -> list[dict]:
    """Events with the absolute times (and the duration derived from them) taken out of the call."""
    out = []
    for event in events:
        event = dict(event)
        if isinstance(event.get("call"), dict):
            event["call"] = {k: v for k, v in event["call"].items() if k not in _TIMES}
        out.append(event)
    return out


def durations(events: list[dict]) -> list[float | None]:
    return [(event.get("call") or {}).get("duration") for event in events]


def ami_replay(path: Path, *args: str) -> list[dict]:
    out = io.StringIO()
    call_command("ami_replay", str(path), *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def worker_replay(path: Path, speed: float = 0, **config) -> tuple[Worker, CapturingPublisher]:
    """Run a worker in filePath mode until its replay has finished; what it published."""
    connector = ConnectorConfig(filePath=str(path), **config)
    publisher = CapturingPublisher()
    parts = WorkerParts(
        config=connector, tracker=CallTracker(TrackerConfig.from_connector(connector)), publisher=publisher
    )
    worker = Worker(parts, speed=speed)
    async with running(worker):
        for _ in range(1000):
            if publisher.states and publisher.states[-1][0] == "down":
                break
            await asyncio.sleep(0.01)
    assert publisher.states[-1] == ("down", f"replay of {path.name} finished")
    return worker, publisher


def assert_same_events(worker_events: list[dict], printed: list[dict]) -> None:
    assert without_times(worker_events) == without_times(printed)
    for ours, theirs in zip(durations(worker_events), durations(printed), strict=True):
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert ours == pytest.approx(theirs, abs=0.002)


@pytest.mark.parametrize("name", RECONNECTS)
async def test_a_reconnect_inside_the_file_resyncs_the_worker_like_ami_replay(name):
    path = SYNTHETIC / name
    _, publisher = await worker_replay(path)
    printed = await asyncio.to_thread(ami_replay, path)
    assert printed, "the scenario has events"
    assert_same_events(publisher.events, printed)


async def test_the_call_that_rang_during_the_outage_comes_from_the_resync():
    _, publisher = await worker_replay(SYNTHETIC / "reconnect-outage.jsonl")
    line_306 = [(e["type"], e["call"]["id"], e["call"]["state"]) for e in publisher.events if e["line"] == "306"]
    assert line_306 == [
        ("call.ringing", "1795709000.502", "ringing"),
        ("call.answered", "1795709000.502", "active"),
        ("call.ended", "1795709000.502", "ended"),
    ]
    ended_305 = [e for e in publisher.events if e["line"] == "305" and e["type"] == "call.ended"]
    assert len(ended_305) == 1  # the call that ended unseen is ended once, by the resync


async def test_a_call_still_up_after_the_reconnect_is_not_ended_or_duplicated():
    _, publisher = await worker_replay(SYNTHETIC / "reconnect-mid-call.jsonl")
    summary = [(e["line"], e["type"], e["call"]["id"], e["call"]["end_reason"]) for e in publisher.events]
    assert summary == [
        ("305", "call.ringing", "1795700624.93", None),
        ("305", "call.answered", "1795700624.93", None),
        ("305", "call.ended", "1795700624.93", "completed"),
    ]


async def test_the_pjsip_reconnect_gives_the_same_events():
    path = SYNTHETIC / "pjsip-reconnect-outage.jsonl"
    _, publisher = await worker_replay(path, protocol="PJSIP/")
    printed = await asyncio.to_thread(ami_replay, path, "--protocol", "PJSIP/")
    assert_same_events(publisher.events, printed)


@pytest.mark.parametrize("name", sorted(p.name for p in EXPECTED.glob("*.jsonl")))
async def test_every_scenario_gives_the_worker_the_expected_events(name):
    path = scenario_path(name)
    _, publisher = await worker_replay(path)
    expected = [json.loads(line) for line in (EXPECTED / name).read_text(encoding="utf-8").splitlines() if line]
    assert_same_events(publisher.events, expected)


async def test_replayed_messages_count_every_message_but_the_banners():
    path = SYNTHETIC / "reconnect-outage.jsonl"
    worker, _ = await worker_replay(path)
    records = read_trace(path)
    banners = sum(1 for r in records if r.direction == "in" and r.data.startswith(b"Asterisk Call Manager/"))
    assert banners == 2
    assert worker.replayed_messages == len(records) - banners  # one message per record in this file


async def test_a_reconnect_file_is_paced_by_the_recording_divided_by_speed():
    path = SYNTHETIC / "reconnect-mid-call.jsonl"
    records = read_trace(path)
    loop = asyncio.get_running_loop()
    started = loop.time()
    _, publisher = await worker_replay(path, speed=40)
    elapsed = loop.time() - started
    assert elapsed >= records[-1].t / 40 * 0.9
    assert [e["type"] for e in publisher.events] == ["call.ringing", "call.answered", "call.ended"]
