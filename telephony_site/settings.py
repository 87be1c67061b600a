"""Settings for the call-centre bridge.

This is the only module that reads the environment. Every variable is listed
in the README with its default. A bad value stops start-up with a message that
names the variable.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


_TRUE_WORDS = {"true", "1", "yes", "on"}
_FALSE_WORDS = {"false", "0", "no", "off", ""}


def _read(name: str, cast, default):
    """Read one variable; a value that cannot be cast names the variable."""
    if cast is bool and name in env.ENVIRON:
        # django-environ reads any unknown word as False; a typo must not switch hardening off.
        word = env.ENVIRON[name].strip().lower()
        if word not in _TRUE_WORDS | _FALSE_WORDS:
            raise ImproperlyConfigured(f"{name}: expected true or false, got {env.ENVIRON[name]!r}")
        return word in _TRUE_WORDS
    try:
        return env(name, cast=cast, default=default)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{name}: invalid value ({exc})") from exc


DEBUG = _read("DJANGO_DEBUG", bool, False)
DEMO_MODE = _read("DEMO_MODE", bool, False)
PRODUCTION = _read("DJANGO_PRODUCTION", bool, False)

SECRET_KEY = _read("DJANGO_SECRET_KEY", str, "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY: required when DJANGO_PRODUCTION=true")
    SECRET_KEY = "insecure-development-key-only-for-the-embedded-demo-and-tests-0123456789"

ALLOWED_HOSTS = _read("DJANGO_ALLOWED_HOSTS", list, ["localhost", "127.0.0.1", "[::1]"])
if "*" in ALLOWED_HOSTS and PRODUCTION:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS: '*' is not allowed in production (it disables the websocket origin check)"
    )
CSRF_TRUSTED_ORIGINS = _read("DJANGO_CSRF_TRUSTED_ORIGINS", list, [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "settings",
    "profiles",
    "connector",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "telephony_site.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "telephony_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "profiles.context_processors.telephony",
            ],
        },
    },
]

WSGI_APPLICATION = "telephony_site.wsgi.application"
ASGI_APPLICATION = "telephony_site.asgi.application"

# Database: an embedded SQLite file unless DATABASE_URL names another.
try:
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
except Exception as exc:  # django-environ raises several types for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL: invalid value ({exc})") from exc
if DATABASES["default"]["ENGINE"] not in {"django.db.backends.sqlite3", "django.db.backends.postgresql"}:
    raise ImproperlyConfigured("DATABASE_URL: use postgres://user:password@host:port/name or sqlite:///path")
DATABASES["default"].setdefault("TEST", {})
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes (daphne, worker) share the file in the demo.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

# Channel layer: Redis when REDIS_URL is set, in-memory (single process) otherwise.
REDIS_URL = _read("REDIS_URL", str, "")
CHANNEL_LAYER_ENCRYPTION_KEY = _read("CHANNEL_LAYER_ENCRYPTION_KEY", str, "")
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured("REDIS_URL: must start with redis://, rediss:// or unix://")
    _layer_config = {
        "hosts": [REDIS_URL],
        "capacity": 500,
        "expiry": 60,
        # At least daphne's websocket_timeout default (86400 s) so live members stay in groups.
        "group_expiry": 86400,
    }
    if CHANNEL_LAYER_ENCRYPTION_KEY:
        _layer_config["symmetric_encryption_keys"] = [CHANNEL_LAYER_ENCRYPTION_KEY]
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": _layer_config}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = _read("DJANGO_LANGUAGE_CODE", str, "en")
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
if LANGUAGE_CODE not in {code for code, _name in LANGUAGES}:
    raise ImproperlyConfigured("DJANGO_LANGUAGE_CODE: must be 'en' or 'ru'")
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = _read("DJANGO_TIME_ZONE", str, "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = _read("DJANGO_STATIC_ROOT", str, str(BASE_DIR / "staticfiles"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Production hardening: on when DJANGO_PRODUCTION=true (documented in the README).
if PRODUCTION:
    SECURE_SSL_REDIRECT = _read("DJANGO_SECURE_SSL_REDIRECT", bool, True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = _read("DJANGO_HSTS_SECONDS", int, 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY: must be at least 50 characters with 5 distinct ones")

LOG_LEVEL = _read("LOG_LEVEL", str, "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured("LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django": {"level": "INFO"}, "daphne": {"level": "WARNING"}},
}

# Telephony: the connector's parameters (vendor names), read from ASTERISK_* or appsettings.json.
from connector.config import load_connector_config  # noqa: E402

ASTERISK = load_connector_config(env)

# Per-user originate rate limit (toll-fraud guard): at most N calls per window.
ORIGINATE_RATE_LIMIT = _read("ORIGINATE_RATE_LIMIT", int, 10)
ORIGINATE_RATE_WINDOW = _read("ORIGINATE_RATE_WINDOW", int, 60)
# All users together (0 = no site-wide cap), in the same window.
ORIGINATE_GLOBAL_RATE_LIMIT = _read("ORIGINATE_GLOBAL_RATE_LIMIT", int, 0)
# Wrap-up: seconds an operator stays in wrap-up before returning to ready.
WRAP_UP_SECONDS = _read("WRAP_UP_SECONDS", int, 30)
# Websocket token lifetime (seconds) for a messaging node on another host/port.
WS_TOKEN_MAX_AGE = _read("WS_TOKEN_MAX_AGE", int, 300)
# Number prefixes that may never be dialled from the panel (comma-separated, e.g. "00,0900").
try:
    from connector.numbers import check_denied_prefixes  # noqa: E402

    ORIGINATE_DENIED_PREFIXES = check_denied_prefixes(_read("ORIGINATE_DENIED_PREFIXES", list, []))
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
