"""The policy editor's endpoints (JSON for static/js/editor.js) and the export downloads.

The editor posts its text as it types; these views answer with located diagnostics and the
impact on connectivity. Saving and deleting name the revision the editor loaded, and answer
409 with the other change when someone changed the same policy since.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from .. import changes
from ..errors import InputErrors
from ..permissions import Access, get_cluster
from .common import (
    HtmxHttpRequest,
    cluster_revision,
    not_analysed_json,
    requested_base,
    valid_key,
)

__all__ = [
    "editor_allow_flow",
    "editor_check",
    "editor_delete",
    "editor_policy",
    "editor_save",
    "editor_template",
    "errors_response",
    "export_download",
]


def _text(request: HttpRequest, field: str) -> str | bytes:
    """A form field as the user's text: the editor posts url-encoded, and Django's decoding
    would turn bytes that are not UTF-8 into U+FFFD silently. Those come back as bytes, which
    the engine refuses with a located error, as it does for uploads and the API."""
    if request.content_type == "application/x-www-form-urlencoded":
        raw = None
        for pair in request.body.split(b"&"):
            key, _, value = pair.partition(b"=")
            if unquote_to_bytes(key.replace(b"+", b" ")) == field.encode():
                raw = unquote_to_bytes(value.replace(b"+", b" "))  # the last one, as POST.get
        if raw is not None:
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return raw
    return request.POST.get(field, "")


def _split(key: str) -> tuple[str, str] | None:
    """`namespace/name` as a key, or None when it cannot name a policy (nothing is looked up
    for it: PostgreSQL would refuse a NUL in the query)."""
    namespace, _, name = key.partition("/")
    return (namespace, name) if valid_key(namespace, name) else None


def errors_response(exc: InputErrors, status: int = 400) -> JsonResponse:
    """The located errors of a request, as the API documents them."""
    return JsonResponse({"errors": exc.as_json()}, status=status)


# A write the change path refused: bad input, or a conflict with the head.
REFUSED_WRITES = (InputErrors, changes.EditConflict, changes.HeadNotAnalysed)


def refused_write(exc: Exception) -> JsonResponse:
    """400 with the located errors; 409 with the other change when the policy was changed
    after the client's base revision (what changed, by whom), or with the analysis's progress
    while the head is being analysed."""
    if isinstance(exc, changes.EditConflict):
        return JsonResponse({"conflict": exc.as_dict()}, status=409)
    if isinstance(exc, changes.HeadNotAnalysed):
        return not_analysed_json(exc.revision)
    assert isinstance(exc, InputErrors)
    return errors_response(exc)


def _revising(request: HttpRequest, write: Callable[[int], JsonResponse]) -> JsonResponse:
    """Run a write made from the revision the editor loaded (`base_revision`, required here),
    answering as `refused_write` says when the change path refuses it."""
    try:
        base = requested_base(request)
        if base is None:
            raise InputErrors.single("base_revision is required", path="base_revision")
        return write(base)
    except REFUSED_WRITES as exc:
        return refused_write(exc)


@require_POST
@login_required
def editor_check(request: HttpRequest, pk: int) -> JsonResponse:
    """Diagnostics for the editor's text and, when valid, the impact of saving it."""
    _, _, revision = cluster_revision(request, pk, request.POST.get("revision"))
    if not revision.is_ready:  # its evaluation is the worker's (or failed there)
        return not_analysed_json(revision)
    original = _split(request.POST.get("original", ""))
    check = changes.check_edit(revision, _text(request, "yaml"), original)
    return JsonResponse(check.as_dict())


@require_POST
@login_required
def editor_save(request: HttpRequest, pk: int) -> JsonResponse:
    """Save as a new revision: 200 with the revision, 400 with errors, 409 on a conflict."""
    cluster, _ = get_cluster(request.user, pk, Access.EDIT)

    def save(base: int) -> JsonResponse:
        revision, edit, _ = changes.apply_edit(
            cluster,
            request.user,
            _text(request, "yaml"),
            base_number=base,
            original=_split(request.POST.get("original", "")),
            message=request.POST.get("message", "").strip(),
        )
        summary = edit.change.summary()
        return JsonResponse(
            {"revision": revision.number, "summary": summary, "message": revision.message}
        )

    return _revising(request, save)


