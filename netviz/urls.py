"""Top-level URL configuration."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import urls as auth_urls
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, include, path


def _needs_mail(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """404 unless a mail backend is configured: a reset link nobody can receive would only
    claim "sent" (and log a traceback from the SMTP backend that has no server)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not settings.NETVIZ_PASSWORD_RESET:
            raise Http404("Password reset is not offered: no mail backend is configured")
        return view(request, *args, **kwargs)

    return wrapper


def _auth_urls() -> list[URLPattern]:
    """django.contrib.auth's URLs, with the password reset ones behind _needs_mail."""
    return [
        path(str(p.pattern), _needs_mail(p.callback), name=p.name)
        if p.name and p.name.startswith("password_reset")
        else p
        for p in auth_urls.urlpatterns
    ]


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include(_auth_urls())),
    path("", include("policies.urls")),
]
