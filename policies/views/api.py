"""The JSON API for scripts and CI; its URLs and response shapes are fixed contracts.

Browsers authenticate with their session (and then writes need the CSRF token, like any form);
scripts send `Authorization: Bearer <token>`, which no other site can make a browser send, so
only those requests skip the CSRF check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import analysis, changes, graphs, queries, revisions, tokens, uploads
from ..errors import InputErrors
from ..forms import UploadForm
from ..models import Cluster, Revision
from ..permissions import Access
from .common import cluster_revision, not_analysed_json, requested_base, valid_key
from .editor import REFUSED_WRITES, errors_response, refused_write

__all__ = [
    "cluster_connections",
    "cluster_export",
    "cluster_policy",
    "cluster_preview",
    "cluster_upload",
    "clusters",
]

View = Callable[..., HttpResponse]


def _errors(status: int, message: str) -> JsonResponse:
    return errors_response(InputErrors.single(message), status)


def _unauthorized(message: str) -> JsonResponse:
    response = _errors(401, message)
    response["WWW-Authenticate"] = 'Bearer realm="netviz"'
    return response


def _csrf_rejected(request: HttpRequest) -> bool:
    """Whether a session-authenticated request fails Django's CSRF check."""
    check = CsrfViewMiddleware(lambda request: HttpResponse())
    return check.process_view(request, None, (), {}) is not None  # type: ignore[arg-type]


def api_endpoint(view: View) -> View:
    """Authenticate an API request and map errors to JSON, once for every endpoint.

    Bearer token or session; no credentials is 401, a cluster the user may not see is 404,
    one they may only view is 403 on writes, invalid input is 400 with located errors.
    """

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return _unauthorized("the Authorization header must be 'Bearer <token>'")
            user = tokens.user_for_token(token.strip())
            if user is None:
                return _unauthorized("invalid or revoked API token")
            request.user = user
        elif not request.user.is_authenticated:
            return _unauthorized("log in, or send 'Authorization: Bearer <token>'")
        elif _csrf_rejected(request):
            return _errors(403, "CSRF check failed: send the X-CSRFToken header")
        try:
            return view(request, *args, **kwargs)
        except Http404:
            return _errors(404, "not found")
        except PermissionDenied:
            return _errors(403, "your access to this cluster is read-only")
        except changes.NoSuchPolicy as exc:
            return errors_response(exc, 404)
        except REFUSED_WRITES as exc:
            return refused_write(exc)
        except revisions.IdempotencyKeyReused as exc:
            return errors_response(InputErrors.single(str(exc), path="Idempotency-Key"), 422)

    return wrapper


IDEMPOTENCY_KEY_MAX = 255


def _created(revision: Revision, replayed: bool = False) -> JsonResponse:
    """201 with the cluster, its revision and where that revision's analysis stands."""
    body = {"id": revision.cluster_id, "revision": revision.number, "status": revision.status}
    response = JsonResponse(body, status=201)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _idempotency_key(request: HttpRequest) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise InputErrors.single(
            f"the Idempotency-Key header must be at most {IDEMPOTENCY_KEY_MAX} characters",
            path="Idempotency-Key",
        )
    return key


def _fingerprint(request: HttpRequest) -> str:
    """SHA-256 of what an upload asks for: its fields and its files (names and content), not
    the multipart framing, whose boundary a client draws anew for each retry."""
    digest = hashlib.sha256()

    def part(*items: str | bytes) -> None:
        for item in items:
            data = item.encode() if isinstance(item, str) else item
            digest.update(len(data).to_bytes(8, "big") + data)

    for name in sorted(request.POST):
        if name != "csrfmiddlewaretoken":
            part("field", name, *request.POST.getlist(name))
    for name in sorted(request.FILES):
        for upload in request.FILES.getlist(name):
            content = hashlib.sha256()
            for chunk in upload.chunks():
                content.update(chunk)
            upload.seek(0)  # the form reads it next
            part("file", name, upload.name or "", content.digest())
    return digest.hexdigest()


@api_endpoint
@require_http_methods(["GET", "POST"])
def clusters(request: HttpRequest) -> HttpResponse:
    """GET: the clusters the user may see. POST (multipart `name`, `files`): create one.

    The answer comes once the manifests are stored: `201 {"id", "revision", "status"}`, the
    status `ready`, or `pending` while a worker analyses a large upload. A POST with an
    `Idempotency-Key` header that this user already sent gets the first answer again, and
    stores nothing; the same key with a different request (other fields or files) is 422.
    Keys are remembered for a day (`NETVIZ_IDEMPOTENCY_KEY_TTL`).
    """
    if request.method == "GET":
        summaries = queries.cluster_summaries(request.user)
        return JsonResponse({"clusters": [s.as_dict() for s in summaries]})
    key = _idempotency_key(request)
    if too_big := uploads.content_length_error(request.META.get("CONTENT_LENGTH")):
        return errors_response(InputErrors([too_big.as_dict()]), 413)
    fingerprint = _fingerprint(request) if key else ""
    if key and (earlier := revisions.replayed(request.user, key, fingerprint)) is not None:
        return _created(earlier, replayed=True)
    form = UploadForm(request.POST, request.FILES, owner=request.user)
    if not form.is_valid():
        # A copy of this request may have stored the cluster meanwhile (its name is then
        # taken): that copy's answer is the true one.
        if key and (earlier := revisions.replayed(request.user, key, fingerprint)) is not None:
            return _created(earlier, replayed=True)
        return JsonResponse(_upload_errors(form), status=400)
    form.save(idempotency_key=key, fingerprint=fingerprint)
    return _created(form.revision)


