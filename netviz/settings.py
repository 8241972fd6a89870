"""Django settings for netviz, read from the environment.

Every knob has a safe default for a developer's machine (SQLite, DEBUG on only when asked);
production sets NETVIZ_SECRET_KEY, NETVIZ_DEBUG=false, NETVIZ_ALLOWED_HOSTS and DATABASE_URL.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("NETVIZ_DEBUG", False)

SECRET_KEY = os.environ.get("NETVIZ_SECRET_KEY", "")
# A fixed key for local runs, management commands and tests only: the WSGI and ASGI entry
# points refuse to serve on it with DEBUG off (netviz/checks.py), and `check --deploy` flags it.
DEVELOPMENT_SECRET_KEY = "django-insecure-netviz-development-key-change-me-0123456789abcdef"
if not SECRET_KEY:
    if not DEBUG and env_bool("NETVIZ_PRODUCTION", False):
        raise ImproperlyConfigured("NETVIZ_SECRET_KEY must be set in production")
    SECRET_KEY = DEVELOPMENT_SECRET_KEY

ALLOWED_HOSTS = env_list("NETVIZ_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("NETVIZ_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "policies",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # before CSRF, which reads the body of a POST: JSON endpoints refuse an oversized one in JSON
    "policies.middleware.JsonErrorsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "netviz.urls"

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
                "django.template.context_processors.csp",
            ],
        },
    },
]

WSGI_APPLICATION = "netviz.wsgi.application"
ASGI_APPLICATION = "netviz.asgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("NETVIZ_DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite for a small team and its analysis worker: readers never wait for the writer
    # (WAL), a transaction takes the write lock when it begins (IMMEDIATE), so that it cannot
    # fail half-way when it tries to upgrade a read lock (as when the worker claims a task
    # meanwhile), and writers queue for up to `timeout` seconds instead of answering
    # "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": env_int("NETVIZ_SQLITE_TIMEOUT", 30),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Mail: password reset is offered only when a backend is configured (NETVIZ_EMAIL_BACKEND,
# e.g. django.core.mail.backends.smtp.EmailBackend with NETVIZ_EMAIL_HOST and friends);
# without one, nothing is sent and nothing claims it was.
_EMAIL_BACKEND = os.environ.get("NETVIZ_EMAIL_BACKEND", "")
NETVIZ_PASSWORD_RESET = bool(_EMAIL_BACKEND)
MAILERS = {
    "default": (
        {
            "BACKEND": _EMAIL_BACKEND,
            "OPTIONS": {
                "host": os.environ.get("NETVIZ_EMAIL_HOST", "localhost"),
                "port": env_int("NETVIZ_EMAIL_PORT", 25),
                "username": os.environ.get("NETVIZ_EMAIL_USER", ""),
                "password": os.environ.get("NETVIZ_EMAIL_PASSWORD", ""),
                "use_tls": env_bool("NETVIZ_EMAIL_USE_TLS", False),
            }
            if _EMAIL_BACKEND.endswith("smtp.EmailBackend")
            else {},
        }
        if _EMAIL_BACKEND
        else {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}
    )
}
DEFAULT_FROM_EMAIL = os.environ.get("NETVIZ_EMAIL_FROM", "netviz@localhost")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "policies:cluster-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or not env_bool("NETVIZ_MANIFEST_STATIC", False)
            else "netviz.storage.StaticFilesStorage"
        )
    },
}

# Uploads: the whole request may be this large; archives are checked entry by entry too.
NETVIZ_MAX_UPLOAD_BYTES = env_int("NETVIZ_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = NETVIZ_MAX_UPLOAD_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("NETVIZ_MAX_UPLOAD_FILES", 2000)
# Archives are unpacked in memory: the bytes of all entries together, and their number, are
# capped while reading (a zip bomb stops at the cap, whatever its headers claim).
NETVIZ_MAX_UNPACKED_BYTES = env_int("NETVIZ_MAX_UNPACKED_BYTES", 4 * NETVIZ_MAX_UPLOAD_BYTES)
NETVIZ_MAX_ARCHIVE_ENTRIES = env_int("NETVIZ_MAX_ARCHIVE_ENTRIES", 10_000)

# Analysis off the request: an upload with at least this many workloads and policies is
# stored at once and analysed by a worker (`manage.py db_worker`); smaller ones are analysed
# in the request, as they take less than a second. Tasks live in the database: no other
# server is needed, and any number of workers share one queue.
NETVIZ_ANALYSE_INLINE_BELOW = env_int("NETVIZ_ANALYSE_INLINE_BELOW", 1000)
# A worker stamps the revision it analyses every NETVIZ_ANALYSIS_HEARTBEAT seconds; one
# silent for NETVIZ_ANALYSIS_STALE_AFTER seconds (killed mid-task) is marked failed.
NETVIZ_ANALYSIS_HEARTBEAT = float(os.environ.get("NETVIZ_ANALYSIS_HEARTBEAT", "5"))
NETVIZ_ANALYSIS_STALE_AFTER = float(os.environ.get("NETVIZ_ANALYSIS_STALE_AFTER", "60"))
# An API upload's Idempotency-Key is remembered this many seconds (then pruned).
NETVIZ_IDEMPOTENCY_KEY_TTL = env_int("NETVIZ_IDEMPOTENCY_KEY_TTL", 24 * 3600)
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

# Content Security Policy: no inline scripts anywhere; every script is a static file.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("NETVIZ_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("NETVIZ_SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env_bool("NETVIZ_SSL_REDIRECT", False)
    SECURE_HSTS_SECONDS = env_int("NETVIZ_HSTS_SECONDS", 0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
    SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
    SECURE_PROXY_SSL_HEADER = (
        ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("NETVIZ_BEHIND_PROXY", False) else None
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("NETVIZ_LOG_LEVEL", "WARNING")},
}
