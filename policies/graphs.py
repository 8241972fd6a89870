"""The graph of a stored revision: Cytoscape JSON, view filters, matrix, flow table, inspector.

The engine evaluates a revision and shapes the result (`policies.engine.graph`); this module
keeps that result in `RevisionGraph`, compactly (endpoints once, flows as index triples), and
answers every view from it. Filtering and regrouping a cached graph takes milliseconds where
evaluating a cluster of a few thousand workloads again takes seconds.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any
from urllib.parse import urlencode

from . import engine, services
from .engine.explain import Explanation, explain, find_endpoint
from .engine.graph import AGGREGATE_ABOVE, aggregate, cytoscape_elements, matrix, to_networkx
from .engine.model import EGRESS, LabelSelector
from .engine.selectors import format_selector, matches, parse_selector
from .models import Namespace, Revision, RevisionGraph

__all__ = [
    "AGGREGATE_ABOVE",
    "FULL_LIMIT",
    "Analysis",
    "GraphData",
    "NamespaceDetails",
    "NodeDetails",
    "ViewFilter",
    "analysis",
    "build_graph_data",
    "explain_flow",
    "explanation_sides",
    "graph_data",
    "group_flows",
    "namespace_details",
    "node_details",
    "parse_filter",
    "parse_ports",
    "parse_selector",
]

CACHE_VERSION = 1  # bump when the stored layout changes: older rows are then rebuilt
# Never send more workloads than this un-aggregated, whatever the request asks: the full JSON
# of the ~2,300-workload benchmark cluster is ~20 MB and no browser lays that out usefully.
FULL_LIMIT = 1000
ALL = "All Connections"
DIRECTIONS = ("both", "in", "out")


# --- per-process memo ------------------------------------------------------------------------


class _Memo:
    """The last few values computed per revision, in this process.

    Safe because a revision never changes once stored. The key includes the creation time so
    that a database which reuses primary keys (tests flush and restart them) never serves a
    value computed for another revision.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, revision: Revision, value: Any) -> None:
        with self._lock:
            self._items[(revision.pk, revision.created)] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def get(self, revision: Revision, make: Callable[[], Any]) -> Any:
        key = (revision.pk, revision.created)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: two threads may both compute it, both get it right
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class Analysis:
    """A revision's engine snapshot, with its connectivity evaluated on first use."""

    snapshot: engine.Snapshot
    _conn: engine.Connectivity | None = None
    _workloads: dict[str, engine.Workload] = field(default_factory=dict)

    @property
    def conn(self) -> engine.Connectivity:
        if self._conn is None:
            self._conn = engine.evaluate(self.snapshot)
        return self._conn

    def workload(self, ident: str) -> engine.Workload | None:
        if not self._workloads:
            self._workloads = {w.id: w for w in self.snapshot.workloads}
        return self._workloads.get(ident)


_analyses = _Memo(2)
_graphs = _Memo(4)


def analysis(revision: Revision) -> Analysis:
    """The engine's view of a stored revision (parsing it again costs ~2 s at 2,400 policies)."""
    return _analyses.get(revision, lambda: Analysis(services.revision_snapshot(revision)))


def warm(
    revision: Revision, snapshot: engine.Snapshot, conn: engine.Connectivity | None = None
) -> None:
    """Prime the caches of a revision just written from `snapshot` (and its evaluation, when
    the writer has it), so that its first graph view neither re-parses nor re-evaluates."""
    _analyses.put(revision, Analysis(snapshot, conn))
    _stored_graph(revision)


# --- the cached graph ------------------------------------------------------------------------


def build_graph_data(conn: engine.Connectivity) -> dict[str, Any]:
    """What RevisionGraph stores: endpoints, distinct port sets, flows as index triples, and
    the engine's namespace aggregation and namespace matrix of the whole graph."""
    g = to_networkx(conn)
    elements = cytoscape_elements(g)
    nodes = [n["data"] for n in elements["nodes"] if n["data"]["type"] != "namespace"]
    index = {d["id"]: i for i, d in enumerate(nodes)}
    ports: list[list[Any]] = []
    port_index: dict[str, int] = {}
    edges = []
    for edge in elements["edges"]:
        d = edge["data"]
        pi = port_index.get(d["label"])
        if pi is None:
            pi = port_index[d["label"]] = len(ports)
            ports.append([d["label"], d["conns"]])
        edges.append([index[d["source"]], index[d["target"]], pi])
    return {
        "nodes": nodes,
        "ports": ports,
        "edges": edges,
        "aggregate": aggregate(g),
        "matrix": matrix(g),
    }


