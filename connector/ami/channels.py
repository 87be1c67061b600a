"""Asterisk channel names: what technology, which endpoint, and whose line.

``SIP/305-0000001a`` is technology ``SIP``, endpoint ``305``, suffix
``0000001a``. The suffix is the last ``-xxxxxxxx`` (endpoint names may contain
dashes: ``PJSIP/trunk-sipgate-0000002f``). Local channels come in halves,
``Local/305@from-queue-00000012;1`` and ``;2``, that share one base name.
Parsing never raises: a name that is not a channel gives ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SUFFIX = re.compile(r"^(?P<endpoint>.+)-(?P<suffix>[0-9a-fA-F]{8}|[0-9]{1,6})$")
_HALF = re.compile(r";(?P<half>[12])$")
_TECH = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
# Asterisk decorates channels being masqueraded or destroyed: "SIP/305-0000001a<ZOMBIE>".
_DECORATION = re.compile(r"<[A-Z]+>$")

_URI_SCHEME = re.compile(r"^(sips?|tel):", re.IGNORECASE)

PHONE_TECHS = frozenset({"SIP", "PJSIP"})


@dataclass(frozen=True)
class ChannelName:
    """A parsed channel name (or a dial string such as ``SIP/305``, which has no suffix)."""

    raw: str
    tech: str
    endpoint: str
    suffix: str = ""
    half: str = ""

    @property
    def base(self) -> str:
        """The name without the Local half marker: both halves of a Local pair share it."""
        return self.raw[:-2] if self.half else self.raw

    @property
    def is_local(self) -> bool:
        return self.tech.lower() == "local"

    @property
    def sibling(self) -> str | None:
        """The other half of a Local pair (``;1`` <-> ``;2``)."""
        if not self.half:
            return None
        return f"{self.base};{'2' if self.half == '1' else '1'}"


def parse_channel(name: object) -> ChannelName | None:
    """Parse a channel name or dial string; ``None`` when it is not one."""
    if not isinstance(name, str):
        return None
    raw = name.strip()
    text = _DECORATION.sub("", raw)
    tech, slash, rest = text.partition("/")
    if not slash or not rest or not _TECH.match(tech):
        return None
    half = ""
    match = _HALF.search(rest)
    if match and tech.lower() == "local":
        half = match.group("half")
        rest = rest[: match.start()]
    suffix = ""
    match = _SUFFIX.match(rest)
    if match:
        rest, suffix = match.group("endpoint"), match.group("suffix")
    if not rest:
        return None
    return ChannelName(raw=text, tech=tech, endpoint=rest, suffix=suffix, half=half)


class LineMatcher:
    """Maps channel names to operators' lines.

    ``lines`` is the set of configured lines, or ``None``: then every phone
    endpoint seen acting as a phone (see :meth:`learn`) is an operator's line,
    and trunks, whose endpoint name never matches their own caller ID, are not.
    Phones are ``SIP/`` and ``PJSIP/`` channels (plus the configured protocol);
    queue members are Local channels built from ``queue_extension_format``.
    """

    def __init__(
        self,
        lines: frozenset[str] | None,
        protocol: str = "SIP/",
        queue_extension_format: str = "Local/{0}@from-queue/n",
    ) -> None:
        self.lines = lines
        self.techs = {t.lower() for t in PHONE_TECHS} | {protocol.rstrip("/").lower()}
        self.learned: set[str] = set()
        self._queue = _queue_pattern(queue_extension_format)
        self.queue_extension_format = queue_extension_format

    def queue_interface(self, line: str) -> str:
        """The queue member interface of ``line`` (``Local/305@from-queue/n``)."""
        return self.queue_extension_format.replace("{0}", line)

    def candidate(self, name: object) -> str | None:
        """The line ``name`` would belong to if that endpoint is an operator's."""
        parsed = name if isinstance(name, ChannelName) else parse_channel(name)
        if parsed is None:
            return None
        if parsed.is_local:
            if self._queue is None:
                return None
            # a member interface ("Local/305@from-queue/n") carries options after the endpoint
            match = self._queue.match(f"{parsed.tech}/{parsed.endpoint.split('/', 1)[0]}")
            return match.group(1) if match else None
        if parsed.tech.lower() in self.techs and "/" not in parsed.endpoint:
            return parsed.endpoint
        return None

    def line_of(self, name: object) -> str | None:
        """The operator's line of a channel name, dial string or queue interface, else ``None``."""
        parsed = name if isinstance(name, ChannelName) else parse_channel(name)
        line = self.candidate(parsed)
        if line is None:
            return None
        if self.lines is not None:
            return line if line in self.lines else None
        if parsed is not None and parsed.is_local:
            return line  # only queue members match the member interface format
        return line if line in self.learned else None

    def learn(self, name: object, evidence: str | None) -> None:
        """Remember that a phone endpoint is an operator's line (only without configured lines).

        ``evidence`` is a number the endpoint was called by or presents as its
        own caller ID; it must equal the endpoint name (a trunk's never does).
        """
        if self.lines is not None:
            return
        parsed = name if isinstance(name, ChannelName) else parse_channel(name)
        line = self.candidate(parsed)
        if line is None or parsed is None:
            return
        if parsed.is_local or evidence == line:
            self.learned.add(line)

    def is_line(self, number: str | None) -> bool:
        """Whether ``number`` is an operator's line (to tell internal calls)."""
        if not number:
            return False
        if self.lines is not None:
            return number in self.lines
        return number in self.learned


def _queue_pattern(fmt: str) -> re.Pattern | None:
    """``Local/{0}@from-queue/n`` -> a pattern for ``Local/<line>@from-queue`` (options dropped)."""
    if fmt.count("{0}") != 1:
        return None
    before, after = fmt.split("{0}")
    after = after.split("/", 1)[0]  # "/n" and other Local options are not part of the channel name
    return re.compile("^" + re.escape(before) + r"([^@/;]+)" + re.escape(after) + "$", re.IGNORECASE)


def number_from_dial_string(dial_string: str | None) -> str | None:
    """The number in a Dial() argument: ``79031112233``, ``SIP/trunk/7903...``, ``PJSIP/7903...@trunk``."""
    if not dial_string:
        return None
    first = dial_string.split("&", 1)[0].strip()
    parts = first.split("/")
    if len(parts) > 1 and _TECH.match(parts[0]):
        parts = parts[1:]
        if len(parts) > 1 and len(parts[-1]) <= 2 and parts[-1].isalpha():
            parts = parts[:-1]  # Local channel options such as "/n"
    last = _URI_SCHEME.sub("", parts[-1].strip())  # PJSIP contacts: "305/sip:305@10.0.0.5:5060"
    number = last.split("@", 1)[0].split(",", 1)[0].split(";", 1)[0].strip()
    return number or None
