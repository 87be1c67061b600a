"""The shape of browser commands (PROTOCOL.md, "Commands"), checked strictly.

Both the websocket consumer (for an early, clear error) and the worker's
:class:`connector.control.CommandHandler` (the authority) call
:func:`parse_command`; only the fields listed here ever travel on.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.utils.translation import gettext_noop

from connector.numbers import InvalidNumber, validate_dtmf, validate_number, validate_reason
from connector.texts import error_fields

MAX_REF_LENGTH = 64
_CALL_ID = re.compile(r"[A-Za-z0-9_.:;@/\-]{1,80}")
_QUEUE = re.compile(r"[A-Za-z0-9_.\-]{1,80}")

CALL_COMMANDS = ("hangup", "hold", "resume", "transfer", "transfer_complete", "transfer_cancel", "dtmf")
# demo_answer: the bundled simulator's stand-in for picking up the phone (DEMO_MODE only).
COMMANDS = ("call", *CALL_COMMANDS, "agent_state", "snapshot", "demo_answer")
AGENT_STATES = ("ready", "not_ready", "wrap_up")
TRANSFER_MODES = ("blind", "attended")

# Fields each command may carry besides "type" and "ref".
_FIELDS: dict[str, tuple[str, ...]] = {
    "call": ("number",),
    "hangup": ("call_id",),
    "hold": ("call_id",),
    "resume": ("call_id",),
    "transfer": ("call_id", "number", "mode"),
    "transfer_complete": ("call_id",),
    "transfer_cancel": ("call_id",),
    "dtmf": ("call_id", "digits"),
    "agent_state": ("state", "reason", "queue"),
    "snapshot": (),
    "demo_answer": ("call_id",),
}
_OPTIONAL = {"reason", "queue"}


class CommandError(Exception):
    """A refused command; ``code`` and ``message`` go into the ``result`` error.

    ``message`` is an English text marked for translation; with ``params`` it is a
    ``%(name)s`` template, filled in here and again, translated, by the socket.
    """

    def __init__(self, code: str, message: str, params: dict | None = None) -> None:
        fields = error_fields(message, params)
        super().__init__(fields["message"])
        self.code = code
        self.message = fields["message"]
        self.template = message
        self.params = params

    def as_error(self) -> dict:
        return {"code": self.code, **error_fields(self.template, self.params)}


def parse_ref(data: object) -> str | int | None:
    """The command's ``ref`` if it is usable (a short string or an integer), else ``None``."""
    if not isinstance(data, dict):
        return None
    ref = data.get("ref")
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int) and abs(ref) < 2**53:
        return ref
    if isinstance(ref, str) and 0 < len(ref) <= MAX_REF_LENGTH and ref.isprintable():
        return ref
    return None


def _call_id(value: object) -> str:
    if not isinstance(value, str) or not _CALL_ID.fullmatch(value):
        raise CommandError("invalid_command", gettext_noop("call_id must be the id of one of your calls."))
    return value


def parse_command(data: object) -> dict:
    """Validate one browser command; return a new dict holding only its known, normalised fields.

    Raises :class:`CommandError` (``invalid_command``, ``unknown_command``,
    ``invalid_number``, ``number_denied``, ``invalid_dtmf``, ``invalid_reason``).
    """
    if not isinstance(data, dict):
        raise CommandError("invalid_command", gettext_noop("A command is a JSON object."))
    kind = data.get("type")
    if kind == "demo_answer" and not getattr(settings, "DEMO_MODE", False):
        kind = None  # unknown outside the demo: a real phone is answered on the phone
    if not isinstance(kind, str) or kind not in COMMANDS:
        kind = data.get("type")
        shown = kind if isinstance(kind, str) and kind.isprintable() and len(kind) <= 40 else "?"
        raise CommandError("unknown_command", gettext_noop("Unknown command type %(type)s."), {"type": repr(shown)})
    ref = parse_ref(data)
    if ref is None:
        raise CommandError("invalid_command", gettext_noop("Every command needs a ref: a short string or an integer."))
    allowed = _FIELDS[kind]
    extra = sorted(k for k in data if k not in ("type", "ref", *allowed))
    if extra:
        names = ", ".join(str(k)[:40] for k in extra[:5])
        raise CommandError("invalid_command", gettext_noop("%(command)s does not accept: %(fields)s."), {"command": kind, "fields": names})  # fmt: skip
    missing = [k for k in allowed if k not in _OPTIONAL and k not in data]
    if missing:
        raise CommandError("invalid_command", gettext_noop("%(command)s needs: %(fields)s."), {"command": kind, "fields": ", ".join(missing)})  # fmt: skip

    command: dict = {"type": kind, "ref": ref}
    try:
        if "call_id" in allowed:
            command["call_id"] = _call_id(data["call_id"])
        if "number" in allowed:
            command["number"] = validate_number(data["number"])
        if kind == "transfer":
            if data["mode"] not in TRANSFER_MODES:
                raise CommandError("invalid_command", gettext_noop("mode must be blind or attended."))
            command["mode"] = data["mode"]
        if kind == "dtmf":
            command["digits"] = validate_dtmf(data["digits"])
        if kind == "agent_state":
            if data["state"] not in AGENT_STATES:
                raise CommandError("invalid_command", gettext_noop("state must be ready, not_ready or wrap_up."))
            command["state"] = data["state"]
            command["reason"] = validate_reason(data.get("reason"))
            queue = data.get("queue")
            if queue not in (None, ""):
                if not isinstance(queue, str) or not _QUEUE.fullmatch(queue):
                    raise CommandError(
                        "invalid_command", gettext_noop("queue must be a queue name (letters, digits, _ . -).")
                    )
                command["queue"] = queue
    except InvalidNumber as exc:
        raise CommandError(exc.code, exc.template, exc.params) from None
    return command
