"""The worker: thin wiring between the AMI client and the rest of the bridge.

AMI messages -> call tracker -> publisher (channel layer + call history);
browser commands from ``COMMAND_CHANNEL`` -> control -> one result to ``reply_to``;
link state -> ``ConnectorStatus`` + broadcast. With ``filePath`` set the worker
replays that scenario file instead of connecting. Only the worker holding the
leader lock does any of this; a standby waits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connector.ami.events import ActionRequest, LineEvent
from connector.ami.message import Message
from connector.ami.replay import Replayer, iter_messages
from connector.ami.trace import TraceWriter, read_trace
from connector.client import AUTH_FAILED, AmiActionError, AmiClient, ClientOptions
from connector.config import ConnectorConfig
from connector.publisher import COMMAND_CHANNEL

logger = logging.getLogger(__name__)


class TraceRecorder:
    """``--record``: raw AMI traffic written in the JSONL trace format, one record per message."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file = self.path.open("w", encoding="utf-8")
        self._writer = TraceWriter()
        self._t0: float | None = None
        self._last = 0.0

    def __call__(self, direction: str, data: bytes, at: float) -> None:
        """The client's ``on_raw`` hook (``at`` is monotonic time)."""
        if self._t0 is None:
            self._t0 = at
        self._last = at - self._t0
        if direction == "open":
            self._write(self._writer.flush(self._last))
            self._writer = TraceWriter()  # a new connection starts with a new banner
            return
        self._write(self._writer.record(self._last, direction, data))

    def close(self) -> None:
        if self._file.closed:
            return
        self._write(self._writer.flush(self._last))
        self._file.close()

    def _write(self, lines: list[str]) -> None:
        if lines:
            self._file.writelines(lines)
            self._file.flush()  # a killed worker still leaves a readable recording


@dataclass
class WorkerParts:
    """What the worker wires together; each part is built by the management command (or a test)."""

    config: ConnectorConfig
    tracker: Any  # CallTracker: feed(message, at), resync(channels, queue_status, at), live_calls(line)
    publisher: Any  # Publisher: publish(events), publish_connector_state(state, detail), close()
    channel_layer: Any = None  # receives commands; None: no command loop
    control: Any = None  # CommandHandler: handle(message) -> result
    history: Any = None  # HistoryWriter: stop(); open_calls for the ghost-call sweep
    lock: Any = None  # leader lock (connector.leader); None: always lead
    upkeep: Any = None  # Upkeep (connector.worker_upkeep): operators' lines + status heartbeat; None: none
    client_options: dict = field(default_factory=dict)  # ClientOptions overrides (tests)


# Browsers know connected / reconnecting / down; the status row keeps the reason in the detail.
_BROWSER_STATE = {AUTH_FAILED: "down"}


