"""One AMI message (event, response or action) as an ordered set of headers.

With the compiled helpers (``accel``), the framer hands over messages with
their headers already split out, and ``get`` is a dict lookup in C. Without
them, the framer hands over most messages still as their raw text and the
headers are split out on first use: a busy PBX sends many events that are
dropped after a look at their name, and ``get`` reads a single value straight
from the text. Either way the result is exactly what a full parse gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import repeat

from connector.ami import accel

# key -> ("\r\nKey:", "Key:", len("Key:"), b"\r\nkey:", "Key: "): what unparsed text is searched for
_PROBES: dict[str, tuple[str, str, int, bytes, str]] = {}
_SEP = repeat(": ")  # map() arguments for str.split(line, ": ", 1), shared by every parse
_ONCE = repeat(1)


def _probe(key: str) -> tuple[str, str, int, bytes, str] | None:
    if not key or not key.isascii() or ":" in key or "\n" in key or "\r" in key:
        return None  # not a plain ASCII header name: let the full parse answer
    low = key.lower()
    probe = ("\r\n" + key + ":", key + ":", len(key) + 1, ("\r\n" + low + ":").encode(), key + ": ")
    if len(_PROBES) < 4096:
        _PROBES[key] = probe
    return probe


def split_header(line: str) -> tuple[str | None, str]:
    """``Key: value`` -> (key, value); also ``Key:`` and ``Key:value``; anything else -> (None, line)."""
    key, sep, value = line.partition(": ")
    if sep:
        return key, value
    key, sep, value = line.partition(":")
    if sep and key and " " not in key:
        return key, value
    return None, line


def parse_lines(lines: list[str]) -> tuple[dict[str, str], list[tuple[str, str]] | None, list[str] | None]:
    """Headers (first value per key), repeated headers and other lines of one message's lines."""
    try:
        headers = dict(map(str.split, lines, _SEP, _ONCE))
    except ValueError:
        pass  # a line without ": ": the careful loop below
    else:
        if len(headers) == len(lines):
            return headers, None, None
    headers = {}
    repeated: list[tuple[str, str]] | None = None
    body: list[str] | None = None
    for line in lines:
        key, value = split_header(line)
        if key is None:
            if line:
                body = body or []
                body.append(line)
        elif key in headers:
            repeated = repeated or []
            repeated.append((key, value))
        else:
            headers[key] = value
    return headers, repeated, body


