"""JSON endpoints answer every error in the shape the API documents, even errors raised
before their view runs.

Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE when something first reads
`request.POST` (often the CSRF middleware, before any view) with its HTML 400 page and a
logged traceback. For the API and the editor, which speak JSON, this middleware answers 413
with `{"errors": [...]}` on the declared length before anything reads the body, and maps the
same family of request errors to JSON if a view still meets one.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from .errors import InputErrors
from .uploads import content_length_error

__all__ = ["JsonErrorsMiddleware", "is_json_endpoint"]

JSON_VIEW_MODULES = frozenset({"policies.views.api", "policies.views.editor"})


def is_json_endpoint(request: HttpRequest) -> bool:
    """Whether the request is for the API or the editor (whose views answer JSON)."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return getattr(match.func, "__module__", "") in JSON_VIEW_MODULES


def _errors(status: int, message: str) -> JsonResponse:
    return JsonResponse({"errors": InputErrors.single(message, "request").as_json()}, status=status)


def _too_big(request: HttpRequest) -> JsonResponse | None:
    if error := content_length_error(request.META.get("CONTENT_LENGTH")):
        return _errors(413, error.message)
    # Form fields (not files) are capped by Django's own setting, which may be lower.
    if not request.content_type.startswith("multipart/"):
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and size > limit:
            return _errors(413, f"the request body is {size} bytes; the limit is {limit}")
    return None


class JsonErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and is_json_endpoint(request):
            refused = _too_big(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_json_endpoint(request):
            return None
        if isinstance(exception, RequestDataTooBig):
            return _errors(413, "the request body is larger than the limit")
        if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
            return _errors(400, str(exception) or "too many fields or files in the request")
        if isinstance(exception, BadRequest):
            return _errors(400, str(exception) or "bad request")
        return None
