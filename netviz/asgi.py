"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netviz.settings")
application = get_asgi_application()

from netviz.checks import refuse_development_key  # noqa: E402 (needs the settings loaded)

refuse_development_key()