class Message(accel.MessageBase):
    """An AMI message.

    ``headers`` maps each key (exactly as Asterisk spelled it) to its first
    value; repeated keys (``Output:``, ``ChanVariable:``) keep their later
    values in ``repeated``; lines without a colon (old ``Response: Follows``
    bodies) go to ``body``. ``banner`` is set only for the one-line greeting
    (``Asterisk Call Manager/9.0.0``) that opens every connection.
    """

    __slots__ = ()  # the fields are MessageBase's

    def __init__(
        self,
        headers: dict[str, str] | None = None,
        repeated: list[tuple[str, str]] | None = None,
        body: list[str] | None = None,
        banner: str | None = None,
        raw: str | None = None,
    ) -> None:
        """``raw``: the message's CRLF-separated lines, parsed on first use (then the others are ignored)."""
        self._raw = raw
        self._lowered: bytes | None = None  # the raw text as get() searches it, made on first use
        self._folded: dict[str, str] | None = None  # lower-cased key -> first value, built on a miss
        self._headers = headers if headers is not None or raw is not None else {}
        self._repeated = repeated
        self._body = body
        self.banner = banner

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Message:
        """A message with these headers, in this order (repeats allowed)."""
        message = cls()
        for key, value in pairs:
            message.add(key, value)
        return message

    def _parse(self) -> None:
        raw = self._raw
        if raw is not None:
            self._raw = self._lowered = None
            lines = raw.split("\r\n")
            try:  # parse_lines' fast path, inlined: this runs for most messages that get parsed
                headers = dict(map(str.split, lines, _SEP, _ONCE))
            except ValueError:
                headers = None
            if headers is not None and len(headers) == len(lines):
                self._headers, self._repeated, self._body = headers, None, None
            else:
                self._headers, self._repeated, self._body = parse_lines(lines)

    @property
    def headers(self) -> dict[str, str]:
        """First value per key, in wire order (splits the raw text on first use)."""
        if self._raw is not None:
            self._parse()
        return self._headers

    @property
    def repeated(self) -> list[tuple[str, str]] | None:
        """Later values of repeated keys, as (key, value) in wire order."""
        if self._raw is not None:
            self._parse()
        return self._repeated

    @repeated.setter
    def repeated(self, value: list[tuple[str, str]] | None) -> None:
        self._parse()
        self._repeated = value

    @property
    def body(self) -> list[str] | None:
        """Lines that are not headers (old ``Response: Follows`` command output)."""
        if self._raw is not None:
            self._parse()
        return self._body

    @body.setter
    def body(self, value: list[str] | None) -> None:
        self._parse()
        self._body = value

    def add(self, key: str, value: str) -> None:
        """Append a header; a key seen before goes to ``repeated``."""
        headers = self.headers
        self._folded = None
        if key in headers:
            if self._repeated is None:
                self._repeated = []
            self._repeated.append((key, value))
        else:
            headers[key] = value

    def get_exact(self, key: str) -> str | None:
        """The first value of exactly ``key`` (no case-insensitive fallback; cheapest on unparsed text)."""
        raw = self._raw
        if raw is None:
            return self._headers.get(key)
        probe = _PROBES.get(key) or _probe(key)
        if probe is None:
            return self.headers.get(key)
        if raw.startswith(probe[1]):
            at = probe[2]
        else:
            at = raw.find(probe[0])
            if at < 0:
                return None
            at += probe[2] + 2
        if not raw.startswith(" ", at):
            return self.headers.get(key)  # "Key:" or "Key:value": the full parse decides what that line is
        end = raw.find("\r\n", at)
        return raw[at + 1 : end] if end >= 0 else raw[at + 1 :]

    def _text_get(self, key: str, default: str | None = None) -> str | None:
        """``get`` in Python: a search of the unsplit text, or of the split headers."""
        raw = self._raw
        if raw is None:
            value = self._headers.get(key)
            return value if value is not None else self._fold(key, default)
        try:
            probe = _PROBES[key]
        except KeyError:
            probe = _probe(key)
            if probe is None:
                return self._parsed_get(key, default)
        low = self._lowered
        if low is None:
            low = self._lower(raw)
            if low is None:
                return self._parsed_get(key, default)
        at = low.find(probe[3])  # offsets in ``low`` are those in ``raw`` plus 2 (the CRLF in front)
        if at < 0:
            return default  # no line starts with this key in any letter case
        if not raw.startswith(probe[4], at):
            return self._parsed_get(key, default)  # another spelling first, or "Key:value"
        at += probe[2]
        end = low.find(b"\r\n", at + 2)
        return raw[at + 1 : end - 2] if end >= 0 else raw[at + 1 :]

    if not accel.BUILT:
        # The first value of ``key``; a case-insensitive match when the exact one is absent.
        get = _text_get  # built: MessageBase.get in C, which calls _text_get for unsplit text

    def _lower(self, raw: str) -> bytes | None:
        """What ``get`` searches, made once per message; None if the message got parsed instead.

        One byte per character of the text, ASCII letters lower-cased, and a CRLF in front so that one
        find() covers the first line too.
        """
        if raw.isascii():
            text = raw.encode("ascii")
        elif "\u212a" in raw:
            self._parse()  # the Kelvin sign lower-cases to an ASCII k: leave such text to the full parse
            return None
        else:
            text = raw.encode("ascii", "replace")  # every other character becomes one "?"
        low = self._lowered = (b"\r\n" + text).lower()
        return low

    def _parsed_get(self, key: str, default: str | None) -> str | None:
        """``get`` answered by the full parse (rare spellings and keys the text search cannot answer)."""
        value = self.headers.get(key)
        return value if value is not None else self._fold(key, default)

    def _fold(self, key: str, default: str | None) -> str | None:
        fold_get = accel.fold_get
        if fold_get is not None:
            value = fold_get(self._headers, key, default)
            if value is not NotImplemented:
                return value
        return self._pure_fold(key, default)

    def _pure_fold(self, key: str, default: str | None) -> str | None:
        """The case-insensitive lookup by ``str.lower`` (Unicode keys; the compiled get's fallback)."""
        folded = self._folded
        if folded is None:
            headers = self._headers
            # Built back to front, so the first spelling of a key wins.
            folded = self._folded = dict(
                zip(map(str.lower, reversed(headers)), reversed(headers.values()), strict=True)
            )
        return folded.get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def getall(self, key: str) -> list[str]:
        """Every value of ``key`` in order (``Output:`` lines, ``ChanVariable:``)."""
        lowered = key.lower()
        values = [v for k, v in self.headers.items() if k.lower() == lowered]
        if self._repeated:
            values.extend(v for k, v in self._repeated if k.lower() == lowered)
        return values

    def items(self) -> Iterator[tuple[str, str]]:
        """All headers, first occurrences then repeats (the wire order is not kept across keys)."""
        yield from self.headers.items()
        if self._repeated:
            yield from self._repeated

    @property
    def event(self) -> str | None:
        """The ``Event`` name, or None for a response."""
        raw = self._raw
        if raw is None:
            return self._headers.get("Event")
        if raw.startswith("Event: "):
            end = raw.find("\r\n")
            return raw[7:end] if end >= 0 else raw[7:]
        return self.get_exact("Event")

    @property
    def response(self) -> str | None:
        """The ``Response`` value (``Success``, ``Error``, ``Follows``...), or None."""
        raw = self._raw
        if raw is None:
            return self._headers.get("Response")
        if raw.startswith("Response: "):
            end = raw.find("\r\n")
            return raw[10:end] if end >= 0 else raw[10:]
        return self.get_exact("Response")

    @property
    def action_id(self) -> str | None:
        """The ``ActionID`` this message answers, if any."""
        return self.get("ActionID")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (
            self.headers == other.headers
            and (self.repeated or []) == (other.repeated or [])
            and (self.body or []) == (other.body or [])
            and self.banner == other.banner
        )

    __hash__ = None  # mutable, compared by content

    def __repr__(self) -> str:
        if self.banner is not None:
            return f"Message(banner={self.banner!r})"
        return f"Message({self.headers!r})"
