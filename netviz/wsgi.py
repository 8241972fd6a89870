"""WSGI entry point (gunicorn netviz.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netviz.settings")
application = get_wsgi_application()

from netviz.checks import refuse_development_key  # noqa: E402 (needs the settings loaded)

refuse_development_key()
