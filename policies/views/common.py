"""What every page's views share: the request type, the one revision lookup, and the cluster
page's context (which the graph's panels also render within, without JavaScript)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails

from .. import queries, tasks
from ..engine import validation
from ..engine.synthesis import TEMPLATES
from ..errors import InputErrors
from ..forms import ShareForm, UploadForm
from ..models import Cluster, Revision
from ..permissions import Access, get_cluster
from ..revisions import DEMO_CLUSTER_NAME, settled_head

__all__ = [
    "HtmxHttpRequest",
    "analysis_status",
    "cluster_page_context",
    "cluster_revision",
    "not_analysed_json",
    "not_analysed_message",
    "render_panel",
    "requested_base",
    "revision_of",
    "valid_key",
]


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def revision_of(cluster: Cluster, number: int | str | None) -> Revision:
    """Revision `number` of the cluster (from the URL or a `?revision=` field), or its head
    when none is named; Http404 when there is no such revision. A revision whose analysis
    died with its worker is marked failed here, as it is looked at (`tasks.settle`)."""
    if number in (None, ""):
        revision = settled_head(cluster)
    else:
        try:
            revision = cluster.revisions.filter(number=int(number)).first()
        except ValueError:
            revision = None
        if revision is not None:
            revision = tasks.settle(revision)
    if revision is None:
        raise Http404("No such revision" if number else "The cluster has no revision yet")
    return revision


def cluster_revision(
    request: HttpRequest, pk: int, number: int | str | None = None, need: Access = Access.VIEW
) -> tuple[Cluster, Access, Revision]:
    """The cluster (if the user has `need` access), their access, and the named revision."""
    cluster, access = get_cluster(request.user, pk, need)
    return cluster, access, revision_of(cluster, number)


def cluster_page_context(
    request: HttpRequest, cluster: Cluster, access: Access, revision: Revision | None
) -> dict[str, Any]:
    """Everything the cluster page shows: the revision, the user's rights, the forms, and what
    the policy editor needs (the templates it offers)."""
    context = queries.revision_overview(cluster, revision, request.GET)
    on_head = revision is None or bool(context.get("is_head"))
    context.update(
        access=access,
        can_edit=access >= Access.EDIT,
        is_owner=access == Access.OWN,
        upload_form=UploadForm(owner=request.user, cluster=cluster),
        share_form=ShareForm(cluster=cluster),
        shares=cluster.shares.select_related("user"),
        # The page's own address, which the graph's and the editor's requests hang off.
        page_url=cluster.get_absolute_url() if on_head else revision.get_absolute_url(),
        # the demo opens with a short tour of what the graph says (dismissed for good)
        is_demo=cluster.name == DEMO_CLUSTER_NAME,
        policy_templates=[
            {"name": name, "label": label, "fields": fields}
            for name, (label, fields) in TEMPLATES.items()
        ],
    )
    return context


def render_panel(
    request: HtmxHttpRequest,
    partial: str,
    cluster: Cluster,
    access: Access,
    revision: Revision,
    context: dict[str, Any],
) -> HttpResponse:
    """A partial of the cluster page for htmx; otherwise the whole page with it filled in."""
    if request.htmx:
        head = cluster.head
        is_head = head is not None and head.pk == revision.pk
        page_url = cluster.get_absolute_url() if is_head else revision.get_absolute_url()
        context = {"cluster": cluster, "revision": revision, "is_head": is_head,
                   "page_url": page_url, **context}  # fmt: skip
        return render(request, f"policies/cluster.html#{partial}", context)
    page = cluster_page_context(request, cluster, access, revision)
    page.update(context)
    return render(request, "policies/cluster.html", page)


def not_analysed_message(revision: Revision) -> str:
    """Why a revision's connectivity cannot be shown: its analysis failed, or is under way."""
    if revision.status == Revision.Status.FAILED:
        return f"the analysis of revision {revision.number} failed: {revision.error}"
    step = f": {revision.step[:1].lower()}{revision.step[1:]}" if revision.step else ""
    return (
        f"revision {revision.number} is being analysed ({revision.progress}%{step}); "
        "ask again in a moment"
    )


def not_analysed_json(revision: Revision) -> JsonResponse:
    """409 for a revision whose graph is not there yet (or never will be): where its analysis
    stands, in the error shape, rather than computing it in the request (nor evaluating one
    whose analysis failed, which would fail again, or exhaust the web process)."""
    message = not_analysed_message(revision)
    error = InputErrors.single(message, path="revision").as_json()
    return JsonResponse({"errors": error, **revision.analysis_state()}, status=409)


def analysis_status(
    request: HtmxHttpRequest, cluster: Cluster, access: Access, revision: Revision
) -> HttpResponse:
    """A graph panel asked of a revision still being analysed (or failed): its progress, as
    a partial for htmx or the whole page (which shows the same)."""
    return render_panel(request, "analysis-status", cluster, access, revision, {})


def valid_key(namespace: str, name: str) -> bool:
    """Whether a namespace (or a cluster policy's kind) and a name from a request could name
    a stored policy: only names the loader accepts are ever stored."""
    return not (validation.storable_name(namespace) or validation.storable_name(name))


def requested_base(request: HttpRequest) -> int | None:
    """The revision a write was made from: the `If-Match` header (a revision number, quoted
    as an ETag or not) or a `base_revision` field (form or query string); None when neither
    is sent. InputErrors when it is not a revision number."""
    header = request.headers.get("If-Match", "").strip()
    if header.startswith("W/"):
        header = header[2:]
    text = header.strip('"') or request.POST.get("base_revision") or ""
    text = text or request.GET.get("base_revision", "")
    if not text.strip():
        return None
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise InputErrors.single(
            f"the base revision must be a revision number, got {text!r}", path="base_revision"
        )
    return number
