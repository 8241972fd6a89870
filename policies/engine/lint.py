"""Warnings about policies that are valid but probably not what their author meant."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterator

from .intervals import IntervalSet, PortSet, cidr_interval
from .model import (
    ACCEPT,
    ADMIN,
    DENY,
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterRule,
    Diagnostic,
    LabelSelector,
    Location,
    NetworkPolicy,
    Peer,
    Snapshot,
)
from .selectors import format_selector, matches

__all__ = ["lint"]


class _Index:
    """Workloads grouped by namespace and label set, so each selector is tried once per group."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.ns_labels = {ns.name: dict(ns.labels) for ns in snapshot.namespaces}
        groups: dict[str, dict[tuple, list]] = defaultdict(lambda: defaultdict(list))
        for w in snapshot.workloads:
            groups[w.namespace][w.labels].append(w)
        self.groups = groups
        # Each group's labels as the mapping `matches` reads, made once, not once per selector.
        self._label_maps = {
            ns: [(dict(labels), members) for labels, members in by_labels.items()]
            for ns, by_labels in groups.items()
        }
        # Per namespace, the groups (by position) carrying each label pair: a selector with
        # matchLabels only needs to try the groups that carry one of its pairs.
        self._carrying: dict[str, dict[tuple[str, str], list[int]]] = {}
        for ns, label_maps in self._label_maps.items():
            carrying: dict[tuple[str, str], list[int]] = defaultdict(list)
            for i, (labels, _) in enumerate(label_maps):
                for pair in labels.items():
                    carrying[pair].append(i)
            self._carrying[ns] = carrying
        self._ns: dict[LabelSelector, list[str]] = {}
        self._pods: dict[tuple, list] = {}
        self._in_ns: dict[tuple[LabelSelector, str], list] = {}

    def namespaces(self, selector: LabelSelector) -> list[str]:
        if selector not in self._ns:
            self._ns[selector] = [n for n, lb in self.ns_labels.items() if matches(selector, lb)]
        return self._ns[selector]

    def pods(self, selector: LabelSelector, namespaces: tuple[str, ...]) -> list:
        key = (selector, namespaces)
        found = self._pods.get(key)
        if found is None:
            found = []
            for ns in namespaces:
                found.extend(self._pods_in(selector, ns))
            self._pods[key] = found
        return found

    def _pods_in(self, selector: LabelSelector, namespace: str) -> list:
        # Per namespace too: the same selector comes with many different namespace tuples.
        key = (selector, namespace)
        found = self._in_ns.get(key)
        if found is None:
            label_maps = self._label_maps.get(namespace, ())
            if selector.match_labels and label_maps:
                carrying = self._carrying[namespace]
                # the rarest pair's groups, in their order (the pairs are ANDed)
                positions = min((carrying.get(pair, ()) for pair in selector.match_labels), key=len)
                candidates = [label_maps[i] for i in positions]
            else:
                candidates = label_maps
            found = [
                w for labels, members in candidates if matches(selector, labels) for w in members
            ]
            self._in_ns[key] = found
        return found

    def peer_pods(self, policy: NetworkPolicy, peer: Peer) -> list:
        if peer.namespace_selector is None:
            namespaces: tuple[str, ...] = (policy.namespace,)
        else:
            namespaces = tuple(self.namespaces(peer.namespace_selector))
        return self.pods(peer.pod_selector or LabelSelector(), namespaces)

    def subject_pods(self, policy: ClusterNetworkPolicy) -> list:
        namespaces = tuple(self.namespaces(policy.subject.namespace_selector))
        return self.pods(policy.subject.pod_selector or LabelSelector(), namespaces)

    def cluster_peer_pods(self, peer: ClusterPeer) -> list:
        if peer.kind not in ("namespaces", "pods"):
            return []
        namespaces = tuple(self.namespaces(peer.namespace_selector or LabelSelector()))
        return self.pods(peer.pod_selector or LabelSelector(), namespaces)


