"""Where the parser's time goes, and the alternatives docs/benchmarks.md lists as measured and dropped.

Run from the repository root:  .venv/bin/python bench/parse_parts.py [--events N] [--repeat R]

Every figure is CPU time per message (best of R), on messages framed from the
same generated stream as bench/parse_bench.py. The compiled framer
(connector/ami/_speedups.c) is timed first; the rest is the pure Python one. ASCII messages and messages with
a non-ASCII caller name are timed apart: the second kind is larger and its text
is stored two bytes per character.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from itertools import repeat
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script from anywhere

from bench.generate import generate  # noqa: E402
from bench.parse_bench import TRACKED  # noqa: E402
from connector.ami import accel  # noqa: E402
from connector.ami.correlate import Correlator  # noqa: E402
from connector.ami.framing import Framer  # noqa: E402
from connector.ami.message import Message  # noqa: E402

_SEP, _ONCE = repeat(": "), repeat(1)
_LINE = re.compile(r"(?:\A|(?<=\r\n))([^:\r\n]+): ([^\r\n]*)(?:\r\n|\Z)")
_TWO_SEPARATORS = re.compile(r": [^\r\n]*: ")  # a line holding ": " twice
_TRACKED_LINES = re.compile(r"\r\n(" + "|".join(TRACKED) + r"): ([^\r\n]*)")


def best(run: Callable[[list], object], items: list, repeat_: int) -> float:
    """Best CPU nanoseconds per item of ``run(items)`` over ``repeat_`` runs."""
    fastest = float("inf")
    for _ in range(repeat_):
        started = time.process_time()
        run(items)
        fastest = min(fastest, time.process_time() - started)
    return fastest / len(items) * 1e9


def fresh(raws: list[str]) -> Callable[[Callable[[Message], object]], Callable[[list], object]]:
    """Wrap a per-message action so each timed run works on untouched messages."""

    def wrap(action: Callable[[Message], object]) -> Callable[[list], object]:
        def run(_items: list) -> None:
            for message in map(Message, repeat(None), repeat(None), repeat(None), repeat(None), raws):
                action(message)

        return run

    return wrap


def split_lines(raws: list[str]) -> None:
    for raw in raws:
        dict(map(str.split, raw.split("\r\n"), _SEP, _ONCE))


def regex_lines(raws: list[str]) -> None:
    findall = _LINE.findall
    for raw in raws:
        dict(findall(raw))


def pairs_unchecked(raws: list[str]) -> None:
    for raw in raws:
        parts = iter(raw.replace("\r\n", ": ").split(": "))
        dict(zip(parts, parts, strict=False))


def pairs_checked(raws: list[str]) -> None:
    twice = _TWO_SEPARATORS.search
    for raw in raws:
        parts = raw.replace("\r\n", ": ").split(": ")
        if len(parts) == 2 * raw.count("\r\n") + 2 and twice(raw) is None:
            pairs = iter(parts)
            dict(zip(pairs, pairs, strict=False))


def shapes(raws: list[str]) -> Callable[[list[str]], None]:
    """Known key sequences per first line; values by str.removeprefix, checked by total length."""
    known: dict[str, tuple[tuple[str, ...], tuple[str, ...], int]] = {}
    for raw in raws:
        lines = raw.split("\r\n")
        keys = tuple(dict(map(str.split, lines, _SEP, _ONCE)))
        prefixes = tuple(key + ": " for key in keys)
        known[lines[0]] = (keys, prefixes, sum(map(len, prefixes)))

    def run(items: list[str]) -> None:
        for raw in items:
            lines = raw.split("\r\n")
            keys, prefixes, width = known[lines[0]]
            values = list(map(str.removeprefix, lines, prefixes))
            if len(keys) == len(lines) and sum(map(len, values)) == len(raw) - 2 * len(lines) + 2 - width:
                dict(zip(keys, values, strict=False))
            else:
                dict(map(str.split, lines, _SEP, _ONCE))

    return run


def tracked_regex(raws: list[str]) -> None:
    findall = _TRACKED_LINES.findall
    for raw in raws:
        dict(reversed(findall("\r\n" + raw)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events to generate (default 20000)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs; the best counts (default 7)")
    args = parser.parse_args(argv)
    stream = generate(args.events)
    accel.set_enabled(False)  # the pure Python framer keeps the text (``_raw``) the rows below work on
    framer = Framer()
    messages = [m for chunk in stream.chunks for m in framer.feed(chunk)][1:]
    raws = [m._raw for m in messages]
    kinds = {"ASCII": [r for r in raws if r.isascii()], "non-ASCII": [r for r in raws if not r.isascii()]}
    n = stream.events

    def frame_all(_items: list) -> None:
        framer = Framer()
        for chunk in stream.chunks:
            framer.feed(chunk)

    def consume_all(items: list) -> None:
        consume = Correlator().consume
        for message in items:
            consume(message)

    def decode_split(_items: list) -> None:
        for chunk in stream.chunks:
            chunk.decode("utf-8", "replace").split("\r\n\r\n")

    def split_decode(_items: list) -> None:
        for chunk in stream.chunks:
            list(map(bytes.decode, chunk.split(b"\r\n\r\n"), repeat("utf-8"), repeat("replace")))

    print(f"{n} events; ns per message, best of {args.repeat}")
    if accel.BUILT:
        accel.set_enabled(True)
        compiled_feed = best(frame_all, [None] * n, args.repeat)
        blocks = {
            kind: [(raw + "\r\n\r\n").encode() for raw in items] for kind, items in kinds.items()
        }  # one message per call
        print(f"{'compiled Framer.feed (headers split out)':<52} {compiled_feed:>7.0f}")
        for kind, wires in blocks.items():
            framed = [accel.frame(wire, len(wire), 1 << 20, Message)[0] for wire in wires]
            frame_one = best(lambda ws: [accel.frame(w, len(w), 1 << 20, Message) for w in ws], wires, args.repeat)
            gets = best(lambda ms: [[m.get(k) for k in TRACKED] for m in ms], framed, args.repeat)
            print(f"   {kind + ': accel.frame of one message':<49} {frame_one:>7.0f}")
            print(f"   {kind + ': 8 x compiled get on it':<49} {gets:>7.0f}")
        accel.set_enabled(False)
    else:
        print("the compiled framer is not built (bin/build-speedups): pure Python rows only")
    print(
        f"{'Framer.feed, pure Python (the read loop without consume)':<52} {best(frame_all, [None] * n, args.repeat):>7.0f}"
    )
    print(f"{'Correlator.consume':<52} {best(consume_all, messages, args.repeat):>7.0f}")
    print(f"{'decode the read, then split it':<52} {best(decode_split, [None] * n, args.repeat):>7.0f}")
    print(
        f"{'split the read as bytes, then decode each block':<52} {best(split_decode, [None] * n, args.repeat):>7.0f}"
    )
    for kind, items in kinds.items():
        wrap = fresh(items)
        lines = sum(raw.count("\r\n") + 1 for raw in items) / len(items)
        print(f"-- {kind}: {len(items)} messages, {lines:.1f} headers on average")
        rows = [
            ("Message.headers (kept)", wrap(lambda m: m.headers)),
            ("8 x Message.get, tracked keys (kept)", wrap(lambda m: [m.get(k) for k in TRACKED])),
            ("str.split per line (the split headers uses)", split_lines),
            ("re.findall per message", regex_lines),
            ("replace + split(': ') + zip, unchecked", pairs_unchecked),
            ("the same, checked with a regex", pairs_checked),
            ("key sequences per event + removeprefix", shapes(items)),
            ("one regex for the 8 tracked keys", tracked_regex),
        ]
        for label, run in rows:
            print(f"   {label:<49} {best(run, items, args.repeat):>7.0f}")
    accel.set_enabled(True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
