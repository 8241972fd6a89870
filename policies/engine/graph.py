"""The graph views of an evaluation, over one compact flow index.

`FlowIndex` holds every endpoint once (as the node data Cytoscape draws), every distinct port
set once, and every flow as an index triple (source, destination, port set). It is built
straight from `Connectivity`, stored as JSON by the web app, and answers every view from
there: the full graph (namespaces as compound nodes), namespaces aggregated, and the matrix.
Filtering and regrouping an index takes milliseconds where evaluating a cluster of a few
thousand workloads again takes seconds.

networkx is not on this path; `to_networkx` stays as an export for people who want one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from functools import reduce
from itertools import chain
from operator import or_
from typing import Any

from .connectivity import Connectivity, Endpoint
from .gcpause import gc_paused
from .intervals import PortSet

__all__ = [
    "AGGREGATE_ABOVE",
    "Edge",
    "FlowIndex",
    "external_label",
    "isolation_state",
    "to_networkx",
]

AGGREGATE_ABOVE = 300  # workloads; above this the first view shows namespaces collapsed
INTERNET = "0.0.0.0-255.255.255.255"
ALL = "All Connections"

Edge = tuple[int, int, int]  # (source node, destination node, port set), indexes into FlowIndex


def isolation_state(conn: Connectivity, endpoint: Endpoint) -> str:
    """'both', 'ingress', 'egress' (isolated for that direction), 'open' or 'external'."""
    if endpoint.workload is None:
        return "external"
    ingress, egress = conn.isolation(endpoint.workload)
    if ingress and egress:
        return "both"
    return "ingress" if ingress else "egress" if egress else "open"


def external_label(ident: str) -> str:
    """A short name for an external endpoint: "internet", or its first range and a count."""
    ranges = ident.split(",")
    if ranges[0] == INTERNET:
        return "internet" if len(ranges) == 1 else f"internet (+{len(ranges) - 1} IPv6 ranges)"
    if len(ranges) == 1:
        return ident
    return f"{ranges[0]} (+{len(ranges) - 1} more)"


def _node(conn: Connectivity, ep: Endpoint) -> dict[str, Any]:
    w = ep.workload
    if w is None:
        return {"id": ep.id, "type": "external", "label": external_label(ep.id), "namespace": ""}
    return {
        "id": ep.id,
        "type": "workload",
        "label": w.name,
        "namespace": w.namespace,
        "kind": w.kind,
        "replicas": w.replicas,
        "labels": dict(w.labels),
        "ports": [f"{p.name + ':' if p.name else ''}{p.port}/{p.protocol}" for p in w.ports],
        "isolation": isolation_state(conn, ep),
        "parent": f"ns:{w.namespace}",
    }


class _Ports:
    """Distinct port sets as (label, conns), each numbered once."""

    def __init__(self, known: Iterable[tuple[str, Any]] = ()) -> None:
        self.labels = list(known)
        self._by_label = {label: i for i, (label, _) in enumerate(self.labels)}
        # The evaluation shares one PortSet object among the flows with equal ports: naming
        # each object once (not each of ~100,000 flows) is most of a build's time.
        self._by_object: dict[int, int] = {}
        self._held: list[PortSet] = []  # alive, so that no id() is reused meanwhile

    def index(self, ports: PortSet) -> int:
        pi = self._by_object.get(id(ports))
        if pi is None:
            label = str(ports)
            pi = self._by_label.get(label)
            if pi is None:
                pi = self._by_label[label] = len(self.labels)
                self.labels.append((label, ports.to_conns()))
            self._by_object[id(ports)] = pi
            self._held.append(ports)
        return pi


def _ends(edges: Iterable[Edge]) -> Iterable[int]:
    for s, d, _ in edges:
        yield s
        yield d


class FlowIndex:
    """Endpoints, distinct port sets and flows of one evaluation, with the graph views."""

    def __init__(
        self,
        nodes: Sequence[dict[str, Any]],
        ports: Sequence[tuple[str, Any]],
        edges: Sequence[Edge],
        aggregated: Mapping[str, Any] | None = None,
        namespace_matrix: Mapping[str, Any] | None = None,
    ) -> None:
        self.nodes = list(nodes)
        self.ports = [(label, conns) for label, conns in ports]
        self.edges = [tuple(e) for e in edges]
        self.index = {n["id"]: i for i, n in enumerate(self.nodes)}
        self.namespace_sizes: dict[str, int] = defaultdict(int)
        for n in self.nodes:
            if n["type"] == "workload":
                self.namespace_sizes[n["namespace"]] += 1
        self.workloads = sum(self.namespace_sizes.values())
        self._port_sets: list[PortSet | None] = [None] * len(self.ports)
        # The whole-cluster views are what a first visit shows: kept with the index once made.
        everything = set(range(len(self.nodes)))
        self.aggregated = dict(aggregated or self.aggregate(everything, self.edges))
        self.namespace_matrix = dict(namespace_matrix or self._namespace_matrix())

    @classmethod
    @gc_paused
    def build(cls, conn: Connectivity, base: FlowIndex | None = None) -> FlowIndex:
        """The index of an evaluation: one pass over its endpoints and its flows.

        With `base`, the index of the evaluation `conn` was re-evaluated from (`conn.base`),
        only the flows of the classes the edit touched are computed again: an edit of one
        policy among thousands then costs a fraction of a full build.
        """
        before = conn.base
        touching = conn.changed_since(before) if base is not None and before else None
        if touching is None or [n["id"] for n in base.nodes] != [e.id for e in conn.endpoints]:
            return cls._built(conn)
        rank = base.index
        stale = {(rank[f.src.id], rank[f.dst.id]) for f in before.flows(touching)}
        edges = [e for e in base.edges if (e[0], e[1]) not in stale]
        ports = _Ports(base.ports)
        edges += [
            (rank[f.src.id], rank[f.dst.id], ports.index(f.ports)) for f in conn.flows(touching)
        ]
        edges.sort()
        nodes = []
        for node, ep in zip(base.nodes, conn.endpoints, strict=True):
            if node["type"] == "workload" and node["isolation"] != (
                state := isolation_state(conn, ep)
            ):
                node = {**node, "isolation": state}
            nodes.append(node)
        return cls(nodes, ports.labels, edges)

    @classmethod
    def _built(cls, conn: Connectivity) -> FlowIndex:
        endpoints = conn.endpoints
        nodes = [_node(conn, ep) for ep in endpoints]
        rank = {ep.id: i for i, ep in enumerate(endpoints)}
        ports = _Ports()
        edges = [(rank[f.src.id], rank[f.dst.id], ports.index(f.ports)) for f in conn.flows()]
        return cls(nodes, ports.labels, edges)

    # storage ----------------------------------------------------------------------------------
    @gc_paused
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form that `from_dict` reads back (the web stores it per revision)."""
        return {
            "nodes": self.nodes,
            "ports": [list(p) for p in self.ports],
            # flat (source, destination, ports, source, ...): no list per flow to build or store
            "edges": list(chain.from_iterable(self.edges)),
            "aggregate": self.aggregated,
            "matrix": self.namespace_matrix,
        }

    @classmethod
    @gc_paused
    def from_dict(cls, data: Mapping[str, Any]) -> FlowIndex:
        flat = iter(data["edges"])
        edges = list(zip(flat, flat, flat, strict=True))
        return cls(data["nodes"], data["ports"], edges, data["aggregate"], data["matrix"])

    # lookups ----------------------------------------------------------------------------------
    def port_set(self, pi: int) -> PortSet:
        got = self._port_sets[pi]
        if got is None:
            # The stored label is str(PortSet), which PortSet.parse reads back exactly.
            got = self._port_sets[pi] = PortSet.parse(self.ports[pi][0])
        return got

    def is_workload(self, i: int) -> bool:
        return self.nodes[i]["type"] == "workload"

    def ends(self, edges: Iterable[Edge]) -> set[int]:
        """The nodes at either end of `edges`."""
        return set(_ends(edges))

    def flows_between(self, src: str, dst: str) -> list[Edge]:
        """Flows from one graph node to another; `ns:<name>` stands for a namespace's workloads."""
        return [e for e in self.edges if self._in(e[0], src) and self._in(e[1], dst)]

    def _in(self, i: int, key: str) -> bool:
        n = self.nodes[i]
        if key.startswith("ns:"):
            return n["type"] == "workload" and n["namespace"] == key[3:]
        return n["id"] == key

    # views ------------------------------------------------------------------------------------
    def edge(self, s: int, d: int, pi: int) -> dict[str, Any]:
        src, dst = self.nodes[s]["id"], self.nodes[d]["id"]
        label, conns = self.ports[pi]
        return {
            "data": {"id": f"{src}->{dst}", "source": src, "target": dst, "label": label,
                     "conns": conns}
        }  # fmt: skip

    def full(self, keep: Collection[int], edges: Iterable[Edge]) -> dict[str, Any]:
        """Every kept endpoint on its own, inside a compound node per namespace."""
        namespaces = sorted({self.nodes[i]["namespace"] for i in keep if self.is_workload(i)})
        nodes = [
            {"data": {"id": f"ns:{ns}", "label": ns, "type": "namespace"}} for ns in namespaces
        ]
        nodes += [{"data": self.nodes[i]} for i in sorted(keep)]
        return {"mode": "full", "nodes": nodes, "edges": [self.edge(*e) for e in edges]}

    def aggregate(
        self, keep: Collection[int], edges: Iterable[Edge], expand: Collection[str] = ()
    ) -> dict[str, Any]:
        """Namespaces collapsed to one node each (but those in `expand`), flows between them
        summed and their ports unioned; external endpoints stay as they are."""
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
        # Hot at a few thousand workloads (every flow passes here): plain lookups by index.
        own = [group.get(i) == n["id"] for i, n in enumerate(self.nodes)]
        plain, pis_of, flows_of = [], defaultdict(set), defaultdict(int)
        for s, d, pi in edges:
            if own[s] and own[d]:
                plain.append(self.edge(s, d, pi))
            else:
                key = (group[s], group[d])
                pis_of[key].add(pi)
                flows_of[key] += 1
        unions: dict[frozenset[int], tuple[str, Any]] = {}  # many pairs share their port sets
        for key in sorted(pis_of):
            pis = frozenset(pis_of[key])
            if pis not in unions:
                ports = reduce(or_, (self.port_set(pi) for pi in pis))
                unions[pis] = (str(ports), ports.to_conns())
            label, conns = unions[pis]
            a, b, flows = key[0], key[1], flows_of[key]
            data = {"id": f"{a}->{b}", "source": a, "target": b, "label": label, "conns": conns}
            data.update(flows=flows, label_flows=f"{flows} flows: {label}")
            plain.append({"data": data})
        return {"mode": "aggregated", "nodes": nodes, "edges": plain}

    def _namespace_matrix(self) -> dict[str, Any]:
        keys = sorted(self.namespace_sizes)
        position = {ns: k for k, ns in enumerate(keys)}
        at = [position.get(n["namespace"]) if n["type"] == "workload" else None for n in self.nodes]
        cells: dict[tuple[int, int], set[int]] = defaultdict(set)
        for s, d, pi in self.edges:
            if at[s] is not None and at[d] is not None:
                cells[(at[s], at[d])].add(pi)
        merged = {pos: reduce(or_, (self.port_set(pi) for pi in pis)) for pos, pis in cells.items()}
        return _grid(None, keys, keys, {pos: str(p) for pos, p in merged.items()})

    def workload_matrix(self, namespace: str) -> dict[str, Any]:
        """Workload by workload inside a namespace, in the shape of `namespace_matrix`."""
        members = [
            i
            for i, n in enumerate(self.nodes)
            if self.is_workload(i) and n["namespace"] == namespace
        ]
        members.sort(key=lambda i: self.nodes[i]["id"])
        position = {i: k for k, i in enumerate(members)}
        # The index holds at most one flow per ordered pair, so no port sets need merging.
        cells = {
            (position[s], position[d]): self.ports[pi][0]
            for s, d, pi in self.edges
            if s in position and d in position
        }
        keys = [self.nodes[i]["id"] for i in members]
        labels = [self.nodes[i]["label"] for i in members]
        return _grid(namespace, keys, labels, cells)


def _grid(
    namespace: str | None, keys: list[str], labels: list[str], cells: Mapping[tuple[int, int], str]
) -> dict[str, Any]:
    """Cells are 'all' (every port), 'some' (some ports) or 'none', with the ports as text."""
    rows = []
    for a in range(len(keys)):
        row = []
        for b in range(len(keys)):
            label = cells.get((a, b), "")
            state = "none" if not label else "all" if label == ALL else "some"
            row.append({"state": state, "ports": label})
        rows.append(row)
    return {"namespace": namespace, "keys": keys, "labels": labels, "cells": rows}


def to_networkx(conn: Connectivity):
    """The evaluation as a networkx DiGraph: nodes carry the graph's node data, edges a
    `ports` PortSet. An export for analysis in notebooks; the web does not use it."""
    import networkx as nx

    g = nx.DiGraph()
    for ep in conn.endpoints:
        data = _node(conn, ep)
        data.pop("parent", None)
        g.add_node(ep.id, **{k: v for k, v in data.items() if k != "id"})
    for f in conn.flows():
        g.add_edge(f.src.id, f.dst.id, ports=f.ports)
    return g