def lint(snapshot: Snapshot) -> Iterator[Diagnostic]:
    """Located warnings: selectors matching nothing, undeclared named ports, pod IPs in ipBlocks;
    for cluster policies also Deny rules shadowed by an earlier Accept and equal-priority
    policies that disagree."""
    index = _Index(snapshot)
    if snapshot.cluster_policies:
        yield from _lint_cluster(snapshot, index)
    pod_ips = [
        (ipaddress.ip_address(ip), w) for w in snapshot.workloads for ip in w.pod_ips if _is_ip(ip)
    ]
    for policy in snapshot.policies:
        subject = f"NetworkPolicy {policy.id}"
        where = policy.location or Location("")
        selected = index.pods(policy.pod_selector, (policy.namespace,))
        if not selected:
            yield Diagnostic(
                "warning",
                f"spec.podSelector {format_selector(policy.pod_selector)} selects no pod in"
                f" namespace {policy.namespace}: the policy has no effect",
                Location(where.file, where.line, "spec.podSelector"),
                subject,
            )
        for direction, rules in (("ingress", policy.ingress), ("egress", policy.egress)):
            peers_key = "from" if direction == "ingress" else "to"
            for ri, rule in enumerate(rules):
                rule_loc = rule.location or where
                named = [(pk, p) for pk, p in enumerate(rule.ports) if isinstance(p.port, str)]
                # An egress rule's destinations only matter to its named ports: gathered only
                # for a rule that has some.
                targets: list | None = [] if named and direction == "egress" else None
                for pj, peer in enumerate(rule.peers):
                    if peer.ip_block is not None:
                        if pod_ips:
                            path = f"spec.{direction}[{ri}].{peers_key}[{pj}]"
                            peer_loc = peer.location or rule_loc
                            yield from _pod_ips_in_block(peer, pod_ips, peer_loc, path, subject)
                        continue
                    pods = index.peer_pods(policy, peer)
                    if targets is not None:
                        targets.extend(pods)
                    if not pods:
                        path = f"spec.{direction}[{ri}].{peers_key}[{pj}]"
                        peer_loc = peer.location or rule_loc
                        yield Diagnostic(
                            "warning",
                            f"{path} matches no pod ({_describe_peer(peer)})",
                            Location(peer_loc.file, peer_loc.line, path),
                            subject,
                        )
                if not named:
                    continue
                if direction == "ingress":
                    destinations = selected
                else:
                    destinations = targets if rule.peers else list(snapshot.workloads)
                for pk, port in named:
                    declared = any(
                        cp.name == port.port and cp.protocol == port.protocol
                        for w in destinations or ()
                        for cp in w.ports
                    )
                    if not declared:
                        path = f"spec.{direction}[{ri}].ports[{pk}].port"
                        line = (port.location or rule_loc).line
                        yield Diagnostic(
                            "warning",
                            f"named port {port.port!r} ({port.protocol}) is declared by no"
                            f" {'selected pod' if direction == 'ingress' else 'destination'}:"
                            " this port allows nothing",
                            Location(rule_loc.file, line, path),
                            subject,
                        )


def _describe_peer(peer: Peer) -> str:
    parts = []
    if peer.namespace_selector is not None:
        parts.append(f"namespaceSelector {format_selector(peer.namespace_selector)}")
    if peer.pod_selector is not None:
        parts.append(f"podSelector {format_selector(peer.pod_selector)}")
    return ", ".join(parts)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _pod_ips_in_block(peer, pod_ips, loc: Location, path: str, subject: str):
    if not pod_ips or peer.ip_block is None:
        return
    net = ipaddress.ip_network(peer.ip_block.cidr, strict=False)
    excepts = [ipaddress.ip_network(e, strict=False) for e in peer.ip_block.except_]
    inside = sorted(
        {
            w.id
            for ip, w in pod_ips
            if ip.version == net.version
            and ip in net
            and not any(ip.version == e.version and ip in e for e in excepts)
        }
    )
    if inside:
        shown = ", ".join(inside[:5]) + (f" and {len(inside) - 5} more" if len(inside) > 5 else "")
        yield Diagnostic(
            "warning",
            f"ipBlock {peer.ip_block.cidr} contains the pod IPs of {shown}; ipBlocks are meant for"
            " addresses outside the cluster, and netviz matches pods by selectors only",
            Location(loc.file, loc.line, f"{path}.ipBlock"),
            subject,
        )