class Worker:
    """Runs one worker until ``stop`` is set: lead, then serve AMI (or replay a file) and commands."""

    def __init__(self, parts: WorkerParts, *, record: TraceRecorder | None = None, speed: float = 1.0) -> None:
        self.parts = parts
        self.record = record
        self.speed = speed
        self.client: AmiClient | None = None
        self.replayed_messages = 0
        self._swept = False
        self._dropped_seen = 0
        self._tasks: set[asyncio.Task] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Lead (or stand by) until ``stop``; clean up everything on the way out."""
        lock = self.parts.lock
        try:
            while not stop.is_set():
                if lock is not None and not await lock.acquire(stop):
                    break
                lost = asyncio.Event()
                keeper = asyncio.create_task(self._keep_lock(lock, stop, lost)) if lock is not None else None
                try:
                    await self._lead(stop, lost)
                finally:
                    if keeper is not None:
                        keeper.cancel()
                if not lost.is_set():
                    break
                logger.warning("Leadership lost; going back to standby")
        finally:
            await self._shutdown()

    async def _keep_lock(self, lock: Any, stop: asyncio.Event, lost: asyncio.Event) -> None:
        await lock.keep(stop)
        if not stop.is_set():
            lost.set()

    async def _lead(self, stop: asyncio.Event, lost: asyncio.Event) -> None:
        parts = self.parts
        load_seqs = getattr(parts.publisher, "load_seqs", None)
        if load_seqs is not None:
            await load_seqs()
        if parts.upkeep is not None:
            # The operators' lines before the first event or resync, so every call gets the right direction.
            await parts.upkeep.refresh_lines()
            self._spawn(parts.upkeep.run(on_lines_changed=self._lines_changed))
        if parts.channel_layer is not None and parts.control is not None:
            self._spawn(self._command_loop())
        done = asyncio.Event()
        if parts.config.filePath:
            self._spawn(self._replay_then(done))
        else:
            self.client = self._build_client()
            self._spawn(self._run_client(self.client, done))
        waiters = [asyncio.create_task(e.wait()) for e in (stop, lost, done)]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if done.is_set() and not stop.is_set():
                if not parts.config.filePath:
                    raise RuntimeError("the AMI client stopped by itself")  # a bug: exit non-zero, get restarted
                # A finished replay keeps the worker up (commands answer pbx_disconnected) until stopped.
                await asyncio.wait(waiters[:2], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            if self.client is not None:
                await self.client.stop()
            await self._cancel_tasks()
            self.client = None
            # Wrap-up timers belong to this term as leader: a standby must not act on the PBX.
            await self._close_part(getattr(parts.control, "close", None))

    def _build_client(self) -> AmiClient:
        options = ClientOptions.from_config(self.parts.config, **self.parts.client_options)
        return AmiClient(
            options,
            on_event=self.on_event,
            on_resync=self.on_resync,
            on_state=self.on_state,
            on_sent=self.on_event,
            on_raw=self.record,
        )

    async def _run_client(self, client: AmiClient, done: asyncio.Event) -> None:
        try:
            await client.run()
        finally:
            done.set()

    # -- AMI -> tracker -> publisher ----------------------------------------

    async def on_event(self, message: Message, at: float) -> None:
        """One AMI message (or an action we sent): track it, publish what changed, send what it asks."""
        out = self.parts.tracker.feed(message, at)
        if out:
            await self._handle_output(out)

    async def on_resync(self, channels: list[Message], queue_status: list[Message]) -> None:
        """After (re)connecting: rebuild the tracker's view from Asterisk's lists."""
        now = time.time()
        resync = getattr(self.parts.tracker, "resync", None)
        events = list(resync(channels, queue_status, now)) if resync is not None else []
        if not self._swept:
            self._swept = True
            events.extend(await self._end_ghost_calls(now, events))
        if events:
            await self._handle_output(events)
        dropped = self.client.dropped_events if self.client is not None else 0
        if dropped > self._dropped_seen:
            # Events were lost while we fell behind: every browser rebuilds from a fresh snapshot.
            self._dropped_seen = dropped
            resync_lines = getattr(self.parts.publisher, "resync_lines", None)
            if resync_lines is not None:
                await resync_lines(list(getattr(self.parts.publisher, "seqs", {})))
        logger.info("Resynced: %d channel(s), %d queue entries", len(channels), len(queue_status))

    def _lines_changed(self) -> None:
        # Calls already up on a newly added line exist only in Asterisk's channel list.
        if self.client is not None:
            self.client.request_resync()

    async def on_state(self, state: str, detail: str) -> None:
        """The AMI link changed: tell the browsers and the status row."""
        browser_state = _BROWSER_STATE.get(state, state)
        if browser_state != state:
            detail = f"{state}: {detail}"
        await self.parts.publisher.publish_connector_state(browser_state, detail)

    async def _handle_output(self, out: list) -> None:
        events = [item for item in out if isinstance(item, LineEvent)]
        if events:
            await self.parts.publisher.publish(events)
        for request in out:
            if isinstance(request, ActionRequest):
                # Never on the dispatch path: an AMI round trip must not delay the next event.
                self._spawn(self._send_request(request))

    async def send_action(self, action: str, fields: dict | None = None, **kwargs: Any):
        """Call control's client: the current connection's ``send_action``, or ``pbx_disconnected``."""
        if self.client is None:
            raise AmiActionError("pbx_disconnected", "not connected to Asterisk")
        return await self.client.send_action(action, fields, **kwargs)

    async def _send_request(self, request: ActionRequest) -> None:
        client = self.client
        if client is None:
            logger.info("Not sending %s (%s): no AMI connection", request.action, request.reason)
            return
        try:
            await client.send_action(request.action, request.fields)
        except AmiActionError as exc:
            logger.warning("%s for %s failed: %s", request.action, request.reason or "tracking", exc)

    async def _end_ghost_calls(self, now: float, resync_events: list) -> list[LineEvent]:
        """Calls the database still shows as live but Asterisk no longer has (a worker crashed)."""
        if self.parts.history is None:
            return []
        from asgiref.sync import sync_to_async

        from connector.history import open_calls

        try:
            rows = await sync_to_async(open_calls, thread_sensitive=False)()
        except Exception:
            logger.warning("Could not read open calls; stale rows stay until their line changes", exc_info=True)
            return []
        tracker = self.parts.tracker
        ended_at = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
        ghosts = []
        for row in rows:
            known = {call.get("id") for call in tracker.live_calls(row["line"])}
            if row["id"] in known:
                continue
            call = {**row, "state": "ended", "ended_at": ended_at, "end_reason": "failed"}
            ghosts.append(LineEvent(row["line"], "call.ended", call))
        if ghosts:
            logger.info("Ending %d call(s) Asterisk no longer has", len(ghosts))
        return ghosts

    # -- replay -------------------------------------------------------------

    async def _replay_then(self, done: asyncio.Event) -> None:
        try:
            await self.replay(self.parts.config.filePath, self.speed)
        except Exception:
            logger.exception("Replay of %s failed", self.parts.config.filePath)
        finally:
            done.set()

    async def replay(self, path: str | Path, speed: float = 1.0) -> None:
        """Feed a scenario file as if Asterisk sent it: recorded pace divided by ``speed`` (0: no pauses).

        The replay core is ``ami_replay``'s (``connector.ami.replay``), so a
        reconnect inside the file resyncs the tracker from its CoreShowChannels
        list here too. Messages are stamped from the wall clock at the start.
        """
        records = read_trace(path)
        name = Path(path).name
        await self.on_state("connected", f"replaying {name}")
        replayer = Replayer(self.parts.tracker)
        start = time.time()
        began = time.monotonic()
        for at, direction, message in iter_messages(records, start):
            if message.banner is not None:
                if self.replayed_messages:
                    logger.info("Replay of %s: the recorded connection starts again", name)
                continue
            if speed > 0:
                delay = (at - start) / speed - (time.monotonic() - began)
                if delay > 0:
                    await asyncio.sleep(delay)
            self.replayed_messages += 1
            out = replayer.feed(direction, message, at)
            if out:
                await self._handle_output(out)
        await self.on_state("down", f"replay of {name} finished")

    # -- commands -----------------------------------------------------------

    async def _command_loop(self) -> None:
        layer = self.parts.channel_layer
        failing = False
        while True:
            try:
                message = await layer.receive(COMMAND_CHANNEL)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:
                    logger.error("Cannot receive commands from the channel layer: %s", exc)
                    failing = True
                await asyncio.sleep(1.0)
                continue
            failing = False
            if isinstance(message, dict) and message.get("type") == "connector.command":
                self._spawn(self._run_command(message))

    async def _run_command(self, message: dict) -> None:
        result = await self.parts.control.handle(message)
        reply_to = message.get("reply_to")
        if not reply_to:
            return
        try:
            await self.parts.channel_layer.send(reply_to, {"type": "command.result", "result": result})
        except Exception as exc:
            logger.warning("Could not deliver a command result to %s: %s", reply_to, exc)

    # -- lifecycle ----------------------------------------------------------

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _close_part(self, closer: Any) -> None:
        if closer is None:
            return
        try:
            await closer()
        except Exception:
            logger.exception("Error while closing a worker part")

    async def _shutdown(self) -> None:
        parts = self.parts
        await self._cancel_tasks()
        for closer in (getattr(parts.control, "close", None), getattr(parts.publisher, "close", None)):
            await self._close_part(closer)
        if parts.history is not None:
            await asyncio.get_running_loop().run_in_executor(None, parts.history.stop)
        if parts.lock is not None:
            await parts.lock.release()
            await parts.lock.close()
        if self.record is not None:
            self.record.close()
