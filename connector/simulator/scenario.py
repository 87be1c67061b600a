"""Scripted traffic: a JSON scenario file that drives the simulated world step by step.

Format (documented in docs/simulator.md)::

    {"phones": {"305": {"mode": "answer", "after": 3}},
     "far_end": {"mode": "answer", "after": 3},
     "repeat": false,
     "steps": [
       {"call_in": "79161234567", "name": "Ivan Petrov", "to": "74951230305", "as": "ivan"},
       {"wait_until": "talking", "line": "305"},
       {"wait": 3},
       {"hangup": "ivan"}
     ]}

Steps run in order. ``hangup`` takes a line or a name given with ``as``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from connector.simulator import Simulator
from connector.simulator.pbx import Behaviour

MODES = {"answer", "manual", "busy", "no_answer", "offline"}
CONDITIONS = {"ringing", "talking", "idle"}
STEP_KINDS = ("call_in", "dial", "answer", "hangup", "wait", "wait_until", "phone", "far_end")


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message names the step and the problem."""


@dataclass
class Scenario:
    """A validated scenario: steps plus the phones' and far end's behaviour."""

    steps: list[dict]
    phones: dict[str, Behaviour] = field(default_factory=dict)
    far_end: Behaviour | None = None
    repeat: bool = False


def _behaviour(where: str, spec: object) -> Behaviour:
    if not isinstance(spec, dict):
        raise ScenarioError(f"{where}: expected an object like {{'mode': 'answer', 'after': 3}}")
    mode = spec.get("mode", "answer")
    if mode not in MODES:
        raise ScenarioError(f"{where}: mode must be one of {', '.join(sorted(MODES))}, got {mode!r}")
    after = spec.get("after", 3)
    if not isinstance(after, (int, float)) or after < 0:
        raise ScenarioError(f"{where}: 'after' must be a number of seconds")
    return Behaviour(mode, float(after))


def parse_scenario(document: object, lines: tuple[str, ...] | None = None) -> Scenario:
    """Validate a decoded scenario document; ``lines`` are the simulator's lines, when known."""
    if not isinstance(document, dict) or not isinstance(document.get("steps"), list):
        raise ScenarioError('a scenario is an object with a "steps" list')
    phones = {}
    for line, spec in (document.get("phones") or {}).items():
        if lines is not None and line not in lines:
            raise ScenarioError(f"phones.{line}: not one of the simulated lines ({', '.join(lines)})")
        phones[line] = _behaviour(f"phones.{line}", spec)
    far_end = _behaviour("far_end", document["far_end"]) if "far_end" in document else None
    for number, step in enumerate(document["steps"], 1):
        where = f"step {number}"
        if not isinstance(step, dict):
            raise ScenarioError(f"{where}: expected an object")
        kinds = [k for k in STEP_KINDS if k in step]
        if len(kinds) != 1:
            raise ScenarioError(f"{where}: needs exactly one of {', '.join(STEP_KINDS)}")
        kind = kinds[0]
        if kind == "wait" and not (isinstance(step["wait"], (int, float)) and step["wait"] >= 0):
            raise ScenarioError(f"{where}: wait must be a number of seconds")
        if kind == "wait_until" and (step["wait_until"] not in CONDITIONS or "line" not in step):
            raise ScenarioError(f"{where}: wait_until needs one of {', '.join(sorted(CONDITIONS))} and a line")
        if kind in ("dial",) and "line" not in step:
            raise ScenarioError(f"{where}: dial needs the line that dials")
        if kind == "phone":
            _behaviour(where, step)
        if kind == "far_end":
            _behaviour(where, step["far_end"])
    return Scenario(document["steps"], phones, far_end, bool(document.get("repeat", False)))


def load_scenario(path: str | Path, lines: tuple[str, ...] | None = None) -> Scenario:
    """Read and validate a scenario file."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path} is not valid JSON ({exc})") from exc
    return parse_scenario(document, lines)


def _condition(sim: Simulator, condition: str, line: str) -> bool:
    if condition == "ringing":
        return sim.is_ringing(line)
    talking = any(c.state == 6 and c.bridge is not None for c in sim.pbx.channels_of(line))
    return talking if condition == "talking" else not sim.line_busy(line)


async def run_scenario(
    sim: Simulator, scenario: Scenario, stop: asyncio.Event | None = None, step_timeout: float = 120.0
) -> None:
    """Play the steps (forever when ``repeat``) until they end or ``stop`` is set."""
    stop = stop or asyncio.Event()
    for line, behaviour in scenario.phones.items():
        sim.pbx.behaviours[line] = behaviour
    if scenario.far_end is not None:
        sim.pbx.world = scenario.far_end
    while not stop.is_set():
        callers: dict = {}
        for step in scenario.steps:
            if stop.is_set():
                return
            await _step(sim, step, callers, stop, step_timeout)
        if not scenario.repeat:
            return


async def _step(sim: Simulator, step: dict, callers: dict, stop: asyncio.Event, step_timeout: float) -> None:
    if "call_in" in step:
        channel = sim.call_in(
            str(step["call_in"]), str(step.get("name", "")), str(step.get("to", sim.config.queue_did))
        )
        callers[str(step.get("as", step["call_in"]))] = channel
    elif "dial" in step:
        channel = sim.dial(str(step["line"]), str(step["dial"]))
        if "as" in step:
            callers[str(step["as"])] = channel
    elif "answer" in step:
        sim.answer_line(str(step["answer"]))
    elif "hangup" in step:
        target = str(step["hangup"])
        if target in callers:
            sim.hangup(callers[target])
        else:
            sim.hangup_line(target)
    elif "phone" in step:
        sim.set_phone(str(step["phone"]), step.get("mode", "answer"), float(step.get("after", 3)))
    elif "far_end" in step:
        spec = step["far_end"]
        sim.set_far_end(spec.get("mode", "answer"), float(spec.get("after", 3)), spec.get("number"))
    elif "wait" in step:
        try:
            await asyncio.wait_for(stop.wait(), float(step["wait"]))
        except TimeoutError:
            pass
    elif "wait_until" in step:
        deadline = time.monotonic() + step_timeout
        while not _condition(sim, step["wait_until"], str(step["line"])):
            if stop.is_set() or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.02)
