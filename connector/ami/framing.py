"""Bytes in, complete AMI messages out.

Only complete messages are decoded, so a UTF-8 character split across two
reads survives. Line ends may be CRLF or bare LF; a message ends at the first
blank line. A message larger than ``max_message`` is dropped whole (counted in
``bad_frames``) instead of growing the buffer without bound.
"""

from __future__ import annotations

from connector.ami.message import Message

BANNER_PREFIX = b"Asterisk Call Manager"
DEFAULT_MAX_MESSAGE = 256 * 1024


class Framer:
    """Incremental AMI framer: ``feed(data)`` returns the messages completed by ``data``."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE, expect_banner: bool = True) -> None:
        self.max_message = max_message
        self.bad_frames = 0
        self._buffer = b""
        self._expect_banner = expect_banner
        self._skipping = False  # inside an oversized message: drop until its end

    def feed(self, data: bytes) -> list[Message]:
        buffer = self._buffer + data if self._buffer else data
        messages: list[Message] = []
        if self._expect_banner:
            if not buffer:
                return messages
            end = buffer.find(b"\n")
            if end < 0:
                if len(buffer) > self.max_message:
                    self._expect_banner = False
                else:
                    self._buffer = buffer
                    return messages
            else:
                self._expect_banner = False
                line = buffer[:end].rstrip(b"\r")
                if line.startswith(BANNER_PREFIX):
                    messages.append(Message(banner=line.decode("utf-8", "replace")))
                    buffer = buffer[end + 1 :]
        if self._skipping:
            end = _find_end(buffer)
            if end < 0:
                self._buffer = b""
                return messages
            self._skipping = False
            buffer = buffer[end:]
        cut = buffer.rfind(b"\r\n\r\n")
        lf_cut = buffer.rfind(b"\n\n")
        if lf_cut >= 0 and lf_cut + 2 > cut + 4:
            cut, width = lf_cut, 2
        else:
            width = 4
        if cut < 0:
            self._remember(buffer)
            return messages
        complete = buffer[: cut + width].decode("utf-8", "replace")
        self._remember(buffer[cut + width :])
        for block in complete.split("\r\n\r\n"):
            if "\n\n" in block or "\n\r\n" in block:
                for part in block.replace("\r\n", "\n").split("\n\n"):
                    self._parse_block(part, messages)
            else:
                self._parse_block(block, messages)
        return messages

    def _remember(self, rest: bytes) -> None:
        if len(rest) > self.max_message:
            self.bad_frames += 1
            self._skipping = True
            self._buffer = b""
        else:
            self._buffer = rest

    def _parse_block(self, block: str, out: list[Message]) -> None:
        block = block.strip("\r\n")
        if not block:
            return
        if len(block) > self.max_message:
            self.bad_frames += 1
            return
        headers: dict[str, str] = {}
        repeated = None
        body = None
        for line in block.split("\n"):
            if line.endswith("\r"):
                line = line[:-1]
            key, sep, value = line.partition(": ")
            if not sep or " " in key:
                key, sep, value = line.partition(":")
                if not sep or not key or " " in key:
                    if line:
                        if body is None:
                            body = []
                        body.append(line)
                    continue
            if key in headers:
                if repeated is None:
                    repeated = []
                repeated.append((key, value))
            else:
                headers[key] = value
        if not headers:
            self.bad_frames += 1
            return
        out.append(Message(headers, repeated, body))


def _find_end(buffer: bytes) -> int:
    """Offset just past the first blank line in ``buffer``, or -1."""
    ends = [i + w for i, w in ((buffer.find(b"\r\n\r\n"), 4), (buffer.find(b"\n\n"), 2)) if i >= 0]
    return min(ends) if ends else -1


def parse_stream(data: bytes, expect_banner: bool = True) -> list[Message]:
    """Frame a whole byte stream at once (tests, replays)."""
    return Framer(expect_banner=expect_banner).feed(data)
