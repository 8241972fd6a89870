"""New policies from intent: templates, and the minimal policy that allows one flow."""

from __future__ import annotations

import re

import yaml

from .intervals import PortSet
from .model import Snapshot, Workload

__all__ = ["TEMPLATES", "allow_flow", "render_template"]

NAMESPACE_LABEL = "kubernetes.io/metadata.name"


def _doc(namespace: str, name: str, spec: dict, comment: str) -> str:
    body = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    return f"# {comment}\n" + yaml.safe_dump(body, sort_keys=False, default_flow_style=False)


def _ports(ports: PortSet) -> list[dict]:
    out = []
    for protocol, intervals in ports.by_protocol:
        for lo, hi in intervals.intervals:
            entry: dict = {"protocol": protocol, "port": lo}
            if hi != lo:
                entry["endPort"] = hi
            out.append(entry)
    return out


def _dns_name(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63] or "policy"


# name -> (title, needs: which parameters)
TEMPLATES = {
    "deny-ingress": ("Default deny ingress for a namespace", ("namespace",)),
    "deny-egress": ("Default deny egress for a namespace", ("namespace",)),
    "deny-all": ("Default deny ingress and egress for a namespace", ("namespace",)),
    "allow-dns": ("Allow DNS egress to kube-system", ("namespace",)),
    "allow-same-namespace": ("Allow ingress from the same namespace", ("namespace",)),
    "allow-from-namespace": ("Allow ingress from another namespace", ("namespace", "peer")),
    "allow-internet-port": ("Allow ingress from the internet on a port", ("namespace", "port")),
    # cluster-wide tiers (ClusterNetworkPolicy, policy.networking.k8s.io/v1alpha2)
    "admin-isolate-namespace": (
        "Admin: isolate a namespace from all others except monitoring",
        ("namespace",),
    ),
    "admin-allow-dns": ("Admin: always allow DNS to kube-system", ()),
    "baseline-deny-all": ("Baseline: default deny everything the namespaces allow no more", ()),
}

_CLUSTER_TEMPLATES = {"admin-isolate-namespace", "admin-allow-dns", "baseline-deny-all"}


def _cluster_doc(name: str, spec: dict, comment: str) -> str:
    body = {
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }
    return f"# {comment}\n" + yaml.safe_dump(body, sort_keys=False, default_flow_style=False)


def _cluster_template(template: str, namespace: str) -> str:
    title = TEMPLATES[template][0]
    everyone = {"namespaces": {}}
    if template == "admin-isolate-namespace":
        own = {"matchLabels": {NAMESPACE_LABEL: namespace}}
        monitoring = {"matchLabels": {NAMESPACE_LABEL: "monitoring"}}
        spec = {
            "tier": "Admin",
            "priority": 20,
            "subject": {"namespaces": own},
            "ingress": [
                {"name": "same-namespace", "action": "Accept", "from": [{"namespaces": own}]},
                {"name": "monitoring", "action": "Accept", "from": [{"namespaces": monitoring}]},
                {"name": "no-one-else", "action": "Deny", "from": [everyone]},
            ],
        }
        return _cluster_doc(_dns_name(f"isolate-{namespace}"), spec, title)
    if template == "admin-allow-dns":
        dns = {
            "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
        spec = {
            "tier": "Admin",
            "priority": 10,
            "subject": {"namespaces": {}},
            "egress": [
                {
                    "name": "dns",
                    "action": "Accept",
                    "to": [{"pods": dns}],
                    "protocols": [
                        {"udp": {"destinationPort": {"number": 53}}},
                        {"tcp": {"destinationPort": {"number": 53}}},
                    ],
                }
            ],
        }
        return _cluster_doc("always-allow-dns", spec, title)
    spec = {
        "tier": "Baseline",
        "priority": 1000,
        "subject": {"namespaces": {}},
        "ingress": [{"name": "deny-in", "action": "Deny", "from": [everyone]}],
        "egress": [{"name": "deny-out", "action": "Deny", "to": [everyone]}],
    }
    return _cluster_doc("baseline-default-deny", spec, title)


def render_template(template: str, namespace: str, peer: str = "", port: int = 443) -> str:
    """The YAML of one template, ready to edit; raises KeyError for an unknown template."""
    title = TEMPLATES[template][0]
    if template in _CLUSTER_TEMPLATES:
        return _cluster_template(template, namespace)
    every: dict = {}
    if template == "deny-ingress":
        spec = {"podSelector": every, "policyTypes": ["Ingress"]}
    elif template == "deny-egress":
        spec = {"podSelector": every, "policyTypes": ["Egress"]}
    elif template == "deny-all":
        spec = {"podSelector": every, "policyTypes": ["Ingress", "Egress"]}
    elif template == "allow-dns":
        spec = {
            "podSelector": every,
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        }
    elif template == "allow-same-namespace":
        spec = {"podSelector": every, "ingress": [{"from": [{"podSelector": every}]}]}
    elif template == "allow-from-namespace":
        spec = {
            "podSelector": every,
            "ingress": [
                {
                    "from": [
                        {"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: peer or "other"}}}
                    ]
                }
            ],
        }
    else:  # allow-internet-port
        spec = {
            "podSelector": every,
            "ingress": [
                {
                    "from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                    "ports": [{"protocol": "TCP", "port": port}],
                }
            ],
        }
    name = _dns_name(f"{template}-{peer}" if template == "allow-from-namespace" else template)
    return _doc(namespace, name, spec, title)


def _pod_selector(w: Workload) -> dict:
    return {"matchLabels": dict(w.labels)} if w.labels else {}


def _one_side(
    subject: Workload, peer: Workload, direction: str, ports: PortSet, what: str, suffix: str
) -> str:
    """A policy on `subject` allowing `peer` in (Ingress) or out (Egress) on `ports`."""
    rule: dict = {
        "from" if direction == "Ingress" else "to": [
            {
                "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: peer.namespace}},
                "podSelector": _pod_selector(peer),
            }
        ]
    }
    if not ports.is_all:
        rule["ports"] = _ports(ports)
    spec = {
        "podSelector": _pod_selector(subject),
        "policyTypes": [direction],
        direction.lower(): [rule],
    }
    prefix = "allow-in" if direction == "Ingress" else "allow-out"
    return _doc(subject.namespace, f"{prefix}-{suffix}"[:63], spec, what)


def allow_flow(snapshot: Snapshot, conn, src: Workload, dst: Workload, ports: PortSet) -> list[str]:
    """The policies (YAML) that allow exactly src → dst on `ports`, and nothing else.

    A side that no policy isolates already allows everything, so it gets no policy (adding
    one would isolate it and cut its other flows). Pods are selected by all their labels,
    and the peer by its namespace's name label AND its labels.
    """
    what = f"allow {src.id} -> {dst.id}: {ports}"
    suffix = _dns_name(f"{src.name}-to-{dst.name}")
    out = []
    if conn.isolation(dst)[0]:
        out.append(_one_side(dst, src, "Ingress", ports, what, suffix))
    if conn.isolation(src)[1]:
        out.append(_one_side(src, dst, "Egress", ports, what, suffix))
    return out
