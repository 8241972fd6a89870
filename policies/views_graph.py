"""Views of the connectivity graph: its JSON, the matrix, the flow table and the inspector.

Every view but the JSON one renders a partial of policies/cluster.html for htmx, and the whole
cluster page (with that panel filled in) otherwise, so that links and the "why" form work
without JavaScript too. Each has a twin URL under /revisions/<number>/ for older revisions.
The data comes from policies.graphs, which caches the engine's answer per revision.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from . import graphs
from .models import Cluster, Revision
from .permissions import Access, get_cluster
from .views import HtmxHttpRequest, cluster_page_context

FLOWS_PER_PAGE = 100


def _revision(cluster: Cluster, number: int | None) -> Revision:
    if number is None:
        head = cluster.head
        if head is None:
            raise Http404("This cluster has no revision yet")
        return head
    return get_object_or_404(cluster.revisions, number=number)


def _panel(
    request: HtmxHttpRequest,
    partial: str,
    cluster: Cluster,
    access: Access,
    revision: Revision,
    context: dict[str, Any],
) -> HttpResponse:
    """The partial for htmx; otherwise the cluster page with the same context filled in."""
    head = cluster.head
    is_head = head is not None and head.pk == revision.pk
    page_url = cluster.get_absolute_url() if is_head else revision.get_absolute_url()
    context = {"cluster": cluster, "revision": revision, "page_url": page_url, **context}
    if request.htmx:
        return render(request, f"policies/cluster.html#{partial}", context)
    # The same context as views.cluster_detail builds, plus this panel's.
    page = cluster_page_context(request, cluster, access, revision)
    page.update(context)
    return render(request, "policies/cluster.html", page)


@require_GET
@login_required
def graph_json(request: HtmxHttpRequest, pk: int, number: int | None = None) -> JsonResponse:
    """The Cytoscape elements of the graph, filtered and grouped as the query string asks."""
    cluster, _ = get_cluster(request.user, pk)
    revision = _revision(cluster, number)
    data = graphs.graph_data(revision)
    view, errors = graphs.parse_filter(request.GET)
    if view.focus and view.focus not in data.index:
        errors["focus"] = f"no workload or address range {view.focus!r} in this revision"
    payload = data.elements(view)
    payload.update(revision=revision.number, errors=errors, filter=view.describe())
    return JsonResponse(payload, json_dumps_params={"separators": (",", ":")})


@require_GET
@login_required
@vary_on_headers("HX-Request")
def flow_table(request: HtmxHttpRequest, pk: int, number: int | None = None) -> HttpResponse:
    """The allowed flows of the current view as a plain table, a page at a time."""
    cluster, access = get_cluster(request.user, pk)
    revision = _revision(cluster, number)
    data = graphs.graph_data(revision)
    view, errors = graphs.parse_filter(request.GET)
    _, edges = data.visible(view)
    page = Paginator(edges, FLOWS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "flow_page": page,
        "flows": data.flows(page.object_list),
        "flows_total": len(data.edges),
        "filter_text": view.describe(),
        "filter_errors": errors,
    }
    return _panel(request, "flow-table", cluster, access, revision, context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def flow_matrix(request: HtmxHttpRequest, pk: int, number: int | None = None) -> HttpResponse:
    """Namespace by namespace, or workload by workload inside `?namespace=`."""
    cluster, access = get_cluster(request.user, pk)
    revision = _revision(cluster, number)
    data = graphs.graph_data(revision)
    namespace = request.GET.get("namespace", "").strip()
    if namespace and namespace not in data.namespace_sizes:
        raise Http404("No workloads in that namespace")
    grid = data.workload_matrix(namespace) if namespace else data.namespace_matrix
    prefix = "" if namespace else "ns:"
    rows = [
        {
            "key": key,
            "label": label,
            "cells": [
                {**cell, "src": f"{prefix}{key}", "dst": f"{prefix}{grid['keys'][j]}"}
                for j, cell in enumerate(cells)
            ],
        }
        for key, label, cells in zip(grid["keys"], grid["labels"], grid["cells"], strict=True)
    ]
    context = {"matrix": grid, "matrix_rows": rows, "matrix_namespace": namespace}
    return _panel(request, "matrix", cluster, access, revision, context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def flow_explain(request: HtmxHttpRequest, pk: int, number: int | None = None) -> HttpResponse:
    """Why one endpoint may or may not reach another, optionally on `?port=`.

    An aggregated edge (an end is `ns:<name>`) lists the flows it stands for instead.
    """
    cluster, access = get_cluster(request.user, pk)
    revision = _revision(cluster, number)
    src, dst = request.GET.get("src", ""), request.GET.get("dst", "")
    port = request.GET.get("port", "")
    context: dict[str, Any] = {"asked": {"src": src, "dst": dst, "port": port}}
    if src.startswith("ns:") or dst.startswith("ns:"):
        flows, total = graphs.group_flows(revision, src, dst)
        context.update(group_flows=flows, group_total=total, group_src=src, group_dst=dst)
    else:
        try:
            explanation = graphs.explain_flow(revision, src, dst, port)
        except ValueError as exc:
            context["explain_error"] = str(exc)
        else:
            context.update(explanation=explanation, sides=graphs.explanation_sides(explanation))
    return _panel(request, "flow-inspector", cluster, access, revision, context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def node_inspect(request: HtmxHttpRequest, pk: int, number: int | None = None) -> HttpResponse:
    """A workload, an external range or a namespace (`ns:<name>`): what selects it, its flows."""
    cluster, access = get_cluster(request.user, pk)
    revision = _revision(cluster, number)
    ident = request.GET.get("id", "")
    context: dict[str, Any] = {}
    if ident.startswith("ns:"):
        context["namespace_info"] = graphs.namespace_details(revision, ident[3:])
        found = context["namespace_info"] is not None
    else:
        context["node"] = graphs.node_details(revision, ident)
        found = context["node"] is not None
    if not found:
        context["explain_error"] = f"Nothing called {ident!r} in revision {revision.number}."
    return _panel(request, "flow-inspector", cluster, access, revision, context)
