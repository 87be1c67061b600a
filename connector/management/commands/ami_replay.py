"""``python manage.py ami_replay FILE [--line LINE ...]``: a recorded scenario's events as JSON Lines."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from connector.ami.replay import replay_records
from connector.ami.trace import TraceError, read_trace
from connector.ami.tracker import TrackerConfig


class Command(BaseCommand):
    help = (
        "Replay a scenario file (JSONL trace or raw AMI dump) through call tracking and print "
        "each line's events as JSON Lines, timed as recorded. Exit status 2 for an invalid file."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="the scenario file")
        parser.add_argument(
            "--line",
            action="append",
            dest="lines",
            default=None,
            help="an operator's line (repeatable); without it every phone endpoint seen is one",
        )
        parser.add_argument("--protocol", choices=["SIP/", "PJSIP/"], help="overrides ASTERISK protocol")
        parser.add_argument(
            "--queue-extension-format", help="overrides queueExtensionFormat (e.g. Local/{0}@from-queue/n)"
        )
        ring = parser.add_mutually_exclusive_group()
        ring.add_argument(
            "--ring-on-state", dest="ring_on_state", action="store_true", default=None, help="ring on Newstate Ringing"
        )
        ring.add_argument("--ring-on-dial", dest="ring_on_state", action="store_false", help="ring on DialBegin")
        parser.add_argument(
            "--auto-pause", action="store_true", default=None, help="autoPauseOnCommutationStart on for this replay"
        )

    def handle(self, *args, **options) -> None:
        config = self._config(options)
        try:
            records = read_trace(options["file"])
        except TraceError as exc:
            raise CommandError(f"not a valid scenario file: {exc}", returncode=2) from None
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc.strerror or exc}", returncode=2) from None
        for event in replay_records(records, config):
            self.stdout.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")))

    def _config(self, options: dict) -> TrackerConfig:
        lines = frozenset(options["lines"]) if options.get("lines") else None
        config = TrackerConfig.from_connector(settings.ASTERISK, lines)
        overrides = {}
        if options.get("protocol"):
            overrides["protocol"] = options["protocol"]
        if options.get("queue_extension_format"):
            fmt = options["queue_extension_format"]
            if fmt.count("{0}") != 1:
                raise CommandError("--queue-extension-format must contain {0} exactly once", returncode=2)
            overrides["queue_extension_format"] = fmt
        if options.get("ring_on_state") is not None:
            overrides["send_ring_started_on_ringing_state"] = options["ring_on_state"]
        if options.get("auto_pause"):
            overrides["auto_pause_on_commutation_start"] = True
        return TrackerConfig(**{**config.__dict__, **overrides})
