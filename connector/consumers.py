"""The operator's websocket at ``/ws/telephony/`` (PROTOCOL.md, "The socket").

Authenticate (session or ``?token=``) -> check licence, line and settings ->
join only the user's own line group -> accept -> ``hello`` snapshot -> forward
that line's events. Commands are validated here and executed by the worker,
which answers ``reply_to``; every command gets exactly one ``result``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils.translation import gettext_noop
from redis.exceptions import RedisError

from connector import audit, node_shutdown, socket_access, texts
from connector.commands import CommandError, parse_command, parse_ref
from connector.publisher import COMMAND_CHANNEL, CONNECTOR_GROUP, group_for_line, group_for_user
from connector.ratelimit import MessageRateGuard
from connector.socket_access import (
    CLOSE_FLOOD,
    CLOSE_UNAUTHENTICATED,
    CLOSE_UNAVAILABLE,
    Access,
    Refusal,
    check_access,
    resolve_token_user,
    session_fingerprint,
    session_still_valid,
)

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4096  # the largest valid command is far smaller
COMMAND_TIMEOUT = 12.0  # the worker's own AMI timeout is 10 s; this covers a worker that is gone
FLOOD_LIMIT = 30  # messages per second from one socket before it is closed with 4008
# Re-adding to the groups this often restores membership a Redis restart (without persistence) lost.
REJOIN_INTERVAL = 30.0
# What the Redis layer raises when Redis goes away under a socket (restart, network).
# Any Redis failure, a reset socket, or a read cut short (EOFError) while Redis restarts.
LAYER_LOST = (RedisError, OSError, EOFError)
# Reconnect and re-join (not 44xx: nothing is wrong with the user). 1011 is daphne's own; apps may not send it.
CLOSE_LAYER_LOST = 4503
_layer_lost_logged = 0.0  # a Redis restart ends every socket at once: one log line per 10 s, not one each
SIGNED_OUT = gettext_noop("You have been signed out.")


def _live_snapshot(line: str) -> dict:
    from connector.history import live_snapshot

    return live_snapshot(line)


def _line_seq(line: str) -> int:
    from connector.models import LineState

    return LineState.objects.filter(line=line).values_list("seq", flat=True).first() or 0


def _log_layer_lost(exc: BaseException) -> None:
    global _layer_lost_logged
    if time.monotonic() - _layer_lost_logged >= 10.0:
        _layer_lost_logged = time.monotonic()
        logger.warning("channel layer lost (%s: %s); closing sockets so they reconnect", exc.__class__.__name__, exc)


class TelephonyConsumer(AsyncJsonWebsocketConsumer):
    """One browser tab's live view of its operator's line, and its call-control commands."""

    command_timeout = COMMAND_TIMEOUT
    rejoin_interval = REJOIN_INTERVAL

    async def connect(self) -> None:
        self.language = texts.language_for(self.scope)  # errors go out in the page's language
        self.access: Access | None = None
        self.joined: list[str] = []
        self.hello_seq = 0
        self.seen_seq = 0  # the highest seq this browser has (from hello or an event)
        self.closing = False
        self.by_token = False
        self.pending: dict[int, tuple[object, asyncio.Task, dict]] = {}  # request id -> (ref, timer, command)
        self.request_ids = itertools.count(1)
        self.guard = MessageRateGuard(limit=FLOOD_LIMIT, window=1.0)
        self.rejoin_task: asyncio.Task | None = None
        try:
            self.user = await self._authenticate()
            self.access = await database_sync_to_async(check_access)(self.user)
        except Refusal as refusal:
            await self._refuse(refusal, accepted=False)
            return
        await self._join(self.access)
        await self.accept()
        try:
            await self.send_hello()
        except Exception:
            logger.warning("cannot read the snapshot of line %s", self.access.line, exc_info=True)
            await self._refuse(
                Refusal(CLOSE_UNAVAILABLE, "unavailable", gettext_noop("Your calls cannot be loaded right now."))
            )
            return
        self.rejoin_task = asyncio.create_task(self._keep_joined())
        node_shutdown.track(self)  # leaves its groups if the node is stopped under it

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except LAYER_LOST as exc:
            # Close so the browser reconnects and gets hello; the new socket re-joins its groups.
            _log_layer_lost(exc)
            try:
                await self.close(code=CLOSE_LAYER_LOST, reason="layer_lost")
            except Exception:
                pass  # the browser is gone as well
        finally:
            # A socket that ends without disconnect (its layer read failed: Redis restarted) must not
            # leave a task re-adding its dead channel to the groups for ever.
            self._stop_timers()

    def _stop_timers(self) -> None:
        node_shutdown.forget(self)
        if getattr(self, "rejoin_task", None) is not None:
            self.rejoin_task.cancel()
            self.rejoin_task = None

    async def disconnect(self, code: int) -> None:
        self._stop_timers()
        for _ref, timer, _command in getattr(self, "pending", {}).values():
            timer.cancel()
        for group in getattr(self, "joined", []):
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception as exc:
                # The layer forgets the membership by itself (group_expiry); closing must not fail.
                logger.warning("could not leave group %s: %s", group, exc.__class__.__name__)
        self.joined = []

    # --- authentication and access ----------------------------------------------

    async def _authenticate(self):
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        tokens = query.get("token")
        if tokens:
            self.by_token = True
            return await database_sync_to_async(resolve_token_user)(tokens[0])
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            raise Refusal(CLOSE_UNAUTHENTICATED, "unauthenticated", gettext_noop("Sign in to use the telephony panel."))
        return user

    async def _refuse(self, refusal: Refusal, accepted: bool = True) -> None:
        """Tell the browser why, then close with the refusal's code; no group is (or stays) joined."""
        self.closing = True
        await self.disconnect(refusal.close_code)
        if not accepted:
            # Accept only to deliver the reason: a refused handshake would reach the browser as a bare 403.
            await self.accept()
        await self.send_json(refusal.as_message())
        await self.close(code=refusal.close_code, reason=refusal.code)

    async def _join(self, access: Access) -> None:
        wanted = [group_for_line(access.line), group_for_user(access.user_id), CONNECTOR_GROUP]
        for group in self.joined:
            if group not in wanted:
                await self.channel_layer.group_discard(group, self.channel_name)
        for group in wanted:
            if group not in self.joined:
                await self.channel_layer.group_add(group, self.channel_name)
        self.joined = wanted

    async def _keep_joined(self) -> None:
        """Refresh group membership now and then; a failure is retried at the next interval."""
        expected = None
        while True:
            await asyncio.sleep(self.rejoin_interval)
            for group in list(self.joined):
                try:
                    await self.channel_layer.group_add(group, self.channel_name)
                    if group not in self.joined:
                        # The line changed (or the socket closed) while this add was in flight.
                        await self.channel_layer.group_discard(group, self.channel_name)
                except Exception as exc:
                    logger.warning("could not refresh group %s: %s", group, exc.__class__.__name__)
                    break
            try:
                expected = await self._catch_up(expected)
            except Exception as exc:
                logger.warning(
                    "could not check line %s for missed events: %s", self.access.line, exc.__class__.__name__
                )

    async def _catch_up(self, expected: tuple[str, int] | None) -> tuple[str, int]:
        """Re-send hello if a seq the history had committed one interval ago never reached this socket.

        Events sent while Redis had lost the groups vanish without an error; the history still
        numbered them, so a committed seq this socket never saw means it missed something.
        """
        line = self.access.line
        if expected is not None and expected[0] == line and expected[1] > self.seen_seq:
            logger.info("line %s: events up to seq %d never reached a socket; re-sending hello", line, expected[1])
            await self.send_hello()
        return line, await database_sync_to_async(_line_seq)(line)

    async def send_hello(self) -> None:
        """Send the snapshot of the line; events up to its ``seq`` are already in it."""
        access = self.access
        snapshot, state = await database_sync_to_async(self._snapshot)(access.line)
        self.hello_seq = int(snapshot.get("seq") or 0)
        self.seen_seq = self.hello_seq
        await self.send_json(
            {
                "type": "hello",
                "line": access.line,
                "debug": access.debug,
                "calls": snapshot.get("calls", []),
                "connector": {"state": state},
                "agent": snapshot.get("agent", {}),
                "seq": self.hello_seq,
            }
        )

    @staticmethod
    def _snapshot(line: str) -> tuple[dict, str]:
        return _live_snapshot(line), socket_access.connector_state()

    # --- channel-layer messages -----------------------------------------------

    async def call_event(self, message: dict) -> None:
        """A line event from the publisher: forward it once, or re-send hello on ``resync``."""
        event = message.get("event")
        if self.closing or self.access is None or not isinstance(event, dict):
            return
        if event.get("line") != self.access.line:
            return  # never another line's event, even if it reached this channel by mistake
        if event.get("type") == "resync":
            try:
                await self.send_hello()
            except Exception:
                # The browser's next snapshot request, or the next resync, tries again.
                logger.warning("cannot read the snapshot of line %s for a resync", self.access.line, exc_info=True)
            return
        seq = event.get("seq")
        if isinstance(seq, int) and seq <= self.hello_seq:
            return  # already contained in the hello snapshot
        if isinstance(seq, int):
            self.seen_seq = max(self.seen_seq, seq)
        await self.send_json(event)

    async def connector_state(self, message: dict) -> None:
        """The AMI link changed: ``connected`` / ``reconnecting`` / ``down``."""
        if not self.closing and self.access is not None:
            await self.send_json({"type": "connector.state", "state": message.get("state")})

    async def user_changed(self, message: dict) -> None:
        """Profile, licence or account changed: re-check, then re-join and re-hello, or close."""
        if self.closing or self.access is None:
            return
        try:
            if not self.by_token:
                session_key = getattr(self.scope.get("session"), "session_key", None)
                valid = await database_sync_to_async(session_still_valid)(session_key, self.user.pk)
                if not valid:
                    raise Refusal(CLOSE_UNAUTHENTICATED, "logged_out", SIGNED_OUT)
            access = await database_sync_to_async(check_access)(self.user)
        except Refusal as refusal:
            await self._refuse(refusal)
            return
        if access != self.access:
            self.access = access
            await self._join(access)
            await self.send_hello()

    async def user_logout(self, message: dict) -> None:
        """A session of this user logged out: close the sockets it opened (and token sockets)."""
        if self.closing or self.access is None:
            return
        session_key = getattr(self.scope.get("session"), "session_key", None)
        if self.by_token or session_fingerprint(session_key) == message.get("session"):
            await self._refuse(Refusal(CLOSE_UNAUTHENTICATED, "logged_out", SIGNED_OUT))

    async def command_result(self, message: dict) -> None:
        """The worker's answer to one of this socket's commands."""
        result = message.get("result") if isinstance(message.get("result"), dict) else {}
        pending = self.pending.pop(result.get("request_id"), None)
        if pending is None:
            return  # already answered (timed out) or not ours
        ref, timer, _command = pending
        timer.cancel()
        error = result.get("error")
        reply = {"type": "result", "ref": ref, "ok": bool(result.get("ok")), "error": error if error else None}
        if isinstance(result.get("data"), dict):
            reply["data"] = result["data"]
        await self._send_if_open(reply)

    # --- browser messages -------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing or self.access is None:
            return
        if not self.guard.allow():
            logger.warning("closing a flooding socket of user %s (line %s)", self.access.user_id, self.access.line)
            await self._refuse(
                Refusal(CLOSE_FLOOD, "flood", gettext_noop("Too many messages; the connection is closed."))
            )
            return
        if text_data is None:
            await self._error("invalid_message", gettext_noop("Send commands as JSON text frames."))
            return
        if len(text_data) > MAX_MESSAGE_CHARS:
            limit = {"limit": MAX_MESSAGE_CHARS}
            await self._error("too_large", gettext_noop("A command may be at most %(limit)s characters."), limit)
            return
        try:
            data = json.loads(text_data)
        except ValueError:
            await self._error("invalid_json", gettext_noop("The message is not valid JSON."))
            return
        await self.receive_json(data)

    async def receive_json(self, content, **kwargs) -> None:
        ref = parse_ref(content)
        try:
            command = parse_command(content)
        except CommandError as exc:
            self._audit_refusal(content, exc.code)
            if ref is None:
                await self._error(exc.code, exc.template, exc.params)
            else:
                await self._result(ref, False, exc.as_error())
            return
        if command["type"] == "snapshot":
            await self.send_hello()
            await self._result(ref, True, None)
            return
        await self._forward(command)

    def _audit_refusal(self, content: object, code: str, detail: str = "") -> None:
        """One audit record per command the socket refuses or fails itself (the worker audits the rest)."""
        audit.submit(self.access.user_id, self.access.line, content, code, detail, audit.SOURCE_SOCKET)

    async def _forward(self, command: dict) -> None:
        access = self.access
        request_id = next(self.request_ids)
        timer = asyncio.create_task(self._time_out(request_id))
        self.pending[request_id] = (command["ref"], timer, command)
        message = {
            "type": "connector.command",
            "reply_to": self.channel_name,
            "request_id": request_id,
            "user_id": access.user_id,
            "line": access.line,
            "context": access.context or "",
            "command": command,
        }
        try:
            await self.channel_layer.send(COMMAND_CHANNEL, message)
        except Exception as exc:
            logger.warning("could not pass a command to the worker: %s", exc.__class__.__name__)
            if self.pending.pop(request_id, None) is not None:
                timer.cancel()
                self._audit_refusal(command, "pbx_disconnected", "the worker cannot be reached")
                text = gettext_noop("The telephony service is unavailable.")
                await self._result(command["ref"], False, {"code": "pbx_disconnected", "message": text})

    async def _time_out(self, request_id: int) -> None:
        await asyncio.sleep(self.command_timeout)
        pending = self.pending.pop(request_id, None)
        if pending is not None:
            # The worker may still act on it later (and audit that); this records what the user was told.
            self._audit_refusal(pending[2], "pbx_timeout", "no answer from the worker in time")
            error = {"code": "pbx_timeout", "message": gettext_noop("The telephony service did not answer in time.")}
            await self._send_if_open({"type": "result", "ref": pending[0], "ok": False, "error": error})

    async def _result(self, ref, ok: bool, error: dict | None) -> None:
        await self._send_if_open({"type": "result", "ref": ref, "ok": ok, "error": error})

    async def _error(self, code: str, message: str, params: dict | None = None) -> None:
        await self._send_if_open({"type": "error", "code": code, **texts.error_fields(message, params)})

    async def _send_if_open(self, content: dict) -> None:
        if not self.closing:
            await self.send_json(content)

    async def send_json(self, content, close=False) -> None:
        """Every message leaves through here: errors in the socket's language, never their templates."""
        await super().send_json(texts.localize(content, self.language), close=close)
