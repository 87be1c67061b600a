"""The connector's parameters, with the vendor's names and meanings.

Sources, later ones winning: the defaults below, the ``"asterisk"`` object of
an existing vendor ``appsettings.json`` (path in ``ASTERISK_CONFIG_FILE``), and
``ASTERISK_<UPPER_SNAKE>`` environment variables. Only ``telephony_site/settings.py``
calls :func:`load_connector_config`; everything else reads ``settings.ASTERISK``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

CONTEXT_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,79}$")
HOST_RE = re.compile(r"^[A-Za-z0-9_.:\-\[\]]{1,253}$")
USER_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,80}$")


@dataclass(frozen=True)
class ConnectorConfig:
    """The effective connector configuration. ``repr`` never shows the secret."""

    url: str = "127.0.0.1"
    port: int = 5038
    userName: str = ""
    secret: str = field(default="", repr=False)
    protocol: str = "SIP/"
    originateContext: str = "from-internal"
    parkingLotContext: str = ""
    autoPauseOnCommutationStart: bool = False
    queueExtensionFormat: str = "Local/{0}@from-queue/n"
    asyncOriginate: bool = True
    sendRingStartedOnRingingState: bool = True
    traceQueuesState: bool = False
    packetInfoConfig: tuple[str, ...] = ()
    filePath: str = ""
    # Not in the vendor's file: how the connector talks to AMI.
    authType: str = "plain"  # "plain" Login, or "md5" (Challenge + Key: the secret never crosses the wire)
    events: str = "on"  # Login's Events mask: "on", or classes such as "call,agent,system"
    eventFilter: tuple[str, ...] = ()  # AMI Filter expressions, e.g. "!Event: RTCP*"
    pingInterval: float = 10.0
    pingTimeout: float = 5.0
    actionTimeout: float = 10.0

    @property
    def parking_lot_context(self) -> str:
        """``parkingLotContext`` defaults to the originate context."""
        return self.parkingLotContext or self.originateContext

    def queue_interface(self, line: str) -> str:
        """The queue member interface of a line, e.g. ``Local/305@from-queue/n``."""
        return self.queueExtensionFormat.replace("{0}", line)

    def check_live(self) -> None:
        """A live AMI connection needs a user and a secret; raise naming the variables otherwise."""
        if self.filePath:
            return
        missing = [env_name(name) for name in ("userName", "secret") if not getattr(self, name)]
        if missing:
            raise ImproperlyConfigured(
                f"{' and '.join(missing)}: required to log in to AMI (or set ASTERISK_FILE_PATH to replay a file)"
            )

    def public_view(self) -> dict[str, object]:
        """Every parameter for display; the secret only as set / not set."""
        view: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "secret":
                value = "set" if value else "not set"
            elif isinstance(value, tuple):
                value = ", ".join(value)
            view[f.name] = value
        return view


def env_name(parameter: str) -> str:
    """``originateContext`` -> ``ASTERISK_ORIGINATE_CONTEXT``."""
    return "ASTERISK_" + re.sub(r"(?<!^)(?=[A-Z])", "_", parameter).upper()


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def _to_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}: expected true or false, got {value!r}")


def _to_list(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    elif isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    else:
        raise ImproperlyConfigured(f"{name}: expected a list of names or a comma-separated string")
    items = [i for i in items if i]
    for item in items:
        if not re.fullmatch(r"[A-Za-z0-9_\-()]{1,80}", item):
            raise ImproperlyConfigured(f"{name}: {item!r} is not an AMI field or channel variable name")
    return tuple(items)


def _to_seconds(name: str, value: object) -> float:
    try:
        seconds = float(str(value).strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected a number of seconds, got {value!r}") from None
    if not 0.1 <= seconds <= 3600:
        raise ImproperlyConfigured(f"{name}: must be between 0.1 and 3600 seconds, got {seconds:g}")
    return seconds


def _to_filters(name: str, value: object) -> tuple[str, ...]:
    # ";" separates expressions: they may contain commas (regular expressions).
    if isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        items = [v.strip() for v in str(value).split(";")]
    items = [i for i in items if i]
    for item in items:
        if any(c in item for c in "\r\n\x00"):
            raise ImproperlyConfigured(f"{name}: a filter contains a line break or NUL")
    return tuple(items)


def _validate(raw: dict[str, object], source: dict[str, str]) -> ConnectorConfig:
    def where(key: str) -> str:
        return source.get(key, key)

    values: dict[str, object] = {}
    for f in fields(ConnectorConfig):
        if f.name not in raw:
            continue
        value = raw[f.name]
        name = where(f.name)
        if f.type == "bool":
            values[f.name] = _to_bool(name, value)
        elif f.type == "int":
            try:
                port = int(str(value).strip())
            except ValueError:
                raise ImproperlyConfigured(f"{name}: expected a port number, got {value!r}") from None
            if not 1 <= port <= 65535:
                raise ImproperlyConfigured(f"{name}: port must be between 1 and 65535")
            values[f.name] = port
        elif f.type == "float":
            values[f.name] = _to_seconds(name, value)
        elif f.name == "packetInfoConfig":
            values[f.name] = _to_list(name, value)
        elif f.name == "eventFilter":
            values[f.name] = _to_filters(name, value)
        else:
            values[f.name] = "" if value is None else str(value).strip()

    config = ConnectorConfig(**values)
    if not HOST_RE.match(config.url):
        raise ImproperlyConfigured(f"{where('url')}: not a host name or address: {config.url!r}")
    if config.protocol not in ("SIP/", "PJSIP/"):
        raise ImproperlyConfigured(f"{where('protocol')}: must be 'SIP/' or 'PJSIP/', got {config.protocol!r}")
    for key in ("originateContext", "parkingLotContext"):
        value = getattr(config, key)
        if value and not CONTEXT_RE.match(value):
            raise ImproperlyConfigured(f"{where(key)}: not an Asterisk context name: {value!r}")
    if config.userName and not USER_RE.match(config.userName):
        raise ImproperlyConfigured(f"{where('userName')}: contains control characters")
    if any(c in config.secret for c in "\r\n\x00"):
        raise ImproperlyConfigured(f"{where('secret')}: contains a line break or NUL")
    fmt = config.queueExtensionFormat
    if fmt.count("{0}") != 1 or any(c in fmt for c in "\r\n\x00 "):
        raise ImproperlyConfigured(
            f"{where('queueExtensionFormat')}: must contain {{0}} exactly once and no spaces, e.g. Local/{{0}}@from-queue/n"
        )
    if config.authType not in ("plain", "md5"):
        raise ImproperlyConfigured(f"{where('authType')}: must be 'plain' or 'md5', got {config.authType!r}")
    if not re.fullmatch(r"[A-Za-z,]{1,200}", config.events):
        raise ImproperlyConfigured(
            f"{where('events')}: 'on', 'off' or a comma-separated class list, got {config.events!r}"
        )
    if config.filePath and not Path(config.filePath).is_file():
        raise ImproperlyConfigured(f"{where('filePath')}: no such file: {config.filePath}")
    return config


def load_connector_config(env) -> ConnectorConfig:
    """Build the configuration from appsettings.json (optional) and the environment."""
    raw: dict[str, object] = {}
    source: dict[str, str] = {}
    config_file = env.str("ASTERISK_CONFIG_FILE", default="")
    if config_file:
        path = Path(config_file)
        try:
            document = json.loads(path.read_text(encoding="utf-8-sig"))
        except OSError as exc:
            raise ImproperlyConfigured(f"ASTERISK_CONFIG_FILE: cannot read {path}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise ImproperlyConfigured(f"ASTERISK_CONFIG_FILE: {path} is not valid JSON ({exc})") from exc
        section = document.get("asterisk") if isinstance(document, dict) else None
        if section is None and isinstance(document, dict):
            # Accept any capitalisation of the section name ("Asterisk").
            section = next((v for k, v in document.items() if k.lower() == "asterisk"), None)
        if not isinstance(section, dict):
            raise ImproperlyConfigured(f'ASTERISK_CONFIG_FILE: {path} has no "asterisk" object')
        known = {f.name.lower(): f.name for f in fields(ConnectorConfig)}
        for key, value in section.items():
            name = known.get(key.lower())
            if name:
                raw[name] = value
                source[name] = f"{path}: asterisk.{key}"
    for f in fields(ConnectorConfig):
        var = env_name(f.name)
        value = env.str(var, default=None)
        if value is not None:
            raw[f.name] = value
            source[f.name] = var
    return _validate(raw, source)
