"""``python manage.py simulate_pbx``: the bundled PBX simulator as its own process.

It speaks real AMI on 127.0.0.1:5038 (by default) with the connector's own
user and secret, so ``ami_worker`` connects to it as it would to Asterisk.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from connector.simulator import SimConfig, Simulator
from connector.simulator.runner import Traffic, serve
from connector.simulator.scenario import ScenarioError, load_scenario
from connector.simulator.traffic import RandomMix

RECORDED_ACCOUNT = "terrasoft"  # the account of the recorded traces, used when none is configured


def add_simulator_arguments(parser) -> None:
    """The options shared by ``simulate_pbx`` and ``demo``."""
    parser.add_argument("--lines", default="305,306,307", help="comma-separated operator lines (default 305,306,307)")
    parser.add_argument("--queue-members", default=None, help="lines in queue 'support' (default: all lines)")
    parser.add_argument("--manual-phones", action="store_true", help="phones ring until answered (DemoAnswer)")
    parser.add_argument(
        "--self-answer", type=float, default=0.0, help="with --manual-phones: a phone answers by itself after S seconds"
    )
    parser.add_argument("--scenario", metavar="FILE", help="play a scenario file (docs/simulator.md)")
    parser.add_argument("--calls-per-minute", type=float, default=0.0, help="steady random call mix at this rate")
    parser.add_argument("--answer-probability", type=float, default=0.8)
    parser.add_argument("--queue-share", type=float, default=0.5, help="share of inbound calls through the queue")
    parser.add_argument("--outbound-share", type=float, default=0.1, help="share of calls the phones place")
    parser.add_argument("--hold-rate", type=float, default=0.2)
    parser.add_argument("--transfer-rate", type=float, default=0.1)
    parser.add_argument("--patience", type=float, default=25.0, help="seconds a caller lets an unanswered call ring")
    parser.add_argument("--load", type=float, default=0.0, metavar="CPS", help="load mode: calls per second")
    parser.add_argument("--operators", type=int, default=0, help="load mode: number of lines (from 2000 up)")
    parser.add_argument("--duration", type=float, default=60.0, help="load mode: seconds")


def _csv(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def simulator_from_options(options: dict, username: str, secret: str) -> tuple[Simulator, Traffic]:
    """Build the simulator and its traffic from the command-line options (raises CommandError)."""
    if options["patience"] <= 0:
        raise CommandError("--patience must be more than 0 seconds")
    for name in ("answer_probability", "queue_share", "outbound_share", "hold_rate", "transfer_rate"):
        if not 0.0 <= options[name] <= 1.0:
            raise CommandError(f"--{name.replace('_', '-')} must be between 0 and 1")
    if options["operators"]:
        lines = tuple(str(2000 + n) for n in range(options["operators"]))
    else:
        lines = _csv(options["lines"])
    if not lines:
        raise CommandError("--lines: give at least one line")
    members = _csv(options["queue_members"]) if options["queue_members"] is not None else lines
    config = SimConfig(
        username=username,
        secret=secret,
        protocol=settings.ASTERISK.protocol,
        lines=lines,
        queue_members=tuple(m for m in members if m in lines),
        queue_interface=settings.ASTERISK.queueExtensionFormat,
    )
    sim = Simulator(config)
    if options["manual_phones"]:
        for line in lines:
            sim.set_phone(line, "manual", self_answer=max(options["self_answer"], 0.0))
    traffic = Traffic()
    if options["scenario"]:
        try:
            traffic.scenario = load_scenario(options["scenario"], lines)
        except ScenarioError as exc:
            raise CommandError(f"--scenario: {exc}") from None
    elif options["load"] > 0:
        traffic.load_cps, traffic.load_seconds = options["load"], options["duration"]
    elif options["calls_per_minute"] > 0:
        traffic.mix = RandomMix(
            calls_per_minute=options["calls_per_minute"],
            answer_probability=options["answer_probability"],
            queue_share=options["queue_share"],
            outbound_share=options["outbound_share"],
            hold_rate=options["hold_rate"],
            transfer_rate=options["transfer_rate"],
            patience_seconds=options["patience"],
        )
    return sim, traffic


def credentials() -> tuple[str, str]:
    """The connector's AMI account, or the recorded one when none is configured."""
    config = settings.ASTERISK
    if config.userName and config.secret:
        return config.userName, config.secret
    return RECORDED_ACCOUNT, RECORDED_ACCOUNT


class Command(BaseCommand):
    help = "Run the bundled PBX simulator: real AMI over TCP, virtual phones and callers."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=None, help="port (default ASTERISK_PORT, 5038)")
        add_simulator_arguments(parser)

    def handle(self, *args, **options) -> None:
        logging.getLogger("connector.simulator").setLevel(logging.INFO)
        username, secret = credentials()
        sim, traffic = simulator_from_options(options, username, secret)
        port = options["port"] if options["port"] is not None else settings.ASTERISK.port
        self.stdout.write(
            f"PBX simulator on {options['host']}:{port}, AMI user {username!r}, lines {', '.join(sim.config.lines)}"
        )
        stats = asyncio.run(self._run(sim, traffic, options["host"], port))
        if stats is not None:
            self.stdout.write(f"calls started {stats.started}, answered {stats.answered}, skipped {stats.skipped}")

    async def _run(self, sim: Simulator, traffic: Traffic, host: str, port: int):
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            return await serve(sim, traffic, stop, host, port)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