def _stored_graph(revision: Revision) -> dict[str, Any]:
    data = (
        RevisionGraph.objects.filter(revision=revision, version=CACHE_VERSION)
        .values_list("data", flat=True)
        .first()
    )
    if data is None:
        data = build_graph_data(analysis(revision).conn)
        RevisionGraph.objects.update_or_create(
            revision=revision, defaults={"version": CACHE_VERSION, "data": data}
        )
    return data


def graph_data(revision: Revision) -> GraphData:
    """The revision's graph, from this process's memo, the database, or computed and stored."""
    return _graphs.get(revision, lambda: GraphData(_stored_graph(revision)))


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


class GraphData:
    """A revision's graph as stored, with the lookups the views need."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.nodes: list[dict[str, Any]] = data["nodes"]
        self.ports: list[tuple[str, Any]] = [(label, conns) for label, conns in data["ports"]]
        self.edges: list[tuple[int, int, int]] = [tuple(e) for e in data["edges"]]
        self.aggregated: dict[str, Any] = data["aggregate"]
        self.namespace_matrix: dict[str, Any] = data["matrix"]
        self.index = {n["id"]: i for i, n in enumerate(self.nodes)}
        self.namespace_sizes: dict[str, int] = defaultdict(int)
        for n in self.nodes:
            if n["type"] == "workload":
                self.namespace_sizes[n["namespace"]] += 1
        self.workloads = sum(self.namespace_sizes.values())
        self._port_sets: list[engine.PortSet | None] = [None] * len(self.ports)

    def port_set(self, pi: int) -> engine.PortSet:
        got = self._port_sets[pi]
        if got is None:
            # The stored label is str(PortSet), which PortSet.parse reads back exactly.
            got = self._port_sets[pi] = engine.PortSet.parse(self.ports[pi][0])
        return got

    def is_workload(self, i: int) -> bool:
        return self.nodes[i]["type"] == "workload"

    # filtering --------------------------------------------------------------------------------
    def visible(self, f: ViewFilter) -> tuple[set[int], list[tuple[int, int, int]]]:
        """The endpoints and flows a filter keeps."""
        keep = set()
        for i, n in enumerate(self.nodes):
            if n["type"] != "workload":
                if f.external:
                    keep.add(i)
            elif (not f.namespaces or n["namespace"] in f.namespaces) and (
                f.selector is None or matches(f.selector, n["labels"])
            ):
                keep.add(i)
        focus = self.index.get(f.focus) if f.focus else None
        if focus is not None:
            keep.add(focus)  # the focused workload stays, whatever else the filters hide
        edges = [e for e in self.edges if e[0] in keep and e[1] in keep]
        if f.ports is not None:
            wanted = {pi for pi in range(len(self.ports)) if self.port_set(pi) & f.ports}
            edges = [e for e in edges if e[2] in wanted]
        if focus is not None:
            outgoing, incoming = f.direction in ("both", "out"), f.direction in ("both", "in")
            edges = [
                e for e in edges if (outgoing and e[0] == focus) or (incoming and e[1] == focus)
            ]
            keep = {focus, *_ends(edges)}
        elif f.ports is not None:
            # "Who can reach TCP 5432": only the endpoints of the flows that allow it.
            keep = set(_ends(edges))
        elif f.narrows:
            # An external range matters here only through its flows with what is shown.
            linked = set(_ends(edges))
            keep = {i for i in keep if self.is_workload(i) or i in linked}
        return keep, edges

    # shaping ----------------------------------------------------------------------------------
    def elements(self, f: ViewFilter) -> dict[str, Any]:
        """The Cytoscape JSON of a view: full (namespaces as compound nodes) or aggregated."""
        keep, edges = self.visible(f)
        shown = sum(1 for i in keep if self.is_workload(i))
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
        if aggregated and not (f.narrows or f.expand or not f.external):
            out = dict(self.aggregated)  # the whole cluster, as the engine aggregated it
        elif aggregated:
            out = self._aggregated(keep, edges, f.expand)
        else:
            out = self._full(keep, edges)
        out["stats"] = {
            "workloads": self.workloads,
            "shown_workloads": shown,
            "flows": len(self.edges),
            "shown_flows": len(edges),
        }
        out["expanded"] = sorted(f.expand & self.namespace_sizes.keys()) if aggregated else []
        out["notice"] = notice
        return out

    def _edge(self, s: int, d: int, pi: int) -> dict[str, Any]:
        src, dst = self.nodes[s]["id"], self.nodes[d]["id"]
        label, conns = self.ports[pi]
        data = {"id": f"{src}->{dst}", "source": src, "target": dst, "label": label}
        return {"data": {**data, "conns": conns}}

    def _full(self, keep: set[int], edges: list[tuple[int, int, int]]) -> dict[str, Any]:
        namespaces = sorted({self.nodes[i]["namespace"] for i in keep if self.is_workload(i)})
        nodes = [
            {"data": {"id": f"ns:{ns}", "label": ns, "type": "namespace"}} for ns in namespaces
        ]
        nodes += [{"data": self.nodes[i]} for i in sorted(keep)]
        return {"mode": "full", "nodes": nodes, "edges": [self._edge(*e) for e in edges]}

    def _aggregated(
        self, keep: set[int], edges: list[tuple[int, int, int]], expand: frozenset[str]
    ) -> dict[str, Any]:
        group: dict[int, str] = {}
        counts: dict[str, int] = defaultdict(int)
        states: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        expanded: set[str] = set()
        for i in keep:
            n = self.nodes[i]
            if n["type"] == "workload" and n["namespace"] not in expand:
                key = group[i] = f"ns:{n['namespace']}"
                counts[key] += 1
                states[key][n["isolation"]] += 1
            else:
                group[i] = n["id"]
                if n["type"] == "workload":
                    expanded.add(n["namespace"])
        nodes = []
        for key in sorted(counts):
            ns, total = key[3:], self.namespace_sizes[key[3:]]
            shown = f"{counts[key]}" if counts[key] == total else f"{counts[key]} of {total}"
            data = {
                "id": key,
                "label": f"{ns} ({shown})",
                "type": "namespace-aggregate",
                "namespace": ns,
                "workloads": counts[key],
                "isolation_counts": dict(states[key]),
            }
            nodes.append({"data": data})
        for ns in sorted(expanded):
            data = {"id": f"ns:{ns}", "label": ns, "type": "namespace", "expanded": True}
            nodes.append({"data": data})
        nodes += [{"data": self.nodes[i]} for i in sorted(keep) if group[i] == self.nodes[i]["id"]]
        plain, summed = [], defaultdict(lambda: [set(), 0])
        for s, d, pi in edges:
            a, b = group[s], group[d]
            if a == self.nodes[s]["id"] and b == self.nodes[d]["id"]:
                plain.append(self._edge(s, d, pi))
            else:
                acc = summed[(a, b)]
                acc[0].add(pi)
                acc[1] += 1
        out_edges = plain
        for (a, b), (pis, flows) in sorted(summed.items()):
            ports = reduce(or_, (self.port_set(pi) for pi in pis))
            data = {
                "id": f"{a}->{b}",
                "source": a,
                "target": b,
                "label": str(ports),
                "conns": ports.to_conns(),
                "flows": flows,
                "label_flows": f"{flows} flows: {ports}",
            }
            out_edges.append({"data": data})
        return {"mode": "aggregated", "nodes": nodes, "edges": out_edges}

    # tables -----------------------------------------------------------------------------------
    def flows(self, edges: Iterable[tuple[int, int, int]]) -> list[Flow]:
        return [Flow(self.nodes[s], self.nodes[d], self.ports[pi][0]) for s, d, pi in edges]

    def flows_between(self, src: str, dst: str) -> list[tuple[int, int, int]]:
        """Flows from one graph node to another; `ns:<name>` stands for a namespace's workloads."""
        return [e for e in self.edges if self._in(e[0], src) and self._in(e[1], dst)]

    def _in(self, i: int, key: str) -> bool:
        n = self.nodes[i]
        if key.startswith("ns:"):
            return n["type"] == "workload" and n["namespace"] == key[3:]
        return n["id"] == key

    def workload_matrix(self, namespace: str) -> dict[str, Any]:
        """Workload by workload inside a namespace, in the shape of engine.graph.matrix()."""
        members = [
            i
            for i, n in enumerate(self.nodes)
            if self.is_workload(i) and n["namespace"] == namespace
        ]
        members.sort(key=lambda i: self.nodes[i]["id"])
        position = {i: k for k, i in enumerate(members)}
        # A DiGraph holds at most one flow per ordered pair, so no port sets need merging.
        cells = {
            (position[s], position[d]): self.ports[pi][0]
            for s, d, pi in self.edges
            if s in position and d in position
        }
        rows = []
        for a in range(len(members)):
            row = []
            for b in range(len(members)):
                label = cells.get((a, b), "")
                state = "none" if not label else "all" if label == ALL else "some"
                row.append({"state": state, "ports": label})
            rows.append(row)
        return {
            "namespace": namespace,
            "keys": [self.nodes[i]["id"] for i in members],
            "labels": [self.nodes[i]["label"] for i in members],
            "cells": rows,
        }


