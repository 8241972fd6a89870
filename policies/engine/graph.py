"""Connectivity → a networkx DiGraph, Cytoscape elements, and the aggregated views.

networkx stays inside this module: callers get plain dicts ready for JSON.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx

from .connectivity import Connectivity, Endpoint
from .intervals import PortSet

__all__ = [
    "AGGREGATE_ABOVE",
    "aggregate",
    "cytoscape_elements",
    "isolation_state",
    "matrix",
    "to_networkx",
]

AGGREGATE_ABOVE = 300  # workloads; above this the first view shows namespaces collapsed
INTERNET = "0.0.0.0-255.255.255.255"


def isolation_state(conn: Connectivity, endpoint: Endpoint) -> str:
    """'both', 'ingress', 'egress' (isolated for that direction) or 'open'."""
    if endpoint.workload is None:
        return "external"
    ingress, egress = conn.isolation(endpoint.workload)
    if ingress and egress:
        return "both"
    return "ingress" if ingress else "egress" if egress else "open"


def external_label(ident: str) -> str:
    ranges = ident.split(",")
    if ident == INTERNET or (ranges[0] == INTERNET):
        return "internet" if len(ranges) == 1 else f"internet (+{len(ranges) - 1} IPv6 ranges)"
    if len(ranges) == 1:
        return ident
    return f"{ranges[0]} (+{len(ranges) - 1} more)"


def to_networkx(conn: Connectivity) -> nx.DiGraph:
    """Nodes are workloads and external ranges; edges carry `ports` (a PortSet)."""
    g = nx.DiGraph()
    for ep in conn.endpoints:
        w = ep.workload
        if w is None:
            g.add_node(ep.id, type="external", label=external_label(ep.id), namespace="")
        else:
            g.add_node(
                ep.id,
                type="workload",
                label=w.name,
                namespace=w.namespace,
                kind=w.kind,
                replicas=w.replicas,
                labels=dict(w.labels),
                ports=[f"{p.name + ':' if p.name else ''}{p.port}/{p.protocol}" for p in w.ports],
                isolation=isolation_state(conn, ep),
            )
    for f in conn.flows():
        g.add_edge(f.src.id, f.dst.id, ports=f.ports)
    return g


def _edge_data(src: str, dst: str, ports: PortSet, **extra: object) -> dict:
    return {
        "data": {
            "id": f"{src}->{dst}",
            "source": src,
            "target": dst,
            "label": str(ports),
            "conns": ports.to_conns(),
            **extra,
        }
    }


def cytoscape_elements(g: nx.DiGraph) -> dict:
    """The full view: namespaces as compound nodes around their workloads."""
    nodes = []
    namespaces = sorted({d["namespace"] for _, d in g.nodes(data=True) if d["namespace"]})
    for ns in namespaces:
        nodes.append({"data": {"id": f"ns:{ns}", "label": ns, "type": "namespace"}})
    for node, d in g.nodes(data=True):
        data = {"id": node, **d}
        if d["type"] == "workload":
            data["parent"] = f"ns:{d['namespace']}"
        nodes.append({"data": data})
    edges = [_edge_data(a, b, d["ports"]) for a, b, d in g.edges(data=True)]
    return {"mode": "full", "nodes": nodes, "edges": edges}


def aggregate(g: nx.DiGraph) -> dict:
    """Each namespace collapsed to one node; edges between them summed (ports unioned)."""
    counts: dict[str, int] = defaultdict(int)
    states: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    group = {}
    for node, d in g.nodes(data=True):
        if d["type"] == "workload":
            key = f"ns:{d['namespace']}"
            counts[key] += 1
            states[key][d["isolation"]] += 1
        else:
            key = node
        group[node] = key
    ports: dict[tuple[str, str], PortSet] = {}
    flows: dict[tuple[str, str], int] = defaultdict(int)
    for a, b, d in g.edges(data=True):
        key = (group[a], group[b])
        ports[key] = ports.get(key, PortSet.none()) | d["ports"]
        flows[key] += 1
    nodes = []
    for key in sorted(counts):
        ns = key[3:]
        nodes.append(
            {
                "data": {
                    "id": key,
                    "label": f"{ns} ({counts[key]})",
                    "type": "namespace-aggregate",
                    "namespace": ns,
                    "workloads": counts[key],
                    "isolation_counts": dict(states[key]),
                }
            }
        )
    for node, d in g.nodes(data=True):
        if d["type"] == "external":
            nodes.append({"data": {"id": node, **d}})
    edges = [
        _edge_data(a, b, p, flows=flows[(a, b)], label_flows=f"{flows[(a, b)]} flows: {p}")
        for (a, b), p in sorted(ports.items())
    ]
    return {"mode": "aggregated", "nodes": nodes, "edges": edges}


def matrix(g: nx.DiGraph, namespace: str | None = None) -> dict:
    """Namespace by namespace (or workload by workload inside `namespace`) reachability.

    Cells are 'all' (every port), 'some' (some ports) or 'none', with the ports as text.
    """
    if namespace is None:
        keys = sorted({d["namespace"] for _, d in g.nodes(data=True) if d["type"] == "workload"})

        def key_of(node: str) -> str | None:
            d = g.nodes[node]
            return d["namespace"] if d["type"] == "workload" else None
    else:
        keys = sorted(
            n
            for n, d in g.nodes(data=True)
            if d["type"] == "workload" and d["namespace"] == namespace
        )

        def key_of(node: str) -> str | None:
            return node if node in index else None

    index = {k: i for i, k in enumerate(keys)}
    cells: dict[tuple[int, int], PortSet] = {}
    for a, b, d in g.edges(data=True):
        ka, kb = key_of(a), key_of(b)
        if ka is None or kb is None:
            continue
        pos = (index[ka], index[kb])
        cells[pos] = cells.get(pos, PortSet.none()) | d["ports"]
    rows = []
    for i in range(len(keys)):
        row = []
        for j in range(len(keys)):
            p = cells.get((i, j))
            state = "none" if not p else "all" if p.is_all else "some"
            row.append({"state": state, "ports": str(p) if p else ""})
        rows.append(row)
    labels = keys if namespace is None else [g.nodes[k]["label"] for k in keys]
    return {"namespace": namespace, "keys": keys, "labels": labels, "cells": rows}