@require_POST
@login_required
def editor_delete(request: HttpRequest, pk: int) -> JsonResponse:
    """Without `confirm`: the impact of deleting the policy. With it: delete (a revision)."""
    key = _split(request.POST.get("policy", ""))
    if key is None:
        return errors_response(InputErrors.single("policy must be namespace/name", path="policy"))
    if request.POST.get("confirm") != "yes":
        _, _, revision = cluster_revision(request, pk)
        if not revision.is_ready:
            return not_analysed_json(revision)
        return JsonResponse(changes.delete_impact(revision, *key))
    cluster, _ = get_cluster(request.user, pk, Access.EDIT)

    def delete(base: int) -> JsonResponse:
        revision = changes.delete_policy(cluster, request.user, *key, base_number=base)
        return JsonResponse({"revision": revision.number, "message": revision.message})

    return _revising(request, delete)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def editor_policy(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One policy's YAML as stored, for the editor to open (JSON), or as the text of the
    policy table's row that was opened (htmx)."""
    _, access, revision = cluster_revision(request, pk, request.GET.get("revision"))
    key = _split(request.GET.get("policy", ""))
    text = changes.policy_text(revision, *key) if key else None
    if text is None:
        raise Http404("No such policy")
    if request.htmx:
        return render(request, "policies/cluster.html#policy-yaml", {"policy_yaml": text})
    return JsonResponse(
        {
            "policy": f"{key[0]}/{key[1]}",
            "yaml": text,
            "revision": revision.number,
            "can_edit": access >= Access.EDIT,
        }
    )


@require_GET
@login_required
def editor_template(request: HttpRequest, pk: int) -> JsonResponse:
    """A new policy from a template (default deny, allow DNS, ...)."""
    get_cluster(request.user, pk)
    try:
        try:
            port = int(request.GET.get("port") or 443)
        except ValueError:
            raise InputErrors.single("port must be a number", path="port") from None
        text = changes.template_yaml(
            request.GET.get("template", ""),
            request.GET.get("namespace", "") or "default",
            peer=request.GET.get("peer", ""),
            port=port,
        )
    except InputErrors as exc:
        return errors_response(exc)
    return JsonResponse({"yaml": text})


@require_GET
@login_required
def editor_allow_flow(request: HttpRequest, pk: int) -> JsonResponse:
    """The minimal policies allowing exactly one flow, and their impact."""
    _, _, revision = cluster_revision(request, pk)
    if not revision.is_ready:
        return not_analysed_json(revision)
    try:
        data = changes.suggest_allow_flow(
            revision,
            request.GET.get("src", ""),
            request.GET.get("dst", ""),
            request.GET.get("conn", ""),
        )
    except InputErrors as exc:
        return errors_response(exc)
    return JsonResponse(data)


@require_GET
@login_required
def export_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """Download clean YAML for kubectl apply: one policy, all of them, or a zip."""
    cluster, _, revision = cluster_revision(request, pk, request.GET.get("revision"))
    stem = f"{cluster.name}-r{revision.number}"
    if fmt == "zip":
        response = HttpResponse(changes.export_zip_bytes(revision), "application/zip")
        response["Content-Disposition"] = f'attachment; filename="{stem}-policies.zip"'
        return response
    key = _split(request.GET.get("policy", ""))
    if key is None and request.GET.get("policy"):
        raise Http404("No such policy")
    try:
        text = changes.export_yaml(revision, key)
    except changes.NoSuchPolicy:
        raise Http404("No such policy") from None
    name = f"{key[0]}-{key[1]}" if key else f"{stem}-policies"
    response = HttpResponse(text, "application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.yaml"'
    return response
