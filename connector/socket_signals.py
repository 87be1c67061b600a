"""Tell a user's open sockets that his access may have changed, or that a session logged out.

``profiles.signals.profile_changed`` (profile saved or deleted, account
activated or deactivated, logout) -> ``user.changed`` to the user's group: each
socket re-checks and re-joins, re-sends ``hello`` or closes. A change of ``SysMsgLib``
sends the same to every operator holding a seat. Logout also sends
``user.logout`` with a one-way tag of the session, so exactly the sockets of
that session (and token sockets) close at once.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.signals import user_logged_out
from django.db import transaction

from connector.publisher import group_for_user
from connector.socket_access import session_fingerprint

logger = logging.getLogger(__name__)


def notify_user_sockets(user_id: int, message: dict) -> None:
    """Send ``message`` to every socket of ``user_id``; a channel-layer failure is logged, never raised."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_for_user(user_id), message)
    except Exception as exc:
        # Sockets still re-check on reconnect; an admin save must not fail because Redis is down.
        logger.warning("could not notify the sockets of user %s: %s", user_id, exc.__class__.__name__)


def on_profile_changed(sender, user_id: int, **kwargs) -> None:
    """After the change is committed, make the user's sockets re-check their access."""
    transaction.on_commit(lambda: notify_user_sockets(user_id, {"type": "user.changed"}))


def on_logged_out(sender, request, user, **kwargs) -> None:
    """Close the sockets of the session that is logging out."""
    if user is None or getattr(user, "pk", None) is None:
        return
    session = getattr(request, "session", None)
    tag = session_fingerprint(getattr(session, "session_key", None))
    notify_user_sockets(user.pk, {"type": "user.logout", "session": tag})


def on_system_setting_saved(sender, instance, **kwargs) -> None:
    """``SysMsgLib`` changed: every operator's open sockets re-check (and close with 4406 when it is ``none``)."""
    from profiles.models import Profile
    from settings.registry import SYS_MSG_LIB

    if instance.code != SYS_MSG_LIB:
        return
    user_ids = list(Profile.objects.filter(has_seat=True).values_list("user_id", flat=True))

    def notify() -> None:
        for user_id in user_ids:
            notify_user_sockets(user_id, {"type": "user.changed"})

    transaction.on_commit(notify)


def connect() -> None:
    """Connect the receivers (called from ``ConnectorConfig.ready``)."""
    from django.db.models.signals import post_save

    from profiles.signals import profile_changed
    from settings.models import SystemSetting

    profile_changed.connect(on_profile_changed, dispatch_uid="connector.sockets.profile_changed")
    user_logged_out.connect(on_logged_out, dispatch_uid="connector.sockets.logged_out")
    post_save.connect(on_system_setting_saved, sender=SystemSetting, dispatch_uid="connector.sockets.system_setting")