def _ends(edges: Iterable[tuple[int, int, int]]) -> Iterable[int]:
    for s, d, _ in edges:
        yield s
        yield d


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


# --- the inspector ---------------------------------------------------------------------------


def explain_flow(revision: Revision, src: str, dst: str, port: str = "") -> Explanation:
    """Why `src` may or may not reach `dst` (on `port`, if given); ValueError on bad input."""
    snapshot = analysis(revision).snapshot
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
    """A workload's or an external range's labels, ports, selecting policies and flows."""
    data = graph_data(revision)
    i = data.index.get(node_id)
    if i is None:
        return None
    flows_in = [e for e in data.edges if e[1] == i]
    flows_out = [e for e in data.edges if e[0] == i]
    ingress = egress = ()
    if workload := analysis(revision).workload(node_id):
        ingress, egress = analysis(revision).conn.selecting_policies(workload)
    return NodeDetails(
        data=data.nodes[i],
        ingress_policies=ingress,
        egress_policies=egress,
        flows_in=tuple(data.flows(flows_in[:limit])),
        flows_out=tuple(data.flows(flows_out[:limit])),
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
        }
        for side in sides
    ]


def group_flows(revision: Revision, src: str, dst: str, limit: int = 100) -> tuple[list[Flow], int]:
    """The flows an aggregated edge stands for (`ns:<name>` is a namespace), and how many."""
    data = graph_data(revision)
    edges = data.flows_between(src, dst)
    return data.flows(edges[:limit]), len(edges)


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
    data = graph_data(revision)
    row = Namespace.objects.filter(revision=revision, name=name).first()
    if row is None and name not in data.namespace_sizes:
        return None
    key = f"ns:{name}"
    edges = [e["data"] for e in data.aggregated["edges"]]
    # the busiest first: with dozens of namespaces, those are the ones worth reading
    edges_out = sorted((e for e in edges if e["source"] == key), key=lambda e: -e["flows"])
    edges_in = sorted((e for e in edges if e["target"] == key), key=lambda e: -e["flows"])
    policies = revision.policies.filter(namespace=name).values_list("name", flat=True)
    return NamespaceDetails(
        name=name,
        labels=row.labels if row else {"kubernetes.io/metadata.name": name},
        defined=bool(row and row.defined),
        workloads=tuple(
            n for n in data.nodes if n["type"] == "workload" and n["namespace"] == name
        )[:limit],
        policies=tuple(f"{name}/{p}" for p in policies),
        edges_out=tuple(edges_out[:limit]),
        edges_in=tuple(edges_in[:limit]),
    )
