"""``python manage.py ami_worker [--record PATH] [--speed N]``: the long-lived AMI process."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from connector.ami import accel

logger = logging.getLogger("connector.worker")


def build_worker(record: str | None = None, speed: float = 1.0):
    """Every part of the worker, built from the settings (one place, so tests can do the same)."""
    from channels.layers import get_channel_layer

    from connector.ami.tracker import CallTracker, TrackerConfig
    from connector.control import CommandHandler
    from connector.history import HistoryWriter
    from connector.leader import DEFAULT_KEY, leader_lock
    from connector.publisher import Publisher
    from connector.ratelimit import originate_rate_limiter
    from connector.worker import TraceRecorder, Worker, WorkerParts
    from connector.worker_upkeep import DEFAULT_INTERVAL, Upkeep, operator_lines, touch_connector_status

    config = settings.ASTERISK
    config.check_live()
    layer = get_channel_layer()
    history = HistoryWriter()
    tracker = CallTracker(TrackerConfig.from_connector(config))
    parts = WorkerParts(
        config=config,
        tracker=tracker,
        publisher=Publisher(layer, history),
        channel_layer=layer,
        history=history,
        # One lock per Asterisk: workers for different PBXes never block each other.
        lock=leader_lock(settings.REDIS_URL, key=f"{DEFAULT_KEY}:{config.url}:{config.port}"),
        # Heartbeat at least once per Ping interval: /health/ calls the row stale after three.
        upkeep=Upkeep(
            tracker,
            load_lines=operator_lines,
            heartbeat=touch_connector_status,
            interval=min(DEFAULT_INTERVAL, config.pingInterval),
        ),
    )
    worker = Worker(parts, record=TraceRecorder(record) if record else None, speed=speed)
    parts.control = CommandHandler(worker, tracker, config, originate_rate_limiter())
    return worker


class Command(BaseCommand):
    help = "Run the AMI worker: one connection to Asterisk for the whole call centre (or replay filePath)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--record", metavar="PATH", help="write the raw AMI traffic to PATH (JSONL trace format)")
        parser.add_argument(
            "--speed",
            type=float,
            default=1.0,
            help="replay speed for ASTERISK_FILE_PATH: 1 = as recorded, 10 = ten times faster, 0 = no pauses",
        )

    def handle(self, *args, record: str | None = None, speed: float = 1.0, **options) -> None:
        if speed < 0:
            raise CommandError("--speed must be 0 or more")
        _log_to_stderr()
        try:
            worker = build_worker(record, speed)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"--record: cannot write {record}: {exc.strerror}") from None
        asyncio.run(self._run(worker))
        logger.info("AMI worker stopped")

    async def _run(self, worker) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        config = worker.parts.config
        source = f"replaying {config.filePath}" if config.filePath else f"AMI at {config.url}:{config.port}"
        framer = "compiled" if accel.frame is not None else "pure Python (bin/build-speedups compiles the fast one)"
        logger.info("AMI worker starting (%s; framer: %s)", source, framer)
        await worker.run(stop)


def _log_to_stderr() -> None:
    """The worker's own lines go to stderr even when LOGGING sends the root elsewhere."""
    log = logging.getLogger("connector")
    if not any(getattr(h, "stream", None) is sys.stderr for h in logging.getLogger().handlers + log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
