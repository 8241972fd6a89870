"""Read models of the graph page: the view filters, the shapes they ask of the revision's
flow index (`policies.engine.graph`), the matrix rows and the inspector.

The flow index comes from `analysis`, which keeps it per revision; everything here is a
function of it and of the request, and takes milliseconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from . import analysis, engine
from .engine.explain import Explanation, explain, find_endpoint
from .engine.graph import (
    AGGREGATE_ABOVE,
    EXTERNAL,
    FlowIndex,
    FlowList,
    ViewEdge,
    endpoint_label,
)
from .engine.model import EGRESS, LabelSelector
from .engine.selectors import format_selector, matches, parse_selector
from .models import Namespace, Revision

__all__ = [
    "AGGREGATE_ABOVE",
    "FULL_LIMIT",
    "Flow",
    "NamespaceDetails",
    "NodeDetails",
    "ViewFilter",
    "connections_json",
    "elements",
    "explain_flow",
    "explanation_sides",
    "find_endpoints",
    "flow_ends",
    "flows",
    "group_flows",
    "matrix_rows",
    "namespace_details",
    "node_details",
    "parse_filter",
    "parse_ports",
    "parse_selector",
    "visible",
]

# Never send more workloads than this un-aggregated, whatever the request asks: the full JSON
# of the ~2,300-workload benchmark cluster is ~20 MB and no browser lays that out usefully.
FULL_LIMIT = 1000
DIRECTIONS = ("both", "in", "out")


@dataclass(frozen=True, slots=True)
class Flow:
    """One allowed flow as the flow table and the inspector list it."""

    src: dict[str, Any]
    dst: dict[str, Any]
    ports: str

    @property
    def query(self) -> str:
        """The query string that asks the inspector about this flow."""
        return urlencode({"src": self.src["id"], "dst": self.dst["id"]})


def flows(index: FlowIndex, edges: Iterable[tuple[int, int, int]]) -> list[Flow]:
    """Member-level flows (source node, destination node, port set) as the tables list them."""
    return [Flow(index.nodes[s], index.nodes[d], index.ports[pi][0]) for s, d, pi in edges]


# --- the view state in the query string ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ViewFilter:
    """What a graph view shows; every field comes from the page's query string."""

    namespaces: frozenset[str] = frozenset()
    selector: LabelSelector | None = None
    ports: engine.PortSet | None = None
    focus: str = ""
    direction: str = "both"  # of the flows kept around `focus`: both, in or out
    external: bool = True
    expand: frozenset[str] = frozenset()  # namespaces shown one workload at a time
    group: str = "auto"  # auto (aggregate above AGGREGATE_ABOVE), ns (always), none (never)

    @property
    def narrows(self) -> bool:
        return bool(self.namespaces or self.selector or self.ports or self.focus)

    def describe(self) -> str:
        parts = []
        if self.namespaces:
            parts.append("namespace " + ", ".join(sorted(self.namespaces)))
        if self.selector is not None:
            parts.append(f"labels {format_selector(self.selector)}")
        if self.ports is not None:
            parts.append(f"flows allowing {self.ports}")
        if self.focus:
            around = {"both": "to and from", "in": "to", "out": "from"}[self.direction]
            parts.append(f"flows {around} {self.focus}")
        if not self.external:
            parts.append("no external addresses")
        return "; ".join(parts)


def _names(text: str) -> frozenset[str]:
    return frozenset(part.strip() for part in text.split(",") if part.strip())


def parse_filter(query: Mapping[str, str]) -> tuple[ViewFilter, dict[str, str]]:
    """The filter a query string asks for, and an error per parameter that could not be read
    (that parameter is then ignored, so the rest of the view still works)."""
    errors: dict[str, str] = {}
    selector = ports = None
    if text := query.get("sel", "").strip():
        try:
            selector = parse_selector(text)
        except ValueError as exc:
            errors["sel"] = str(exc)
    if text := query.get("port", "").strip():
        try:
            ports = parse_ports(text)
        except ValueError as exc:
            errors["port"] = str(exc)
    direction = query.get("dir", "both")
    if direction not in DIRECTIONS:
        errors["dir"] = f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}"
        direction = "both"
    group = query.get("group", "auto")
    if group not in ("auto", "ns", "none"):
        errors["group"] = f"group must be auto, ns or none, got {group!r}"
        group = "auto"
    f = ViewFilter(
        namespaces=_names(query.get("ns", "")),
        selector=selector,
        ports=ports,
        focus=query.get("focus", "").strip(),
        direction=direction,
        external=query.get("ext", "1") not in ("0", "false", "off"),
        expand=_names(query.get("expand", "")),
        group=group,
    )
    return f, errors


