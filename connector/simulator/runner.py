"""Running the simulator with a traffic mode until told to stop (used by both management commands)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from connector.simulator import Simulator
from connector.simulator.scenario import Scenario, run_scenario
from connector.simulator.traffic import RandomMix, Stats, run_load, run_mix

log = logging.getLogger(__name__)


@dataclass
class Traffic:
    """Which traffic mode to run: none, a scenario, the random mix, or load."""

    scenario: Scenario | None = None
    mix: RandomMix | None = None
    load_cps: float = 0.0
    load_seconds: float = 60.0
    load_talk: float = 5.0


async def run_traffic(sim: Simulator, traffic: Traffic, stop: asyncio.Event) -> Stats | None:
    """Drive the world until the traffic ends or ``stop`` is set; returns what it did, if counted."""
    try:
        if traffic.scenario is not None:
            await run_scenario(sim, traffic.scenario, stop)
        elif traffic.mix is not None:
            return await run_mix(sim, traffic.mix, stop)
        elif traffic.load_cps > 0:
            return await run_load(sim, traffic.load_cps, traffic.load_seconds, stop, talk_seconds=traffic.load_talk)
    except Exception:
        log.exception("Simulated traffic failed")
    return None


async def serve(sim: Simulator, traffic: Traffic, stop: asyncio.Event, host: str, port: int) -> Stats | None:
    """Listen, run the traffic, wait for ``stop``, then close every connection and call."""
    await sim.start(host, port)
    try:
        stats = await run_traffic(sim, traffic, stop)
        await stop.wait()
        return stats
    finally:
        await sim.close()
