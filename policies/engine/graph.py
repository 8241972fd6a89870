"""The graph views of an evaluation, at the size of the answer.

`FlowIndex` holds every endpoint once (as the node data Cytoscape draws), the workloads whose
connectivity is identical as one group, every distinct port set once, and the flows between
groups (source group, destination group, port set). Every member of a group reaches every
member of another group the edge names, and the members of a group reach each other on its
edge to itself (no workload reaches itself). An open cluster of 10,000 pods is a handful of
groups that reach everything, not 10⁸ pairs; a cluster whose policies tell every workload
apart has a group per workload, and the views are what they always were.

The index is built from the evaluation's classes (`Connectivity.class_flows`), stored as JSON
by the web app, and answers every view: the full graph (namespaces as compound nodes, big
groups drawn as one node), namespaces aggregated, the matrix, and lists of flows that expand
member pairs lazily, a page at a time.

networkx is not on this path; `to_networkx` stays as an export for people who want one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from functools import cached_property, reduce
from itertools import chain
from operator import or_
from typing import Any, NamedTuple

from .connectivity import Connectivity, Endpoint
from .gcpause import gc_paused
from .intervals import IPV4_ALL, IPV6_ALL, IntervalSet, PortSet, format_cidrs, parse_ip_range
from .tiers_flows import flow_tiers, tier_fields

__all__ = [
    "AGGREGATE_ABOVE",
    "DRAW_GROUPS_ABOVE",
    "EXTERNAL",
    "FlowIndex",
    "FlowList",
    "ViewEdge",
    "endpoint_label",
    "external_label",
    "isolation_state",
    "to_networkx",
]

AGGREGATE_ABOVE = 300  # workloads; above this the first view shows namespaces collapsed
# A group with more members than this in a view is drawn as one node (its members on demand):
# drawing 500 alike pods and their 250,000 edges tells a reader nothing one node does not.
DRAW_GROUPS_ABOVE = 12
INTERNET = "0.0.0.0-255.255.255.255"
ALL = "All Connections"
EXTERNAL = "ext:"  # the matrix's key of every external address together


def isolation_state(conn: Connectivity, endpoint: Endpoint) -> str:
    """'both', 'ingress', 'egress' (isolated for that direction), 'open' or 'external'."""
    if endpoint.workload is None:
        return "external"
    ingress, egress = conn.isolation(endpoint.workload)
    if ingress and egress:
        return "both"
    return "ingress" if ingress else "egress" if egress else "open"


# Beyond this many CIDRs a label names the first ones and counts the rest.
LABEL_CIDRS = 6


def _family_label(part: IntervalSet, whole: IntervalSet, name: str, limit: int) -> str:
    """One address family's part of a label: `name`, its CIDRs, or `name` except some, which
    ever is shorter (a policy's `except` list reads back as it was written)."""
    if part == whole:
        return name
    inside, outside = format_cidrs(part), format_cidrs(whole - part)
    words, prefix = (outside, f"{name} except ") if len(outside) < len(inside) else (inside, "")
    more = f" (+{len(words) - limit} more)" if len(words) > limit else ""
    return prefix + ", ".join(words[:limit]) + more


def external_label(ident: str, limit: int = LABEL_CIDRS) -> str:
    """An external endpoint (its id a list of `first-last` ranges) named as people write it:
    "internet", CIDRs ("10.0.0.0/8"), or a complement ("internet except 10.0.0.0/8, ...")."""
    try:
        addresses = parse_ip_range(ident)
    except ValueError:
        return ident
    parts = [
        _family_label(addresses & whole, whole, name, limit)
        for whole, name in ((IPV4_ALL, "internet"), (IPV6_ALL, "IPv6 internet"))
        if addresses & whole
    ]
    if parts == ["internet", "IPv6 internet"]:
        return "internet (IPv4 and IPv6)"
    return " and ".join(parts) or ident


def endpoint_label(ident: str) -> str:
    """How an endpoint id reads: a workload's id as it is, external ranges as CIDRs."""
    return ident if "/" in ident and "[" in ident else external_label(ident)


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


class ViewEdge(NamedTuple):
    """The flows of one group edge a view keeps: every source in `srcs` to every destination
    in `dsts` (node indexes), but none from a node to itself. (A named tuple: a view of a few
    thousand workloads makes tens of thousands of them.)"""

    src_group: int
    dst_group: int
    ports: int
    srcs: tuple[int, ...]
    dsts: tuple[int, ...]

    @property
    def count(self) -> int:
        n = len(self.srcs) * len(self.dsts)
        if self.src_group == self.dst_group:
            n -= len(set(self.srcs).intersection(self.dsts))
        return n

    def pairs(self) -> Iterator[tuple[int, int]]:
        for s in self.srcs:
            for d in self.dsts:
                if s != d:
                    yield s, d


class FlowList(Sequence[tuple[int, int, int]]):
    """Member-level flows (source node, destination node, port set) of some view edges,
    expanded only for the slice asked for: a page of the flow table costs a page."""

    def __init__(self, edges: Iterable[ViewEdge]) -> None:
        self._edges = [e for e in edges if e.count]
        self._starts = []
        total = 0
        for e in self._edges:
            self._starts.append(total)
            total += e.count
        self._total = total

    def __len__(self) -> int:
        return self._total

    def __getitem__(self, item):  # type: ignore[override]
        if isinstance(item, slice):
            start, stop, step = item.indices(self._total)
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return self._range(start, stop)
        if item < 0:
            item += self._total
        if not 0 <= item < self._total:
            raise IndexError(item)
        return self._range(item, item + 1)[0]

    def _range(self, start: int, stop: int) -> list[tuple[int, int, int]]:
        out: list[tuple[int, int, int]] = []
        k = bisect_right(self._starts, start) - 1
        skip = start - self._starts[k] if k >= 0 else 0
        while len(out) < stop - start and 0 <= k < len(self._edges):
            e = self._edges[k]
            for s, d in e.pairs():
                if skip:
                    skip -= 1
                    continue
                out.append((s, d, e.ports))
                if len(out) == stop - start:
                    break
            k += 1
        return out

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        for e in self._edges:
            for s, d in e.pairs():
                yield s, d, e.ports


class _Ports:
    """Distinct port sets as (label, conns), each numbered once."""

    def __init__(self) -> None:
        self.labels: list[tuple[str, Any]] = []
        self._by_label: dict[str, int] = {}
        # The evaluation shares one PortSet object among equal answers: naming each object
        # once (not each of tens of thousands of pairs) is most of a build's time.
        self.by_object: dict[int, int] = {}
        self._held: list[PortSet] = []  # alive, so that no id() is reused meanwhile

    def index(self, ports: PortSet) -> int:
        pi = self.by_object.get(id(ports))
        if pi is None:
            label = str(ports)
            pi = self._by_label.get(label)
            if pi is None:
                pi = self._by_label[label] = len(self.labels)
                self.labels.append((label, ports.to_conns()))
            self.by_object[id(ports)] = pi
            self._held.append(ports)
        return pi


class FlowIndex:
    """Endpoints, groups of alike workloads, distinct port sets and the flows between groups,
    with the graph views."""

    def __init__(
        self,
        nodes: Sequence[dict[str, Any]],
        groups: Sequence[Sequence[int]],
        ports: Sequence[Sequence[Any]],
        edges: Sequence[Sequence[int]],
        aggregated: Mapping[str, Any] | None = None,
        namespace_matrix: Mapping[str, Any] | None = None,
        tiers: Mapping[tuple[int, int], int] | None = None,
    ) -> None:
        self.nodes = list(nodes)
        # With cluster-wide policies: per group edge, which tiers decided it (tiers_flows.py's
        # code; every member pair of a group edge has the same); None without them.
        self.tiers = None if tiers is None else dict(tiers)
        self.groups = [tuple(g) for g in groups]
        self.ports = [(label, conns) for label, conns in ports]
        self.edges = [tuple(e) for e in edges]
        self.group_of = [0] * len(self.nodes)
        for g, members in enumerate(self.groups):
            for i in members:
                self.group_of[i] = g
        self.index = {n["id"]: i for i, n in enumerate(self.nodes)}
        self.group_ids = {self.group_key(g): g for g in range(len(self.groups))}
        self.namespace_sizes: dict[str, int] = defaultdict(int)
        for n in self.nodes:
            if n["type"] == "workload":
                self.namespace_sizes[n["namespace"]] += 1
        self.workloads = sum(self.namespace_sizes.values())
        self._port_sets: list[PortSet | None] = [None] * len(self.ports)
        # The whole-cluster views, stored with the index (made on first use when not given:
        # `analyze --format grouped` never needs them).
        self._given = (aggregated, namespace_matrix)
        self._by_group: dict[int, list[int]] | None = None

    @cached_property
    def _everything(self) -> list[ViewEdge]:
        return [ViewEdge(gs, gd, pi, self.groups[gs], self.groups[gd]) for gs, gd, pi in self.edges]

    @cached_property
    def flow_count(self) -> int:
        return sum(e.count for e in self._everything)

    @cached_property
    def aggregated(self) -> dict[str, Any]:
        """The whole cluster, namespaces collapsed: what a first visit shows."""
        given = self._given[0]
        return dict(given or self.aggregate(range(len(self.nodes)), self._everything))

    @cached_property
    def namespace_matrix(self) -> dict[str, Any]:
        given = self._given[1]
        return dict(given or self._namespace_matrix(self._everything))

    # building ---------------------------------------------------------------------------------
    @classmethod
    @gc_paused
    def build(cls, conn: Connectivity) -> FlowIndex:
        """The index of an evaluation, from its classes: no loop over workload pairs.

        Classes of one namespace whose flows to and from every class and address are the same
        merge into one group (the policies may tell them apart, the answer does not).
        """
        endpoints = conn.endpoints
        nodes = [_node(conn, ep) for ep in endpoints]
        rank = {ep.id: i for i, ep in enumerate(endpoints)}
        classes, pairs, external = conn.class_flows()
        # None without cluster-wide policies: nothing to split groups on
        tiers = flow_tiers(conn, (classes, pairs, external))
        ext_rank = [rank[ep.id] for ep in conn.external_endpoints]
        ports = _Ports()
        known, name = ports.by_object, ports.index
        # One pass: port sets as small ints (the rows below are compared and hashed as ints),
        # and each class's row of whom it reaches and is reached by.
        out_rows: list[list] = [[] for _ in classes]
        in_rows: list[list] = [[] for _ in classes]
        numbered = []
        for s, d, p in pairs:
            pi = known.get(id(p))
            if pi is None:
                pi = name(p)
            if tiers is not None:  # classes whose flows differ in their deciding tier split
                pi = (pi, tiers.pairs[(s, d)])
            out_rows[s].append((d, pi))
            in_rows[d].append((s, pi))
            numbered.append((s, d, pi))
        pairs = numbered
        external = [
            (
                c,
                gi,
                direction,
                name(p) if tiers is None else (name(p), tiers.external[(c, gi, direction)]),
            )
            for c, gi, direction, p in external
        ]
        for c, gi, direction, pi in external:
            (out_rows if direction == "out" else in_rows)[c].append((-1 - gi, pi))
        # A class's signature: its namespace and whom it reaches and is reached by, on what.
        group_of_class: list[int] = []
        signatures: dict[tuple, int] = {}
        members: list[list[int]] = []
        for c, workloads in enumerate(classes):
            if not workloads:
                group_of_class.append(-1)
                continue
            key = (workloads[0].namespace, tuple(sorted(out_rows[c])), tuple(sorted(in_rows[c])))
            g = signatures.setdefault(key, len(members))
            if g == len(members):
                members.append([])
            members[g].extend(rank[w.id] for w in workloads)
            group_of_class.append(g)
        # Groups in node order (each by its first member), externals as groups of one.
        order = sorted(range(len(members)), key=lambda g: min(members[g]))
        renumber = {g: k for k, g in enumerate(order)}
        groups = [sorted(members[g]) for g in order]
        ext_group = {}
        for gi, r in enumerate(ext_rank):
            ext_group[gi] = len(groups)
            groups.append([r])
        seen: set[tuple[int, int]] = set()
        edges = []
        for s, d, pi in pairs:
            key = (renumber[group_of_class[s]], renumber[group_of_class[d]])
            if key not in seen:
                seen.add(key)
                edges.append((*key, pi))
        for c, gi, direction, pi in external:
            g, x = renumber[group_of_class[c]], ext_group[gi]
            key = (g, x) if direction == "out" else (x, g)
            if key not in seen:
                seen.add(key)
                edges.append((*key, pi))
        # A group of one reaches no one through its edge to itself.
        edges = [e for e in edges if e[0] != e[1] or len(groups[e[0]]) > 1]
        edge_tiers = None
        if tiers is not None:
            edge_tiers = {(gs, gd): pi[1] for gs, gd, pi in edges}
            edges = [(gs, gd, pi[0]) for gs, gd, pi in edges]
        # Groups are numbered in the order of their first members: plain tuples sort right.
        edges.sort()
        return cls(nodes, groups, ports.labels, edges, tiers=edge_tiers)

    # storage ----------------------------------------------------------------------------------
    @gc_paused
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form that `from_dict` reads back (the web stores it per revision)."""
        return {
            "nodes": self.nodes,
            "groups": [list(g) for g in self.groups],
            "ports": [list(p) for p in self.ports],
            # flat (source, destination, ports, source, ...): no list per edge to store
            "edges": list(chain.from_iterable(self.edges)),
            "aggregate": self.aggregated,
            "matrix": self.namespace_matrix,
            # flat (source, destination, code, ...), or None without cluster-wide policies
            "tiers": None
            if self.tiers is None
            else list(chain.from_iterable((*k, v) for k, v in self.tiers.items())),
        }

    @classmethod
    @gc_paused
    def from_dict(cls, data: Mapping[str, Any]) -> FlowIndex:
        flat = iter(data["edges"])
        edges = list(zip(flat, flat, flat, strict=True))
        tiers = None
        if data.get("tiers") is not None:
            flat = iter(data["tiers"])
            tiers = {(s, d): c for s, d, c in zip(flat, flat, flat, strict=True)}
        return cls(
            data["nodes"],
            data["groups"],
            data["ports"],
            edges,
            data["aggregate"],
            data["matrix"],
            tiers,
        )

    # lookups ----------------------------------------------------------------------------------
    def port_set(self, pi: int) -> PortSet:
        got = self._port_sets[pi]
        if got is None:
            # The stored label is str(PortSet), which PortSet.parse reads back exactly.
            got = self._port_sets[pi] = PortSet.parse(self.ports[pi][0])
        return got

    def is_workload(self, i: int) -> bool:
        return self.nodes[i]["type"] == "workload"

    def group_key(self, g: int) -> str:
        """A group's id in views: `grp:` and its first member's id."""
        return f"grp:{self.nodes[self.groups[g][0]]['id']}"

    def group_data(self, g: int, shown: int | None = None) -> dict[str, Any]:
        """The node data of a group drawn as one node."""
        first = self.nodes[self.groups[g][0]]
        size = len(self.groups[g])
        count = size if shown is None or shown == size else f"{shown} of {size}"
        return {
            "id": self.group_key(g),
            "type": "group",
            "label": f"{first['label']} +{(shown or size) - 1} alike ({count})",
            "namespace": first["namespace"],
            "parent": f"ns:{first['namespace']}",
            "workloads": shown or size,
            "isolation": first.get("isolation", "external"),
        }

    def members(self, key: str) -> list[int]:
        """The nodes a view key stands for: a node id, `grp:<id>`, `ns:<namespace>` or `ext:`
        (every external address)."""
        if key == EXTERNAL:
            return [i for i, n in enumerate(self.nodes) if n["type"] != "workload"]
        if key.startswith("ns:"):
            ns = key[3:]
            return [
                i
                for i, n in enumerate(self.nodes)
                if n["type"] == "workload" and n["namespace"] == ns
            ]
        if key.startswith("grp:"):
            g = self.group_ids.get(key)
            return list(self.groups[g]) if g is not None else []
        i = self.index.get(key)
        return [] if i is None else [i]

    def flows_between(self, src: str, dst: str) -> FlowList:
        """Member-level flows from one view key to another (see `members`)."""
        return FlowList(self.view_edges(self.members(src), self.members(dst)))

    def view_edges(
        self,
        srcs: Collection[int],
        dsts: Collection[int] | None = None,
        ports: Collection[int] | None = None,
        among: Sequence[int] | None = None,
    ) -> list[ViewEdge]:
        """The group edges with a source in `srcs` and a destination in `dsts` (default: the
        same nodes), restricted to those nodes, on the port sets `ports` (default: all);
        `among`, positions in `self.edges` in order, limits the edges looked at."""
        dsts = srcs if dsts is None else dsts
        src_of: dict[int, list[int]] = defaultdict(list)
        dst_of: dict[int, list[int]] = defaultdict(list)
        for i in sorted(srcs):
            src_of[self.group_of[i]].append(i)
        for i in sorted(dsts):
            dst_of[self.group_of[i]].append(i)
        kept_src = {g: tuple(v) for g, v in src_of.items()}
        kept_dst = {g: tuple(v) for g, v in dst_of.items()}
        out = []
        edges = self.edges if among is None else [self.edges[k] for k in among]
        for gs, gd, pi in edges:
            if gs in kept_src and gd in kept_dst and (ports is None or pi in ports):
                edge = ViewEdge(gs, gd, pi, kept_src[gs], kept_dst[gd])
                if edge.count:
                    out.append(edge)
        return out

    # the answer as records ----------------------------------------------------------------------
    def connections(self) -> Iterator[dict[str, Any]]:
        """Every allowed flow as `analyze --format json` lists it ({"src", "dst", "conns"}, by
        source then destination), one at a time: memory stays that of one source's flows."""
        out_of: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for gs, gd, pi in self.edges:
            out_of[gs].append((gd, pi))
        for s, node in enumerate(self.nodes):
            targets = [
                (d, pi)
                for gd, pi in out_of.get(self.group_of[s], ())
                for d in self.groups[gd]
                if d != s
            ]
            targets.sort()
            for d, pi in targets:
                yield {"src": node["id"], "dst": self.nodes[d]["id"], "conns": self.ports[pi][1]}

    def grouped(self) -> dict[str, Any]:
        """The compact form: groups of alike workloads and the connections between groups.

        A group with several members has a `grp:` id; every member of a connection's `src`
        reaches every member of its `dst` on `conns`, but no workload reaches itself.
        """

        def key(g: int) -> str:
            group = self.groups[g]
            return self.group_key(g) if len(group) > 1 else self.nodes[group[0]]["id"]

        return {
            "groups": [
                {"id": self.group_key(g), "members": [self.nodes[i]["id"] for i in group]}
                for g, group in enumerate(self.groups)
                if len(group) > 1
            ],
            "connections": [
                {"src": key(gs), "dst": key(gd), "conns": self.ports[pi][1]}
                for gs, gd, pi in self.edges
            ],
        }

    # views ------------------------------------------------------------------------------------
    def _display(
        self, keep: Collection[int], expand: Collection[str] | None
    ) -> tuple[dict[int, str], dict[str, dict[str, Any]]]:
        """How each kept node is drawn: its own id, its group's (a big group), or its
        namespace's (collapsed, when `expand` is given and does not name it); and the data of
        every such drawn node that is not a node of the index."""
        shown: dict[int, int] = defaultdict(int)
        for i in keep:
            shown[self.group_of[i]] += 1
        counts: dict[str, int] = defaultdict(int)
        states: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        display: dict[int, str] = {}
        drawn: dict[str, dict[str, Any]] = {}
        for i in sorted(keep):
            n = self.nodes[i]
            g = self.group_of[i]
            if n["type"] != "workload":
                display[i] = n["id"]
            elif expand is not None and n["namespace"] not in expand:
                key = display[i] = f"ns:{n['namespace']}"
                counts[key] += 1
                states[key][n["isolation"]] += 1
            elif shown[g] > DRAW_GROUPS_ABOVE:
                key = display[i] = self.group_key(g)
                drawn.setdefault(key, self.group_data(g, shown[g]))
            else:
                display[i] = n["id"]
        for key in counts:
            ns, total = key[3:], self.namespace_sizes[key[3:]]
            shown_text = f"{counts[key]}" if counts[key] == total else f"{counts[key]} of {total}"
            drawn[key] = {
                "id": key,
                "label": f"{ns} ({shown_text})",
                "type": "namespace-aggregate",
                "namespace": ns,
                "workloads": counts[key],
                "isolation_counts": dict(states[key]),
            }
        return display, drawn

    def view(
        self, keep: Collection[int], edges: Iterable[ViewEdge], expand: Collection[str] | None
    ) -> dict[str, Any]:
        """The Cytoscape elements of a view: `expand` None draws every kept node (mode full,
        namespaces as compound nodes); otherwise namespaces are collapsed but those named."""
        display, drawn = self._display(keep, expand)
        boxes = sorted(
            {self.nodes[i]["namespace"] for i in keep if display[i] == self.nodes[i]["id"]
             and self.is_workload(i)}
            | {d["namespace"] for d in drawn.values() if d["type"] == "group"}
        )  # fmt: skip
        box = {"type": "namespace"} | ({"expanded": True} if expand is not None else {})
        nodes = [{"data": drawn[k]} for k in sorted(drawn) if k.startswith("ns:")]
        nodes += [{"data": {"id": f"ns:{ns}", "label": ns, **box}} for ns in boxes]
        nodes += [{"data": drawn[k]} for k in sorted(drawn) if k.startswith("grp:")]
        nodes += [
            {"data": self.nodes[i]} for i in sorted(keep) if display[i] == self.nodes[i]["id"]
        ]
        plain: list[dict[str, Any]] = []
        summed: dict[tuple[str, str], list] = {}
        nodes_ = self.nodes
        # A group shown as one thing (its namespace, or itself) needs no walk over its members.
        seen_as: dict[int, set[str]] = defaultdict(set)
        for i in keep:
            seen_as[self.group_of[i]].add(display[i])
        uniform = {g: next(iter(keys)) for g, keys in seen_as.items() if len(keys) == 1}
        tiers = self.tiers
        for e in edges:
            tier = 0 if tiers is None else tiers.get((e.src_group, e.dst_group), 0)
            if len(e.srcs) == 1 and len(e.dsts) == 1:  # most edges, where groups are small
                s, d = e.srcs[0], e.dsts[0]
                a, b = display[s], display[d]
                if a == nodes_[s]["id"] and b == nodes_[d]["id"]:
                    plain.append(self.edge(s, d, e.ports, tier))
                elif s != d:
                    acc = summed.setdefault((a, b), [set(), 0, 0])
                    acc[0].add(e.ports)
                    acc[1] += 1
                    acc[2] |= tier
                continue
            by_src = self._by_display(e.srcs, display, uniform)
            by_dst = self._by_display(e.dsts, display, uniform)
            for a, ss in by_src.items():
                for b, ds in by_dst.items():
                    n = len(ss) * len(ds)
                    if e.src_group == e.dst_group and a == b:
                        n -= len(set(ss).intersection(ds))
                    if not n:
                        continue
                    single = len(ss) == 1 and len(ds) == 1 and a == self.nodes[ss[0]]["id"]
                    if single and b == self.nodes[ds[0]]["id"]:
                        plain.append(self.edge(ss[0], ds[0], e.ports, tier))
                        continue
                    acc = summed.setdefault((a, b), [set(), 0, 0])
                    acc[0].add(e.ports)
                    acc[1] += n
                    acc[2] |= tier
        unions: dict[frozenset[int], tuple[str, Any]] = {}  # many pairs share their port sets
        for (a, b), (pis, flows, tier) in sorted(summed.items()):
            key = frozenset(pis)
            if key not in unions:
                ports = reduce(or_, (self.port_set(pi) for pi in key))
                unions[key] = (str(ports), ports.to_conns())
            label, conns = unions[key]
            data = {"id": f"{a}->{b}", "source": a, "target": b, "label": label, "conns": conns}
            data.update(flows=flows, label_flows=f"{flows} flows: {label}")
            if self.tiers is not None:  # a summed edge: the tiers of any of its flows
                data.update(tier_fields(tier))
            plain.append({"data": data})
        mode = "full" if expand is None else "aggregated"
        return {"mode": mode, "nodes": nodes, "edges": plain}

    def _by_display(
        self, members: tuple[int, ...], display: dict[int, str], uniform: dict[int, str]
    ) -> dict[str, tuple[int, ...]]:
        key = uniform.get(self.group_of[members[0]])
        if key is not None:
            return {key: members}
        out: dict[str, list[int]] = defaultdict(list)
        for i in members:
            out[display[i]].append(i)
        return {k: tuple(v) for k, v in out.items()}

    def expanded(self, expand: Collection[str]) -> dict[str, Any]:
        """The whole cluster aggregated but the namespaces in `expand`, drawn one workload at
        a time: what `aggregate(every node, every edge, expand)` answers, looking only at the
        edges of those namespaces' groups. Flows between collapsed namespaces and addresses
        outside are the same whatever is expanded: they come from `aggregated`, made with the
        index (at 50,000 pods a namespace opens in a tenth of the time of a walk over every
        edge)."""
        everything = range(len(self.nodes))
        groups = {
            self.group_of[i]
            for i, n in enumerate(self.nodes)
            if n["type"] == "workload" and n["namespace"] in expand
        }
        by_group = self._edges_by_group()
        among = sorted({k for g in groups for k in by_group.get(g, ())})
        out = self.view(everything, self.view_edges(everything, among=among), expand)
        closed = {f"ns:{ns}" for ns in expand}
        kept = {d["data"]["id"] for d in self.aggregated["nodes"]} - closed

        # Edges between two ends drawn as before come from the stored view (a group spanning
        # an opened namespace and a closed one would give them only in part here).
        def as_before(edge: dict[str, Any]) -> bool:
            return edge["data"]["source"] in kept and edge["data"]["target"] in kept

        # In view()'s order: edges between single nodes as the group edges come, then the
        # summed ones (those with `flows`) by their ends.
        inside = [e for e in out["edges"] if not as_before(e)]
        plain = [e for e in inside if "flows" not in e["data"]]
        summed = [e for e in inside if "flows" in e["data"]]
        summed += (e for e in self.aggregated["edges"] if as_before(e))
        summed.sort(key=lambda e: (e["data"]["source"], e["data"]["target"]))
        return {**out, "edges": [*plain, *summed]}

    def _edges_by_group(self) -> dict[int, list[int]]:
        """Per group, the positions in `self.edges` of its edges, in or out (made once)."""
        if self._by_group is None:
            self._by_group = defaultdict(list)
            for k, (gs, gd, _) in enumerate(self.edges):
                self._by_group[gs].append(k)
                if gd != gs:
                    self._by_group[gd].append(k)
        return self._by_group

    def full(self, keep: Collection[int], edges: Iterable[ViewEdge]) -> dict[str, Any]:
        """Every kept endpoint on its own (big groups as one node), namespaces as boxes."""
        return self.view(keep, edges, None)

    def aggregate(
        self, keep: Collection[int], edges: Iterable[ViewEdge], expand: Collection[str] = ()
    ) -> dict[str, Any]:
        """Namespaces collapsed to one node each (but those in `expand`), flows between them
        summed and their ports unioned; external endpoints stay as they are."""
        return self.view(keep, edges, expand)

    def edge(self, s: int, d: int, pi: int, tier: int = 0) -> dict[str, Any]:
        src, dst = self.nodes[s]["id"], self.nodes[d]["id"]
        label, conns = self.ports[pi]
        data = {"id": f"{src}->{dst}", "source": src, "target": dst, "label": label}
        if self.tiers is not None:
            data.update(tier_fields(tier))
        return {"data": {**data, "conns": conns}}

    def _namespace_matrix(self, edges: Iterable[ViewEdge]) -> dict[str, Any]:
        """Namespace by namespace, and every external address as one last row and column."""
        keys = sorted(self.namespace_sizes)
        externals = any(n["type"] != "workload" for n in self.nodes)
        cells: dict[tuple[int, int], set[int]] = defaultdict(set)
        position = {ns: k for k, ns in enumerate(keys)}
        position[EXTERNAL] = len(keys)
        for e in edges:
            a = self.nodes[e.srcs[0]]
            b = self.nodes[e.dsts[0]]
            pa = position[a["namespace"] if a["type"] == "workload" else EXTERNAL]
            pb = position[b["namespace"] if b["type"] == "workload" else EXTERNAL]
            cells[(pa, pb)].add(e.ports)
        merged = {
            pos: str(reduce(or_, (self.port_set(pi) for pi in pis))) for pos, pis in cells.items()
        }
        labels = list(keys)
        if externals:
            keys, labels = [*keys, EXTERNAL], [*labels, "external addresses"]
        return _grid(None, keys, labels, merged)

    def workload_matrix(self, namespace: str) -> dict[str, Any]:
        """Workload by workload inside a namespace (a big group as one row), in the shape of
        `namespace_matrix`."""
        inside = self.members(f"ns:{namespace}")
        display, drawn = self._display(inside, None)
        keys = sorted(set(display.values()))
        position = {k: p for p, k in enumerate(keys)}
        cells: dict[tuple[int, int], set[int]] = defaultdict(set)
        for e in self.view_edges(inside):
            for s in {display[s] for s in e.srcs}:
                for d in {display[d] for d in e.dsts}:
                    if s != d or s in drawn:
                        cells[(position[s], position[d])].add(e.ports)
        merged = {
            pos: str(reduce(or_, (self.port_set(pi) for pi in pis))) for pos, pis in cells.items()
        }
        labels = [
            drawn[k]["label"] if k in drawn else self.nodes[self.index[k]]["label"] for k in keys
        ]
        return _grid(namespace, keys, labels, merged)


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


def to_networkx(conn: Connectivity):  # returns a networkx.DiGraph, imported only when asked
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
