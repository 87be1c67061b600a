"""Granting and revoking telephony seats for several users at once (the admin's list action)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from profiles.models import LicencePool, Profile


@transaction.atomic
def grant_seats(users: Iterable) -> tuple[list, list]:
    """Grant a seat to each user in turn while seats are free.

    Returns ``(granted, refused)`` lists of users; users who already hold a seat
    count as granted. The pool row is locked so two admins cannot both take the last seat.
    """
    pool = LicencePool.locked()
    used = Profile.objects.filter(has_seat=True).count()
    granted, refused = [], []
    for user in users:
        profile = Profile.for_user(user)
        if profile.has_seat:
            granted.append(user)
        elif used < pool.seats:
            profile.has_seat = True
            profile.save()
            used += 1
            granted.append(user)
        else:
            refused.append(user)
    return granted, refused


def revoke_seats(users: Iterable) -> int:
    """Take the seat back from each user; returns how many seats were freed."""
    freed = 0
    for user in users:
        profile = Profile.for_user(user)
        if profile.has_seat:
            profile.has_seat = False
            # save(), not update(): post_save tells the user's open sockets.
            profile.save()
            freed += 1
    return freed
