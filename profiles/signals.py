"""``profile_changed``: sent whenever what a user may do with telephony may have changed.

Sent with ``user_id`` after a profile is saved or deleted, when a user's
``is_active`` changes, and when a user logs out. Receivers (the websocket side)
re-check or close that user's open sockets:

    @receiver(profile_changed)
    def on_profile_changed(sender, user_id, **kwargs): ...
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import Signal, receiver

from profiles.models import Profile

profile_changed = Signal()


def notify(user_id: int | None) -> None:
    """Send ``profile_changed`` for one user (nothing for an anonymous one)."""
    if user_id is not None:
        profile_changed.send(sender=Profile, user_id=user_id)


@receiver(post_save, sender=Profile, dispatch_uid="profiles.profile_saved")
@receiver(post_delete, sender=Profile, dispatch_uid="profiles.profile_deleted")
def _profile_written(sender, instance: Profile, **kwargs) -> None:
    notify(instance.user_id)


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="profiles.user_before_save")
def _remember_is_active(sender, instance, update_fields=None, **kwargs) -> None:
    if instance.pk is None:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return  # e.g. the last_login update on every login
    instance._was_active = sender.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="profiles.user_saved")
def _user_saved(sender, instance, created=False, **kwargs) -> None:
    if created:
        return
    was_active = getattr(instance, "_was_active", None)
    if was_active is not None and was_active != instance.is_active:
        notify(instance.pk)
    instance.__dict__.pop("_was_active", None)


@receiver(user_logged_out, dispatch_uid="profiles.user_logged_out")
def _logged_out(sender, request, user, **kwargs) -> None:
    notify(getattr(user, "pk", None))
