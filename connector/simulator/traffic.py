"""Generated traffic: a steady random call mix (the demo) and a load mode (benchmarks)."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from connector.simulator import Simulator
from connector.simulator.dial import Talk
from connector.simulator.features import blind_transfer
from connector.simulator.pbx import Behaviour

CALLERS = [
    ("79161234567", "Ivan Petrov"),
    ("79262345678", "Мария Смирнова"),
    ("79033456789", "Olga Ivanova"),
    ("74957654321", "ООО Ромашка"),
    ("79854567890", ""),
    ("79165550101", "Sergey Kuznetsov"),
]
EXTERNAL_NUMBERS = ["79031112234", "74951112234", "79257778890"]  # not the numbers people try by hand


@dataclass
class RandomMix:
    """A steady random call mix; rates are per call, times in seconds."""

    calls_per_minute: float = 4.0
    answer_probability: float = 0.8
    queue_share: float = 0.5
    outbound_share: float = 0.1
    hold_rate: float = 0.2
    transfer_rate: float = 0.1
    ring_seconds: tuple[float, float] = (2.0, 6.0)
    talk_seconds: tuple[float, float] = (8.0, 40.0)
    patience_seconds: float = 25.0  # the most a caller lets an unanswered call ring (each waits 40-100% of it)


@dataclass
class Stats:
    """What a traffic run did (printed by ``simulate_pbx``; read by benchmarks)."""

    started: int = 0
    answered: int = 0
    skipped: int = 0  # no free line at that moment
    latencies: list[float] = field(default_factory=list)


def _talking(sim: Simulator, line: str) -> bool:
    return any(c.state == 6 and c.bridge is not None for c in sim.pbx.channels_of(line))


async def _sleep(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep unless stopped; True when stopped."""
    try:
        await asyncio.wait_for(stop.wait(), max(seconds, 0))
        return True
    except TimeoutError:
        return False


async def run_mix(
    sim: Simulator, mix: RandomMix, stop: asyncio.Event, rng: random.Random | None = None, stats: Stats | None = None
) -> Stats:
    """Start calls at random (Poisson) intervals until ``stop`` is set."""
    rng = rng or random.Random()
    stats = stats or Stats()
    rate = max(mix.calls_per_minute, 0.01) / 60.0
    first = True
    while not stop.is_set():
        # The first call comes at once so a visitor sees something ring within seconds.
        if not first and await _sleep(stop, rng.expovariate(rate)):
            break
        first = False
        sim.pbx.spawn(_one_call(sim, mix, rng, stop, stats))
    return stats


async def _one_call(sim: Simulator, mix: RandomMix, rng: random.Random, stop: asyncio.Event, stats: Stats) -> None:
    pbx = sim.pbx
    free = [line for line in sim.config.lines if not sim.line_busy(line) and pbx.behaviour(line).mode != "offline"]
    if not free:
        stats.skipped += 1
        return
    stats.started += 1
    ring = rng.uniform(*mix.ring_seconds)
    if rng.random() < mix.outbound_share:
        line, number = rng.choice(free), rng.choice(EXTERNAL_NUMBERS)
        # Only this number's far end changes, so calls the operators place themselves are unaffected.
        sim.set_far_end("answer" if rng.random() < mix.answer_probability else "no_answer", ring, number)
        channel = sim.dial(line, number)
        await _converse(sim, mix, rng, stop, stats, line, remote=None, own=channel)
        return
    number, name = rng.choice(CALLERS)
    to_queue = rng.random() < mix.queue_share and any(m in free for m in pbx.members)
    targets = [m for m in pbx.members if m in free] if to_queue else [rng.choice(free)]
    answers = rng.random() < mix.answer_probability
    winner = rng.choice(targets)
    for line in targets:
        if pbx.behaviour(line).mode != "manual":
            # Per call: the chosen phone answers after a while, the others ring on.
            pbx.behaviours[line] = Behaviour("answer" if answers and line == winner else "no_answer", ring)
    did = sim.config.queue_did if to_queue else f"{sim.config.did_prefix}{winner}"
    caller = sim.call_in(number, name, did)
    deadline = time.monotonic() + mix.patience_seconds * rng.uniform(0.4, 1.0)
    while not caller.hung_up and time.monotonic() < deadline and not stop.is_set():
        talking = [line for line in targets if _talking(sim, line)]
        if talking:
            await _converse(sim, mix, rng, stop, stats, talking[0], remote=caller, own=None)
            return
        await asyncio.sleep(0.1)
    if not caller.hung_up:
        sim.hangup(caller)  # the caller gives up


