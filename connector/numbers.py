"""The one validator for values a browser sends toward AMI: numbers, DTMF digits, reasons.

Numbers are checked against an allow-list (digits, one leading ``+``, ``*``
and ``#``), so no dialplan character (``&``, ``,``, ``|``, ``${``, ``_X.``) and
no control character can reach an Originate or a transfer. The action builder
refuses CR/LF/NUL again as a second line of defence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from django.conf import settings
from django.utils.translation import gettext_noop

from connector.texts import error_fields

MAX_NUMBER_LENGTH = 32
MAX_DTMF_LENGTH = 32
MAX_REASON_LENGTH = 80

_NUMBER = re.compile(r"\+?[0-9*#]+")
_DTMF = re.compile(r"[0-9*#A-D]+")


class InvalidNumber(ValueError):
    """A value refused before it could reach AMI. ``code`` goes into the ws ``error.code``.

    ``message``: English, marked for translation; a ``%(name)s`` template when ``params`` are given.
    """

    def __init__(self, message: str, code: str = "invalid_number", params: dict | None = None) -> None:
        text = error_fields(message, params)["message"]
        super().__init__(text)
        self.code = code
        self.message = text
        self.template = message
        self.params = params


def _describe(char: str) -> str:
    """A readable name for a refused character: ``"a"`` when it can be seen, else e.g. ``U+000D (CR)``."""
    if unicodedata.category(char)[0] in "LNPS":
        return f'"{char}"'
    names = {"\r": "CR", "\n": "LF", "\x00": "NUL", "\t": "TAB", " ": "space"}
    name = names.get(char) or unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def _first_bad(text: str, allowed: re.Pattern[str]) -> str | None:
    for char in text:
        if not allowed.fullmatch(char):
            return char
    return None


def denied_prefixes() -> tuple[str, ...]:
    """``settings.ORIGINATE_DENIED_PREFIXES``: numbers starting with one of these are never dialled."""
    return tuple(getattr(settings, "ORIGINATE_DENIED_PREFIXES", ()) or ())


def validate_number(text: object, denied: Iterable[str] | None = None) -> str:
    """Return the number to dial, or raise :class:`InvalidNumber` naming the problem.

    Accepted: 1 to 32 characters from ``0-9 * #``, optionally after one leading
    ``+`` (``+4930123``, ``*97``, ``#31#``). Anything else, including whitespace
    and separators, is refused rather than cleaned: the panel sends the bare
    number. ``denied`` defaults to ``settings.ORIGINATE_DENIED_PREFIXES``.
    """
    if not isinstance(text, str):
        raise InvalidNumber(gettext_noop("The number must be a string."))
    if not text:
        raise InvalidNumber(gettext_noop("The number is empty."))
    if len(text) > MAX_NUMBER_LENGTH:
        raise InvalidNumber(
            gettext_noop("The number is longer than %(limit)s characters."), params={"limit": MAX_NUMBER_LENGTH}
        )
    if not _NUMBER.fullmatch(text):
        bad = _first_bad(text[1:] if text.startswith("+") else text, re.compile(r"[0-9*#]"))
        if bad == "+" or bad is None:
            raise InvalidNumber(gettext_noop("A '+' is allowed only at the start of the number."))
        raise InvalidNumber(
            gettext_noop("The number contains %(char)s; only digits, * and # (and a leading +) are allowed."),
            params={"char": _describe(bad)},
        )
    for prefix in denied_prefixes() if denied is None else denied:
        if prefix and text.startswith(prefix):
            raise InvalidNumber(
                gettext_noop("Numbers starting with %(prefix)s may not be dialled."),
                code="number_denied",
                params={"prefix": prefix},
            )
    return text


def validate_dtmf(text: object) -> str:
    """Return DTMF digits (``0-9 * # A-D``, upper-cased), 1 to 32 of them, or raise InvalidNumber."""
    if not isinstance(text, str) or not text:
        raise InvalidNumber(gettext_noop("Enter at least one DTMF digit."), code="invalid_dtmf")
    if len(text) > MAX_DTMF_LENGTH:
        raise InvalidNumber(
            gettext_noop("At most %(limit)s DTMF digits at a time."),
            code="invalid_dtmf",
            params={"limit": MAX_DTMF_LENGTH},
        )
    digits = text.upper() if text.isascii() else text
    if not _DTMF.fullmatch(digits):
        bad = _first_bad(digits, re.compile(r"[0-9*#A-D]"))
        raise InvalidNumber(
            gettext_noop("%(char)s is not a DTMF digit (0-9, *, #, A-D)."),
            code="invalid_dtmf",
            params={"char": _describe(bad or "?")},
        )
    return digits


def validate_reason(text: object) -> str:
    """Return a pause reason (printable text, at most 80 characters; may be empty) or raise InvalidNumber."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise InvalidNumber(gettext_noop("The reason must be text."), code="invalid_reason")
    text = text.strip(" ")
    if len(text) > MAX_REASON_LENGTH:
        raise InvalidNumber(
            gettext_noop("The reason is longer than %(limit)s characters."),
            code="invalid_reason",
            params={"limit": MAX_REASON_LENGTH},
        )
    for char in text:
        # Cc/Cf/Zl/Zp cover CR, LF, NUL, NEL (U+0085), U+2028 and direction overrides.
        if char != " " and (unicodedata.category(char)[0] in "CZ"):
            raise InvalidNumber(
                gettext_noop("The reason contains %(char)s."), code="invalid_reason", params={"char": _describe(char)}
            )
    return text


def check_denied_prefixes(values: Iterable[str], name: str = "ORIGINATE_DENIED_PREFIXES") -> tuple[str, ...]:
    """Validate the configured deny-list (used by settings); raises ValueError naming the bad entry."""
    prefixes = tuple(v.strip() for v in values if v and v.strip())
    for prefix in prefixes:
        if not _NUMBER.fullmatch(prefix) or len(prefix) > MAX_NUMBER_LENGTH:
            raise ValueError(f"{name}: {prefix!r} is not a number prefix (digits, *, #, leading +)")
    return prefixes
