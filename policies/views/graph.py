"""The graph page's views: its JSON, the matrix, the flow table and the inspector.

Every view but the JSON one renders a partial of policies/cluster.html for htmx, and the whole
cluster page (with that panel filled in) otherwise, so that links and the "why" form work
without JavaScript too. Each serves the head (`/clusters/<pk>/...`) and any revision
(`/clusters/<pk>/revisions/<number>/...`) alike.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from .. import analysis, graphs
from ..engine.graph import FlowList
from .common import (
    HtmxHttpRequest,
    analysis_status,
    cluster_revision,
    not_analysed_json,
    render_panel,
)

FLOWS_PER_PAGE = 100


@require_GET
@login_required
def graph_json(request: HtmxHttpRequest, pk: int, number: int | None = None) -> JsonResponse:
    """The Cytoscape elements of the graph, filtered and grouped as the query string asks."""
    _, _, revision = cluster_revision(request, pk, number)
    if not revision.is_ready:
        return not_analysed_json(revision)
    index = analysis.flow_index(revision)
    view, errors = graphs.parse_filter(request.GET)
    if view.focus and not index.members(view.focus):
        errors["focus"] = f"no workload or address range {view.focus!r} in this revision"
    payload = graphs.elements(index, view)
    payload.update(revision=revision.number, errors=errors, filter=view.describe())
    return JsonResponse(payload, json_dumps_params={"separators": (",", ":")})


@require_GET
@login_required
def find_json(request: HtmxHttpRequest, pk: int, number: int | None = None) -> JsonResponse:
    """Workloads and addresses of the revision matching `?q=` (the graph's Find), best first."""
    _, _, revision = cluster_revision(request, pk, number)
    if not revision.is_ready:
        return not_analysed_json(revision)
    found = graphs.find_endpoints(analysis.flow_index(revision), request.GET.get("q", ""))
    found["revision"] = revision.number
    return JsonResponse(found)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def flow_table(request: HtmxHttpRequest, pk: int, number: int | None = None) -> HttpResponse:
    """The allowed flows of the current view as a plain table, a page at a time."""
    cluster, access, revision = cluster_revision(request, pk, number)
    if not revision.is_ready:
        return analysis_status(request, cluster, access, revision)
    index = analysis.flow_index(revision)
    view, errors = graphs.parse_filter(request.GET)
    _, edges = graphs.visible(index, view)
    page = Paginator(FlowList(edges), FLOWS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "flow_page": page,
        "flows": graphs.flows(index, page.object_list),
        "flows_total": index.flow_count,
        "filter_text": view.describe(),
        "filter_errors": errors,
    }
    return render_panel(request, "flow-table", cluster, access, revision, context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def flow_matrix(request: HtmxHttpRequest, pk: int, number: int | None = None) -> HttpResponse:
    """Namespace by namespace, or workload by workload inside `?namespace=`."""
    cluster, access, revision = cluster_revision(request, pk, number)
    if not revision.is_ready:
        return analysis_status(request, cluster, access, revision)
    namespace = request.GET.get("namespace", "").strip()
    try:
        grid, rows = graphs.matrix_rows(analysis.flow_index(revision), namespace)
    except KeyError:
        raise Http404("No workloads in that namespace") from None
    context = {"matrix": grid, "matrix_rows": rows, "matrix_namespace": namespace}
    return render_panel(request, "matrix", cluster, access, revision, context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def flow_explain(request: HtmxHttpRequest, pk: int, number: int | None = None) -> HttpResponse:
    """Why one endpoint may or may not reach another, optionally on `?port=`.

    An aggregated edge (an end is `ns:<name>` or a group `grp:<id>`) lists the flows it stands
    for instead.
    """
    cluster, access, revision = cluster_revision(request, pk, number)
    if not revision.is_ready:
        return analysis_status(request, cluster, access, revision)
    src, dst = request.GET.get("src", ""), request.GET.get("dst", "")
    port = request.GET.get("port", "")
    context: dict[str, Any] = {"asked": {"src": src, "dst": dst, "port": port}}
    if src.startswith(("ns:", "grp:", "ext:")) or dst.startswith(("ns:", "grp:", "ext:")):
        flows, total = graphs.group_flows(revision, src, dst)
        context.update(group_flows=flows, group_total=total, group_src=src, group_dst=dst)
    else:
        try:
            explanation = graphs.explain_flow(revision, src, dst, port)
        except ValueError as exc:
            context["explain_error"] = str(exc)
        else:
            context.update(
                explanation=explanation,
                sides=graphs.explanation_sides(explanation),
                ends=graphs.flow_ends(explanation),
            )
    return render_panel(request, "flow-inspector", cluster, access, revision, context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def node_inspect(request: HtmxHttpRequest, pk: int, number: int | None = None) -> HttpResponse:
    """A workload, an external range or a namespace (`ns:<name>`): what selects it, its flows."""
    cluster, access, revision = cluster_revision(request, pk, number)
    if not revision.is_ready:
        return analysis_status(request, cluster, access, revision)
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
    return render_panel(request, "flow-inspector", cluster, access, revision, context)
