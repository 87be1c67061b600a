"""The asyncio AMI client: the only code that touches the AMI socket.

It connects, logs in (plain or MD5 challenge), keeps the link alive with Ping,
matches responses to actions by ActionID, reconnects with exponential backoff
and jitter, and resyncs (CoreShowChannels + QueueStatus) after every login and
on ``FullyBooted``. Actions in flight when the link drops fail at once with
``pbx_disconnected`` and are never re-sent. Events reach consumers through a
bounded buffer, so a slow consumer can never stall the read loop: on overflow
events are dropped and a resync is scheduled instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from connector.ami.actions import ActionIdGenerator, build_action
from connector.ami.correlate import Reply, Verdict
from connector.ami.framing import Framer
from connector.ami.message import Message
from connector.client_actions import PendingActions, keep_alive
from connector.client_login import AuthRejected, login, mask_secrets, sent_action, settle
from connector.client_options import (  # noqa: F401  (re-exported: the client's public names)
    AUTH_FAILED,
    CONNECTED,
    DOWN,
    RECONNECTING,
    AmiActionError,
    Backoff,
    ClientOptions,
)
from connector.delivery import Delivery, EventCallback, RawHook, ResyncCallback, StateCallback

logger = logging.getLogger(__name__)


ActionResult = Reply  # response, events (list items or the awaited event), complete_event


class _LinkLost(Exception):
    """The current connection is over (EOF, reset, Ping deadline, Shutdown)."""


class AmiClient:
    """One AMI connection, kept up for as long as :meth:`run` runs.

    Callbacks may be plain functions or coroutines; they run in order on a
    dispatcher task, never on the read loop:
    ``on_event(message, at)`` (``at`` is the Unix time the bytes arrived),
    ``on_resync(channels, queue_status)``, ``on_state(state, detail)``, and
    ``on_sent(action, at)`` for every action sent after login (call tracking
    needs to know what was asked, e.g. an Originate), in order with the events.
    ``on_raw(direction, data, monotonic_time)`` sees every chunk in and out
    (Secret/Key values masked) and is called synchronously from the socket code;
    ``direction`` is ``in``, ``out``, or ``open`` (empty data) when a new TCP
    connection starts.
    """

    def __init__(
        self,
        options: ClientOptions,
        *,
        on_event: EventCallback | None = None,
        on_resync: ResyncCallback | None = None,
        on_state: StateCallback | None = None,
        on_raw: RawHook | None = None,
        on_sent: EventCallback | None = None,
        action_ids: ActionIdGenerator | None = None,
    ) -> None:
        self.options = options
        self.on_raw = on_raw
        self.on_sent = on_sent
        self.state = DOWN
        self.state_detail = "not started"
        self.logged_in = False
        self.resync_needed = False
        self.resyncs = 0
        self.backoff = Backoff(options.backoff_base, options.backoff_cap, options.backoff_jitter)
        self._ids = action_ids or ActionIdGenerator()
        self._pending = PendingActions()
        self._writer: asyncio.StreamWriter | None = None
        self._lost: asyncio.Future | None = None
        self._booted: asyncio.Event | None = None
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._delivery = Delivery(
            options.event_buffer,
            {"event": on_event, "sent": on_sent, "resync": on_resync, "state": on_state},
        )
        self._connected_event = asyncio.Event()
        self._resync_task: asyncio.Task | None = None
        self._attempt: asyncio.Task | None = None

    # -- public API -------------------------------------------------------

    @property
    def dropped_events(self) -> int:
        """Events refused because the consumers fell behind (each overflow leads to a resync)."""
        return self._delivery.dropped

    @property
    def buffered_events(self) -> int:
        """Items waiting for the consumers now (at most ``event_buffer``, plus a few forced ones)."""
        return len(self._delivery)

    @property
    def pending_count(self) -> int:
        """Actions waiting for their answer (0 after every timeout and disconnect)."""
        return len(self._pending)

    async def run(self) -> None:
        """Connect, serve and reconnect until :meth:`stop` is called."""
        dispatcher = asyncio.create_task(self._delivery.run(self._after_delivery), name="ami-dispatch")
        try:
            while not self._stopping:
                self._attempt = asyncio.create_task(self._one_connection(), name="ami-connection")
                try:
                    delay = await self._attempt
                except asyncio.CancelledError:
                    if self._stopping and not asyncio.current_task().cancelling():
                        break  # stop() cut a connection attempt short
                    raise
                if self._stopping:
                    break
                try:
                    await asyncio.wait_for(self._stop_event.wait(), delay)
                except TimeoutError:
                    pass
        finally:
            self._set_state(DOWN, "stopped")
            await self._delivery.finish(dispatcher)

    async def stop(self) -> None:
        """Log off (briefly) and end :meth:`run`."""
        if self._stopping:
            return
        if self.logged_in:
            try:
                await self.send_action("Logoff", timeout=1.0)
            except AmiActionError:
                pass
        self._stopping = True
        self._stop_event.set()
        self._lose("stopped")
        if self._attempt is not None and not self.logged_in:
            self._attempt.cancel()  # still connecting or logging in: do not wait for those timeouts

    def request_resync(self) -> None:
        """Ask Asterisk for its channels again (e.g. the operators' lines changed); nothing while logged out."""
        if self.logged_in:
            self._start_resync()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until logged in (raises ``TimeoutError``)."""
        await asyncio.wait_for(self._connected_event.wait(), timeout)

    async def send_action(
        self,
        action: str,
        fields: Mapping[str, object] | None = None,
        *,
        variables: Mapping[str, object] | None = None,
        timeout: float | None = None,
        until_event: str | None = None,
    ) -> ActionResult:
        """Send one action and wait for its answer.

        Returns the Response plus, for list actions (``EventList: start``), the
        list's events; with ``until_event`` (e.g. ``OriginateResponse``) also
        waits for that event with the same ActionID. Raises
        :class:`AmiActionError`: ``pbx_error`` (Asterisk's Message),
        ``pbx_timeout``, or ``pbx_disconnected`` (not logged in, or the link
        dropped before the answer; the action is never re-sent).
        Unsafe values raise ``UnsafeActionValue`` before anything is sent.
        """
        if not self.logged_in or self._writer is None:
            raise AmiActionError("pbx_disconnected", "not connected to Asterisk")
        return await self._request(action, fields, variables=variables, timeout=timeout, until_event=until_event)

    # -- one connection ---------------------------------------------------

    async def _one_connection(self) -> float:
        """Connect, log in and serve until the link is lost; return the delay before the next try."""
        opts = self.options
        self._lost = asyncio.get_running_loop().create_future()
        self._booted = asyncio.Event()
        tasks: list[asyncio.Task] = []
        try:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(opts.host, opts.port), opts.connect_timeout
                )
            except (OSError, TimeoutError) as exc:
                reason = f"cannot connect to {opts.host}:{opts.port}: {exc or 'timed out'}"
                self._set_state(DOWN if self.state != RECONNECTING else RECONNECTING, reason)
                logger.warning("AMI %s", reason)
                return self.backoff.next()
            self._writer = writer
            if self.on_raw is not None:
                self.on_raw("open", b"", time.monotonic())
            banner = asyncio.get_running_loop().create_future()
            tasks.append(asyncio.create_task(self._read_loop(reader, banner), name="ami-read"))
            try:
                await asyncio.wait_for(self._login(banner), opts.login_timeout)
            except AuthRejected as exc:
                logger.error(
                    "AMI login refused for user %r at %s:%s: %s (next try in %.0f s)",
                    opts.username,
                    opts.host,
                    opts.port,
                    exc,
                    opts.auth_retry_interval,
                )
                self._set_state(AUTH_FAILED, f"login refused for user {opts.username!r} at {opts.host}:{opts.port}")
                return max(opts.auth_retry_interval, self.backoff.next())
            except (TimeoutError, AmiActionError, _LinkLost) as exc:
                reason = "no answer to Login" if isinstance(exc, TimeoutError) else str(exc)
                logger.warning("AMI login at %s:%s failed: %s", opts.host, opts.port, reason)
                self._set_state(DOWN, f"login failed: {reason}")
                return self.backoff.next()
            self.logged_in = True
            connected_at = time.monotonic()
            self._connected_event.set()
            logger.info("AMI logged in at %s:%s as %r", opts.host, opts.port, opts.username)
            self._set_state(CONNECTED, f"{opts.host}:{opts.port}")
            ping = keep_alive(self._ping, opts.ping_interval, opts.ping_timeout, self._lose)  # half-open links
            tasks.append(asyncio.create_task(ping, name="ami-ping"))
            tasks.append(asyncio.create_task(self._after_login(), name="ami-after-login"))
            reason = await self._lost
            if time.monotonic() - connected_at >= opts.stable_after:
                self.backoff.reset()  # only a link that held counts: a flapping one keeps backing off
            if not self._stopping:
                logger.warning("AMI link lost: %s", reason)
                self._set_state(RECONNECTING, reason)
            return self.backoff.next()
        finally:
            self._close_connection(tasks)

    def _close_connection(self, tasks: list[asyncio.Task]) -> None:
        self.logged_in = False
        self._connected_event.clear()
        for task in tasks:
            task.cancel()
        if self._resync_task is not None:
            self._resync_task.cancel()
            self._resync_task = None
        if self._writer is not None:
            self._writer.transport.abort()
            self._writer = None
        self._fail_pending()

    def _fail_pending(self) -> None:
        """Every action in flight fails now with ``pbx_disconnected``; none is ever re-sent."""
        failed = self._pending.fail_all("the link to Asterisk dropped")
        if failed and self.logged_in and not self._stopping:
            logger.warning("AMI link dropped with %d action(s) in flight; they fail and are not re-sent", failed)

    def _lose(self, reason: str) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(reason)

    async def _login(self, banner: asyncio.Future) -> None:
        await banner
        await login(self.options, lambda action, fields: self._request(action, fields, pre_login=True))

    async def _after_login(self) -> None:
        """Install filters, then resync once Asterisk says it is fully booted (or after a grace time)."""
        await settle(self.options, self._request, self._booted)
        self._start_resync()

    # -- reading ----------------------------------------------------------

    async def _read_loop(self, reader: asyncio.StreamReader, banner: asyncio.Future) -> None:
        framer = Framer()  # a fresh framer per connection: a partial message never survives a drop
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    raise _LinkLost("connection closed by Asterisk")
                at = time.time()
                if self.on_raw is not None:
                    self.on_raw("in", chunk, time.monotonic())
                for message in framer.feed(chunk):
                    if message.banner is not None:
                        if not banner.done():
                            banner.set_result(message.banner)
                        continue
                    self._handle(message, at)
        except asyncio.CancelledError:
            raise
        except _LinkLost as exc:
            self._lose(str(exc))
            self._fail_pending()  # at once, even while logging in
        except (OSError, asyncio.IncompleteReadError) as exc:
            self._lose(f"connection error: {exc}")
            self._fail_pending()
        finally:
            if not banner.done():
                banner.set_exception(_LinkLost("connection closed before the banner"))
                banner.exception()  # mark retrieved: nobody may be waiting any more

    def _handle(self, message: Message, at: float) -> None:
        """Route one message: an answer to its action, or an event to the consumers."""
        outcome = self._pending.consume(message)  # an answer wakes its sender here
        verdict = outcome.verdict
        if verdict is Verdict.COMPLETED:
            if message.event is None or message.get("EventList"):
                return
        elif verdict is Verdict.UNMATCHED:
            logger.info("Dropped AMI response with unknown or missing ActionID %r", message.action_id)
            return
        elif verdict is not Verdict.EVENT:
            return  # a list item or a list's start: delivered with its action
        name = message.event
        if name == "FullyBooted" and self._booted is not None:
            if not self._booted.is_set():
                self._booted.set()  # it may share a read with the Login response: _after_login resyncs
            elif self.logged_in:
                self._start_resync()  # a later FullyBooted: Asterisk's core restarted behind us
        elif name == "Shutdown":
            self._lose(f"Asterisk is shutting down ({message.get('Shutdown') or 'no reason given'})")
        self._enqueue(("event", message, at))

    # -- writing and waiting ----------------------------------------------

    async def _request(
        self,
        action: str,
        fields: Mapping[str, object] | None,
        *,
        variables: Mapping[str, object] | None = None,
        timeout: float | None = None,
        until_event: str | None = None,
        pre_login: bool = False,
    ) -> ActionResult:
        action_id = self._ids()
        data = build_action(action, fields, action_id, variables)
        writer = self._writer
        if writer is None or (not pre_login and not self.logged_in):
            raise AmiActionError("pbx_disconnected", "not connected to Asterisk")
        if timeout is None:
            timeout = self.options.action_timeout
        if self.on_sent is not None and not pre_login and action != "Ping":
            self._enqueue(("sent", sent_action(action, action_id, fields, variables), time.time()), force=True)

        def write() -> None:
            writer.write(data)
            if self.on_raw is not None:
                self.on_raw("out", mask_secrets(data), time.monotonic())
            logger.debug("AMI -> %s %s", action, action_id)

        return await self._pending.send(action, action_id, write, timeout, until_event)

    async def _ping(self, timeout: float) -> Reply:
        return await self._request("Ping", None, timeout=timeout)

    # -- resync -----------------------------------------------------------

    def _start_resync(self) -> None:
        if self._resync_task is not None and not self._resync_task.done():
            return
        self._resync_task = asyncio.create_task(self._resync(), name="ami-resync")

    async def _resync(self) -> None:
        """CoreShowChannels + QueueStatus, handed to ``on_resync`` in event order."""
        self.resync_needed = False
        try:
            channels = await self._request("CoreShowChannels", None, timeout=self.options.list_timeout)
            queues = None
            if self.options.resync_queues:
                queues = await self._request("QueueStatus", None, timeout=self.options.list_timeout)
        except AmiActionError as exc:
            logger.warning("AMI resync failed: %s", exc)
            self.resync_needed = exc.code != "pbx_disconnected"
            return
        self.resyncs += 1
        self._enqueue(("resync", channels.events, queues.events if queues else []), force=True)

    # -- delivery to consumers --------------------------------------------

    def _enqueue(self, item: tuple, force: bool = False) -> None:
        if not self._delivery.put(*item, force=force):
            if not self.resync_needed:
                logger.warning("AMI event buffer full (%d); dropping events until a resync", len(self._delivery))
            self.resync_needed = True

    def _after_delivery(self) -> None:
        if self.resync_needed and self.logged_in and len(self._delivery) < self.options.event_buffer // 2:
            self._start_resync()

    def _set_state(self, state: str, detail: str) -> None:
        self.state_detail = detail
        if state == self.state:
            return
        self.state = state
        self._enqueue(("state", state, detail), force=True)