# Label keys are an optional DNS-subdomain prefix and a name; values are names or empty.


def parse_ports(text: str) -> engine.PortSet:
    """Ports as people type them: `TCP 5432`, `tcp-80`, `5432/TCP`, `udp 53`, `5432` (TCP)."""
    text = text.strip()
    if m := re.fullmatch(r"(\d+(?:-\d+)?)\s*/\s*([A-Za-z]+)", text):
        text = f"{m[2]} {m[1]}"
    elif re.fullmatch(r"\d+(?:-\d+)?", text):
        text = f"TCP {text}"
    ports = engine.PortSet.parse(text.replace("/", " "))
    if not ports:
        raise ValueError(f"{text!r} names no port")
    return ports


def _ends(edges: Iterable[ViewEdge]) -> set[int]:
    ends: set[int] = set()
    for e in edges:
        ends.update(e.srcs)
        ends.update(e.dsts)
    return ends


def visible(index: FlowIndex, f: ViewFilter) -> tuple[set[int], list[ViewEdge]]:
    """The endpoints and flows a filter keeps (flows as group edges over the kept nodes)."""
    keep = set()
    for i, n in enumerate(index.nodes):
        if n["type"] != "workload":
            if f.external:
                keep.add(i)
        elif (not f.namespaces or n["namespace"] in f.namespaces) and (
            f.selector is None or matches(f.selector, n["labels"])
        ):
            keep.add(i)
    wanted = None
    if f.ports is not None:
        wanted = {pi for pi in range(len(index.ports)) if index.port_set(pi) & f.ports}
    focus = index.members(f.focus) if f.focus and not f.focus.startswith("ns:") else []
    if focus:
        keep.update(focus)  # the focused workload (or group) stays, whatever else is hidden
        edges = []
        if f.direction in ("both", "out"):
            edges += index.view_edges(focus, keep, wanted)
        if f.direction in ("both", "in"):
            edges += index.view_edges(keep, focus, wanted)
        return {*focus, *_ends(edges)}, edges
    if f.namespaces:
        return _namespace_view(index, f, keep, wanted)
    edges = index.view_edges(keep, keep, wanted)
    if f.ports is not None:
        # "Who can reach TCP 5432": only the endpoints of the flows that allow it.
        keep = _ends(edges)
    elif f.narrows:
        # An external range matters here only through its flows with what is shown.
        linked = _ends(edges)
        keep = {i for i in keep if index.is_workload(i) or i in linked}
    return keep, edges


def _namespace_view(
    index: FlowIndex, f: ViewFilter, keep: set[int], wanted: set[int] | None
) -> tuple[set[int], list[ViewEdge]]:
    """A namespace's workloads (those the other filters keep) and every flow in or out of
    them: what a reviewer of that namespace reads. Peers outside are kept as the ends of those
    flows (`elements` draws them collapsed by namespace)."""
    inside = {i for i in keep if index.is_workload(i)}
    outside = [
        i
        for i, n in enumerate(index.nodes)
        if i not in inside and (n["type"] == "workload" or f.external)
    ]
    edges = [
        *index.view_edges(inside, inside, wanted),
        *index.view_edges(inside, outside, wanted),
        *index.view_edges(outside, inside, wanted),
    ]
    ends = _ends(edges)
    return (ends if f.ports is not None else inside | ends), edges


def around_namespaces(index: FlowIndex, f: ViewFilter) -> bool:
    """Whether a view is a namespace's (not a focus inside it): peers drawn collapsed."""
    return bool(f.namespaces) and not (f.focus and not f.focus.startswith("ns:") and
                                       index.members(f.focus))  # fmt: skip


def _first_view(index: FlowIndex, f: ViewFilter) -> bool:
    """Whether a view is the whole cluster aggregated, as the index stored it when made."""
    whole = not (f.narrows or f.expand or not f.external)
    return whole and _aggregates(index, f)


