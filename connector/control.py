"""Call control: one browser command -> validated AMI action(s) -> exactly one result.

Runs in the worker. The user never chooses a channel, context, application or
variable: channels come from the call tracker for a call on the sender's own
line, the originating channel is ``{protocol}{line}``, and contexts come from
the profile or the connector configuration. Every action goes through
``client.send_action``, which serialises with the one action builder.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_noop

from connector import audit
from connector.ami.actions import UnsafeActionValue
from connector.ami.message import Message
from connector.ami.queues import WRAP_UP_REASON
from connector.client import ActionResult
from connector.commands import CommandError, parse_command, parse_ref
from connector.config import CONTEXT_RE, ConnectorConfig
from connector.numbers import InvalidNumber, validate_number
from connector.texts import error_fields

logger = logging.getLogger(__name__)

ORIGINATE_TIMEOUT_MS = 30000  # how long the operator's own phone rings for a click-to-call
_PBX_CODES = ("pbx_timeout", "pbx_disconnected", "pbx_error")


def _ok(message: dict, **data: Any) -> dict:
    result = {"ref": message.get("ref"), "request_id": message.get("request_id"), "ok": True, "error": None}
    if data:
        result["data"] = data
    return result


def _fail(message: dict, code: str, text: str, params: dict | None = None) -> dict:
    """A failed result; ``text`` is marked for translation (a ``%(name)s`` template with ``params``)."""
    return {
        "ref": message.get("ref"),
        "request_id": message.get("request_id"),
        "ok": False,
        "error": {"code": code, **error_fields(text, params)},
    }


# What the operator is told when the link to Asterisk failed the action (the client's own detail is logged).
_PBX_TEXTS = {
    "pbx_timeout": gettext_noop("Asterisk did not answer in time."),
    "pbx_disconnected": gettext_noop("There is no connection to Asterisk right now."),
}


def _pbx_error(action: str, exc: Exception) -> CommandError:
    """Turn a client exception (``AmiActionError``) into a result error with Asterisk's own words."""
    code = getattr(exc, "code", None)
    if code in _PBX_TEXTS:
        logger.info("%s not done: %s", action, getattr(exc, "message", None) or exc)
        return CommandError(code, _PBX_TEXTS[code])
    if code in _PBX_CODES:
        return CommandError(code, str(getattr(exc, "message", None) or exc))  # Asterisk's own words
    if isinstance(exc, UnsafeActionValue):
        return CommandError(
            "invalid_command", gettext_noop("A value of %(action)s would break the AMI protocol."), {"action": action}
        )
    logger.error("%s failed unexpectedly", action, exc_info=exc)
    return CommandError("internal_error", gettext_noop("The command could not be executed."))


