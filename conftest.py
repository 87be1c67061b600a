"""Shared test fixtures: personas and service addresses.

alice is an operator on line 305, bob on 306 (both licensed); carol has no
licence; dave is staff.
"""

import os

import pytest

_PASSWORD_HASHES: dict[str, str] = {}


def password_hash(raw: str) -> str:
    """The real (PBKDF2) hash of a persona's password, computed once per run: each costs ~0.2 s."""
    from django.contrib.auth.hashers import make_password

    if raw not in _PASSWORD_HASHES:
        _PASSWORD_HASHES[raw] = make_password(raw)
    return _PASSWORD_HASHES[raw]


@pytest.fixture
def make_operator(django_user_model):
    from profiles.models import Profile

    def make(username: str, line: str | None = None, seat: bool = True, **profile_fields):
        user = django_user_model.objects.create(username=username, password=password_hash(f"{username}-pass-123"))
        profile = Profile.for_user(user)
        profile.line = line
        profile.has_seat = seat
        for key, value in profile_fields.items():
            setattr(profile, key, value)
        profile.save()
        return user

    return make


@pytest.fixture
def alice(make_operator):
    return make_operator("alice", "305")


@pytest.fixture
def bob(make_operator):
    return make_operator("bob", "306")


@pytest.fixture
def carol(make_operator):
    return make_operator("carol", "307", seat=False)


@pytest.fixture
def dave(django_user_model):
    return django_user_model.objects.create(
        username="dave", password=password_hash("dave-pass-123"), is_staff=True, is_superuser=True
    )


@pytest.fixture(scope="session")
def redis_url():
    """The machine's Redis (tests that kill Redis start their own server instead)."""
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