def elements(index: FlowIndex, f: ViewFilter) -> dict[str, Any]:
    """The Cytoscape JSON of a view: full (namespaces as compound nodes) or aggregated."""
    if _first_view(index, f):
        # What a first visit asks: stored with the index. Working out which nodes and flows
        # it keeps would walk every edge (half a second at 50,000 pods) to find them all.
        return _whole(index, index.aggregated, [])
    if _expand_only(index, f):
        return _whole(index, index.expanded(f.expand), f.expand & index.namespace_sizes.keys())
    return _elements(index, f)


def _whole(index: FlowIndex, view: dict[str, Any], expanded: Collection[str]) -> dict[str, Any]:
    """A view of every workload and flow (nothing filtered), with its stats."""
    stats = {"workloads": index.workloads, "shown_workloads": index.workloads,
             "flows": index.flow_count, "shown_flows": index.flow_count}  # fmt: skip
    tiered = index.tiers is not None
    return {**view, "stats": stats, "expanded": sorted(expanded), "notice": "", "tiered": tiered}


def _expand_only(index: FlowIndex, f: ViewFilter) -> bool:
    """Whether a view is the whole cluster aggregated with some namespaces opened, and no
    other filter: `FlowIndex.expanded` answers it without a walk over every flow."""
    return bool(f.expand) and f.external and not f.narrows and _aggregates(index, f)


def _aggregates(index: FlowIndex, f: ViewFilter) -> bool:
    """Whether the whole cluster is drawn with its namespaces collapsed in this view."""
    return f.group == "ns" or (f.group == "auto" and index.workloads > AGGREGATE_ABOVE)


def _elements(index: FlowIndex, f: ViewFilter) -> dict[str, Any]:
    keep, edges = visible(index, f)
    shown = sum(1 for i in keep if index.is_workload(i))
    notice = ""
    if f.group == "ns":
        aggregated = True
    elif f.group == "none" and shown <= FULL_LIMIT:
        aggregated = False
    else:
        aggregated = shown > AGGREGATE_ABOVE
        if f.group == "none" and aggregated:
            notice = (
                f"{shown} workloads are too many to show one by one (at most {FULL_LIMIT});"
                " namespaces are collapsed: filter, or expand one at a time."
            )
    inside = sum(1 for i in keep if index.is_workload(i) and index.nodes[i]["namespace"]
                 in f.namespaces)  # fmt: skip
    if around_namespaces(index, f) and inside <= FULL_LIMIT and f.group != "ns":
        # The namespace one workload at a time, its peers outside collapsed by namespace.
        out = index.aggregate(keep, edges, f.namespaces | f.expand)
        out["mode"] = "full"
        aggregated = True
    elif aggregated and not (f.narrows or f.expand or not f.external):
        out = dict(index.aggregated)  # the whole cluster, aggregated when the index was made
    elif aggregated:
        out = index.aggregate(keep, edges, f.expand)
    else:
        out = index.full(keep, edges)
    out["stats"] = {
        "workloads": index.workloads,
        "shown_workloads": shown,
        "flows": index.flow_count,
        "shown_flows": sum(e.count for e in edges),
    }
    opened = f.expand | (f.namespaces if around_namespaces(index, f) else frozenset())
    out["expanded"] = sorted(opened & index.namespace_sizes.keys()) if aggregated else []
    out["notice"] = notice
    # Edges carry `tier` and `tiers` (engine/tiers_flows.py) only on a cluster with
    # cluster-wide policies: the page offers its tier toggle then.
    out["tiered"] = index.tiers is not None
    return out


def matrix_rows(index: FlowIndex, namespace: str = "") -> tuple[dict[str, Any], list[dict]]:
    """Namespace by namespace, or workload by workload inside `namespace`: the grid, and its
    rows with the inspector's query for each cell. KeyError for a namespace with no workload."""
    if namespace and namespace not in index.namespace_sizes:
        raise KeyError(namespace)
    grid = index.workload_matrix(namespace) if namespace else index.namespace_matrix

    def view_key(key: str) -> str:
        return key if namespace or key == EXTERNAL else f"ns:{key}"

    rows = [
        {
            "key": key,
            "label": label,
            "namespace": not namespace and key != EXTERNAL,  # a row that opens a namespace
            "cells": [
                {**cell, "src": view_key(key), "dst": view_key(grid["keys"][j])}
                for j, cell in enumerate(cells)
            ],
        }
        for key, label, cells in zip(grid["keys"], grid["labels"], grid["cells"], strict=True)
    ]
    return grid, rows


