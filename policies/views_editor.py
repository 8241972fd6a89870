"""The policy editor's endpoints (JSON for static/js/editor.js) and history pages.

The editor posts its text as it types; these views answer with located diagnostics and the
impact on connectivity. Saving checks that nobody changed the same policy meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from . import editing
from .models import Cluster, Revision
from .permissions import Access, get_cluster
from .services import InputErrors

__all__ = [
    "editor_allow_flow",
    "editor_check",
    "editor_delete",
    "editor_policy",
    "editor_save",
    "editor_template",
    "export_download",
    "revision_compare",
    "revision_history",
    "revision_revert",
    "semantics",
]


def _split(key: str) -> tuple[str, str] | None:
    namespace, _, name = key.partition("/")
    return (namespace, name) if namespace and name else None


def _revision(cluster: Cluster, number: str | None) -> Revision:
    if number:
        try:
            return get_object_or_404(cluster.revisions, number=int(number))
        except ValueError:
            raise Http404("No such revision") from None
    head = cluster.head
    if head is None:
        raise Http404("The cluster has no revision yet")
    return head


def _errors(exc: InputErrors, status: int = 400) -> JsonResponse:
    return JsonResponse({"errors": exc.errors}, status=status)


def _revising(request: HttpRequest, write: Callable[[int], JsonResponse]) -> JsonResponse:
    """Run a write made from the revision the editor loaded (`base_revision`), answering
    400 for bad input and 409, with the other change, on a conflict."""
    try:
        base = int(request.POST.get("base_revision", ""))
    except ValueError:
        return JsonResponse({"errors": [{"message": "base_revision is required"}]}, status=400)
    try:
        return write(base)
    except InputErrors as exc:
        return _errors(exc)
    except editing.EditConflict as exc:
        return JsonResponse({"conflict": exc.as_dict()}, status=409)


@require_POST
@login_required
def editor_check(request: HttpRequest, pk: int) -> JsonResponse:
    """Diagnostics for the editor's text and, when valid, the impact of saving it."""
    cluster, _ = get_cluster(request.user, pk)
    revision = _revision(cluster, request.POST.get("revision"))
    original = _split(request.POST.get("original", ""))
    check = editing.check_edit(revision, request.POST.get("yaml", ""), original)
    return JsonResponse(check.as_dict())


@require_POST
@login_required
def editor_save(request: HttpRequest, pk: int) -> JsonResponse:
    """Save as a new revision: 200 with the revision, 400 with errors, 409 on a conflict."""
    cluster, _ = get_cluster(request.user, pk, Access.EDIT)

    def save(base: int) -> JsonResponse:
        revision, summary = editing.save_edit(
            cluster,
            request.user,
            request.POST.get("yaml", ""),
            base_number=base,
            original=_split(request.POST.get("original", "")),
            message=request.POST.get("message", "").strip(),
        )
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
        return JsonResponse({"errors": [{"message": "policy must be namespace/name"}]}, status=400)
    if request.POST.get("confirm") != "yes":
        cluster, _ = get_cluster(request.user, pk)
        return JsonResponse(editing.delete_impact(_revision(cluster, None), *key))
    cluster, _ = get_cluster(request.user, pk, Access.EDIT)

    def delete(base: int) -> JsonResponse:
        revision = editing.delete_edit(cluster, request.user, *key, base_number=base)
        return JsonResponse({"revision": revision.number, "message": revision.message})

    return _revising(request, delete)


