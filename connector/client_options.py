"""What the AMI client is told (options), how it waits between attempts (backoff), and its one error."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

CONNECTED = "connected"
RECONNECTING = "reconnecting"
DOWN = "down"
AUTH_FAILED = "ami_auth_failed"


class AmiActionError(Exception):
    """An action that did not succeed: ``code`` is ``pbx_timeout``, ``pbx_disconnected`` or ``pbx_error``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ClientOptions:
    """Where to connect and how patient to be. Times are seconds."""

    host: str = "127.0.0.1"
    port: int = 5038
    username: str = ""
    secret: str = field(default="", repr=False)
    auth_type: str = "plain"  # "plain" or "md5" (Challenge/Login with Key)
    events: str = "on"  # Login's Events header: "on", "off" or a class mask such as "call,agent"
    event_filters: tuple[str, ...] = ()  # AMI Filter expressions, e.g. "!Event: RTCP*"
    connect_timeout: float = 5.0
    login_timeout: float = 5.0
    action_timeout: float = 10.0
    list_timeout: float = 30.0
    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    backoff_jitter: float = 0.2
    auth_retry_interval: float = 60.0
    fully_booted_wait: float = 5.0
    resync_queues: bool = True
    event_buffer: int = 10000
    stable_after: float = 10.0  # a connection up this long resets the backoff

    @classmethod
    def from_config(cls, config, **overrides) -> ClientOptions:
        """Options from a :class:`connector.config.ConnectorConfig`, with keyword overrides."""
        options = cls(
            host=config.url,
            port=config.port,
            username=config.userName,
            secret=config.secret,
            auth_type=getattr(config, "authType", "plain"),
            events=getattr(config, "events", "on"),
            event_filters=tuple(getattr(config, "eventFilter", ())),
            action_timeout=getattr(config, "actionTimeout", cls.action_timeout),
            ping_interval=getattr(config, "pingInterval", cls.ping_interval),
            ping_timeout=getattr(config, "pingTimeout", cls.ping_timeout),
        )
        return replace(options, **overrides)


class Backoff:
    """Exponential delays (base doubling up to cap) with +/- ``jitter`` spread."""

    def __init__(self, base: float, cap: float, jitter: float, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.attempt = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        """The delay before the next attempt; each call doubles the nominal delay."""
        nominal = min(self.cap, self.base * (2**self.attempt))
        self.attempt += 1
        return nominal * self._rng.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        self.attempt = 0
