"""Deployment checks (``manage.py check --deploy``) for the parts Django does not know about."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def check_production_services(app_configs=None, **kwargs) -> list[Warning]:
    """Production needs PostgreSQL, and Redis with a password and encrypted channel-layer messages."""
    if not getattr(settings, "PRODUCTION", False):
        return []
    return production_service_warnings(
        database_engine=settings.DATABASES["default"]["ENGINE"],
        redis_url=getattr(settings, "REDIS_URL", ""),
        encryption_key=getattr(settings, "CHANNEL_LAYER_ENCRYPTION_KEY", ""),
    )


def production_service_warnings(database_engine: str, redis_url: str, encryption_key: str) -> list[Warning]:
    """The warnings for one production configuration (a plain function so tests need no settings)."""
    warnings: list[Warning] = []
    if database_engine.endswith("sqlite3"):
        warnings.append(
            Warning(
                "DATABASE_URL is not set: production runs on the embedded SQLite file.",
                hint="Set DATABASE_URL=postgres://user:password@host:5432/name.",
                id="telephony.W001",
            )
        )
    if not redis_url:
        warnings.append(
            Warning(
                "REDIS_URL is not set: the in-memory channel layer cannot carry events from the worker to daphne.",
                hint="Set REDIS_URL=redis://:password@host:6379/0.",
                id="telephony.W002",
            )
        )
        return warnings
    parts = urlsplit(redis_url)
    if parts.scheme != "unix" and not parts.password:
        warnings.append(
            Warning(
                "REDIS_URL has no password: anyone who reaches Redis can read and inject call events.",
                hint="Set requirepass in redis.conf and REDIS_URL=redis://:password@host:6379/0.",
                id="telephony.W003",
            )
        )
    if not encryption_key:
        warnings.append(
            Warning(
                "CHANNEL_LAYER_ENCRYPTION_KEY is not set: caller numbers and names are stored in Redis in clear text.",
                hint="Set CHANNEL_LAYER_ENCRYPTION_KEY to a long random string, the same on every node.",
                id="telephony.W004",
            )
        )
    return warnings
