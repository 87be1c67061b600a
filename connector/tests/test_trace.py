"""Scenario files: reading JSONL traces and raw dumps, writing recordings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.ami.framing import parse_stream
from connector.ami.trace import TraceError, TraceWriter, format_record, incoming, parse_trace, read_trace

TRACES = sorted((Path(__file__).resolve().parents[2] / "tests" / "traces" / "asterisk-20.20.1-sip").glob("*.jsonl"))


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.stem)
def test_it_reads_every_recorded_trace_byte_exact(path):
    records = read_trace(path)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(records) == len(lines)
    for record, line in zip(records, lines, strict=True):
        assert (record.t, record.direction, record.data) == (line["t"], line["dir"], line["msg"].encode())
    assert records[0].data == b"Asterisk Call Manager/9.0.0\r\n"
    assert [r.t for r in records] == sorted(r.t for r in records)


def test_a_raw_dump_is_one_incoming_record_at_time_zero():
    raw = b"Asterisk Call Manager/9.0.0\r\nEvent: FullyBooted\r\nStatus: Fully Booted\r\n\r\n"
    records = parse_trace(raw)
    assert [(r.t, r.direction, r.data) for r in records] == [(0.0, "in", raw)]


def test_a_raw_dump_made_from_a_trace_frames_like_the_trace():
    path = TRACES[0]
    stream = incoming(read_trace(path))
    assert parse_stream(incoming(parse_trace(stream))) == parse_stream(stream)


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        (b"", 1, "empty"),
        (b"\n  \n", 1, "empty"),
        (b'{"t": 0, "dir": "in", "msg": "x"}\n{"t": 1, "dir": "in"\n', 2, "not valid JSON"),
        (b'{"t": 0, "dir": "in", "msg": "x"}\n\n[1, 2]\n', 3, "expected a JSON object"),
        (b'{"dir": "in", "msg": "x"}\n', 1, 'missing "t"'),
        (b'{"t": 0, "msg": "x"}\n', 1, 'missing "dir"'),
        (b'{"t": 0, "dir": "in"}\n', 1, 'missing "msg"'),
        (b'{"t": "soon", "dir": "in", "msg": "x"}\n', 1, '"t" must be a number'),
        (b'{"t": true, "dir": "in", "msg": "x"}\n', 1, '"t" must be a number'),
        (b'{"t": -1, "dir": "in", "msg": "x"}\n', 1, '"t" must be a number'),
        (b'{"t": NaN, "dir": "in", "msg": "x"}\n', 1, '"t" must be a number'),
        (b'{"t": 0, "dir": "sideways", "msg": "x"}\n', 1, '"dir" must be'),
        (b'{"t": 0, "dir": "in", "msg": 5}\n', 1, '"msg" must be a string'),
        (b'{"t": 0, "dir": "in", "msg": "\\ud800"}\n', 1, "surrogate"),
        (b'{"t": 2, "dir": "in", "msg": "x"}\n{"t": 1, "dir": "in", "msg": "y"}\n', 2, "goes backwards"),
        (b'{"t": 0, "dir": "in", "msg": "x"}\n{"t": 1, "dir": "in", "msg": "\xff"}\n', 2, "not UTF-8"),
    ],
)
def test_a_bad_file_is_refused_naming_the_line_and_the_problem(content, line, words):
    with pytest.raises(TraceError) as caught:
        parse_trace(content, name="bad.jsonl")
    assert caught.value.line == line
    assert f"bad.jsonl: line {line}:" in str(caught.value)
    assert words in str(caught.value)


def test_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        read_trace(tmp_path / "nope.jsonl")


def test_a_record_line_keeps_non_ascii_readable():
    line = format_record(1.5, "in", "Event: Newchannel\r\nCallerIDName: Иван Петров\r\n\r\n")
    assert "Иван Петров" in line
    assert line.endswith("}\n") and line.count("\n") == 1
    assert json.loads(line) == {"t": 1.5, "dir": "in", "msg": "Event: Newchannel\r\nCallerIDName: Иван Петров\r\n\r\n"}


def test_the_writer_refuses_an_unknown_direction():
    with pytest.raises(ValueError):
        TraceWriter().record(0.0, "up", b"x")


def _write(chunks: list[tuple[float, str, bytes]]) -> bytes:
    writer = TraceWriter()
    lines: list[str] = []
    for t, direction, data in chunks:
        lines += writer.record(t, direction, data)
    lines += writer.flush(chunks[-1][0] if chunks else 0.0)
    return "".join(lines).encode()


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.stem)
def test_recording_a_trace_again_gives_the_same_records(path):
    records = read_trace(path)
    written = parse_trace(_write([(r.t, r.direction, r.data) for r in records]))
    assert [(r.t, r.direction, r.data) for r in written] == [(r.t, r.direction, r.data) for r in records]


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(0, 4000), max_size=40))
def test_recording_arbitrary_reads_keeps_the_stream_and_splits_per_message(cuts):
    stream = incoming(read_trace(TRACES[0])).replace(b"Ivan Petrov", "Иван Петров".encode())
    bounds = [0, *sorted(c for c in set(cuts) if c < len(stream)), len(stream)]
    chunks = [(i * 0.01, "in", stream[a:b]) for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False))]
    records = parse_trace(_write(chunks))
    assert incoming(records) == stream
    assert len(records) == len(parse_stream(stream))
    assert all(r.data.endswith(b"\n") and r.data.strip() for r in records[1:])


def test_a_message_cut_off_by_a_disconnect_is_flushed():
    writer = TraceWriter()
    assert writer.record(0.1, "in", b"Asterisk Call Manager/9.0.0\r\n")[0].startswith('{"t": 0.1, "dir": "in"')
    assert writer.record(0.2, "in", b"Event: Newchannel\r\nChannel: SIP/30") == []
    assert writer.record(0.2, "out", b"Action: Ping\r\n\r\n") != []
    flushed = writer.flush(0.3)
    assert [json.loads(line)["msg"] for line in flushed] == ["Event: Newchannel\r\nChannel: SIP/30"]
