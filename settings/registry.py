"""The known system settings: their names, defaults, choices and validation.

Adding a setting means adding an entry here; the database holds only values.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

SYS_MSG_LIB = "SysMsgLib"
SYS_MSG_SERVER_NODE = "SysMsgServerNode"

LIB_ASTERISK = "asterisk"
LIB_NONE = "none"

DEFAULT_PORTS = {"ws": 2013, "http": 2013, "wss": 2014, "https": 2014}


@dataclass(frozen=True)
class SettingSpec:
    """One known setting: its code, the name and description people read, and its rules."""

    code: str
    name: Promise
    description: Promise
    default: str = ""
    choices: tuple[tuple[str, Promise], ...] = ()
    validate: Callable[[str], str] | None = None
    warn: Callable[[str], list[str]] = field(default=lambda value: [])

    def label_for(self, value: str) -> str:
        """The text a person reads for a stored value (the choice label for a choice setting)."""
        for choice, label in self.choices:
            if choice == value:
                return str(label)
        return value

    def clean(self, value: str) -> str:
        """Return the normalised value or raise ValidationError naming what is accepted."""
        value = value or ""
        if any(_is_control(c) for c in value):
            # Refuse rather than strip: a line break here may be an injection attempt.
            raise ValidationError(_("Control characters (line breaks, tabs, NUL) are not allowed."), code="control")
        value = value.strip(" ")
        if self.choices and value not in {c for c, _label in self.choices}:
            accepted = ", ".join(c for c, _label in self.choices)
            raise ValidationError(_("Choose one of: %(accepted)s.") % {"accepted": accepted})
        if self.validate:
            value = self.validate(value)
        return value


def _is_control(char: str) -> bool:
    """C0/C1 controls and the Unicode line and paragraph separators."""
    return ord(char) < 32 or 127 <= ord(char) < 160 or char in "\u2028\u2029"


def clean_server_node(value: str) -> str:
    """Accept ws://, wss://, http://, https:// host[:port]; empty means this site."""
    if not value:
        return ""
    accepted = _(
        "Enter ws://host:port, wss://host:port, http://host:port or https://host:port "
        "(ports default to 2013 for ws/http and 2014 for wss/https), or leave it empty for this site."
    )
    if not value.isascii() or any(ord(c) < 33 or ord(c) == 127 for c in value):
        raise ValidationError(accepted, code="invalid_node")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValidationError(accepted, code="invalid_node") from None
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        raise ValidationError(accepted, code="invalid_node")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationError(accepted, code="invalid_node")
    if "?" in value or "#" in value:
        raise ValidationError(accepted, code="invalid_node")
    host = parts.hostname
    if not _valid_host(host):
        raise ValidationError(accepted, code="invalid_node")
    if port == 0:
        raise ValidationError(accepted, code="invalid_node")
    scheme = parts.scheme.lower()
    port = port or DEFAULT_PORTS[scheme]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def _valid_host(host: str) -> bool:
    """A DNS name (ASCII letters, digits, hyphens) or an IP address without a zone id."""
    if "%" in host:
        # Browsers cannot open an IPv6 address with a zone id (fe80::1%eth0).
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if all(label.isdigit() for label in labels):
        # Digits only but not an IP address (999.1.1.1): a typo, not a host name.
        return False
    return all(
        label
        and len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c.isalnum() or c == "-" for c in label)
        for label in labels
    ) and all(label.isascii() for label in labels)


def server_node_warnings(value: str) -> list[str]:
    """An IP address or localhost works, but the vendor advises a domain name."""
    if not value:
        return []
    host = urlsplit(value).hostname or ""
    is_ip = True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        is_ip = False
    if is_ip or host == "localhost":
        return [
            str(
                _(
                    "%(host)s is an IP address or localhost. A domain name is advised; with wss:// "
                    "the name must match the server's certificate."
                )
                % {"host": host}
            )
        ]
    return []


SETTINGS: dict[str, SettingSpec] = {
    spec.code: spec
    for spec in (
        SettingSpec(
            code=SYS_MSG_LIB,
            name=_("Default messaging library"),
            description=_("The library that connects the site to the telephony system."),
            default=LIB_ASTERISK,
            choices=(
                (LIB_ASTERISK, _("Asterisk (AMI) telephony integration library")),
                (LIB_NONE, _("none")),
            ),
        ),
        SettingSpec(
            code=SYS_MSG_SERVER_NODE,
            name=_("Messaging server"),
            description=_(
                "The address browsers connect to for call events, e.g. wss://host:2014. Empty: this site itself."
            ),
            default="",
            validate=clean_server_node,
            warn=server_node_warnings,
        ),
    )
}


def get_setting(code: str) -> str:
    """The stored value of a setting, or its default when no row exists."""
    from settings.models import SystemSetting

    spec = SETTINGS[code]
    row = SystemSetting.objects.filter(code=code).only("value").first()
    return row.value if row is not None else spec.default


def ensure_rows() -> None:
    """Create a row holding the default for every registered setting that has none yet."""
    from settings.models import SystemSetting

    existing = set(SystemSetting.objects.filter(code__in=SETTINGS).values_list("code", flat=True))
    for code, spec in SETTINGS.items():
        if code not in existing:
            SystemSetting.objects.get_or_create(code=code, defaults={"value": spec.default})


def telephony_library_enabled() -> bool:
    """False when an administrator set the default messaging library to "none"."""
    return get_setting(SYS_MSG_LIB) == LIB_ASTERISK
