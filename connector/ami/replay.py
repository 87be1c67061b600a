"""Replaying a recorded scenario through the call tracker (``ami_replay``, the worker's filePath mode).

Times come from the recording: each message is stamped ``base + t`` where
``t`` is the offset of the record that completes it, so durations match the
recording however fast the replay runs. The base is the epoch second of the
first Uniqueid in the file (the recording PBX's clock), or 0 when there is
none. ``out`` records (actions the recorder sent) are fed too: an Originate
tells the tracker which number a click-to-call is for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from connector.ami.events import ActionRequest, LineEvent
from connector.ami.framing import Framer, parse_stream
from connector.ami.message import Message
from connector.ami.trace import TraceRecord
from connector.ami.tracker import CallTracker, TrackerConfig

_UNIQUEID = re.compile(rb"Uniqueid: (\d{9,11})\.\d+")


def base_time(records: Iterable[TraceRecord]) -> float:
    """The Unix time of ``t = 0``: the epoch part of the first Uniqueid seen, else 0."""
    for record in records:
        match = _UNIQUEID.search(record.data)
        if match:
            return float(match.group(1))
    return 0.0


def iter_messages(
    pieces: Iterable[tuple[float, str, bytes]], base: float = 0.0
) -> Iterator[tuple[float, str, Message]]:
    """``(at, direction, message)`` for every complete message in recorded traffic.

    ``pieces`` are ``(t, direction, bytes)`` in order; a message split over
    several pieces gets the time of the piece that completes it.
    """
    framer = Framer()
    for t, direction, data in pieces:
        if direction == "in":
            for message in framer.feed(data):
                yield base + t, "in", message
        else:
            for message in parse_stream(data, expect_banner=False):
                yield base + t, "out", message


class LineNumbering:
    """Per-line ``seq`` numbers and the JSON shape of ``ami_replay`` output."""

    def __init__(self) -> None:
        self.seqs: dict[str, int] = {}

    def number(self, event: LineEvent) -> dict:
        """``{"line", "type", "seq", ...}``: the browser message plus its line."""
        seq = self.seqs.get(event.line, 0) + 1
        self.seqs[event.line] = seq
        body = {k: v for k, v in event.message().items() if not k.startswith("_")}
        out: dict = {"line": event.line, "type": body.pop("type"), "seq": seq}
        call = body.pop("call", None)
        if isinstance(call, dict):
            out["call"] = {k: v for k, v in call.items() if not k.startswith("_")}
        out.update(body)
        return out


def replay_pieces(
    pieces: Iterable[tuple[float, str, bytes]],
    config: TrackerConfig | None = None,
    base: float = 0.0,
    actions: list[ActionRequest] | None = None,
) -> list[dict]:
    """Every line event of the traffic, numbered per line, in order (``ami_replay``'s output).

    Actions the tracker asks for (auto-pause) are appended to ``actions`` when given.
    """
    tracker = CallTracker(config or TrackerConfig())
    numbering = LineNumbering()
    output: list[dict] = []
    for at, _direction, message in iter_messages(pieces, base):
        for item in tracker.feed(message, at):
            if isinstance(item, LineEvent):
                output.append(numbering.number(item))
            elif actions is not None:
                actions.append(item)
    return output


def replay_records(
    records: list[TraceRecord], config: TrackerConfig | None = None, actions: list[ActionRequest] | None = None
) -> list[dict]:
    """Replay a whole trace (see :func:`replay_pieces`), timed from :func:`base_time`."""
    pieces = ((r.t, r.direction, r.data) for r in records)
    return replay_pieces(pieces, config, base_time(records), actions)
