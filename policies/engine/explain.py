"""Why one flow is allowed or denied: the policies and rules that decide each side.

This module evaluates a single pair directly from the spec, rule by rule, without the class
machinery of connectivity.py; the tests hold the two answers equal on the corpus, so each
checks the other.

With cluster policies, each side is a chain of tiers (Admin -> NetworkPolicy -> Baseline ->
default allow): the chain says, per tier, which policy and rule decided which ports, and
which ports were passed on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .connectivity import (
    Connectivity,
    cluster_policy_order,
    peer_addresses,
    resolve_ports,
    run_tier,
)
from .intervals import IntervalSet, PortSet, cidr_interval, format_ip_range, parse_ip_range
from .model import (
    ACCEPT,
    ADMIN,
    BASELINE,
    DENY,
    EGRESS,
    INGRESS,
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterRule,
    Location,
    NetworkPolicy,
    Peer,
    Snapshot,
    Workload,
)
from .selectors import matches

__all__ = [
    "DEFAULT_TIER",
    "NETWORK_POLICY_TIER",
    "Explanation",
    "OneSided",
    "RuleMatch",
    "SideExplanation",
    "TierDecision",
    "TierStep",
    "explain",
    "explain_text",
    "find_endpoint",
    "one_sided",
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


NETWORK_POLICY_TIER = "NetworkPolicy"
DEFAULT_TIER = "default"


@dataclass(frozen=True, slots=True)
class TierDecision:
    """A cluster policy rule that names the other side, and the ports it decided (the first
    matching rule decides a port; `ports` is empty for an undecidable rule)."""

    policy: ClusterNetworkPolicy
    direction: str
    rule_index: int
    action: str  # effective: Accept, Deny or Pass (a rule that fails closed denies)
    ports: PortSet
    undecidable: bool = False  # names nodes or domainNames: not evaluated, counted as no match

    @property
    def rule(self) -> ClusterRule:
        rules = self.policy.ingress if self.direction == INGRESS else self.policy.egress
        return rules[self.rule_index]

    @property
    def label(self) -> str:
        name = f" {self.rule.name!r}" if self.rule.name else ""
        return f"{self.policy.id} {self.direction.lower()}[{self.rule_index}]{name}"

    @property
    def action_label(self) -> str:
        if self.action == ACCEPT:
            return self.policy.action_label(self.rule)
        return self.action


@dataclass(frozen=True, slots=True)
class TierStep:
    """One tier of a side's chain: the ports that reached it and what it did with them.

    `passed` goes on to the next tier (Pass rules, and ports no rule matched); for the
    NetworkPolicy tier, `policies` is empty and `isolated` tells whether it decided.
    """

    tier: str  # "Admin", "NetworkPolicy", "Baseline" or "default"
    entered: PortSet
    accepted: PortSet
    denied: PortSet
    passed: PortSet
    policies: tuple[ClusterNetworkPolicy, ...] = ()  # candidates: their subject selects it
    decisions: tuple[TierDecision, ...] = ()
    isolated: bool = False  # NetworkPolicy tier only


@dataclass(frozen=True, slots=True)
class SideExplanation:
    """One side of a flow: the source's egress or the destination's ingress."""

    direction: str  # "Egress" (of the source) or "Ingress" (of the destination)
    endpoint: str
    applicable: bool  # False for an external address: nothing in the cluster governs it
    policies: tuple[NetworkPolicy, ...]  # the policies that select it for this direction
    rules: tuple[RuleMatch, ...]  # their rules that name the other side
    allowed: PortSet
    # With cluster policies selecting it: every tier the connection went through, in order.
    chain: tuple[TierStep, ...] = ()

    @property
    def isolated(self) -> bool:
        return bool(self.policies)

    @property
    def undecidable(self) -> tuple[TierDecision, ...]:
        return tuple(d for step in self.chain for d in step.decisions if d.undecidable)

    def text(self) -> str:
        side = "egress of the source" if self.direction == EGRESS else "ingress of the destination"
        if self.chain:
            return self._chain_text(side)
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

    def _chain_text(self, side: str) -> str:
        lines = [f"  {side} ({self.endpoint}): tiers Admin -> NetworkPolicy -> Baseline"]
        for step in self.chain:
            if step.tier == NETWORK_POLICY_TIER:
                if not step.isolated:
                    lines.append("    NetworkPolicy: no policy isolates it -> goes on")
                    continue
                names = ", ".join(p.id for p in self.policies)
                lines.append(f"    NetworkPolicy: isolated by {names} (decides everything left)")
                for r in self.rules:
                    where = f" ({r.location})" if r.location else ""
                    lines.append(f"      {r.label}{where} allows {r.ports}")
                lines.append(f"      accepts {step.accepted}; denies {step.denied}")
                continue
            if step.tier == DEFAULT_TIER:
                lines.append(f"    default: no tier decided {step.entered} -> allowed")
                continue
            if not step.policies:
                lines.append(f"    {step.tier} tier: no policy selects it -> goes on")
                continue
            names = ", ".join(p.id for p in step.policies)
            lines.append(f"    {step.tier} tier: {names}")
            for d in step.decisions:
                where = f" ({d.rule.location})" if d.rule.location else ""
                if d.undecidable:
                    lines.append(
                        f"      {d.label}{where} {d.action_label}: undecidable (names nodes or"
                        " domainNames, which netviz does not evaluate; counted as no match)"
                    )
                    continue
                lines.append(f"      {d.label}{where} {d.action_label} {d.ports}")
            if not step.decisions:
                lines.append("      no rule names the other side")
            verdicts = []
            if step.accepted:
                verdicts.append(f"accepts {step.accepted}")
            if step.denied:
                verdicts.append(f"denies {step.denied}")
            verdicts.append(f"passes on {step.passed}" if step.passed else "passes on nothing")
            lines.append("      " + "; ".join(verdicts))
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

    @property
    def undecidable(self) -> tuple[TierDecision, ...]:
        """Rules naming nodes or domainNames that could decide this flow: the verdict
        counts them as not matching."""
        return self.egress.undecidable + self.ingress.undecidable

    def text(self) -> str:
        lines = [self.verdict(), self.egress.text(), self.ingress.text()]
        if self.undecidable:
            lines.append(
                "  note: undecidable; the verdict assumes that "
                + ", ".join(d.label for d in self.undecidable)
                + " does not match"
            )
        return "\n".join(lines)


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
    found = []
    allowed = PortSet.none() if policies else PortSet.all()
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
    side = SideExplanation(direction, ident, True, policies, tuple(found), allowed)
    candidates = [
        p
        for p in cluster_policy_order(snapshot.cluster_policies)
        if (p.ingress if direction == INGRESS else p.egress)
        and _subject_selects(ns_labels, p, subject)
    ]
    if not candidates:
        return side
    chain, allowed = _chain(ns_labels, direction, candidates, side, other, dst_ports)
    return SideExplanation(direction, ident, True, policies, tuple(found), allowed, chain)


def _subject_selects(ns_labels, policy: ClusterNetworkPolicy, pod: Workload) -> bool:
    subject = policy.subject
    if not matches(subject.namespace_selector, ns_labels.get(pod.namespace, {})):
        return False
    return subject.pod_selector is None or matches(subject.pod_selector, dict(pod.labels))


def _cluster_peer_selects(ns_labels, peer: ClusterPeer, other) -> bool:
    """A peer against a workload or an external address (nodes and domainNames: never; an
    invalid peer: never, its Deny or Pass rule fails closed instead)."""
    if isinstance(other, Workload):
        if peer.kind not in ("namespaces", "pods"):
            return False
        if not matches(peer.namespace_selector, ns_labels.get(other.namespace, {})):
            return False
        return peer.kind == "namespaces" or matches(peer.pod_selector, dict(other.labels))
    if peer.kind != "networks":
        return False
    point = other.intervals[0][0]
    return any(point in IntervalSet((cidr_interval(c),)) for c in peer.networks)


def _tier_step(ns_labels, tier, direction, candidates, other, dst_ports, rest) -> TierStep:
    decisions: list[tuple[ClusterRule | None, str, PortSet]] = []
    owners: list[tuple[int, ClusterNetworkPolicy, int]] = []  # (order, policy, rule index)
    unknown: list[tuple[int, int, ClusterNetworkPolicy, int, ClusterRule]] = []
    order = 0
    for p in candidates:
        for i, rule in enumerate(p.ingress if direction == INGRESS else p.egress):
            order += 1
            if rule.fails_closed:
                decisions.append((rule, DENY, PortSet.all()))
                owners.append((order, p, i))
            elif any(_cluster_peer_selects(ns_labels, peer, other) for peer in rule.peers):
                decisions.append((rule, rule.action, resolve_ports(rule.ports, dst_ports)))
                owners.append((order, p, i))
            elif rule.undecidable and not isinstance(other, Workload):
                # nodes and domainNames may well stand for this address: say so, not guess
                unknown.append((order, len(decisions), p, i, rule))
    accepted, passed, decided = run_tier(decisions, rest)
    made = [
        (owners[j][0], TierDecision(owners[j][1], direction, owners[j][2], decisions[j][1], ports))
        for j, ports in decided
    ]
    for order, position, p, i, rule in unknown:
        # it matters only if ports it names were still undecided when it came up
        open_ports = rest
        for j, ports in decided:
            if j < position:
                open_ports = open_ports - ports
        if open_ports & resolve_ports(rule.ports, dst_ports):
            made.append((order, TierDecision(p, direction, i, rule.action, PortSet.none(), True)))
    made.sort(key=lambda t: t[0])
    denied = rest - accepted - passed
    return TierStep(
        tier, rest, accepted, denied, passed, tuple(candidates), tuple(d for _, d in made)
    )


def _chain(ns_labels, direction, candidates, np_side, other, dst_ports):
    """The tier pipeline of one side: (steps, allowed ports)."""
    steps = []
    rest = PortSet.all()
    allowed = PortSet.none()
    for tier in (ADMIN, NETWORK_POLICY_TIER, BASELINE, DEFAULT_TIER):
        if not rest:
            break
        if tier == NETWORK_POLICY_TIER:
            if np_side.isolated:
                got = rest & np_side.allowed
                steps.append(TierStep(tier, rest, got, rest - got, PortSet.none(), isolated=True))
                allowed, rest = allowed | got, PortSet.none()
            else:
                steps.append(TierStep(tier, rest, PortSet.none(), PortSet.none(), rest))
            continue
        if tier == DEFAULT_TIER:
            steps.append(TierStep(tier, rest, rest, PortSet.none(), PortSet.none()))
            allowed, rest = allowed | rest, PortSet.none()
            continue
        in_tier = [p for p in candidates if p.tier == tier]
        step = _tier_step(ns_labels, tier, direction, in_tier, other, dst_ports, rest)
        steps.append(step)
        allowed, rest = allowed | step.accepted, step.passed
    return tuple(steps), allowed


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


@dataclass(frozen=True, slots=True)
class OneSided:
    """A flow one side's rule allows that the other side still denies: the gotcha of adding
    a peer to an ingress rule whose peer's egress is isolated (or the reverse)."""

    src: str
    dst: str
    allowed_by: str  # the policy whose rule names the other side
    blocking: str  # "Egress" (of the source) or "Ingress" (of the destination)
    policies: tuple[str, ...]  # what isolates the blocking side (empty: a cluster tier)

    @property
    def message(self) -> str:
        side = "egress" if self.blocking == EGRESS else "ingress"
        end = self.src if self.blocking == EGRESS else self.dst
        other = self.dst if self.blocking == EGRESS else self.src
        if self.policies:
            why = f"isolated by {', '.join(self.policies)}, and no {side} rule names {other}"
        else:
            why = "a cluster-wide policy denies it"
        return (
            f"{self.allowed_by} allows {self.src} -> {self.dst}, but the {side} of {end}"
            f" still denies it: {why}."
        )


