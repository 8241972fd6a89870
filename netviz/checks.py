"""Start-up guards: production never runs on the development secret key.

With DEBUG off and no NETVIZ_SECRET_KEY, settings fall back to a key that is in the
repository (so that management commands and tests need no set-up); anyone who knows it can
forge sessions. The WSGI and ASGI entry points refuse to start on it, and
`manage.py check --deploy` reports it.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

__all__ = ["DEVELOPMENT_KEY_MESSAGE", "development_key_in_use", "refuse_development_key"]

DEVELOPMENT_KEY_MESSAGE = (
    "NETVIZ_SECRET_KEY is not set: refusing to serve with DEBUG off on the development key, "
    "which is public. Set NETVIZ_SECRET_KEY to a long random string (for example the output "
    "of `python -c 'import secrets; print(secrets.token_urlsafe(50))'`), or NETVIZ_DEBUG=true "
    "for a local development server."
)


def development_key_in_use() -> bool:
    """Whether the server would sign sessions with the key that is in the repository."""
    return getattr(settings, "DEVELOPMENT_SECRET_KEY", None) == settings.SECRET_KEY


def refuse_development_key() -> None:
    """Stop a production server (DEBUG off) that has no key of its own."""
    if not settings.DEBUG and development_key_in_use():
        raise ImproperlyConfigured(DEVELOPMENT_KEY_MESSAGE)


@checks.register(checks.Tags.security, deploy=True)
def check_secret_key(app_configs, **kwargs) -> list[checks.CheckMessage]:
    if development_key_in_use():
        return [checks.Error(DEVELOPMENT_KEY_MESSAGE, id="netviz.E001")]
    return []
