"""Parsing speed: our framer against panoramisk's parser on the same generated AMI stream.

Run from the repository root:  .venv/bin/python bench/parse_bench.py [--events N] [--repeat R]

Both parsers get the same bytes in the same 4-64 KiB reads, as a socket would
hand them over. panoramisk is driven exactly as its asyncio protocol is by the
event loop: ``AMIProtocol.data_received(chunk)`` per read, with the UTF-8
encoding its ``Manager`` sets. Every parsed message is checked against the
generator's truth; a message counts as mis-parsed if any header is lost or
changed, or if it is missing altogether.
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script from anywhere

from bench.generate import Stream, generate  # noqa: E402
from connector.ami import accel  # noqa: E402
from connector.ami.correlate import Correlator  # noqa: E402
from connector.ami.framing import Framer  # noqa: E402

WORKLOADS = {
    "dispatch": "each message matched by ActionID and dispatched by Event name (the worker's read loop)",
    "tracker": "dispatch, plus 8 call headers read from every event (what call tracking reads)",
    "all": "dispatch, plus every header of every message split into a dict",
}


# Headers a call tracker reads from most events.
TRACKED = (
    "Channel",
    "Uniqueid",
    "Linkedid",
    "ChannelState",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "Exten",
)


def ours(workload: str, compiled: bool = True):
    """Our read loop: framer, then ActionID matching and what the workload reads of each message.

    ``compiled``: the C framer (``connector/ami/_speedups.c``); False runs the pure Python one.
    """

    def run(chunks: list[bytes]) -> int:
        accel.set_enabled(compiled)
        framer = Framer()
        correlator = Correlator()
        consume = correlator.consume
        count = 0
        for chunk in chunks:
            for message in framer.feed(chunk):
                consume(message)
                if workload == "tracker":
                    for key in TRACKED:
                        message.get(key)
                elif workload == "all":
                    message.headers  # noqa: B018 - splits every header out
                count += 1
        return count

    return run


def panoramisk(workload: str):
    """panoramisk's read loop as asyncio drives it: ``data_received`` per read, then dispatch."""
    from panoramisk.ami_protocol import AMIProtocol

    class Collector:
        """Stands in for panoramisk's Manager: receives every dispatched event."""

        count = 0

        def dispatch(self, message) -> None:
            if workload == "tracker":
                for key in TRACKED:
                    message.get(key)
            self.count += 1  # "all": panoramisk has split every header already

    def run(chunks: list[bytes]) -> int:
        protocol = AMIProtocol()
        protocol.connection_made(transport=None)
        protocol.factory = Collector()
        protocol.encoding = "utf8"  # panoramisk.Manager's default
        for chunk in chunks:
            protocol.data_received(chunk)
        return protocol.factory.count

    return run


def collect_ours(chunks: list[bytes], compiled: bool = True) -> list:
    accel.set_enabled(compiled)
    framer = Framer()
    return [message for chunk in chunks for message in framer.feed(chunk)]


def collect_panoramisk(chunks: list[bytes]) -> list:
    from panoramisk.ami_protocol import AMIProtocol

    class Collector:
        def __init__(self) -> None:
            self.events: list = []

        def dispatch(self, message) -> None:
            self.events.append(message)

    protocol = AMIProtocol()
    protocol.connection_made(transport=None)
    protocol.factory = Collector()
    protocol.encoding = "utf8"
    for chunk in chunks:
        protocol.data_received(chunk)
    return protocol.factory.events


def _canonical(pairs) -> tuple:
    """Headers as one comparable value: keys in order, repeated keys as lists (panoramisk's shape)."""
    merged: dict[str, list[str]] = {}
    for key, value in pairs:
        merged.setdefault(key, []).append(value)
    return tuple((key, values[0] if len(values) == 1 else tuple(values)) for key, values in merged.items())