async def _converse(sim, mix, rng, stop, stats, line, remote, own) -> None:
    """Wait for the answer, talk a while (maybe hold, maybe transfer), then one side hangs up."""
    pbx = sim.pbx
    deadline = time.monotonic() + mix.patience_seconds
    while not _talking(sim, line):
        if stop.is_set() or time.monotonic() > deadline or (own is not None and own.hung_up):
            if own is not None and not own.hung_up:
                sim.hangup(own)
            return
        await asyncio.sleep(0.1)
    stats.answered += 1
    # From here on the mix acts on this call's own legs only, never on whatever the line does next.
    phone = _talking_channel(sim, line) or own
    talk = rng.uniform(*mix.talk_seconds)
    if rng.random() < mix.hold_rate:
        if await _sleep(stop, talk / 3):
            return
        await _phone_hold(sim, phone, stop, rng.uniform(2, 6))
    if rng.random() < mix.transfer_rate and phone is not None and not phone.hung_up:
        if await _sleep(stop, talk / 3):
            return
        others = [
            x for x in sim.config.lines if x != line and not sim.line_busy(x) and pbx.behaviour(x).mode != "offline"
        ]
        if isinstance(pbx.owners.get(phone.name), Talk) and others:
            target = rng.choice(others)
            if pbx.behaviour(target).mode != "manual":
                pbx.behaviours[target] = Behaviour("answer", rng.uniform(*mix.ring_seconds))
            # The operator's phone transfers with its blind-transfer key (#1 in features.conf).
            blind_transfer(pbx, phone, target, "from-internal")
            deadline = time.monotonic() + mix.patience_seconds
            while not _talking(sim, target) and time.monotonic() < deadline and not stop.is_set():
                await asyncio.sleep(0.1)
            phone = _talking_channel(sim, target) or phone
    if await _sleep(stop, talk / 3):
        return
    if remote is not None and not remote.hung_up and (phone is None or phone.hung_up or rng.random() < 0.7):
        sim.hangup(remote)
    elif phone is not None and not phone.hung_up:
        sim.hangup(phone)


def _talking_channel(sim: Simulator, line: str):
    """The line's channel that is in a two-party bridge right now."""
    pbx = sim.pbx
    return next((c for c in pbx.channels_of(line) if isinstance(pbx.owners.get(c.name), Talk)), None)


async def _phone_hold(sim: Simulator, phone, stop: asyncio.Event, seconds: float) -> None:
    """The operator presses Hold on his phone: Hold/Unhold, music for the other party."""
    pbx = sim.pbx
    talk = pbx.owners.get(phone.name) if phone is not None else None
    if not isinstance(talk, Talk):
        return
    other = talk.peer(phone)
    pbx.emit("Hold", [*phone.snapshot(), ("MusicClass", "default")])
    pbx.moh(other, True)
    await _sleep(stop, seconds)
    if not phone.hung_up and not other.hung_up:
        pbx.emit("Unhold", phone.snapshot())
        pbx.moh(other, False)


async def run_load(
    sim: Simulator,
    calls_per_second: float,
    duration: float,
    stop: asyncio.Event | None = None,
    ring_seconds: float = 0.5,
    talk_seconds: float = 5.0,
) -> Stats:
    """Benchmark traffic: N inbound calls per second spread over the configured lines.

    Each call rings ``ring_seconds``, is answered, talks ``talk_seconds`` and the
    caller hangs up. A call that finds every line busy is counted as skipped.
    """
    stop = stop or asyncio.Event()
    stats = Stats()
    for line in sim.config.lines:
        sim.pbx.behaviours[line] = Behaviour("answer", ring_seconds)
    interval = 1.0 / max(calls_per_second, 0.001)
    end = time.monotonic() + duration
    next_at = time.monotonic()
    index = 0
    lines = sim.config.lines
    while time.monotonic() < end and not stop.is_set():
        # Round robin from where the last call went: the next free line, without scanning them all.
        line = next(
            (
                lines[(index + n) % len(lines)]
                for n in range(len(lines))
                if not sim.line_busy(lines[(index + n) % len(lines)])
            ),
            None,
        )
        if line is not None:
            index = lines.index(line) + 1
            stats.started += 1
            number = stats.started
            caller = sim.call_in(f"7916{number:07d}", f"Load {number}", f"{sim.config.did_prefix}{line}")
            sim.pbx.spawn(_hang_up_later(sim, caller, ring_seconds + talk_seconds, stats))
        else:
            stats.skipped += 1
        next_at += interval
        await asyncio.sleep(max(next_at - time.monotonic(), 0))
    return stats


async def _hang_up_later(sim: Simulator, caller, after: float, stats: Stats) -> None:
    await asyncio.sleep(after)
    if not caller.hung_up:
        stats.answered += 1
        sim.hangup(caller)