# cluster policies (Admin and Baseline tiers) -----------------------------------------------------


class _RuleView:
    """One cluster policy rule with what it can match, as sets: pods, addresses, ports."""

    def __init__(self, index: _Index, policy: ClusterNetworkPolicy, direction: str, i: int):
        self.policy, self.direction, self.i = policy, direction, i
        self.rule: ClusterRule = (policy.ingress if direction == "ingress" else policy.egress)[i]
        self.path = f"spec.{direction}[{i}]"
        self.all = self.rule.fails_closed
        self.pods = {w.id for peer in self.rule.peers for w in index.cluster_peer_pods(peer)}
        self.addresses = IntervalSet.of(
            cidr_interval(c) for peer in self.rule.peers for c in peer.networks
        )
        self.numbers = PortSet.all() if not self.rule.ports or self.all else _numbers(self.rule)
        self.names = {p.port for p in self.rule.ports if isinstance(p.port, str)}

    @property
    def label(self) -> str:
        name = f" ({self.rule.name!r})" if self.rule.name else ""
        return f"{self.policy.id} {self.path}{name}"

    def location(self) -> Location:
        loc = self.rule.location or self.policy.location or Location("")
        return Location(loc.file, loc.line, self.path)

    def covers(self, other: _RuleView) -> bool:
        """Every connection `other` can match, this rule matches too."""
        if self.all:
            return True
        if other.all or other.rule.undecidable or not self.pods >= other.pods:
            return False
        if not self.addresses.covers(other.addresses):
            return False
        if not self.rule.ports:
            return True
        return (
            bool(other.rule.ports)
            and not (other.numbers - self.numbers)
            and (self.names >= other.names)
        )

    def overlaps(self, other: _RuleView) -> bool:
        """Some connection could match both (named ports count as overlapping any port)."""
        if not (
            self.all or other.all or self.pods & other.pods or self.addresses & other.addresses
        ):
            return False
        if not self.rule.ports or not other.rule.ports or self.all or other.all:
            return True
        return bool(self.numbers & other.numbers) or bool(self.names or other.names)


def _numbers(rule: ClusterRule) -> PortSet:
    out: dict[str, list[tuple[int, int]]] = {}
    for p in rule.ports:
        if isinstance(p.port, int):
            out.setdefault(p.protocol, []).append(
                (p.port, p.port if p.end_port is None else p.end_port)
            )
    return PortSet.of({k: IntervalSet.of(v) for k, v in out.items()})


def _lint_cluster(snapshot: Snapshot, index: _Index) -> Iterator[Diagnostic]:
    ordered = sorted(snapshot.cluster_policies, key=lambda p: (p.tier != ADMIN, p.precedence))
    subjects = {p.id: {w.id for w in index.subject_pods(p)} for p in ordered}
    views: dict[str, list[_RuleView]] = {"ingress": [], "egress": []}
    for p in ordered:
        where = p.location or Location("")
        if not subjects[p.id]:
            yield Diagnostic(
                "warning",
                "spec.subject selects no pod: the policy has no effect",
                Location(where.file, where.line, "spec.subject"),
                p.id,
            )
        for direction in ("ingress", "egress"):
            for i in range(len(p.ingress if direction == "ingress" else p.egress)):
                view = _RuleView(index, p, direction, i)
                views[direction].append(view)
                yield from _lint_rule(view, index, subjects[p.id])
                yield from _pod_ips_in_networks(view, snapshot)
    for rules in views.values():
        for k, later in enumerate(rules):
            if later.rule.effective_action != DENY:
                continue
            for earlier in rules[:k]:
                if (
                    earlier.rule.effective_action == ACCEPT
                    and subjects[earlier.policy.id] >= subjects[later.policy.id]
                    and earlier.covers(later)
                ):
                    yield Diagnostic(
                        "warning",
                        f"this Deny rule denies nothing: {earlier.label} accepts everything it"
                        " matches first (shadowed by higher precedence)",
                        later.location(),
                        later.policy.id,
                    )
                    break
    yield from _equal_priority_conflicts(ordered, views, subjects)


