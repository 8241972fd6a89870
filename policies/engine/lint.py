"""Warnings about policies that are valid but probably not what their author meant."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterator

from .model import Diagnostic, LabelSelector, Location, NetworkPolicy, Peer, Snapshot
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
        self._ns: dict[LabelSelector, list[str]] = {}
        self._pods: dict[tuple, list] = {}

    def namespaces(self, selector: LabelSelector) -> list[str]:
        if selector not in self._ns:
            self._ns[selector] = [n for n, lb in self.ns_labels.items() if matches(selector, lb)]
        return self._ns[selector]

    def pods(self, selector: LabelSelector, namespaces: tuple[str, ...]) -> list:
        key = (selector, namespaces)
        if key not in self._pods:
            found = []
            for ns in namespaces:
                for labels, members in self.groups.get(ns, {}).items():
                    if matches(selector, dict(labels)):
                        found.extend(members)
            self._pods[key] = found
        return self._pods[key]

    def peer_pods(self, policy: NetworkPolicy, peer: Peer) -> list:
        if peer.namespace_selector is None:
            namespaces: tuple[str, ...] = (policy.namespace,)
        else:
            namespaces = tuple(self.namespaces(peer.namespace_selector))
        return self.pods(peer.pod_selector or LabelSelector(), namespaces)


def lint(snapshot: Snapshot) -> Iterator[Diagnostic]:
    """Located warnings: selectors matching nothing, undeclared named ports, pod IPs in ipBlocks."""
    index = _Index(snapshot)
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
                destinations = selected if direction == "ingress" else None
                targets = []
                for pj, peer in enumerate(rule.peers):
                    peer_loc = peer.location or rule_loc
                    path = f"spec.{direction}[{ri}].{peers_key}[{pj}]"
                    if peer.ip_block is not None:
                        yield from _pod_ips_in_block(peer, pod_ips, peer_loc, path, subject)
                        continue
                    pods = index.peer_pods(policy, peer)
                    targets.extend(pods)
                    if not pods:
                        yield Diagnostic(
                            "warning",
                            f"{path} matches no pod ({_describe_peer(peer)})",
                            Location(peer_loc.file, peer_loc.line, path),
                            subject,
                        )
                if direction == "egress":
                    destinations = targets if rule.peers else list(snapshot.workloads)
                for pk, port in enumerate(rule.ports):
                    if not isinstance(port.port, str):
                        continue
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
