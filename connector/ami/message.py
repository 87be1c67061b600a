"""One AMI message (event, response or action) as an ordered set of headers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


class Message:
    """An AMI message.

    ``headers`` maps each key (exactly as Asterisk spelled it) to its first
    value; repeated keys (``Output:``, ``ChanVariable:``) keep their later
    values in ``repeated``; lines without a colon (old ``Response: Follows``
    bodies) go to ``body``. ``banner`` is set only for the one-line greeting
    (``Asterisk Call Manager/9.0.0``) that opens every connection.
    """

    __slots__ = ("headers", "repeated", "body", "banner")

    def __init__(
        self,
        headers: dict[str, str] | None = None,
        repeated: list[tuple[str, str]] | None = None,
        body: list[str] | None = None,
        banner: str | None = None,
    ) -> None:
        self.headers = headers if headers is not None else {}
        self.repeated = repeated
        self.body = body
        self.banner = banner

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Message:
        message = cls()
        for key, value in pairs:
            message.add(key, value)
        return message

    def add(self, key: str, value: str) -> None:
        if key in self.headers:
            if self.repeated is None:
                self.repeated = []
            self.repeated.append((key, value))
        else:
            self.headers[key] = value

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of ``key``; a case-insensitive match when the exact one is absent."""
        value = self.headers.get(key)
        if value is not None:
            return value
        lowered = key.lower()
        for name, value in self.headers.items():
            if name.lower() == lowered:
                return value
        return default

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
        if self.repeated:
            values.extend(v for k, v in self.repeated if k.lower() == lowered)
        return values

    def items(self) -> Iterator[tuple[str, str]]:
        """All headers, first occurrences then repeats (the wire order is not kept across keys)."""
        yield from self.headers.items()
        if self.repeated:
            yield from self.repeated

    @property
    def event(self) -> str | None:
        return self.headers.get("Event")

    @property
    def response(self) -> str | None:
        return self.headers.get("Response")

    @property
    def action_id(self) -> str | None:
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

    def __repr__(self) -> str:
        if self.banner is not None:
            return f"Message(banner={self.banner!r})"
        return f"Message({self.headers!r})"