def _upload_errors(form: UploadForm) -> dict[str, object]:
    body: dict[str, object] = {"errors": form.errors_for_api()}
    if form.kustomize_choices:  # send one of these back as `kustomize`
        body["kustomize_choices"] = list(form.kustomize_choices)
    return body


@api_endpoint
@require_POST
def cluster_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """A new revision from uploaded manifests (multipart `files`, `manifests`, `message`,
    `kustomize`): `mode=replace` (the default) makes the upload the cluster's whole state,
    `mode=merge` applies it like `kubectl apply`. The answer says what a replace dropped."""
    cluster, _ = _head(request, pk, Access.EDIT)
    if too_big := uploads.content_length_error(request.META.get("CONTENT_LENGTH")):
        return errors_response(InputErrors([too_big.as_dict()]), 413)
    form = UploadForm(
        request.POST, request.FILES, owner=request.user, cluster=cluster, ask_before_dropping=False
    )
    if not form.is_valid():
        return JsonResponse(_upload_errors(form), status=400)
    form.save()
    revision = form.revision
    body = {"id": cluster.pk, "revision": revision.number, "status": revision.status}
    return JsonResponse({**body, "dropped": form.drops.as_dict()}, status=201)


def _head(request: HttpRequest, pk: int, need: Access = Access.VIEW) -> tuple[Cluster, Revision]:
    """The cluster (if the user has `need` access) and its latest revision."""
    cluster, _, revision = cluster_revision(request, pk, None, need)
    return cluster, revision


@api_endpoint
@require_GET
def cluster_connections(request: HttpRequest, pk: int) -> HttpResponse:
    """The allowed connections of the cluster's latest revision (`analyze --format json`),
    streamed from the stored graph index; `?format=grouped` for the compact group form."""
    _, revision = _head(request, pk)
    if not revision.is_ready:
        return not_analysed_json(revision)
    index = analysis.flow_index(revision)
    form = request.GET.get("format", "")
    if form == "grouped":
        return JsonResponse(index.grouped())
    if form:
        raise InputErrors.single(f"format must be grouped or absent, got {form!r}", path="format")
    return StreamingHttpResponse(graphs.connections_json(index), content_type="application/json")


@api_endpoint
@require_GET
def cluster_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The latest revision's policies as one multi-document YAML file."""
    cluster, revision = _head(request, pk)
    response = HttpResponse(
        changes.export_yaml(revision), content_type="application/yaml; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="cluster-{cluster.pk}-r{revision.number}-policies.yaml"'
    )
    return response


@api_endpoint
@require_http_methods(["GET", "PUT", "DELETE"])
def cluster_policy(request: HttpRequest, pk: int, namespace: str, name: str) -> HttpResponse:
    """GET the policy's YAML (its ETag is the revision number); PUT one policy (new or
    replacing); DELETE it. Writes make a revision, through the same change path as the editor:
    with `If-Match: <revision>` or `?base_revision=<revision>` they answer 409 when the policy
    was changed after that revision; without, they apply to the latest revision."""
    if request.method in ("GET", "DELETE") and not valid_key(namespace, name):
        _, revision = _head(request, pk)
        raise changes.NoSuchPolicy(namespace, name, revision)
    if request.method == "GET":
        _, revision = _head(request, pk)
        text = changes.policy_text(revision, namespace, name)
        if text is None:
            raise changes.NoSuchPolicy(namespace, name, revision)
        response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
        response["ETag"] = f'"{revision.number}"'
        return response
    cluster, _ = _head(request, pk, Access.EDIT)
    base = requested_base(request)
    if request.method == "DELETE":
        revision = changes.delete_policy(cluster, request.user, namespace, name, base_number=base)
        return JsonResponse({"revision": revision.number})
    revision, _, created = changes.apply_edit(
        cluster,
        request.user,
        request.body,
        base_number=base,
        expect=(namespace, name),
        filename=f"{namespace}/{name}.yaml",
    )
    return JsonResponse({"revision": revision.number}, status=201 if created else 200)


@api_endpoint
@require_POST
def cluster_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The connectivity change the policies in the body would cause if saved; saves nothing."""
    _, revision = _head(request, pk)
    if not revision.is_ready:
        return not_analysed_json(revision)
    return JsonResponse(changes.preview_text(revision, request.body).change.as_dict())
