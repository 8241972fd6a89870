"""Which tier decided each allowed flow: what the graph's tier toggle shows.

Each side of a flow (egress at the source, ingress at the destination) runs Admin ->
NetworkPolicy -> Baseline -> default allow, and the first tier that accepts a port decides
it. For every allowed flow this module says, per side, which tiers accepted some of the
flow's ports: a small code per flow (`code`), the egress side's tier bits in the low four
bits and the ingress side's above them. An external address's own side is governed by
nothing: its bits are 0.

The work is done per class pair, as connectivity does it: a side's answer depends only on
its rules (shared by every class with the same policies), which of them name the other side,
and the destination's named ports; it is computed once per such combination. Flows to and
from an external endpoint take the union over the address ranges the side's rules tell
apart inside it (the endpoint's ranges all get the same ports, not always from the same
tier). A cluster with no cluster-wide policy skips all of it: `flow_tiers` returns None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .connectivity import Connectivity, resolve_ports, run_tier
from .explain import DEFAULT_TIER, NETWORK_POLICY_TIER
from .intervals import IntervalSet, PortSet
from .model import ADMIN, BASELINE

__all__ = [
    "ADMIN_BIT",
    "BASELINE_BIT",
    "DEFAULT_BIT",
    "NETWORK_POLICY_BIT",
    "TIER_BITS",
    "FlowTiers",
    "code",
    "flow_tiers",
    "side_tiers",
    "tier_fields",
]

ADMIN_BIT, NETWORK_POLICY_BIT, BASELINE_BIT, DEFAULT_BIT = 1, 2, 4, 8
# In pipeline order, with the names explain gives its chain's steps.
TIER_BITS = (
    (ADMIN, ADMIN_BIT),
    (NETWORK_POLICY_TIER, NETWORK_POLICY_BIT),
    (BASELINE, BASELINE_BIT),
    (DEFAULT_TIER, DEFAULT_BIT),
)


def code(egress: int, ingress: int) -> int:
    """One flow's code from each side's tier bits."""
    return egress | ingress << 4


def side_tiers(flow_code: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(tiers that accepted some of the flow's ports at the source's egress, the same at the
    destination's ingress), in pipeline order."""
    egress = tuple(name for name, bit in TIER_BITS if flow_code & bit)
    ingress = tuple(name for name, bit in TIER_BITS if flow_code >> 4 & bit)
    return egress, ingress


def tier_fields(flow_code: int) -> dict[str, Any]:
    """The fields a graph edge carries on a cluster with cluster-wide policies.

    `tier` is "admin" when an Admin rule accepted some port of the edge on either side,
    else "baseline" when a Baseline rule did, else "policy" (NetworkPolicy or the default
    allow); `tiers` names each side's deciding tiers.
    """
    both = flow_code | flow_code >> 4
    summary = "admin" if both & ADMIN_BIT else "baseline" if both & BASELINE_BIT else "policy"
    egress, ingress = side_tiers(flow_code)
    return {"tier": summary, "tiers": {"egress": list(egress), "ingress": list(ingress)}}


@dataclass(frozen=True, slots=True)
class FlowTiers:
    """Codes of the allowed flows of `Connectivity.class_flows()`: per (source class,
    destination class), and per (class, index into `external_endpoints`, "out" or "in")."""

    pairs: Mapping[tuple[int, int], int]
    external: Mapping[tuple[int, int, str], int]


# What the cluster tiers of a side accepted: (Admin, Baseline) port sets. NetworkPolicy and
# the default allow need no sets of their own: a flow's ports are all allowed on each side,
# so what Admin (and Baseline) did not accept of them, the next tier did.
type _Parts = tuple[PortSet, PortSet]


def _breakdown(
    admin: list[tuple[None, str, PortSet]],
    isolated: bool,
    baseline: list[tuple[None, str, PortSet]],
) -> _Parts:
    """The cluster tiers of one side's pipeline, keeping what each accepted."""
    none = PortSet.none()
    accepted, rest, _ = run_tier(admin, PortSet.all())
    if isolated or not baseline or not rest:  # NetworkPolicy decides all that is left
        return accepted, none
    got, _, _ = run_tier(baseline, rest)
    return accepted, got


def _bits(parts: _Parts, isolated: bool, ports: PortSet) -> int:
    admin, baseline = parts
    out = ADMIN_BIT if admin & ports else 0
    if baseline & ports:
        out |= BASELINE_BIT
    if ports - admin - baseline:
        out |= NETWORK_POLICY_BIT if isolated else DEFAULT_BIT
    return out