class CommandHandler:
    """Executes browser commands against AMI for the worker.

    ``client``: has ``async send_action(action, fields)``; ``tracker``: has
    ``call_channels(line, call_id) -> dict | None``; ``config``: the
    :class:`ConnectorConfig`; ``rate_limiter``: has ``async hit(key) -> float | None``.
    """

    def __init__(self, client, tracker, config: ConnectorConfig, rate_limiter, audit_submit=None) -> None:
        self.client = client
        # audit.submit(user_id, line, command, code, detail, source): log line + AuditEntry row.
        self.audit = audit_submit or audit.submit
        self.tracker = tracker
        self.config = config
        self.rate_limiter = rate_limiter
        self._wrap_up_timers: dict[str, asyncio.Task] = {}

    async def handle(self, message: dict) -> dict:
        """Handle one ``connector.command`` message; always returns one result dict.

        The result is ``{"ref", "request_id", "ok", "error": None | {"code", "message"}}``
        (plus ``data`` for some commands); the worker sends it back to ``reply_to``.
        """
        message = message if isinstance(message, dict) else {}
        line = message.get("line")
        user_id = message.get("user_id")
        raw = message.get("command")
        kind = raw.get("type") if isinstance(raw, dict) else None
        message = {**message, "ref": parse_ref(raw)}
        try:
            if not isinstance(line, str) or not line or not isinstance(user_id, int):
                raise CommandError("invalid_command", gettext_noop("The command has no sender line."))
            command = parse_command(raw)
            result = await self._dispatch(message, line, user_id, command)
        except CommandError as exc:
            result = _fail(message, exc.code, exc.template, exc.params)
        except Exception:
            logger.exception("command %s for line %s failed unexpectedly", kind, line)
            result = _fail(message, "internal_error", gettext_noop("The command could not be executed."))
        self._audit(user_id, line, raw, result)
        return result

    async def close(self) -> None:
        """Cancel pending wrap-up timers (worker shutdown)."""
        for task in self._wrap_up_timers.values():
            task.cancel()
        self._wrap_up_timers.clear()

    # --- commands -----------------------------------------------------------------

    async def _dispatch(self, message: dict, line: str, user_id: int, command: dict) -> dict:
        kind = command["type"]
        if kind == "call":
            return await self._call(message, line, user_id, command["number"])
        if kind == "agent_state":
            return await self._agent_state(message, line, command)
        if kind == "snapshot":
            raise CommandError("invalid_command", gettext_noop("snapshot is answered by the socket, not the worker."))
        channels = self._own_call(line, command["call_id"])
        if kind == "hangup" or kind == "transfer_complete":
            # Hanging up the operator's leg during an attended transfer completes it.
            await self._send("Hangup", {"Channel": self._channel(channels, "operator_channel")})
        elif kind == "transfer_cancel":
            consultation = channels.get("consultation_channel")
            if not consultation:
                raise CommandError("invalid_state", gettext_noop("No attended transfer is in progress on this call."))
            await self._send("Hangup", {"Channel": consultation})
        elif kind == "hold":
            await self._send(
                "Park",
                {
                    "Channel": self._channel(channels, "remote_channel"),
                    "TimeoutChannel": self._channel(channels, "operator_channel"),
                },
            )
        elif kind == "resume":
            await self._resume(line, channels)
        elif kind == "demo_answer":
            # Understood only by the bundled simulator (DEMO_MODE); parse_command refuses it otherwise.
            await self._send("DemoAnswer", {"Channel": self._channel(channels, "operator_channel")})
        elif kind == "transfer":
            action = "BlindTransfer" if command["mode"] == "blind" else "Atxfer"
            fields = {
                "Channel": self._channel(channels, "operator_channel"),
                "Exten": command["number"],
                "Context": self._context(message),
            }
            await self._send(action, fields)
        elif kind == "dtmf":
            # PlayDTMF sends toward the channel's endpoint: the remote party's channel reaches the far end.
            remote = self._channel(channels, "remote_channel")
            for digit in command["digits"]:
                await self._send("PlayDTMF", {"Channel": remote, "Digit": digit})
        return _ok(message)

    async def _call(self, message: dict, line: str, user_id: int, number: str) -> dict:
        retry_after = await self.rate_limiter.hit(str(user_id))
        if retry_after is not None:
            wait = {"seconds": f"{retry_after:.0f}"}
            result = _fail(message, "rate_limited", gettext_noop("Too many calls; try again in %(seconds)s s."), wait)
            result["error"]["retry_after"] = round(retry_after, 1)
            return result
        fields = {
            "Channel": f"{self.config.protocol}{line}",
            "Context": self._context(message),
            "Exten": number,
            "Priority": 1,
            "CallerID": f'"{number}" <{number}>',
            "Timeout": ORIGINATE_TIMEOUT_MS,
            "Async": self.config.asyncOriginate,
        }
        await self._send("Originate", fields)
        return _ok(message)

    async def _resume(self, line: str, channels: dict) -> None:
        consultation = channels.get("consultation_channel")
        if consultation:
            # During an attended transfer the caller waits on hold: resuming means cancelling the consultation.
            await self._send("Hangup", {"Channel": consultation})
            return
        slot = channels.get("parking_slot")
        if not slot:
            raise CommandError("invalid_state", gettext_noop("This call is not parked."))
        try:
            slot = validate_number(str(slot), denied=())
        except InvalidNumber:
            raise CommandError("invalid_state", gettext_noop("The parking slot is not a number.")) from None
        await self._send(
            "Originate",
            {
                "Channel": f"{self.config.protocol}{line}",
                "Context": self.config.parking_lot_context,
                "Exten": slot,
                "Priority": 1,
                "CallerID": f'"Parked {slot}" <{slot}>',
                "Timeout": ORIGINATE_TIMEOUT_MS,
                "Async": True,
            },
        )

    async def _agent_state(self, message: dict, line: str, command: dict) -> dict:
        state = command["state"]
        queue = command.get("queue")
        self._cancel_wrap_up(line)
        if state == "ready":
            await self._queue_pause(line, False, None, queue)
        elif state == "not_ready":
            await self._queue_pause(line, True, command.get("reason") or None, queue)
        else:
            await self._queue_pause(line, True, WRAP_UP_REASON, queue)
            seconds = float(settings.WRAP_UP_SECONDS)
            self._wrap_up_timers[line] = asyncio.create_task(self._end_wrap_up(line, queue, seconds))
            return _ok(message, wrap_up_seconds=seconds)
        return _ok(message)

    async def _queue_pause(self, line: str, paused: bool, reason: str | None, queue: str | None) -> None:
        fields: dict[str, object] = {"Interface": self.config.queue_interface(line), "Paused": paused}
        if queue:
            fields["Queue"] = queue
        if reason:
            fields["Reason"] = reason
        await self._send("QueuePause", fields)

    async def _end_wrap_up(self, line: str, queue: str | None, seconds: float) -> None:
        await asyncio.sleep(seconds)
        # Forget the timer first, so the unpause below cannot cancel itself.
        self._wrap_up_timers.pop(line, None)
        try:
            await self._queue_pause(line, False, None, queue)
        except CommandError as exc:
            logger.warning("wrap-up end for line %s failed: %s", line, exc.message)

    def _cancel_wrap_up(self, line: str) -> None:
        task = self._wrap_up_timers.pop(line, None)
        if task is not None:
            task.cancel()

    # --- helpers ------------------------------------------------------------------

    def _own_call(self, line: str, call_id: str) -> dict:
        """The call's channels if it is on ``line``; anything else is forbidden before any AMI action."""
        channels = self.tracker.call_channels(line, call_id)
        if not channels:
            raise CommandError("forbidden", gettext_noop("That call is not on your line (or has ended)."))
        return channels

    @staticmethod
    def _channel(channels: dict, key: str) -> str:
        value = channels.get(key)
        if not value:
            if key == "operator_channel":
                raise CommandError("invalid_state", gettext_noop("The call has no channel of your phone right now."))
            raise CommandError("invalid_state", gettext_noop("The call has no channel of the other party right now."))
        return value

    def _context(self, message: dict) -> str:
        context = message.get("context") or self.config.originateContext
        if not isinstance(context, str) or not CONTEXT_RE.fullmatch(context):
            raise CommandError("invalid_command", gettext_noop("The outgoing call context is not valid."))
        return context

    async def _send(self, action: str, fields: dict) -> Any:
        try:
            response = await self.client.send_action(action, fields)
        except Exception as exc:
            raise _pbx_error(action, exc) from exc
        # An error Response handed back instead of raised is treated the same way.
        reply = response.response if isinstance(response, ActionResult) else response
        status = getattr(reply, "response", None)
        if isinstance(status, str) and status.lower() not in ("success", "goodbye", "follows"):
            text = reply.get("Message") if isinstance(reply, Message) else None
            if text:
                raise CommandError("pbx_error", text)  # Asterisk's own words
            raise CommandError("pbx_error", gettext_noop("Asterisk refused %(action)s."), {"action": action})
        return response

    def _audit(self, user_id: object, line: object, raw: object, result: dict) -> None:
        error = result.get("error") or {}
        code = None if result.get("ok") else str(error.get("code") or "error")
        self.audit(user_id, line, raw, code, str(error.get("message") or "")[:160], audit.SOURCE_WORKER)