@require_GET
@login_required
def editor_policy(request: HttpRequest, pk: int) -> JsonResponse:
    """One policy's YAML as stored, for the editor to open."""
    cluster, access = get_cluster(request.user, pk)
    revision = _revision(cluster, request.GET.get("revision"))
    key = _split(request.GET.get("policy", ""))
    row = revision.policies.filter(namespace=key[0], name=key[1]).first() if key else None
    if row is None:
        raise Http404("No such policy")
    return JsonResponse(
        {
            "policy": f"{row.namespace}/{row.name}",
            "yaml": row.yaml,
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
        port = int(request.GET.get("port") or 443)
        text = editing.template_yaml(
            request.GET.get("template", ""),
            request.GET.get("namespace", "") or "default",
            peer=request.GET.get("peer", ""),
            port=port,
        )
    except ValueError:
        return JsonResponse({"errors": [{"message": "port must be a number"}]}, status=400)
    except InputErrors as exc:
        return _errors(exc)
    return JsonResponse({"yaml": text})


@require_GET
@login_required
def editor_allow_flow(request: HttpRequest, pk: int) -> JsonResponse:
    """The minimal policies allowing exactly one flow, and their impact."""
    cluster, _ = get_cluster(request.user, pk)
    revision = _revision(cluster, None)
    try:
        data = editing.suggest_allow_flow(
            revision,
            request.GET.get("src", ""),
            request.GET.get("dst", ""),
            request.GET.get("conn", ""),
        )
    except InputErrors as exc:
        return _errors(exc)
    return JsonResponse(data)


@require_GET
@login_required
def export_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """Download clean YAML for kubectl apply: one policy, all of them, or a zip."""
    cluster, _ = get_cluster(request.user, pk)
    revision = _revision(cluster, request.GET.get("revision"))
    stem = f"{cluster.name}-r{revision.number}"
    if fmt == "zip":
        response = HttpResponse(editing.export_revision_zip(revision), "application/zip")
        response["Content-Disposition"] = f'attachment; filename="{stem}-policies.zip"'
        return response
    key = _split(request.GET.get("policy", ""))
    try:
        text = editing.export_revision_yaml(revision, key)
    except InputErrors:
        raise Http404("No such policy") from None
    name = f"{key[0]}-{key[1]}" if key else f"{stem}-policies"
    response = HttpResponse(text, "application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.yaml"'
    return response


@require_GET
@login_required
def semantics(request: HttpRequest) -> HttpResponse:
    """The NetworkPolicy rules the engine implements, in plain words."""
    return render(request, "policies/semantics.html")


@require_GET
@login_required
def revision_history(request: HttpRequest, pk: int) -> HttpResponse:
    """Who changed what, when, why, and the one-line impact of each revision."""
    cluster, access = get_cluster(request.user, pk)
    revisions = list(cluster.revisions.select_related("author", "parent").order_by("-number"))
    rows = [{"revision": r, "impact": editing.impact_summary(r)} for r in revisions[:30]]
    rows += [{"revision": r, "impact": None} for r in revisions[30:]]
    return render(
        request,
        "policies/history.html",
        {"cluster": cluster, "rows": rows, "can_edit": access >= Access.EDIT},
    )


@require_GET
@login_required
def revision_compare(request: HttpRequest, pk: int) -> HttpResponse:
    """Two revisions side by side: policy YAML diffs and the connectivity diff."""
    cluster, _ = get_cluster(request.user, pk)
    head = _revision(cluster, None)
    a = _revision(cluster, request.GET.get("a") or str(max(head.number - 1, 1)))
    b = _revision(cluster, request.GET.get("b") or str(head.number))
    comparison = editing.compare_revisions(a, b)
    context = {
        "cluster": cluster,
        "a": a,
        "b": b,
        "numbers": list(cluster.revisions.order_by("-number").values_list("number", flat=True)),
        **comparison,
    }
    if request.GET.get("format") == "json":
        return JsonResponse({k: comparison[k] for k in ("policies", "connectivity", "summary")})
    return render(request, "policies/compare.html", context)


@require_POST
@login_required
def revision_revert(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """Make a new revision with the content of revision `number`."""
    cluster, _ = get_cluster(request.user, pk, Access.EDIT)
    if not cluster.revisions.filter(number=number).exists():
        raise Http404("No such revision")
    editing.revert_to(cluster, request.user, number)
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(cluster.get_absolute_url())
    return redirect(cluster.get_absolute_url())