# --- Find --------------------------------------------------------------------------------------

FIND_LIMIT = 20


def _find_rank(node: dict[str, Any], wanted: str) -> tuple[int, str] | None:
    """How well a node matches what was typed (lower is better) and what matched, or None.

    Exact id, `namespace/name` and name first, then prefixes, then substrings, then labels
    (`key=value`, a key or a value), so that a short name finds its workload among thousands.
    """
    ident = node["id"].lower()
    label = str(node.get("label", "")).lower()
    if node["type"] != "workload":
        if wanted in (ident, label):
            return 0, "address"
        if wanted in ident or wanted in label:
            return 5, "address"
        return None
    path = f"{node['namespace']}/{node['label']}".lower()
    for rank, (candidate, what) in enumerate(((ident, "id"), (path, "name"), (label, "name"))):
        if wanted == candidate:
            return rank, what
    if label.startswith(wanted) or path.startswith(wanted):
        return 3, "name"
    if wanted in path or wanted in ident:
        return 4, "name"
    for key, value in node.get("labels", {}).items():
        pair = f"{key}={value}".lower()
        if wanted == pair or wanted in (key.lower(), str(value).lower()):
            return 6, f"label {key}={value}"
    for key, value in node.get("labels", {}).items():
        if wanted in f"{key}={value}".lower():
            return 7, f"label {key}={value}"
    return None


def find_endpoints(index: FlowIndex, text: str, limit: int = FIND_LIMIT) -> dict[str, Any]:
    """Every workload and address of the revision matching `text` (an id, `namespace/name`, a
    name or its start, a label), best first: what the graph's Find suggests and focuses on,
    whatever the current view draws."""
    wanted = text.strip().lower()
    found: list[tuple[int, str, dict[str, Any], str]] = []
    if wanted:
        for node in index.nodes:
            hit = _find_rank(node, wanted)
            if hit is not None:
                found.append((hit[0], node["id"], node, hit[1]))
    found.sort(key=lambda hit: (hit[0], hit[1]))
    exact = [hit for hit in found if hit[0] <= 2]
    results = []
    for _, ident, node, what in found[:limit]:
        g = index.group_of[index.index[ident]]
        results.append(
            {
                "id": ident,
                "label": node["label"],
                "type": node["type"],
                "namespace": node.get("namespace", ""),
                "kind": node.get("kind", ""),
                # the node that draws it when its alike workloads are drawn as one
                "group": index.group_key(g) if len(index.groups[g]) > 1 else "",
                "match": what,
            }
        )
    # One answer when what was typed names one endpoint better than any other, or matches one.
    best = ""
    if exact and (len(exact) == 1 or exact[0][0] < exact[1][0]):
        best = exact[0][1]
    elif len(found) == 1:
        best = found[0][1]
    return {"query": text.strip(), "results": results, "total": len(found), "best": best}


# --- the inspector ---------------------------------------------------------------------------


def explain_flow(revision: Revision, src: str, dst: str, port: str = "") -> Explanation:
    """Why `src` may or may not reach `dst` (on `port`, if given); ValueError on bad input."""
    snapshot = analysis.state(revision).snapshot
    asked = parse_ports(port) if port.strip() else None
    errors = []
    ends = []
    for role, text in (("source", src), ("destination", dst)):
        if not text.strip():
            errors.append(f"name a {role}")
            continue
        try:
            ends.append(find_endpoint(snapshot, text))
        except ValueError as exc:
            errors.append(f"{role}: {exc}")
    if errors:
        raise ValueError("; ".join(errors))
    return explain(snapshot, ends[0], ends[1], asked)


@dataclass(frozen=True, slots=True)
class NodeDetails:
    """What the inspector shows of a tapped node."""

    data: dict[str, Any]
    ingress_policies: tuple[engine.NetworkPolicy, ...] = ()
    egress_policies: tuple[engine.NetworkPolicy, ...] = ()
    flows_in: tuple[Flow, ...] = ()
    flows_out: tuple[Flow, ...] = ()
    total_in: int = 0
    total_out: int = 0