def _pod_ips_in_networks(view: _RuleView, snapshot: Snapshot) -> Iterator[Diagnostic]:
    """networks CIDRs speak of external addresses here, as ipBlocks do; say so when a pod's
    known IP falls inside one (the API server would match that pod's traffic)."""
    if not view.addresses:
        return
    inside = sorted(
        {
            w.id
            for w in snapshot.workloads
            for ip in w.pod_ips
            if _is_ip(ip) and _ip_point(ip) in view.addresses
        }
    )
    if inside:
        shown = ", ".join(inside[:5]) + (f" and {len(inside) - 5} more" if len(inside) > 5 else "")
        yield Diagnostic(
            "warning",
            f"networks contain the pod IPs of {shown}; netviz reads networks as addresses outside"
            " the cluster and matches pods by their selectors only",
            view.location(),
            view.policy.id,
        )


def _ip_point(text: str) -> int:
    return cidr_interval(text)[0]


def _lint_rule(view: _RuleView, index: _Index, subject: set[str]) -> Iterator[Diagnostic]:
    rule = view.rule
    pod_peers = [p for p in rule.peers if p.kind in ("namespaces", "pods")]
    if pod_peers and len(pod_peers) == len(rule.peers) and not view.pods:
        yield Diagnostic(
            "warning",
            "no pod matches any peer of this rule: it never applies",
            view.location(),
            view.policy.id,
        )
    for name in sorted(view.names):
        targets = subject if view.direction == "ingress" else view.pods
        declared = any(cp.name == name for w in _workloads_of(index, targets) for cp in w.ports)
        if not declared:
            yield Diagnostic(
                "warning",
                f"named port {name!r} is declared by no"
                f" {'selected pod' if view.direction == 'ingress' else 'destination'}:"
                " this port matches nothing",
                view.location(),
                view.policy.id,
            )


def _workloads_of(index: _Index, ids: set[str]) -> list:
    return [
        w
        for groups in index.groups.values()
        for members in groups.values()
        for w in members
        if w.id in ids
    ]


def _equal_priority_conflicts(ordered, views, subjects) -> Iterator[Diagnostic]:
    # The API leaves the order of equal priorities open; netviz runs them by name.
    for a_i, a in enumerate(ordered):
        for b in ordered[a_i + 1 :]:
            if a.tier != b.tier or a.priority is None or a.priority != b.priority:
                continue
            if not subjects[a.id] & subjects[b.id]:
                continue
            clash = next(
                (
                    (ra, rb)
                    for direction in ("ingress", "egress")
                    for ra in views[direction]
                    if ra.policy is a
                    for rb in views[direction]
                    if rb.policy is b
                    and ra.rule.effective_action != rb.rule.effective_action
                    and ra.overlaps(rb)
                ),
                None,
            )
            if clash is None:
                continue
            ra, rb = clash
            yield Diagnostic(
                "warning",
                f"{a.id} and {b.id} have equal priority {a.priority} and disagree on"
                f" overlapping traffic ({ra.path} {ra.rule.effective_action}, {rb.path}"
                f" {rb.rule.effective_action}): the API leaves their order open; netviz runs"
                f" {a.name!r} first (by name)",
                rb.location(),
                b.id,
            )
