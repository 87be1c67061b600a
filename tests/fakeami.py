"""A fake Asterisk Manager Interface over real TCP on 127.0.0.1, for tests.

    async with FakeAMI(secret="s3cret") as ami:
        client = AmiClient(ClientOptions(port=ami.port, username="terrasoft", secret="s3cret"))
        ...
        ami.actions            # every parsed action, all connections
        ami.raw                # every byte received, all connections
        ami.push_event({"Event": "Newchannel", "Channel": "SIP/305-00000001"})
        ami.on_action("Originate", handler)   # handler(session, action) -> reply

A handler returns what to send back: a dict (one message; the ActionID is
added), bytes (sent as they are), a list of those, or ``None`` for no reply
(``session.reply(action, {...})`` can answer later). Handlers may be async.
``ami.default_reply(action, session)`` gives the built-in answer.

Fault knobs: ``drop_after(n)``, ``rst_now()``, ``stall()`` / ``unstall()``,
``chunking(fn)``, ``send_raw(data)``, ``shutdown_event()``, ``restart()``,
``reply_delay``, ``never_answer(name)``, ``auth="fail" | "stall"``.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import itertools
import socket
import struct
import time
from collections.abc import Callable, Iterable

from connector.ami.framing import Framer
from connector.ami.message import Message

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
FULLY_BOOTED = (
    b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 554\r\nLastReload: 195\r\nStatus: Fully Booted\r\n\r\n"
)

_LIST_REPLIES = {
    "CoreShowChannels": ("Channels will follow", "CoreShowChannel", "CoreShowChannelsComplete"),
    "QueueStatus": ("Queue status will follow", None, "QueueStatusComplete"),
    "Status": ("Channel status will follow", "Status", "StatusComplete"),
}
_SIMPLE_REPLIES = {
    "Originate": "Originate successfully queued",
    "Park": "Park successful\n",  # Asterisk 20 really sends a stray LF here
    "Redirect": "Redirect successful",
    "Hangup": "Channel Hungup",
    "QueuePause": "Interface paused successfully",
    "BlindTransfer": "Transfer successful",
    "Atxfer": "Atxfer successfully queued",
    "PlayDTMF": "DTMF successfully queued",
    "Filter": "Filter Added Successfully",
    "Events": "Events On",
    "Setvar": "Variable Set",
}


def format_message(fields: dict | Iterable[tuple[str, str]], terminator: str = "\r\n") -> bytes:
    """``{"Event": "Hangup", ...}`` -> ``b"Event: Hangup\\r\\n...\\r\\n\\r\\n"`` (no checks: tests may send anything).

    ``terminator`` replaces the final blank line, e.g. ``"\\n"`` for Asterisk's ``\\r\\n\\n`` bug.
    """
    pairs = fields.items() if isinstance(fields, dict) else fields
    return ("".join(f"{key}: {value}\r\n" for key, value in pairs) + terminator).encode("utf-8")


class Session:
    """One client connection to the fake."""

    def __init__(self, server: FakeAMI, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.opened_at = time.monotonic()
        self.actions: list[Message] = []
        self.actions_before_login: list[Message] = []
        self.raw = bytearray()
        self.logged_in = False
        self.challenge: str | None = None
        self.closed = asyncio.Event()
        self.max_write_wait = 0.0
        self._send_lock = asyncio.Lock()

    async def send(self, data: bytes) -> None:
        """Write bytes to the client, honouring stall, chunking and drop_after."""
        server = self.server
        async with self._send_lock:
            await server._running.wait()
            if self.closed.is_set():
                return
            if server._drop_budget is not None:
                if len(data) >= server._drop_budget:
                    data = data[: server._drop_budget]
                    server._drop_budget = None
                    await self._write(data, server._chunker)
                    self.close()
                    return
                server._drop_budget -= len(data)
            await self._write(data, server._chunker)

    async def _write(self, data: bytes, chunker: Callable[[bytes], Iterable[int]] | None) -> None:
        pieces = [data]
        if chunker is not None:
            pieces, offset = [], 0
            for size in chunker(data):
                if offset >= len(data):
                    break
                pieces.append(data[offset : offset + max(1, size)])
                offset += max(1, size)
            if offset < len(data):
                pieces.append(data[offset:])
        for piece in pieces:
            if self.closed.is_set():
                return
            self.writer.write(piece)
            started = time.monotonic()
            try:
                await self.writer.drain()
            except (ConnectionError, OSError):
                self.close()
                return
            self.max_write_wait = max(self.max_write_wait, time.monotonic() - started)
            if chunker is not None:
                await asyncio.sleep(0)  # let each piece leave as its own segment

    async def send_message(self, fields: dict | Iterable[tuple[str, str]]) -> None:
        await self.send(format_message(fields))

    async def reply(self, action: Message, fields: dict) -> None:
        """Answer ``action`` later (for handlers that returned ``None``)."""
        await self.send_message(_with_action_id(fields, action))

    def close(self) -> None:
        """Close the connection gracefully (FIN)."""
        if not self.closed.is_set():
            self.closed.set()
            self.writer.close()

    def reset(self) -> None:
        """Close the connection with a TCP RST."""
        if self.closed.is_set():
            return
        self.closed.set()
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.writer.transport.abort()


def _with_action_id(fields: dict, action: Message) -> dict:
    if action.action_id is None or any(k.lower() == "actionid" for k in fields):
        return fields
    out: dict = {}
    for key, value in fields.items():
        out[key] = value
        if key in ("Response", "Event"):
            out["ActionID"] = action.action_id
    if "ActionID" not in out:
        out["ActionID"] = action.action_id
    return out


class FakeAMI:
    """The fake server. Use as ``async with FakeAMI(...) as ami``; ``ami.port`` is where it listens."""

    def __init__(
        self,
        *,
        username: str = "terrasoft",
        secret: str = "terrasoft",
        auth: str = "ok",
        banner: bytes = BANNER,
        fully_booted: bool = True,
        channels: list[dict] | None = None,
        queue_status: list[dict] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.username = username
        self.secret = secret
        self.auth = auth
        self.banner = banner
        self.fully_booted = fully_booted
        self.channels: list[dict] = list(channels or [])
        self.queue_status: list[dict] = list(queue_status or [])
        self.host = host
        self.port = port
        self.reply_delay = 0.0
        self.sessions: list[Session] = []
        self.actions: list[Message] = []
        self.raw = bytearray()
        self.connections: list[float] = []
        self.logins: list[tuple[float, bool]] = []
        self._handlers: dict[str, Callable] = {}
        self._never: set[str] = set()
        self._server: asyncio.Server | None = None
        self._running = asyncio.Event()
        self._running.set()
        self._drop_budget: int | None = None
        self._chunker: Callable[[bytes], Iterable[int]] | None = None
        self._tasks: set[asyncio.Task] = set()
        self._challenges = itertools.count(100000001)

    # -- lifecycle --------------------------------------------------------

    async def start(self) -> FakeAMI:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        self._running.set()
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            session.reset()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeAMI:
        return await self.start()

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    # -- what tests look at -----------------------------------------------

    @property
    def session(self) -> Session | None:
        """The newest connection."""
        return self.sessions[-1] if self.sessions else None

    def actions_named(self, name: str) -> list[Message]:
        return [a for a in self.actions if (a.get("Action") or "").lower() == name.lower()]

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:
        """Poll ``predicate`` until true (raises ``TimeoutError``)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not met in time")
            await asyncio.sleep(0.005)

    async def wait_for_action(self, name: str, count: int = 1, timeout: float = 5.0) -> Message:
        await self.wait_for(lambda: len(self.actions_named(name)) >= count, timeout)
        return self.actions_named(name)[count - 1]

    # -- scripting --------------------------------------------------------

    def on_action(self, name: str, handler: Callable) -> None:
        """Answer ``name`` with ``handler(session, action)`` instead of the built-in reply."""
        self._handlers[name.lower()] = handler

    def never_answer(self, name: str) -> None:
        self._never.add(name.lower())

    async def push_event(self, event: dict | bytes, logged_in_only: bool = True, terminator: str = "\r\n") -> None:
        """Send an event to every (logged-in) connection; ``terminator`` as in :func:`format_message`."""
        data = event if isinstance(event, bytes) else format_message(event, terminator)
        for session in list(self.sessions):
            if not session.closed.is_set() and (session.logged_in or not logged_in_only):
                await session.send(data)

    async def send_raw(self, data: bytes) -> None:
        await self.push_event(data, logged_in_only=False)

    # -- fault knobs ------------------------------------------------------

    def drop_after(self, n_bytes: int) -> None:
        """Close the connection after ``n_bytes`` more bytes have been sent."""
        self._drop_budget = n_bytes

    def rst_now(self) -> None:
        for session in list(self.sessions):
            session.reset()

    def stall(self) -> None:
        """Stop reading and writing; sockets stay open."""
        self._running.clear()

    def unstall(self) -> None:
        self._running.set()

    def chunking(self, fn: Callable[[bytes], Iterable[int]] | None) -> None:
        """Split every write into pieces of the sizes ``fn(data)`` yields."""
        self._chunker = fn

    async def shutdown_event(self, close: bool = True) -> None:
        """What Asterisk sends when it stops: ``Event: Shutdown``, then the connection closes."""
        await self.push_event(
            {"Event": "Shutdown", "Privilege": "system,all", "Shutdown": "Cleanly", "Restart": "True"}
        )
        if close:
            for session in list(self.sessions):
                session.close()

    async def restart(self, down_for: float = 0.0) -> None:
        """Shutdown event, close everything, listen again on the same port after ``down_for`` s."""
        await self.shutdown_event()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if down_for:
            await asyncio.sleep(down_for)
        self._server = await asyncio.start_server(self._serve, self.host, self.port)

    # -- serving ----------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        session = Session(self, reader, writer)
        self.sessions.append(session)
        self.connections.append(session.opened_at)
        framer = Framer(expect_banner=False)
        try:
            await session.send(self.banner)
            while not session.closed.is_set():
                await self._running.wait()
                data = await reader.read(65536)
                if not data:
                    break
                session.raw += data
                self.raw += data
                for action in framer.feed(data):
                    session.actions.append(action)
                    self.actions.append(action)
                    await self._answer(session, action)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            session.closed.set()
            writer.close()
            self._tasks.discard(task)

    async def _answer(self, session: Session, action: Message) -> None:
        name = (action.get("Action") or "").lower()
        if name in self._never:
            return
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        if not session.logged_in and name not in ("login", "challenge"):
            session.actions_before_login.append(action)
            await session.reply(action, {"Response": "Error", "Message": "Permission denied"})
            return
        handler = self._handlers.get(name)
        reply = handler(session, action) if handler else self.default_reply(action, session)
        if inspect.isawaitable(reply):
            reply = await reply
        for item in reply if isinstance(reply, list) else [reply]:
            if item is None:
                continue
            await session.send(item if isinstance(item, bytes) else format_message(_with_action_id(item, action)))
        if name == "login" and not session.logged_in and self.auth == "fail":
            await asyncio.sleep(0.01)
            session.close()  # Asterisk drops the connection after a failed login
        if name == "logoff":
            session.close()

    def default_reply(self, action: Message, session: Session) -> list[dict | bytes] | None:
        """The built-in answer to ``action`` (a list of messages, or ``None`` for no reply)."""
        name = action.get("Action") or ""
        if name.lower() == "login":
            return self._login(action, session)
        if name.lower() == "challenge":
            session.challenge = str(next(self._challenges))
            return [{"Response": "Success", "Challenge": session.challenge}]
        if name.lower() == "ping":
            return [{"Response": "Success", "Ping": "Pong", "Timestamp": f"{time.time():.6f}"}]
        if name.lower() == "logoff":
            return [{"Response": "Goodbye", "Message": "Thanks for all the fish."}]
        if name in _LIST_REPLIES:
            return self._list_reply(name)
        if name in _SIMPLE_REPLIES:
            return [{"Response": "Success", "Message": _SIMPLE_REPLIES[name]}]
        return [{"Response": "Error", "Message": f"Invalid/unknown command: {name}."}]

    def _login(self, action: Message, session: Session) -> list[dict | bytes] | None:
        if self.auth == "stall":
            return None
        if (action.get("AuthType") or "").lower() == "md5":
            expected = hashlib.md5(((session.challenge or "") + self.secret).encode()).hexdigest()
            good = action.get("Key") == expected
        else:
            good = action.get("Secret") == self.secret
        good = good and action.get("Username") == self.username and self.auth == "ok"
        self.logins.append((time.monotonic(), good))
        if not good:
            return [{"Response": "Error", "Message": "Authentication failed"}]
        session.logged_in = True
        replies: list[dict | bytes] = [{"Response": "Success", "Message": "Authentication accepted"}]
        if self.fully_booted:
            # Bytes, so no ActionID is added: Asterisk's FullyBooted carries none.
            replies.append(FULLY_BOOTED)
        return replies

    def _list_reply(self, name: str) -> list[dict]:
        message, item_event, complete = _LIST_REPLIES[name]
        if name == "CoreShowChannels":
            items = [{"Event": item_event, **channel} for channel in self.channels]
        elif name == "QueueStatus":
            items = [dict(item) for item in self.queue_status]
        else:
            items = []
        out: list[dict] = [{"Response": "Success", "EventList": "start", "Message": message}]
        out.extend(items)
        out.append({"Event": complete, "EventList": "Complete", "ListItems": str(len(items))})
        return out


class ClientProbe:
    """Collects what an ``AmiClient`` hands its consumers; pass its methods as the callbacks."""

    def __init__(self) -> None:
        self.events: list[Message] = []
        self.resyncs: list[tuple[list[Message], list[Message]]] = []
        self.states: list[tuple[str, str]] = []

    def on_event(self, message: Message, at: float) -> None:
        self.events.append(message)

    def on_resync(self, channels: list[Message], queue_status: list[Message]) -> None:
        self.resyncs.append((channels, queue_status))

    def on_state(self, state: str, detail: str) -> None:
        self.states.append((state, detail))

    def callbacks(self) -> dict:
        return {"on_event": self.on_event, "on_resync": self.on_resync, "on_state": self.on_state}

    def event_names(self) -> list[str]:
        return [m.event or "" for m in self.events]
