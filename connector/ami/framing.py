"""Bytes in, complete AMI messages out.

Only complete messages are decoded, so a UTF-8 character split across two
reads survives. Line ends may be CRLF or bare LF, and a message ends at the
first blank line (``\\r\\n\\r\\n``, ``\\n\\n``, ``\\r\\n\\n`` as in Asterisk
issue 761, or ``\\n\\r\\n``).

A message starts with an ``Event:``, ``Response:`` or ``Action:`` line; junk in
front of one is dropped and counted in ``bad_frames``. A message larger than
``max_message`` is dropped too (counted once), and the framer skips to the
next blank line or the next ``Event:``/``Response:`` line, so the buffer never
grows past the cap and the next valid event is not lost.

Where the compiled helpers are built (``accel``), a read made only of
well-formed CRLF messages is framed in C with every header split out; any
other read takes the Python path below, which gives the same messages.

Old Asterisk (13 and before) answers ``Command`` with ``Response: Follows`` and
raw output lines ending in ``--END COMMAND--``; that output may contain blank
lines, so such a message is held until its end marker. Asterisk 14+ sends the
output as repeated ``Output:`` headers instead, which need nothing special.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import repeat

from connector.ami import accel
from connector.ami.message import Message, split_header

BANNER_PREFIX = b"Asterisk Call Manager"
DEFAULT_MAX_MESSAGE = 256 * 1024
END_COMMAND = "--END COMMAND--"

_STARTS = ("Event: ", "Response: ", "Action: ")
_FOLLOWS = "Response: Follows"
_BARE_LF = re.compile(rb"\n(?<!\r\n)")  # an LF without its CR: the careful, slower split
_STARTS_EACH = repeat(_STARTS)  # map() arguments, shared by every read
_NONE = repeat(None)
_RESYNC = (b"\nEvent: ", b"\nResponse: ")
_RESYNC_WIDTH = max(len(m) for m in _RESYNC)
# Headers an old-style command reply carries before its raw output.
_FOLLOWS_HEADERS = frozenset(("response", "privilege", "actionid", "message"))

Append = Callable[[Message], None]


class Framer:
    """Incremental AMI framer: ``feed(data)`` returns the messages completed by ``data``.

    ``expect_banner``: the first line of the stream is the greeting
    (``Asterisk Call Manager/9.0.0``) and comes out as a ``Message`` with
    ``banner`` set. ``bad_frames`` counts dropped junk and oversized messages.
    """

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE, expect_banner: bool = True) -> None:
        self.max_message = max_message
        self.bad_frames = 0
        self._buffer = b""
        self._expect_banner = expect_banner
        self._skipping = False  # inside an oversized message: drop until a resync point
        self._follows: Message | None = None  # old-style command reply waiting for END_COMMAND
        self._follows_size = 0

    @property
    def pending(self) -> int:
        """Bytes held for a message not yet complete (never much more than ``max_message``)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes read from the socket; return every message they complete, in order."""
        old = len(self._buffer)
        buffer = self._buffer + data if old else data
        messages: list[Message] = []
        if self._expect_banner:
            buffer = self._take_banner(buffer, messages)
            old = 0
            if buffer is None:
                return messages
        if self._skipping:
            buffer = self._resync(buffer)
            old = 0
            if buffer is None:
                return messages
        # Everything before ``old`` was searched already; a terminator may straddle the seam.
        start = old - 2 if old > 2 else 0
        cut = buffer.rfind(b"\n\r\n", start)
        if cut >= 0:
            cut += 3
        # Only an LF LF pair ending after that blank line moves the cut (a CRLF stream has none).
        lf_cut = buffer.rfind(b"\n\n", cut - 1 if cut > start else start)
        if lf_cut >= 0 and lf_cut + 2 > cut:
            cut = lf_cut + 2
        if cut < 0:
            self._remember(buffer)
            return messages
        self._remember(buffer[cut:])
        limit = self.max_message
        frame = accel.frame
        if frame is not None and self._follows is None:
            framed = frame(buffer, cut, limit, Message)  # plain CRLF messages, headers split out
            if framed is not None:
                if messages:
                    messages.extend(framed)
                    return messages
                return framed
        text = buffer[:cut].decode("utf-8", "replace")
        if _BARE_LF.search(buffer, 0, cut) is None:
            sep = "\r\n"
            blocks = text.split("\r\n\r\n")
            blocks.pop()  # the text ends with a blank line: the last piece is empty
            if (
                self._follows is None
                and all(map(str.startswith, blocks, _STARTS_EACH))
                and (cut <= limit or max(map(len, blocks)) <= limit)
                and _FOLLOWS not in text
            ):
                # Only well-formed CRLF messages (the usual read): all kept raw, split on first use.
                messages.extend(map(Message, _NONE, _NONE, _NONE, _NONE, blocks))
                return messages
        else:
            sep = "\n"
            blocks = text.replace("\r\n", "\n").split("\n\n")
        append = messages.append
        lazy = sep == "\r\n" and self._follows is None
        for block in blocks:
            if not block:
                continue
            if lazy and len(block) <= limit and block.startswith(_STARTS) and not block.startswith(_FOLLOWS):
                # A well-formed CRLF message: its headers are split out when first read.
                append(Message(None, None, None, None, block))
                continue
            self._parse_block(block, sep, append)
            lazy = sep == "\r\n" and self._follows is None
        return messages

    def _take_banner(self, buffer: bytes, out: list[Message]) -> bytes | None:
        end = buffer.find(b"\n")
        if end < 0:
            if len(buffer) <= self.max_message:
                self._buffer = buffer
                return None
            self._expect_banner = False
            return buffer
        self._expect_banner = False
        line = buffer[:end].rstrip(b"\r")
        if line.startswith(BANNER_PREFIX):
            out.append(Message(banner=line.decode("utf-8", "replace")))
            return buffer[end + 1 :]
        return buffer

    def _resync(self, buffer: bytes) -> bytes | None:
        """While skipping an oversized message: the buffer from the next message on, or None."""
        found = [i + 1 for i in (buffer.find(m) for m in _RESYNC) if i >= 0]
        found += [i + w for i, w in ((buffer.find(b"\n\n"), 2), (buffer.find(b"\n\r\n"), 3)) if i >= 0]
        if not found:
            self._buffer = buffer[-_RESYNC_WIDTH:]  # a marker may straddle two reads
            return None
        self._skipping = False
        return buffer[min(found) :]

    def _remember(self, rest: bytes) -> None:
        if len(rest) <= self.max_message:
            self._buffer = rest
            return
        self.bad_frames += 1
        # Keep a message that began inside the oversized junk, if it fits.
        starts = [i + 1 for i in (rest.rfind(m) for m in _RESYNC) if i >= 0]
        if starts and len(rest) - max(starts) <= self.max_message:
            self._buffer = rest[max(starts) :]
            return
        self._skipping = True
        self._buffer = rest[-_RESYNC_WIDTH:]

    def _parse_block(self, block: str, sep: str, append: Append) -> None:
        lines = block.split(sep)
        if self._follows is not None:
            if lines[0].startswith(_STARTS):
                self._finish_follows(append)  # its end marker never came: do not eat what follows
            else:
                self._continue_follows(lines, len(block), append)
                return
        if len(block) > self.max_message:
            self.bad_frames += 1
            return
        first = 0
        while first < len(lines) and not lines[first].startswith(_STARTS):
            first += 1
        if first == len(lines):
            if any(lines):
                self.bad_frames += 1
            return
        if any(lines[:first]):
            self.bad_frames += 1
        message = Message()
        add = message.add
        follows = lines[first] == "Response: Follows"
        for index in range(first, len(lines)):
            line = lines[index]
            key, value = split_header(line)
            if follows and (key is None or key.lower() not in _FOLLOWS_HEADERS):
                self._start_follows(message, lines[index:], len(block), append)
                return
            if key is not None:
                add(key, value)
            elif line:
                if message.body is None:
                    message.body = []
                message.body.append(line)
        if follows:
            self._start_follows(message, [], len(block), append)
            return
        append(message)

    def _start_follows(self, message: Message, body: list[str], size: int, append: Append) -> None:
        message.body = []
        self._follows = message
        self._follows_size = 0
        self._continue_follows(body, size, append)

    def _continue_follows(self, lines: list[str], size: int, append: Append) -> None:
        message = self._follows
        assert message is not None and message.body is not None
        if message.body or self._follows_size:
            message.body.append("")  # the blank line that split the output
        self._follows_size += size
        for line in lines:
            if line.endswith(END_COMMAND):
                if line != END_COMMAND:
                    message.body.append(line[: -len(END_COMMAND)])
                self._finish_follows(append)
                return
            message.body.append(line)
        if self._follows_size > self.max_message:
            self.bad_frames += 1
            self._follows = None

    def _finish_follows(self, append: Append) -> None:
        message = self._follows
        self._follows = None
        assert message is not None and message.body is not None
        while message.body and not message.body[-1]:
            message.body.pop()
        append(message)


def parse_stream(data: bytes, expect_banner: bool = True) -> list[Message]:
    """Frame a whole byte stream at once (tests, replays)."""
    return Framer(expect_banner=expect_banner).feed(data)
