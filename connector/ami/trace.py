"""Scenario files: the JSONL trace format, raw AMI dumps, and writing recordings.

The trace format is one JSON object per line, ``{"t": 4.21, "dir": "in",
"msg": "Event: ...\\r\\n\\r\\n"}``: ``t`` is seconds since the connection
opened, ``dir`` is ``in`` (from Asterisk) or ``out`` (sent to it) and ``msg``
the text exactly as on the wire. A file whose first non-empty line is not a
JSON object is taken as a raw dump of the byte stream Asterisk sent.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

DIRECTIONS = ("in", "out")
_BLANK_LINE_END = re.compile(r"\n\r?\n(?:\r?\n)*")  # extra blank lines stay with their message
_BANNER = "Asterisk Call Manager"


@dataclass(frozen=True)
class TraceRecord:
    """One piece of recorded traffic: ``t`` seconds after connecting, ``direction`` ``in``/``out``."""

    t: float
    direction: str
    data: bytes


class TraceError(ValueError):
    """A scenario file that cannot be read; the message names the line and the problem."""

    def __init__(self, line: int, problem: str, name: str = "") -> None:
        where = f"{name}: line {line}" if name else f"line {line}"
        super().__init__(f"{where}: {problem}")
        self.line = line
        self.problem = problem


def read_trace(path: str | Path) -> list[TraceRecord]:
    """Read a scenario file (JSONL trace or raw dump). Raises :class:`TraceError` (or ``OSError``)."""
    path = Path(path)
    return parse_trace(path.read_bytes(), name=str(path))


def parse_trace(data: bytes, name: str = "") -> list[TraceRecord]:
    """Records from the bytes of a scenario file; see the module docstring for the formats."""
    first = data.lstrip()
    if not first:
        raise TraceError(1, "the file is empty", name)
    if first.startswith(b"{"):
        return _parse_jsonl(data, name)
    return [TraceRecord(0.0, "in", data)]


def incoming(records: list[TraceRecord]) -> bytes:
    """The byte stream Asterisk sent: every ``in`` record, concatenated."""
    return b"".join(r.data for r in records if r.direction == "in")


def _parse_jsonl(data: bytes, name: str) -> list[TraceRecord]:
    records: list[TraceRecord] = []
    last_t = 0.0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TraceError(number, f"not UTF-8 text (byte {exc.start})", name) from None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TraceError(number, f"not valid JSON ({exc.msg} at column {exc.colno})", name) from None
        record = _record(obj, number, name)
        if record.t < last_t:
            raise TraceError(number, f'"t" goes backwards ({record.t} after {last_t})', name)
        last_t = record.t
        records.append(record)
    return records


def _record(obj: object, number: int, name: str) -> TraceRecord:
    if not isinstance(obj, dict):
        raise TraceError(number, f"expected a JSON object, got {type(obj).__name__}", name)
    for key in ("t", "dir", "msg"):
        if key not in obj:
            raise TraceError(number, f'missing "{key}"', name)
    t = obj["t"]
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
        raise TraceError(number, f'"t" must be a number of seconds >= 0, got {t!r}', name)
    if obj["dir"] not in DIRECTIONS:
        raise TraceError(number, f'"dir" must be "in" or "out", got {obj["dir"]!r}', name)
    msg = obj["msg"]
    if not isinstance(msg, str):
        raise TraceError(number, f'"msg" must be a string, got {type(msg).__name__}', name)
    try:
        payload = msg.encode("utf-8")
    except UnicodeEncodeError:
        raise TraceError(number, '"msg" holds a lone surrogate, not text', name) from None
    return TraceRecord(float(t), obj["dir"], payload)


def format_record(t: float, direction: str, text: str) -> str:
    """One trace line (with its newline); non-ASCII text is kept readable."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'in' or 'out', not {direction!r}")
    return json.dumps({"t": round(t, 6), "dir": direction, "msg": text}, ensure_ascii=False) + "\n"


class TraceWriter:
    """Turns raw traffic into trace lines, one record per complete message, like the recordings.

    ``record(t, direction, data)`` takes bytes exactly as read or written
    (a read may end inside a message or a UTF-8 character) and returns the
    lines completed so far; ``flush(t)`` returns whatever is left at close.
    Concatenating the ``in`` messages of the output gives back the input bytes.
    """

    def __init__(self) -> None:
        self._decoders = {d: codecs.getincrementaldecoder("utf-8")("replace") for d in DIRECTIONS}
        self._pending = dict.fromkeys(DIRECTIONS, "")
        self._banner_seen = False

    def record(self, t: float, direction: str, data: bytes) -> list[str]:
        """Lines for every message that ``data`` completes."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be 'in' or 'out', not {direction!r}")
        text = self._pending[direction] + self._decoders[direction].decode(data)
        lines: list[str] = []
        if direction == "in" and not self._banner_seen:
            end = text.find("\n")
            if end < 0 and len(text) < len(_BANNER):
                self._pending[direction] = text
                return lines
            self._banner_seen = True
            if text.startswith(_BANNER) and end >= 0:
                lines.append(format_record(t, direction, text[: end + 1]))
                text = text[end + 1 :]
            elif text.startswith(_BANNER):
                self._banner_seen = False  # the greeting line is not complete yet
                self._pending[direction] = text
                return lines
        start = 0
        for match in _BLANK_LINE_END.finditer(text):
            lines.append(format_record(t, direction, text[start : match.end()]))
            start = match.end()
        self._pending[direction] = text[start:]
        return lines

    def flush(self, t: float) -> list[str]:
        """Lines for the traffic still held (a message cut off by a disconnect)."""
        lines = []
        for direction in DIRECTIONS:
            text = self._pending[direction] + self._decoders[direction].decode(b"", final=True)
            self._pending[direction] = ""
            if text:
                lines.append(format_record(t, direction, text))
        return lines
