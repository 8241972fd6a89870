"""Bodies Django refuses to read are answered plainly, and JSON endpoints answer every error
in the shape the API documents, even errors raised before their view runs.

Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE when something first reads
`request.POST` (often the CSRF middleware, before any view) with its HTML 400 page and a
logged traceback. For the API and the editor, which speak JSON, this middleware answers 413
with `{"errors": [...]}` on the declared length before anything reads the body, and maps the
same family of request errors to JSON if a view still meets one. A body with too many
files or fields, or malformed multipart, is parsed here first and refused with a plain
message (JSON for those endpoints) instead of a traceback, or a 500 for malformed multipart.
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
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
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


UNREADABLE = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent, MultiPartParserError)


def _reason(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, RequestDataTooBig):
        return 413, "the request body is larger than the limit"
    if isinstance(exc, TooManyFilesSent):
        return 400, f"too many files: at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} at once"
    if isinstance(exc, TooManyFieldsSent):
        return 400, f"too many fields: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}"
    return 400, f"the request body cannot be read ({exc})"


def _refused(json: bool, exc: Exception) -> HttpResponse:
    status, message = _reason(exc)
    if json:
        return _errors(status, message)
    return HttpResponse(
        f"{message[0].upper()}{message[1:]}; nothing was stored.\n",
        status=status,
        content_type="text/plain; charset=utf-8",
    )


class JsonErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
            return self.get_response(request)
        json = is_json_endpoint(request)
        if json:
            refused = _too_big(request)
            if refused is not None:
                return refused
        if request.method == "POST":
            try:
                # Parsed here, where a refusal can be answered plainly, rather than first in
                # the CSRF check, where it becomes an HTML 400 and a logged traceback.
                request.POST  # noqa: B018
            except UNREADABLE as exc:
                return _refused(json, exc)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, UNREADABLE):
            return _refused(is_json_endpoint(request), exception)
        if isinstance(exception, InputErrors):
            # Views answer bad input themselves; one that escapes is input the view did not
            # expect to fail, such as a policy stored by an older netviz that a stricter
            # loader now refuses: say which file, line and why, rather than a 500.
            if is_json_endpoint(request):
                return JsonResponse({"errors": exception.as_json()}, status=400)
            return render(request, "input_error.html", {"errors": exception.as_json()}, status=400)
        if not is_json_endpoint(request):
            return None
        if isinstance(exception, BadRequest):
            return _errors(400, str(exception) or "bad request")
        return None
