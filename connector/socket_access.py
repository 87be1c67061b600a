"""Who may hold a telephony websocket, and why not (plain, synchronous checks).

The consumer calls these through ``database_sync_to_async``; each refusal
carries the close code and the error the browser is told (see
docs/panel-protocol-notes.md for the table).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils.translation import gettext_noop

from connector.tokens import InvalidToken, user_for_token

# Close codes (4000-4999 are free for applications; 4401 etc. echo the HTTP status they resemble).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NO_SEAT = 4402
CLOSE_INACTIVE = 4403
CLOSE_NO_LINE = 4404
CLOSE_INTEGRATION_DISABLED = 4405
CLOSE_LIBRARY_DISABLED = 4406
CLOSE_FLOOD = 4008
# The snapshot could not be read (database down): the browser retries. Apps may not send 1011 through daphne.
CLOSE_UNAVAILABLE = 4500


class Refusal(Exception):
    """Why a socket is refused or closed: ``close_code`` and the browser's ``error.code``."""

    def __init__(self, close_code: int, code: str, message: str) -> None:
        """``message``: English, marked for translation; the socket translates it for the browser."""
        super().__init__(message)
        self.close_code = close_code
        self.code = code
        self.message = message

    def as_message(self) -> dict:
        return {"type": "error", "code": self.code, "message": self.message, "close_code": self.close_code}


@dataclass(frozen=True)
class Access:
    """What an accepted socket may see: the user's line and panel flags."""

    user_id: int
    line: str
    debug: bool
    context: str


def session_fingerprint(session_key: str | None) -> str:
    """A one-way tag for a session key, safe to put on the channel layer."""
    return hashlib.sha256((session_key or "").encode()).hexdigest()[:32]


def resolve_token_user(token: str):
    """The user named by a websocket token; raises :class:`Refusal` (4401) when it is not valid."""
    try:
        return user_for_token(token)
    except InvalidToken as exc:
        if "expired" in str(exc):
            text = gettext_noop("The access token has expired; sign in again.")
            raise Refusal(CLOSE_UNAUTHENTICATED, "token_expired", text) from None
        text = gettext_noop("The access token is not valid; sign in again.")
        raise Refusal(CLOSE_UNAUTHENTICATED, "token_invalid", text) from None


def session_still_valid(session_key: str | None, user_id: int) -> bool:
    """True while the session exists and still logs in ``user_id`` (False after logout or password change)."""
    if not session_key:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    data = store.load()
    if str(data.get(SESSION_KEY)) != str(user_id) or BACKEND_SESSION_KEY not in data:
        return False
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return False
    return hmac.compare_digest(str(data.get(HASH_SESSION_KEY, "")), user.get_session_auth_hash())


def check_access(user) -> Access:
    """Everything a socket needs, or :class:`Refusal` naming the first reason it may not exist."""
    from profiles.models import Profile
    from settings.registry import telephony_library_enabled

    if user is None or not getattr(user, "is_authenticated", False):
        raise Refusal(CLOSE_UNAUTHENTICATED, "unauthenticated", gettext_noop("Sign in to use the telephony panel."))
    # Re-read: the scope's user may be stale (deactivated since the socket opened).
    fresh = get_user_model().objects.filter(pk=user.pk).first()
    if fresh is None:
        raise Refusal(CLOSE_UNAUTHENTICATED, "unauthenticated", gettext_noop("This account no longer exists."))
    if not fresh.is_active:
        raise Refusal(CLOSE_INACTIVE, "inactive", gettext_noop("This account is deactivated."))
    if not telephony_library_enabled():
        raise Refusal(
            CLOSE_LIBRARY_DISABLED,
            "library_disabled",
            gettext_noop("Telephony is switched off (messaging library: none)."),
        )
    profile = Profile.objects.filter(user_id=fresh.pk).first()
    if profile is None or not profile.has_seat:
        raise Refusal(CLOSE_NO_SEAT, "no_seat", gettext_noop("You have no telephony licence."))
    if profile.integration_disabled:
        raise Refusal(
            CLOSE_INTEGRATION_DISABLED,
            "integration_disabled",
            gettext_noop("Contact Centre integration is disabled for you."),
        )
    if not profile.line:
        raise Refusal(CLOSE_NO_LINE, "no_line", gettext_noop("No line number is set in your Call Centre parameters."))
    return Access(user_id=fresh.pk, line=profile.line, debug=profile.debug_mode, context=profile.outgoing_context)


def connector_state() -> str:
    """The AMI link state the active worker last recorded."""
    from connector.models import ConnectorStatus

    return ConnectorStatus.get().state