def misparsed_ours(stream: Stream, lazy: list, full: list) -> int:
    """Messages not exactly equal to the truth, in order, read both ways: ``get`` per key and all headers.

    ``lazy`` and ``full`` are two separate parses of the stream, so each way reads untouched messages.
    """
    if not lazy or lazy[0].banner is None or not full or full[0].banner is None:
        return stream.events
    bad = abs(len(lazy) - 1 - stream.events) + abs(len(full) - 1 - stream.events)
    for by_key, whole, truth in zip(lazy[1:], full[1:], stream.truth, strict=False):
        first: dict[str, str] = {}
        repeated = []
        for key, value in truth:
            if key in first:
                repeated.append((key, value))
            else:
                first[key] = value
        if any(by_key.get(key) != value for key, value in first.items()) or by_key.get("NoSuchHeader") is not None:
            bad += 1
        elif whole.headers != first or (whole.repeated or []) != repeated or whole.body:
            bad += 1
    return bad


def misparsed_panoramisk(stream: Stream, messages: list) -> int:
    """Truth messages that panoramisk did not deliver intact (compared as a multiset)."""
    expected = Counter(_canonical(pairs) for pairs in stream.truth)
    got = Counter()
    for message in messages:
        items = [(key, value) for key, value in message.items() if key != "content"]
        got[tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in items)] += 1
    return sum((expected - got).values())


def cpu_time(run, chunks: list[bytes]) -> tuple[float, int]:
    """CPU seconds this process spent in ``run`` (other processes on a busy machine do not count)."""
    gc.collect()
    started = time.process_time()
    count = run(chunks)
    return time.process_time() - started, count


def best_times(runs: list, chunks: list[bytes], repeat: int) -> tuple[list[float], list[int]]:
    """Best of ``repeat`` rounds of all the runs in turn, so a slow spell of the machine hits each alike."""
    best = [float("inf")] * len(runs)
    counts = [0] * len(runs)
    for _ in range(repeat):
        for index, run in enumerate(runs):
            elapsed, counts[index] = cpu_time(run, chunks)
            best[index] = min(best[index], elapsed)
    return best, counts


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()} ({platform.python_implementation()})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events to generate (default 100000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per parser; the best counts (default 5)")
    args = parser.parse_args(argv)

    stream = generate(args.events)
    size = len(stream.data)
    print(f"machine: {machine()}")
    print(f"stream:  {stream.events} events, {size / 1e6:.1f} MB, {len(stream.chunks)} reads of 4-64 KiB")
    if not accel.BUILT:
        print("the compiled framer is not built (bin/build-speedups): both 'ours' columns are pure Python")
    ours_bad = sum(
        misparsed_ours(stream, collect_ours(stream.chunks, compiled), collect_ours(stream.chunks, compiled))
        for compiled in (True, False)
    )
    theirs_bad = misparsed_panoramisk(stream, collect_panoramisk(stream.chunks))
    print(f"mis-parsed: ours {ours_bad} (compiled and pure Python), panoramisk {theirs_bad} (of {stream.events})")
    print("events per CPU second, best of", args.repeat, "rounds; ratios against panoramisk:")
    print(
        f"{'workload':<10} {'ours ev/s':>11} {'ratio':>6} {'pure Python ev/s':>17} {'ratio':>6} {'panoramisk ev/s':>16}"
    )
    for workload in WORKLOADS:
        runs = [ours(workload), ours(workload, compiled=False), panoramisk(workload)]
        times, counts = best_times(runs, stream.chunks, args.repeat)
        assert counts[0] == counts[1] == stream.events + 1, counts  # + the banner
        compiled, pure, theirs = (stream.events / elapsed for elapsed in times)
        print(
            f"{workload:<10} {compiled:>11,.0f} {compiled / theirs:>5.1f}x"
            f" {pure:>17,.0f} {pure / theirs:>5.1f}x {theirs:>16,.0f}"
        )
    accel.set_enabled(True)
    return 1 if ours_bad else 0


if __name__ == "__main__":
    sys.exit(main())
