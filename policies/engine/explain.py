"""Why one flow is allowed or denied: the policies and rules that decide each side.

This module evaluates a single pair directly from the spec, rule by rule, without the class
machinery of connectivity.py; the tests hold the two answers equal on the corpus, so each
checks the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .connectivity import Connectivity, peer_addresses, resolve_ports
from .intervals import IntervalSet, PortSet, format_ip_range, parse_ip_range
from .model import EGRESS, INGRESS, Location, NetworkPolicy, Peer, Snapshot, Workload
from .selectors import matches

__all__ = [
    "Explanation",
    "RuleMatch",
    "SideExplanation",
    "explain",
    "explain_text",
    "find_endpoint",
]


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule of a selecting policy that names the other side, and the ports it allows."""

    policy: NetworkPolicy
    rule_index: int
    ports: PortSet
    location: Location | None

    @property
    def label(self) -> str:
        return f"{self.policy.id} rule {self.rule_index}"


@dataclass(frozen=True, slots=True)
class SideExplanation:
    """One side of a flow: the source's egress or the destination's ingress."""

    direction: str  # "Egress" (of the source) or "Ingress" (of the destination)
    endpoint: str
    applicable: bool  # False for an external address: nothing in the cluster governs it
    policies: tuple[NetworkPolicy, ...]  # the policies that select it for this direction
    rules: tuple[RuleMatch, ...]  # their rules that name the other side
    allowed: PortSet

    @property
    def isolated(self) -> bool:
        return bool(self.policies)

    def text(self) -> str:
        side = "egress of the source" if self.direction == EGRESS else "ingress of the destination"
        if not self.applicable:
            return f"  {side} ({self.endpoint}): external, not governed by any policy"
        if not self.isolated:
            return (
                f"  {side} ({self.endpoint}): not isolated, no policy selects it for"
                f" {self.direction} -> all allowed"
            )
        names = ", ".join(p.id for p in self.policies)
        lines = [f"  {side} ({self.endpoint}): isolated by {names}"]
        if not self.rules:
            lines.append("    no rule of these policies names the other side -> denied")
        for r in self.rules:
            where = f" ({r.location})" if r.location else ""
            lines.append(f"    {r.label}{where} allows {r.ports}")
        lines.append(f"    -> allows {self.allowed}")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Explanation:
    src: str
    dst: str
    egress: SideExplanation
    ingress: SideExplanation
    allowed: PortSet  # egress.allowed AND ingress.allowed
    asked: PortSet | None = None  # the connection asked about, if any

    @property
    def is_allowed(self) -> bool:
        if self.asked is not None:
            return not (self.asked - self.allowed)
        return bool(self.allowed)

    @property
    def blocking_sides(self) -> tuple[SideExplanation, ...]:
        """The sides that deny the flow: with a connection asked about, the sides that do
        not allow all of it; without one, the sides that allow nothing (or both, when each
        allows something but never the same ports)."""
        sides = (self.egress, self.ingress)
        if self.is_allowed:
            return ()
        if self.asked is not None:
            return tuple(s for s in sides if self.asked - s.allowed)
        return tuple(s for s in sides if not s.allowed) or sides

    def verdict(self) -> str:
        what = str(self.asked) if self.asked is not None else "any connection"
        if self.is_allowed:
            if self.asked is not None:
                return f"ALLOWED: {self.src} => {self.dst} on {what}"
            return f"ALLOWED: {self.src} => {self.dst} : {self.allowed}"
        sides = " and ".join(
            "the source's egress" if s.direction == EGRESS else "the destination's ingress"
            for s in self.blocking_sides
        )
        on = f" on {what}" if self.asked is not None else ""
        return f"DENIED: {self.src} => {self.dst}{on}: blocked by {sides}"

    def text(self) -> str:
        return "\n".join((self.verdict(), self.egress.text(), self.ingress.text()))


def _peer_selects(
    snapshot_ns: dict[str, dict[str, str]], policy: NetworkPolicy, peer: Peer, other
) -> bool:
    if isinstance(other, Workload):
        if peer.ip_block is not None:
            return False  # ipBlocks speak of external addresses only (pod IPs are unknown)
        if peer.namespace_selector is None:
            if other.namespace != policy.namespace:
                return False
        elif not matches(peer.namespace_selector, snapshot_ns.get(other.namespace, {})):
            return False
        return peer.pod_selector is None or matches(peer.pod_selector, dict(other.labels))
    if peer.ip_block is None:
        return False
    return other.intervals[0][0] in peer_addresses(peer)


