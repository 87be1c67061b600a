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
from collections.abc import Callable, Iterable, Iterator

from connector.ami.events import ActionRequest, LineEvent
from connector.ami.framing import BANNER_PREFIX, Framer, parse_stream
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
    records: Iterable[TraceRecord], base: float = 0.0, split: Callable[[bytes], list[bytes]] | None = None
) -> Iterator[tuple[float, str, Message]]:
    """``(at, direction, message)`` for every complete message in recorded traffic.

    A message split over several records gets the time of the record that
    completes it. A banner record after the first starts a new connection
    (a reconnect). ``split`` cuts each record's bytes into pieces, as reads
    from a socket would (tests: the result must not change).
    """
    framer = Framer()
    fresh = True
    for record in records:
        pieces = split(record.data) if split else [record.data]
        if record.direction != "in":
            for message in parse_stream(record.data, expect_banner=False):
                yield base + record.t, "out", message
            continue
        if record.data.startswith(BANNER_PREFIX) and not fresh:
            framer = Framer()  # a reconnect: the old connection's half message is gone
        fresh = False
        for piece in pieces:
            for message in framer.feed(piece):
                yield base + record.t, "in", message


class Replayer:
    """Feeds replayed messages to a tracker and runs its resync when a CoreShowChannels list completes."""

    def __init__(self, tracker: CallTracker) -> None:
        self.tracker = tracker
        self._lists: dict[str, list[Message]] = {}

    def feed(self, direction: str, message: Message, at: float) -> list[LineEvent | ActionRequest]:
        """What the tracker makes of one replayed message."""
        action_id = message.action_id or ""
        if direction == "out":
            if (message.get("Action") or "").lower() == "coreshowchannels":
                self._lists[action_id] = []
            return self.tracker.feed(message, at)
        if message.event == "CoreShowChannel" and action_id in self._lists:
            self._lists[action_id].append(message)
            return []
        if message.event == "CoreShowChannelsComplete" and action_id in self._lists:
            return list(self.tracker.resync(self._lists.pop(action_id), [], at))
        return self.tracker.feed(message, at)


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


def replay_records(
    records: list[TraceRecord],
    config: TrackerConfig | None = None,
    actions: list[ActionRequest] | None = None,
    split: Callable[[bytes], list[bytes]] | None = None,
) -> list[dict]:
    """Every line event of a trace, numbered per line, in order (``ami_replay``'s output).

    Times are ``base_time(records) + t``. Actions the tracker asks for
    (auto-pause) are appended to ``actions`` when given.
    """
    replayer = Replayer(CallTracker(config or TrackerConfig()))
    numbering = LineNumbering()
    output: list[dict] = []
    for at, direction, message in iter_messages(records, base_time(records), split):
        for item in replayer.feed(direction, message, at):
            if isinstance(item, LineEvent):
                output.append(numbering.number(item))
            elif actions is not None:
                actions.append(item)
    return output
