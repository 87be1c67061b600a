"""``python manage.py demo``: the whole product in one process (README command 1).

The bundled PBX simulator, the AMI worker and daphne share one asyncio loop
(Twisted's asyncio reactor) and the in-memory channel layer, so the demo
needs neither Asterisk nor Redis. With ``--pbx HOST:PORT`` the worker talks
to a real Asterisk instead. Ctrl-C or SIGTERM stops everything.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import secrets
import signal
import socket

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from connector.management.commands.simulate_pbx import add_simulator_arguments, simulator_from_options

logger = logging.getLogger("connector.demo")

DEMO_OPERATORS = (("alice", "305"), ("bob", "306"), ("carol", "307"))
DEMO_ADMIN = "admin"


def ensure_demo_users(password: str) -> list[tuple[str, str | None]]:
    """An administrator and one licensed operator per demo line, all with ``password``.

    Returns ``(username, line)`` pairs. Existing demo users get the new password.
    """
    from django.contrib.auth import get_user_model

    from profiles.models import LicencePool, Profile

    user_model = get_user_model()
    admin, _created = user_model.objects.get_or_create(username=DEMO_ADMIN)
    admin.is_staff = admin.is_superuser = True
    admin.set_password(password)
    admin.save()
    pool = LicencePool.get()
    if pool.seats < len(DEMO_OPERATORS):
        pool.seats = len(DEMO_OPERATORS)
        pool.save()
    created: list[tuple[str, str | None]] = [(DEMO_ADMIN, None)]
    for username, line in DEMO_OPERATORS:
        user, _created = user_model.objects.get_or_create(username=username)
        user.set_password(password)
        user.save()
        # One line per user: free the demo line if someone else holds it.
        Profile.objects.filter(line=line).exclude(user=user).update(line=None)
        profile = Profile.for_user(user)
        profile.line, profile.has_seat, profile.integration_disabled = line, True, False
        profile.save()
        created.append((username, line))
    return created


def parse_pbx(value: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"--pbx: expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def check_port_free(host: str, port: int) -> None:
    """Fail early with a clear message when the site's port is taken (daphne would only log it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port") from None


class Command(BaseCommand):
    help = "Run the demo: simulator + AMI worker + daphne in one process, with demo users."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address daphne listens on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=2013, help="daphne's port (default 2013)")
        parser.add_argument("--pbx", metavar="HOST:PORT", help="use a real Asterisk instead of the simulator")
        parser.add_argument("--no-setup", action="store_true", help="skip migrate and the demo users")
        add_simulator_arguments(parser)
        # The visitor answers, holds, transfers and calls out; the simulated world only calls in.
        # A colleague whose browser is not open picks up after a while, so a transfer gets answered.
        parser.set_defaults(
            calls_per_minute=4.0,
            manual_phones=True,
            self_answer=12.0,
            outbound_share=0.0,
            hold_rate=0.0,
            transfer_rate=0.0,
        )

    def handle(self, *args, **options) -> None:
        settings.DEMO_MODE = True  # the panel's "answer on phone" helper
        pbx = parse_pbx(options["pbx"]) if options["pbx"] else None
        password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(9)
        users: list[tuple[str, str | None]] = []
        if not options["no_setup"]:
            call_command("migrate", interactive=False, verbosity=0)
            users = ensure_demo_users(password)
        sim = traffic = None
        if pbx is not None:
            host, port = pbx
            settings.ASTERISK = dataclasses.replace(settings.ASTERISK, url=host, port=port, filePath="")
        else:
            # A fresh account per run: the worker and the simulator agree on it, nobody else knows it.
            username, secret = "demo", secrets.token_urlsafe(18)
            sim, traffic = simulator_from_options(options, username, secret)
            settings.ASTERISK = dataclasses.replace(
                settings.ASTERISK, url="127.0.0.1", port=0, userName=username, secret=secret, filePath=""
            )
        try:
            settings.ASTERISK.check_live()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        self._serve(options, sim, traffic, users, password)

    def _serve(self, options: dict, sim, traffic, users, password: str) -> None:
        # daphne.server installs Twisted's asyncio reactor on import; everything shares that loop.
        from channels.routing import get_default_application
        from daphne.server import Server
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
        from twisted.internet import reactor

        host, port = options["host"], options["port"]
        check_port_free(host, port)
        application = ASGIStaticFilesHandler(get_default_application())
        server = Server(
            application, endpoints=[f"tcp:port={port}:interface={host}"], signal_handlers=False, verbosity=0
        )
        loop = reactor._asyncioEventloop
        stopped: list[BaseException] = []
        main = loop.create_task(self._main(sim, traffic, reactor, stopped))
        self._announce(host, port, users, password, options)
        server.run()
        if not main.done():
            main.cancel()
        if stopped:
            raise CommandError(str(stopped[0]))
        self.stdout.write("Demo stopped.")

    async def _main(self, sim, traffic, reactor, failures: list) -> None:
        """Start the simulator and the worker, wait for Ctrl-C/SIGTERM, stop them, stop the reactor."""
        from connector.management.commands.ami_worker import build_worker
        from connector.simulator.runner import run_traffic

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        tasks: list[asyncio.Task] = []
        try:
            if sim is not None:
                await sim.start(port=0)
                settings.ASTERISK = dataclasses.replace(settings.ASTERISK, port=sim.port)
            worker = build_worker()
            tasks.append(asyncio.create_task(worker.run(stop)))
            if sim is not None:
                tasks.append(asyncio.create_task(run_traffic(sim, traffic, stop)))
            await stop.wait()
            await asyncio.wait(tasks, timeout=10)
        except Exception as exc:  # a demo that cannot start must say why and exit
            logger.exception("The demo could not start")
            failures.append(exc)
        finally:
            for task in tasks:
                task.cancel()
            if sim is not None:
                await sim.close()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            reactor.stop()

    def _announce(self, host: str, port: int, users, password: str, options: dict) -> None:
        shown = f"[{host}]" if ":" in host else host
        write = self.stdout.write
        write("")
        write(f"Telephony bridge demo: http://{shown}:{port}/")
        if options["pbx"]:
            write(f"PBX: Asterisk at {options['pbx']}")
        else:
            write("PBX: the bundled simulator (calls arrive every few seconds; click 'answer on phone')")
        if users:
            write("Logins (user / password):")
            for username, line in users:
                role = f"operator on line {line}" if line else "administrator (/admin/)"
                write(f"  {username} / {password}   {role}")
        write("Press Ctrl-C to stop.")
        write("")
        self.stdout.flush()
