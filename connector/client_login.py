"""AMI login (plain or MD5 challenge) and what the client shows of the actions it sends."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping

from connector.ami.message import Message
from connector.client_options import AmiActionError, ClientOptions

logger = logging.getLogger("connector.client")  # one logger for the whole client

_SECRET_LINE = re.compile(rb"(?im)^(Secret|Key): [^\r\n]*")


class AuthRejected(Exception):
    """Asterisk refused the Login (its own Message, which never contains the secret)."""


async def login(options: ClientOptions, request: Callable[[str, dict], Awaitable]) -> None:
    """Log in with ``request(action, fields)``; raises :class:`AuthRejected` when Asterisk says no.

    With ``auth_type="md5"`` the secret never crosses the wire: Challenge, then
    ``Key = md5(challenge + secret)``.
    """
    fields: dict[str, object] = {"Username": options.username}
    if options.auth_type == "md5":
        challenge = await request("Challenge", {"AuthType": "MD5"})
        nonce = challenge.response.get("Challenge") or ""
        fields["AuthType"] = "MD5"
        fields["Key"] = hashlib.md5((nonce + options.secret).encode()).hexdigest()
    else:
        fields["Secret"] = options.secret
    fields["Events"] = options.events
    try:
        await request("Login", fields)
    except AmiActionError as exc:
        if exc.code == "pbx_error":
            raise AuthRejected(exc.message) from None
        raise


async def settle(options: ClientOptions, request: Callable[[str, dict], Awaitable], booted: asyncio.Event) -> None:
    """After Login: install the event filters, then wait for ``FullyBooted`` (or ``fully_booted_wait`` s).

    A filter Asterisk refuses is logged and skipped; ``booted`` is set on the way out either way.
    """
    for expression in options.event_filters:
        try:
            await request("Filter", {"Operation": "Add", "Filter": expression})
        except AmiActionError as exc:
            logger.warning("AMI Filter %r not accepted: %s", expression, exc.message)
    try:
        await asyncio.wait_for(booted.wait(), options.fully_booted_wait)
    except TimeoutError:
        logger.info("No FullyBooted within %g s of login; resyncing anyway", options.fully_booted_wait)
        booted.set()


def mask_secrets(data: bytes) -> bytes:
    """Raw outgoing bytes with ``Secret:`` and ``Key:`` values replaced, for recordings."""
    return _SECRET_LINE.sub(rb"\1: ********", data)


def sent_action(
    action: str, action_id: str, fields: Mapping[str, object] | None, variables: Mapping[str, object] | None
) -> Message:
    """The action as a message, the way call tracking reads actions from a recording."""
    sent = Message({"Action": action, "ActionID": action_id})
    for key, value in (fields or {}).items():
        if value is not None:
            sent.add(key, ("true" if value else "false") if isinstance(value, bool) else str(value))
    for name, value in (variables or {}).items():
        sent.add("Variable", f"{name}={value}")
    return sent