class _Sides:
    """Each class's sides and the answers they give, computed once per distinct input."""

    def __init__(self, conn: Connectivity, classes: list[tuple]) -> None:
        self.conn = conn
        # Rules resolve named ports on the destination; a class's members share their names.
        self.dports = [c[0].ports if c else () for c in classes]
        keys: dict[tuple, int] = {}
        self.dport_key = [
            keys.setdefault(tuple(sorted((p.name, p.port, p.protocol) for p in ps if p.name)),
                            len(keys))
            for ps in self.dports
        ]  # fmt: skip
        self.sides: dict[tuple[bool, int], tuple[list, list | None, list]] = {}
        self.parts: dict[tuple, _Parts] = {}
        self.bits: dict[tuple[int, bool, int], int] = {}
        self.points: dict[tuple, list[int]] = {}
        self.n_classes = len(classes)
        self.index: dict[int, tuple[dict[int, tuple[int, ...]], tuple[int, ...]]] = {}
        self._held: list[object] = []  # keyed by id() below: kept alive meanwhile

    def side(self, egress: bool, c: int) -> tuple[list, list | None, list]:
        got = self.sides.get((egress, c))
        if got is None:
            got = self.sides[(egress, c)] = self.conn.side_rules(egress, c)
            self._held.append(got)
        return got

    def named(self, rules: list, other: int, point: int | None) -> tuple[int, ...]:
        """Indexes of the rules naming class `other`, or the external address `point`."""
        if not rules:
            return ()
        if point is not None:
            return tuple(j for j, r in enumerate(rules) if point in r.addresses)
        index = self.index.get(id(rules))
        if index is None:  # once per rule list: {class: rules naming it}, and rules naming all
            every = [j for j, r in enumerate(rules) if len(r.members) == self.n_classes]
            per: dict[int, list[int]] = {}
            for j, r in enumerate(rules):
                if len(r.members) != self.n_classes:
                    for x in r.members:
                        per.setdefault(x, []).append(j)
            named = {x: tuple(sorted((*v, *every))) for x, v in per.items()}
            index = self.index[id(rules)] = (named, tuple(every))
        return index[0].get(other, index[1])

    def mask(
        self, egress: bool, c: int, other: int, point: int | None, d_ports: int, ports: PortSet
    ) -> int:
        """Tier bits of class c's side for a flow on `ports` (which the side allows) with
        class `other`, or the external address `point`; d_ports is the destination class
        (-1: external)."""
        a, n, b = self.side(egress, c)
        isolated = n is not None
        a_ids = self.named(a, other, point)
        b_ids = () if isolated else self.named(b, other, point)
        if not a_ids and not b_ids:  # no tier rule names the other side
            return NETWORK_POLICY_BIT if isolated else DEFAULT_BIT
        dkey = self.dport_key[d_ports] if d_ports >= 0 else -1
        key = (egress, id(a), a_ids, isolated, id(b), b_ids, dkey)
        parts = self.parts.get(key)
        if parts is None:
            dports = self.dports[d_ports] if d_ports >= 0 else ()
            parts = self.parts[key] = _breakdown(
                [(None, a[j].action, resolve_ports(a[j].ports, dports)) for j in a_ids],
                isolated,
                [(None, b[j].action, resolve_ports(b[j].ports, dports)) for j in b_ids],
            )
            self._held.append(parts)
        bkey = (id(parts), isolated, id(ports))
        got = self.bits.get(bkey)
        if got is None:
            got = self.bits[bkey] = _bits(parts, isolated, ports)
            self._held.append(ports)
        return got

    def cut_points(self, egress: bool, c: int, gi: int, addresses: IntervalSet) -> list[int]:
        """A point of each range of `addresses` (external endpoint gi) that this side's rules
        treat alike."""
        side = self.side(egress, c)
        key = (*map(id, side), gi)
        got = self.points.get(key)
        if got is None:
            bounds = set()
            for rules in (side[0], side[2]):  # NetworkPolicy's ranges split no tier's answer
                for r in rules:
                    for lo, hi in r.addresses.intervals:
                        bounds.update((lo, hi + 1))
            got = []
            for lo, hi in addresses.intervals:
                got.append(lo)
                got.extend(sorted(x for x in bounds if lo < x <= hi))
            self.points[key] = got
        return got


def flow_tiers(conn: Connectivity, class_flows: tuple | None = None) -> FlowTiers | None:
    """The tier code of every allowed flow of the evaluation, at class level; None when the
    cluster has no cluster-wide policy (every side is NetworkPolicy or default: nothing to
    show, and nothing is computed). `class_flows` is `conn.class_flows()` when the caller
    has it already."""
    if not conn.snapshot.cluster_policies:
        return None
    classes, pairs, external = class_flows or conn.class_flows()
    sides = _Sides(conn, classes)
    out_pairs: dict[tuple[int, int], int] = {}
    for s, d, ports in pairs:
        e = sides.mask(True, s, d, None, d, ports)
        i = sides.mask(False, d, s, None, d, ports)
        out_pairs[(s, d)] = code(e, i)
    out_external: dict[tuple[int, int, str], int] = {}
    endpoints = conn.external_endpoints
    for c, gi, direction, ports in external:
        egress = direction == "out"
        bits = 0
        for point in sides.cut_points(egress, c, gi, endpoints[gi].addresses):  # type: ignore[arg-type]
            bits |= sides.mask(egress, c, -1, point, -1 if egress else c, ports)
        out_external[(c, gi, direction)] = code(bits, 0) if egress else code(0, bits)
    return FlowTiers(out_pairs, out_external)
