"""Short-lived signed tokens that let a logged-in user open the websocket on another node.

The token names the user and a fragment of his session auth hash, so a
password change invalidates it; it expires after ``settings.WS_TOKEN_MAX_AGE``
seconds. It carries no secret: signing proves it was issued by this site.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing

SALT = "connector.ws-token"


class InvalidToken(Exception):
    """The token is malformed, forged, expired or names a user who may no longer connect."""


def max_age() -> int:
    """Token lifetime in seconds."""
    return int(settings.WS_TOKEN_MAX_AGE)


def issue_token(user) -> str:
    """A signed token for ``user`` (who must be authenticated)."""
    return signing.dumps({"u": user.pk, "h": user.get_session_auth_hash()[:16]}, salt=SALT, compress=False)


def user_for_token(token: str):
    """The active user a token was issued to; raises :class:`InvalidToken` otherwise."""
    if not isinstance(token, str) or not token or len(token) > 512:
        raise InvalidToken("malformed token")
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age())
    except signing.SignatureExpired:
        raise InvalidToken("token expired") from None
    except signing.BadSignature:
        raise InvalidToken("bad token signature") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), int):
        raise InvalidToken("malformed token")
    user = get_user_model().objects.filter(pk=payload["u"]).first()
    if user is None or user.get_session_auth_hash()[:16] != payload.get("h"):
        raise InvalidToken("token no longer valid")
    return user
