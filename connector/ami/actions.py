"""The one place that turns an action into bytes for AMI.

Every value is checked: CR, LF and NUL are refused (never stripped), so no
user-supplied text can end a header early and smuggle in another action.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Mapping

_FORBIDDEN = re.compile(r"[\r\n\x00]")
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_\-()]*")  # used with fullmatch: "$" would let a final LF through


class UnsafeActionValue(ValueError):
    """A value or key that would break AMI framing."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ActionIdGenerator:
    """ActionIDs unique across reconnects and processes: ``<prefix>-<n>``."""

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = prefix or f"tb{os.getpid():x}{os.urandom(3).hex()}"
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}-{next(self._counter)}"


def _check(field: str, value: str) -> str:
    if not isinstance(value, str):
        value = str(value)
    if _FORBIDDEN.search(value):
        raise UnsafeActionValue(field, "contains a line break or NUL character")
    return value


def build_action(
    action: str,
    fields: Mapping[str, object] | None = None,
    action_id: str | None = None,
    variables: Mapping[str, object] | None = None,
) -> bytes:
    """Serialise one action. Booleans become ``true``/``false``; ``None`` values are left out.

    ``variables`` become repeated ``Variable: name=value`` headers.
    Raises :class:`UnsafeActionValue` for any CR, LF or NUL in a key or value, and for text
    that is not valid Unicode (a lone surrogate).
    """
    if not _KEY.fullmatch(action or ""):
        raise UnsafeActionValue("Action", f"{action!r} is not an action name")
    lines = [f"Action: {action}"]
    if action_id is not None:
        lines.append(f"ActionID: {_check('ActionID', action_id)}")
    for key, value in (fields or {}).items():
        if value is None:
            continue
        if not _KEY.fullmatch(key) or key.lower() in ("action", "actionid"):
            raise UnsafeActionValue(repr(key), "not a permitted header name")  # repr: no raw LF in logs
        if isinstance(value, bool):
            value = "true" if value else "false"
        lines.append(f"{key}: {_check(key, value)}")
    for name, value in (variables or {}).items():
        if not _KEY.fullmatch(name):
            raise UnsafeActionValue("Variable", f"{name!r} is not a variable name")
        lines.append(f"Variable: {name}={_check(name, value)}")
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnsafeActionValue(action, "contains a lone surrogate, not text") from exc
