"""Start-up configuration: production passes ``check --deploy``; bad values stop start-up."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
# Variables a developer's shell might carry that would change what is being tested.
_OURS = ("DJANGO_", "ASTERISK_", "DATABASE_URL", "REDIS_URL", "CHANNEL_LAYER_", "LOG_LEVEL", "DEMO_MODE")


def run_manage(*args: str, **variables: str) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh process with only the given project variables set."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_OURS)}
    env.update(variables)
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def production(**overrides: str) -> dict[str, str]:
    """The production variables the documentation lists."""
    variables = {
        "DJANGO_PRODUCTION": "true",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "DJANGO_ALLOWED_HOSTS": "example.org",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://example.org",
        "DATABASE_URL": "postgres://bridge:password@127.0.0.1:5432/bridge",
        "REDIS_URL": "redis://:redis-password@127.0.0.1:6379/1",
        "CHANNEL_LAYER_ENCRYPTION_KEY": secrets.token_urlsafe(32),
        "ASTERISK_URL": "pbx.example.org",
        "ASTERISK_USER_NAME": "bridge",
        "ASTERISK_SECRET": "not-shown-anywhere",
    }
    variables.update(overrides)
    return variables


def test_production_settings_pass_check_deploy_without_warnings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **production())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    assert "not-shown-anywhere" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("missing", "check_id"),
    [
        ("CHANNEL_LAYER_ENCRYPTION_KEY", "telephony.W004"),
        ("REDIS_URL", "telephony.W002"),
        ("DATABASE_URL", "telephony.W001"),
    ],
)
def test_check_deploy_fails_without_a_production_service(missing, check_id):
    variables = production()
    del variables[missing]
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **variables)
    assert result.returncode != 0
    assert check_id in result.stderr + result.stdout


def test_check_deploy_warns_without_production_hardening():
    # Shows that the check above really checks: the development defaults are not deployable.
    result = run_manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W" in result.stdout + result.stderr


def test_production_settings_are_hardened():
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'debug': s.DEBUG, 'ssl': s.SECURE_SSL_REDIRECT, 'hsts': s.SECURE_HSTS_SECONDS, "
        "'session': s.SESSION_COOKIE_SECURE, 'csrf': s.CSRF_COOKIE_SECURE, 'hosts': s.ALLOWED_HOSTS, "
        "'layer': s.CHANNEL_LAYERS['default']['BACKEND'], "
        "'group_expiry': s.CHANNEL_LAYERS['default']['CONFIG']['group_expiry'], "
        "'encrypted': bool(s.CHANNEL_LAYERS['default']['CONFIG'].get('symmetric_encryption_keys')), "
        "'db': s.DATABASES['default']['ENGINE']}))"
    )
    result = run_manage("shell", "-c", code, **production())
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["debug"] is False
    assert values["ssl"] and values["session"] and values["csrf"]
    assert values["hsts"] >= 31536000
    assert values["hosts"] == ["example.org"]
    assert values["layer"] == "channels_redis.core.RedisChannelLayer"
    assert values["group_expiry"] >= 86400  # at least daphne's default websocket_timeout
    assert values["encrypted"] is True
    assert values["db"] == "django.db.backends.postgresql"


def test_requirements_pin_a_daphne_and_channels_without_known_flaws():
    pins = dict(
        line.split("==", 1)
        for line in (BASE_DIR / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    version = lambda text: tuple(int(part) for part in text.split(".")[:3])  # noqa: E731
    assert version(pins["daphne"]) >= (4, 2, 2)  # refuses oversized websocket frames
    assert version(pins["channels"]) >= (4, 0, 0)
    assert "cryptography" in pins  # channel-layer encryption


@pytest.mark.parametrize("hosts", ["*", "example.org,*"])
def test_a_wildcard_allowed_host_is_refused_in_production(hosts):
    result = run_manage("check", **production(DJANGO_ALLOWED_HOSTS=hosts))
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS" in result.stderr


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG"),
        ({"DJANGO_PRODUCTION": "yes please"}, "DJANGO_PRODUCTION"),
        ({"ASTERISK_PORT": "abc"}, "ASTERISK_PORT"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"DATABASE_URL": "nosuchdb://x/y"}, "DATABASE_URL"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"DJANGO_LANGUAGE_CODE": "de"}, "DJANGO_LANGUAGE_CODE"),
        ({"ORIGINATE_RATE_LIMIT": "ten"}, "ORIGINATE_RATE_LIMIT"),
        ({"DJANGO_PRODUCTION": "true", "DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_PRODUCTION": "true", "DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY"),
    ],
    ids=lambda value: "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else value,
)
def test_a_bad_value_stops_start_up_naming_the_variable(variables, named):
    result = run_manage("check", **variables)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr.strip().splitlines()[-1]


def test_hardening_stays_on_with_a_bad_production_flag_value():
    # A typo must not silently fall back to development settings.
    result = run_manage("check", DJANGO_PRODUCTION="ture")
    assert result.returncode != 0
    assert "DJANGO_PRODUCTION" in result.stderr


def test_defaults_need_nothing_installed():
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'db': s.DATABASES['default']['ENGINE'], 'layer': s.CHANNEL_LAYERS['default']['BACKEND'], "
        "'debug': s.DEBUG, 'language': s.LANGUAGE_CODE}))"
    )
    result = run_manage("shell", "-c", code)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "db": "django.db.backends.sqlite3",
        "layer": "channels.layers.InMemoryChannelLayer",
        "debug": False,
        "language": "en",
    }
