"""HistoryWriter against the real database: rows as calls progress, outages, the live snapshot."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from django.db import IntegrityError, OperationalError, connection

from connector.ami.events import LineEvent
from connector.history import HistoryWriter, live_snapshot, open_calls
from connector.models import Call, ConnectorStatus, LineState
from profiles.models import Profile

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def call(call_id: str, line: str = "305", state: str = "ringing", **fields) -> dict:
    base = {
        "id": call_id,
        "line": line,
        "direction": "inbound",
        "state": state,
        "remote_number": "79161234567",
        "remote_name": "Ivan Petrov",
        "queue": None,
        "parking_slot": None,
        "started_at": "2026-11-26T10:00:00Z",
        "answered_at": None,
        "ended_at": None,
        "duration": None,
        "end_reason": None,
        "extra": {},
    }
    base.update(fields)
    return base


ANSWERED = {"state": "active", "answered_at": "2026-11-26T10:00:03Z"}
ENDED = {
    "state": "ended",
    "answered_at": "2026-11-26T10:00:03Z",
    "ended_at": "2026-11-26T10:00:06.5Z",
    "duration": 3.5,
    "end_reason": "completed",
}


@pytest.fixture
def writer():
    history = HistoryWriter(retry_initial=0.02, retry_max=0.1)
    yield history
    history.stop(timeout=5)


def write(writer: HistoryWriter, *events: tuple) -> None:
    """Submit (seq, LineEvent) pairs and wait until they are committed."""
    for seq, event in events:
        writer.submit(event, seq)
    assert writer.flush(timeout=10)


def test_a_call_row_follows_the_call_from_ringing_to_ended(writer, alice):
    linked = {"_linkedid": "1764151200.31", "_uniqueid": "1764151200.32"}
    write(writer, (1, LineEvent("305", "call.ringing", call("c1"), dict(linked))))
    row = Call.objects.get(line="305", call_id="c1")
    assert (row.state, row.user, row.linkedid, row.uniqueid) == ("ringing", alice, "1764151200.31", "1764151200.32")
    assert row.answered_at is None

    write(writer, (2, LineEvent("305", "call.answered", call("c1", **ANSWERED))))
    row.refresh_from_db()
    assert row.state == "active" and row.answered_at.isoformat() == "2026-11-26T10:00:03+00:00"
    assert row.linkedid == "1764151200.31"  # kept when a later event does not repeat it

    write(writer, (3, LineEvent("305", "call.ended", call("c1", **ENDED))))
    row.refresh_from_db()
    assert (row.state, row.duration, row.end_reason) == ("ended", 3.5, "completed")
    assert row.as_protocol()["ended_at"] == "2026-11-26T10:00:06.500000Z"
    assert Call.objects.count() == 1
    assert LineState.objects.get(line="305").seq == 3


def test_one_row_per_call_per_line(writer, alice, bob):
    internal = {"direction": "internal", "remote_number": "306", "remote_name": "Operator 306"}
    write(
        writer,
        (1, LineEvent("305", "call.dialing", call("x", "305", "dialing", **internal))),
        (1, LineEvent("306", "call.ringing", call("x", "306", **{**internal, "remote_number": "305"}))),
    )
    rows = {row.line: row for row in Call.objects.all()}
    assert set(rows) == {"305", "306"}
    assert rows["305"].user == alice and rows["306"].user == bob
    assert rows["306"].remote_number == "305"


def test_the_owner_is_the_user_who_had_the_line_when_the_call_started(writer, alice, bob):
    write(writer, (1, LineEvent("305", "call.ringing", call("c1"))))
    Profile.objects.filter(user=alice).update(line="399")
    Profile.objects.filter(user=bob).update(line="305")
    write(writer, (2, LineEvent("305", "call.ended", call("c1", **ENDED))))
    assert Call.objects.get(call_id="c1").user == alice


def test_agent_state_is_kept_when_later_events_only_move_seq(writer):
    agent = {"state": "not_ready", "reason": "in call", "queues": ["support"]}
    write(
        writer,
        (1, LineEvent("305", "call.ringing", call("c1"))),
        (2, LineEvent("305", "agent.state", None, agent)),
    )
    write(writer, (3, LineEvent("305", "call.answered", call("c1", **ANSWERED))))
    state = LineState.objects.get(line="305")
    assert (state.seq, state.agent_state, state.agent_reason, state.agent_queues) == (
        3,
        "not_ready",
        "in call",
        ["support"],
    )


def test_live_snapshot_has_only_calls_that_have_not_ended(writer, alice):
    write(
        writer,
        (1, LineEvent("305", "call.ringing", call("old", started_at="2026-11-26T09:00:00Z"))),
        (2, LineEvent("305", "call.ended", call("old", started_at="2026-11-26T09:00:00Z", **ENDED))),
        (3, LineEvent("305", "call.ringing", call("b", started_at="2026-11-26T10:00:05Z"))),
        (4, LineEvent("305", "call.dialing", call("a", state="dialing", direction="outbound"))),
        (1, LineEvent("306", "call.ringing", call("other", "306"))),
        (5, LineEvent("305", "agent.state", None, {"state": "wrap_up", "reason": "", "queues": []})),
    )
    snapshot = live_snapshot("305")
    assert [c["id"] for c in snapshot["calls"]] == ["a", "b"]
    assert snapshot["calls"][0] == Call.objects.get(line="305", call_id="a").as_protocol()
    assert snapshot["seq"] == 5
    assert snapshot["agent"] == {"state": "wrap_up", "reason": "", "queues": []}
    assert snapshot["line"] == "305"
    assert {c["id"] for c in open_calls()} == {"a", "b", "other"}


def test_live_snapshot_of_a_line_never_seen():
    assert live_snapshot("777") == {
        "line": "777",
        "calls": [],
        "seq": 0,
        "agent": {"state": "ready", "reason": "", "queues": []},
    }


def test_a_database_outage_loses_nothing_and_is_logged_once(writer, alice, monkeypatch, caplog):
    real_write = writer._write_batch
    failures = {"left": 4, "calls": 0}

    def failing_write(*args, **kwargs):
        failures["calls"] += 1
        if failures["left"] > 0:
            failures["left"] -= 1
            raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(writer, "_write_batch", failing_write)
    with caplog.at_level(logging.WARNING, logger="connector.history"):
        writer.submit(LineEvent("305", "call.ringing", call("c1")), 1)
        writer.submit(LineEvent("306", "call.ringing", call("c2", "306")), 1)
        writer.submit(LineEvent("305", "call.answered", call("c1", **ANSWERED)), 2)
        writer.submit(LineEvent("305", "call.ended", call("c1", **ENDED)), 3)
        writer.record_connector_state("connected", "")
        assert writer.flush(timeout=10)
    assert failures["calls"] >= 5
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "Database unavailable" in errors[0].getMessage()
    assert any("Database is back" in r.getMessage() for r in caplog.records)
    rows = {row.call_id: row for row in Call.objects.all()}
    assert rows["c1"].state == "ended" and rows["c1"].user == alice
    assert rows["c2"].state == "ringing"
    assert dict(LineState.objects.values_list("line", "seq")) == {"305": 3, "306": 1}
    assert ConnectorStatus.get().state == "connected"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="terminates a PostgreSQL backend")
def test_a_killed_database_connection_is_replaced(writer, monkeypatch, caplog):
    real_write = writer._write_batch
    backends: list[int] = []

    def spying_write(*args, **kwargs):
        result = real_write(*args, **kwargs)
        backends.append(connection.connection.info.backend_pid)  # the writer thread's own connection
        return result

    monkeypatch.setattr(writer, "_write_batch", spying_write)
    write(writer, (1, LineEvent("305", "call.ringing", call("c1"))))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backends[-1]])
        assert cursor.fetchone()[0] is True
        for _ in range(100):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [backends[-1]])
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.02)
    with caplog.at_level(logging.WARNING, logger="connector.history"):
        write(writer, (2, LineEvent("305", "call.ended", call("c1", **ENDED))))
    assert any("Database unavailable" in r.getMessage() for r in caplog.records)
    assert backends[-1] != backends[0]
    assert Call.objects.get(call_id="c1").state == "ended"
    assert LineState.objects.get(line="305").seq == 2


def test_a_bad_record_is_dropped_without_blocking_the_others(writer, caplog):
    with caplog.at_level(logging.ERROR, logger="connector.history"):
        write(
            writer,
            (1, LineEvent("305", "call.ringing", call("bad", started_at="yesterday"))),
            (2, LineEvent("305", "call.ringing", call("good"))),
        )
    assert list(Call.objects.values_list("call_id", flat=True)) == ["good"]
    assert LineState.objects.get(line="305").seq == 2
    assert any("malformed" in r.getMessage() for r in caplog.records)


def test_untrusted_text_is_stored_safely(writer):
    name = '=HYPERLINK("x")\x00' + "Ж" * 300
    write(
        writer,
        (
            1,
            LineEvent("305", "call.ringing", call("c1", remote_name=name, extra={"k\x00": "v\x00", "n": [1, "a\x00"]})),
        ),
    )
    row = Call.objects.get(call_id="c1")
    assert "\x00" not in row.remote_name and len(row.remote_name) == 200
    assert row.extra == {"k": "v", "n": [1, "a"]}


def test_connector_state_is_recorded(writer):
    writer.record_connector_state("reconnecting", "connection reset by peer")
    assert writer.flush(timeout=10)
    status = ConnectorStatus.get()
    assert (status.state, status.detail) == ("reconnecting", "connection reset by peer")
    assert status.worker


def test_submit_never_waits_for_a_slow_database(writer, monkeypatch):
    real_write = writer._write_batch
    release = threading.Event()

    def slow_write(*args, **kwargs):
        release.wait(5)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(writer, "_write_batch", slow_write)
    started = time.monotonic()
    for n in range(500):
        writer.submit(LineEvent("305", "call.ringing", call(f"c{n % 50}")), n + 1)
    assert time.monotonic() - started < 0.5
    assert writer.pending <= 51  # coalesced: one entry per call plus the line
    release.set()
    assert writer.flush(timeout=10)
    assert Call.objects.count() == 50 and LineState.objects.get(line="305").seq == 500


@pytest.mark.parametrize("error", [IntegrityError, RuntimeError])
def test_a_row_the_database_refuses_is_dropped_and_the_writer_goes_on(writer, monkeypatch, caplog, error):
    real_write = writer._write_batch

    def picky_write(calls, lines, status):
        if any(record.call["id"] == "refused" for record in calls):
            raise error("refused by the database")
        return real_write(calls, lines, status)

    monkeypatch.setattr(writer, "_write_batch", picky_write)
    with caplog.at_level(logging.ERROR, logger="connector.history"):
        write(
            writer,
            (1, LineEvent("305", "call.ringing", call("refused"))),
            (2, LineEvent("305", "call.ringing", call("kept"))),
        )
    assert list(Call.objects.values_list("call_id", flat=True)) == ["kept"]
    assert LineState.objects.get(line="305").seq == 2
    assert any("Dropped an unwritable call row" in r.getMessage() for r in caplog.records)
    write(writer, (3, LineEvent("305", "call.ended", call("kept", **ENDED))))
    assert Call.objects.get(call_id="kept").state == "ended"
