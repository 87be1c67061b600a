"""The deployment checks for PostgreSQL, Redis and channel-layer encryption."""

import pytest

from settings.checks import check_production_services, production_service_warnings

GOOD = {
    "database_engine": "django.db.backends.postgresql",
    "redis_url": "redis://:secret@127.0.0.1:6379/0",
    "encryption_key": "k" * 40,
}


def test_a_complete_production_setup_passes():
    assert production_service_warnings(**GOOD) == []


def test_nothing_is_checked_outside_production(settings):
    settings.PRODUCTION = False
    settings.REDIS_URL = ""
    assert check_production_services() == []


def test_the_registered_check_reads_the_settings(settings):
    settings.PRODUCTION = True
    settings.REDIS_URL = ""
    assert "telephony.W002" in [warning.id for warning in check_production_services()]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"database_engine": "django.db.backends.sqlite3"}, ["telephony.W001"]),
        ({"redis_url": ""}, ["telephony.W002"]),
        ({"redis_url": "redis://127.0.0.1:6379/0"}, ["telephony.W003"]),
        ({"redis_url": "rediss://user@redis.example.org:6380/0"}, ["telephony.W003"]),
        ({"redis_url": "unix:///run/redis.sock"}, []),
        ({"encryption_key": ""}, ["telephony.W004"]),
    ],
)
def test_each_missing_production_service_is_reported(overrides, expected):
    assert [warning.id for warning in production_service_warnings(**{**GOOD, **overrides})] == expected
