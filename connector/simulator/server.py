"""The AMI TCP server: banner, login, per-session event delivery and action dispatch."""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time

from connector.ami.framing import Framer
from connector.ami.message import Message
from connector.simulator.pbx import Pbx
from connector.simulator.wire import BANNER, Pairs, format_message, response

log = logging.getLogger(__name__)

MAX_BUFFERED = 8 * 1024 * 1024  # a client this far behind is disconnected, as Asterisk does


class Session:
    """One AMI connection: login state, event mask and filters."""

    def __init__(self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.pbx = server.pbx
        self.reader = reader
        self.writer = writer
        self.framer = Framer(expect_banner=False)
        self.authenticated = False
        self.events = True
        self.filters: list[tuple[bool, re.Pattern]] = []
        self.closed = False

    def send(self, pairs: Pairs, trailer: str = "") -> None:
        """Write one message; a client too far behind is disconnected."""
        if self.closed:
            return
        self.writer.write(format_message(pairs, trailer))
        if self.writer.transport.get_write_buffer_size() > MAX_BUFFERED:
            log.warning("AMI client too slow; disconnecting")
            self.close()

    def respond(self, message: Message, status: str, pairs: Pairs | None = None, trailer: str = "") -> None:
        """A Response with this action's ActionID."""
        self.send(response(message.action_id, status, pairs or []), trailer)

    def ok(self, message: Message, text: str) -> None:
        """``Response: Success`` with a message."""
        self.respond(message, "Success", [("Message", text)])

    def error(self, message: Message, text: str) -> None:
        """``Response: Error`` with a message."""
        self.respond(message, "Error", [("Message", text)])

    def on_event(self, pairs: Pairs) -> None:
        """Deliver a PBX event if this session wants events and its filters let it through."""
        if not (self.authenticated and self.events) or self.closed:
            return
        if self.filters:
            text = "\r\n".join(f"{k}: {v}" for k, v in pairs)
            includes = [p for allow, p in self.filters if allow]
            if includes and not any(p.search(text) for p in includes):
                return
            if any(p.search(text) for allow, p in self.filters if not allow):
                return
        self.send(pairs)

    def close(self) -> None:
        """Close the connection (once)."""
        if not self.closed:
            self.closed = True
            self.writer.close()

    async def serve(self) -> None:
        """Banner, then answer actions until the client leaves."""
        from connector.simulator.handlers import dispatch  # handlers use Session; imported late

        self.writer.write(BANNER)
        self.pbx.listeners.append(self.on_event)
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                for message in self.framer.feed(data):
                    try:
                        await dispatch(self, message)
                    except Exception:
                        # A fault in the model must not take the connection down with it.
                        log.exception("Simulator failed on action %r", message.get("Action"))
                        self.error(message, "Internal error")
                    if self.closed:
                        break
                await self.writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if self.on_event in self.pbx.listeners:
                self.pbx.listeners.remove(self.on_event)
            self.close()
            self.server.sessions.discard(self)

    async def login(self, message: Message) -> None:
        """Accept the configured account; anything else fails after a delay and closes, as recorded."""
        config = self.pbx.config
        username_ok = hmac.compare_digest((message.get("Username") or "").encode(), config.username.encode())
        secret_ok = hmac.compare_digest((message.get("Secret") or "").encode(), config.secret.encode())
        if username_ok and secret_ok:
            self.authenticated = True
            self.events = (message.get("Events") or "on").lower() != "off"
            self.ok(message, "Authentication accepted")
            uptime = int(time.time() - self.pbx.started)
            self.send(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", str(uptime)),
                    ("LastReload", str(uptime)),
                    ("Status", "Fully Booted"),
                ]
            )
            return
        log.info("AMI login failed for %r", message.get("Username"))
        await asyncio.sleep(config.login_failure_delay)
        self.error(message, "Authentication failed")
        await self.writer.drain()
        self.close()


class AmiServer:
    """Listens for AMI clients on ``host:port`` (port 0 picks a free one; see ``port``)."""

    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.sessions: set[Session] = set()
        self._serving: set[asyncio.Task] = set()
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self, host: str | None = None, port: int | None = None) -> AmiServer:
        """Start listening; ``port=0`` picks a free port."""
        config = self.pbx.config
        self._server = await asyncio.start_server(
            self._accept, host or config.host, config.port if port is None else port
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, reader, writer)
        self.sessions.add(session)
        self._serving.add(asyncio.current_task())
        try:
            await session.serve()
        except asyncio.CancelledError:
            pass  # the server is closing
        finally:
            self._serving.discard(asyncio.current_task())

    def drop_clients(self) -> None:
        """Close every client connection (a PBX restart, as seen from the connector)."""
        for session in list(self.sessions):
            session.close()

    async def close(self) -> None:
        """Stop listening, close every client and stop the call flows."""
        if self._server is not None:
            self._server.close()
        self.drop_clients()
        for task in list(self.pbx.tasks) + list(self._serving):
            task.cancel()
        pending = list(self.pbx.tasks) + list(self._serving)
        if pending:
            await asyncio.wait(pending, timeout=2)
        if self._server is not None:
            await self._server.wait_closed()