def _side(snapshot: Snapshot, ns_labels, direction: str, subject, other, dst) -> SideExplanation:
    ident = subject.id if isinstance(subject, Workload) else _ip_id(subject)
    if not isinstance(subject, Workload):
        return SideExplanation(direction, ident, False, (), (), PortSet.all())
    dst_ports = dst.ports if isinstance(dst, Workload) else ()
    policies = tuple(
        p
        for p in snapshot.policies
        if p.namespace == subject.namespace
        and direction in p.policy_types
        and matches(p.pod_selector, dict(subject.labels))
    )
    if not policies:
        return SideExplanation(direction, ident, True, (), (), PortSet.all())
    found = []
    allowed = PortSet.none()
    for p in policies:
        rules = p.ingress if direction == INGRESS else p.egress
        for i, rule in enumerate(rules):
            if rule.peers and not any(
                _peer_selects(ns_labels, p, peer, other) for peer in rule.peers
            ):
                continue
            ports = resolve_ports(rule.ports, dst_ports)
            found.append(RuleMatch(p, i, ports, rule.location))
            allowed = allowed | ports
    return SideExplanation(direction, ident, True, policies, tuple(found), allowed)


def _ip_id(addresses: IntervalSet) -> str:
    return ",".join(format_ip_range(lo, hi) for lo, hi in addresses.intervals)


def find_endpoint(snapshot: Snapshot, text: str) -> Workload | IntervalSet:
    """A workload by `ns/name[Kind]`, `ns/name` or unique `name`; else an address or range."""
    text = text.strip()
    for w in snapshot.workloads:
        if text == w.id:
            return w
    base = [w for w in snapshot.workloads if text == f"{w.namespace}/{w.name}"]
    short = [w for w in snapshot.workloads if text == w.name]
    for candidates in (base, short):
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            names = ", ".join(w.id for w in candidates)
            raise ValueError(f"{text!r} names several workloads: {names}")
    try:
        return parse_ip_range(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither a workload nor an IP address or range") from None


def explain(
    snapshot: Snapshot,
    src: Workload | IntervalSet | str,
    dst: Workload | IntervalSet | str,
    asked: PortSet | str | None = None,
) -> Explanation:
    """Why `src` may (or may not) reach `dst`, optionally on one connection like `tcp-80`."""
    if isinstance(src, str):
        src = find_endpoint(snapshot, src)
    if isinstance(dst, str):
        dst = find_endpoint(snapshot, dst)
    if isinstance(asked, str):
        asked = PortSet.parse(asked)
    if not isinstance(src, Workload) and not isinstance(dst, Workload):
        raise ValueError("at least one side must be a workload")
    ns_labels = {ns.name: dict(ns.labels) for ns in snapshot.namespaces}
    egress = _side(snapshot, ns_labels, EGRESS, src, dst, dst)
    ingress = _side(snapshot, ns_labels, INGRESS, dst, src, dst)
    return Explanation(
        src=egress.endpoint,
        dst=ingress.endpoint,
        egress=egress,
        ingress=ingress,
        allowed=egress.allowed & ingress.allowed,
        asked=asked,
    )


def explain_text(
    snapshot: Snapshot,
    conn: Connectivity,
    workloads: Sequence[str],
    peers: Sequence[str],
    asked: PortSet | None,
) -> str:
    """`analyze --explain`: the reasoning for each focused pair, both directions."""
    del conn  # the explanation is computed independently, from the spec
    focus = [find_endpoint(snapshot, w) for w in workloads] or list(snapshot.workloads)
    others = [find_endpoint(snapshot, p) for p in peers] or list(snapshot.workloads)
    out = ["", "# explanations"]
    for a in focus:
        for b in others:
            if a is b or (not isinstance(a, Workload) and not isinstance(b, Workload)):
                continue
            for s, d in ((a, b), (b, a)):
                out.append(explain(snapshot, s, d, asked).text())
                out.append("")
    return "\n".join(out)