def one_sided(
    snapshot: Snapshot, policies: Sequence[NetworkPolicy], limit: int = 3, budget: int = 400
) -> tuple[OneSided, ...]:
    """Flows between workloads that a rule of `policies` names but the other side denies, at
    most `limit` of them, from at most `budget` pairs explained (a rule may name thousands)."""
    ns_labels = {ns.name: dict(ns.labels) for ns in snapshot.namespaces}
    found: list[OneSided] = []
    seen: set[tuple[str, str]] = set()
    for p in policies:
        subjects = [
            w
            for w in snapshot.workloads
            if w.namespace == p.namespace and matches(p.pod_selector, dict(w.labels))
        ]
        for direction, rules in ((INGRESS, p.ingress), (EGRESS, p.egress)):
            if direction not in p.policy_types:
                continue
            for rule in rules:
                if not rule.peers:
                    continue  # every peer: no one peer's side to speak of
                peers = [
                    w
                    for w in snapshot.workloads
                    if any(_peer_selects(ns_labels, p, peer, w) for peer in rule.peers)
                ]
                for subject in subjects:
                    for peer in peers:
                        if peer.id == subject.id:
                            continue
                        src, dst = (peer, subject) if direction == INGRESS else (subject, peer)
                        if (src.id, dst.id) in seen:
                            continue
                        seen.add((src.id, dst.id))
                        if len(seen) > budget or len(found) >= limit:
                            return tuple(found)
                        e = explain(snapshot, src, dst)
                        mine, theirs = (
                            (e.ingress, e.egress) if direction == INGRESS else (e.egress, e.ingress)
                        )
                        if e.is_allowed or not mine.allowed or theirs.allowed:
                            continue
                        found.append(
                            OneSided(
                                src.id,
                                dst.id,
                                p.id,
                                theirs.direction,
                                tuple(q.id for q in theirs.policies),
                            )
                        )
    return tuple(found)