def node_details(revision: Revision, node_id: str, limit: int = 100) -> NodeDetails | None:
    """A workload's, a group's or an external range's labels, ports, selecting policies and
    flows."""
    index = analysis.flow_index(revision)
    members = [] if node_id.startswith("ns:") else index.members(node_id)
    if not members:
        return None
    i = members[0]
    everything = range(len(index.nodes))
    flows_in = FlowList(index.view_edges(everything, members))
    flows_out = FlowList(index.view_edges(members, everything))
    ingress = egress = ()
    state = analysis.state(revision)
    if workload := state.workload(node_id):
        ingress, egress = state.conn.selecting_policies(workload)
    return NodeDetails(
        # a group of alike workloads shows as the group; its first member stands for the rest
        data=index.group_data(index.group_of[i]) if node_id.startswith("grp:") else index.nodes[i],
        ingress_policies=ingress,
        egress_policies=egress,
        flows_in=tuple(flows(index, flows_in[:limit])),
        flows_out=tuple(flows(index, flows_out[:limit])),
        total_in=len(flows_in),
        total_out=len(flows_out),
    )


def explanation_sides(explanation: Explanation) -> list[dict[str, Any]]:
    """Both sides of an explanation, each with a title and whether it blocks the flow."""
    sides = (explanation.egress, explanation.ingress)
    blocking = explanation.blocking_sides
    return [
        {
            "side": side,
            "title": "Egress of the source"
            if side.direction == EGRESS
            else "Ingress of the destination",
            "direction": side.direction.lower(),
            "blocks": side in blocking,
            "label": endpoint_label(side.endpoint),
        }
        for side in sides
    ]


def flow_ends(explanation: Explanation) -> dict[str, str]:
    """The two ends of an explained flow as people read them (external ranges as CIDRs)."""
    return {"src": endpoint_label(explanation.src), "dst": endpoint_label(explanation.dst)}


def group_flows(revision: Revision, src: str, dst: str, limit: int = 100) -> tuple[list[Flow], int]:
    """The flows an aggregated edge stands for (`ns:<name>` is a namespace, `grp:<id>` a group
    of alike workloads), and how many."""
    index = analysis.flow_index(revision)
    edges = index.flows_between(src, dst)
    return flows(index, edges[:limit]), len(edges)


@dataclass(frozen=True, slots=True)
class NamespaceDetails:
    """What the inspector shows of a namespace: labels, workloads, policies, summed flows."""

    name: str
    labels: dict[str, str]
    defined: bool
    workloads: tuple[dict[str, Any], ...]
    policies: tuple[str, ...]
    edges_out: tuple[dict[str, Any], ...]
    edges_in: tuple[dict[str, Any], ...]


def namespace_details(revision: Revision, name: str, limit: int = 200) -> NamespaceDetails | None:
    index = analysis.flow_index(revision)
    row = Namespace.objects.filter(revision=revision, name=name).first()
    if row is None and name not in index.namespace_sizes:
        return None
    key = f"ns:{name}"
    edges = [e["data"] for e in index.aggregated["edges"]]
    # the busiest first: with dozens of namespaces, those are the ones worth reading
    edges_out = sorted((e for e in edges if e["source"] == key), key=lambda e: -e["flows"])
    edges_in = sorted((e for e in edges if e["target"] == key), key=lambda e: -e["flows"])
    policies = revision.policies.filter(namespace=name).values_list("name", flat=True)
    return NamespaceDetails(
        name=name,
        labels=row.labels if row else {"kubernetes.io/metadata.name": name},
        defined=bool(row and row.defined),
        workloads=tuple(
            n for n in index.nodes if n["type"] == "workload" and n["namespace"] == name
        )[:limit],
        policies=tuple(f"{name}/{p}" for p in policies),
        edges_out=tuple(edges_out[:limit]),
        edges_in=tuple(edges_in[:limit]),
    )


# --- the connections API ---------------------------------------------------------------------


def connections_json(index: FlowIndex, batch: int = 2000) -> Iterator[str]:
    """`{"connections": [...]}` as `analyze --format json` writes it, in pieces: a cluster
    whose answer is 10⁸ flows streams without ever holding them."""
    yield '{"connections": ['
    first = True
    chunk: list[str] = []
    for record in index.connections():
        chunk.append(json.dumps(record, separators=(",", ":")))
        if len(chunk) == batch:
            yield ("" if first else ",") + ",".join(chunk)
            first, chunk = False, []
    if chunk:
        yield ("" if first else ",") + ",".join(chunk)
    yield "]}"
