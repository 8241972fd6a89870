"""New policies from intent: templates, and the minimal policy that allows one flow."""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from .explain import Explanation, SideExplanation, TierDecision
from .intervals import PortSet
from .model import ADMIN, DENY, INGRESS, ClusterNetworkPolicy, Location, Snapshot, Workload

__all__ = [
    "TEMPLATES",
    "AllowPlan",
    "TierBlock",
    "allow_flow",
    "allow_flow_plan",
    "render_template",
]

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
    return [text for text, _ in _network_policies(conn, src, dst, ports)]


# --- a flow a cluster-wide tier denies ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TierBlock:
    """A cluster policy rule that denies (some of) the flow asked for on one side, before any
    NetworkPolicy is consulted (Admin tier), or after none isolates the pod (Baseline tier):
    no NetworkPolicy can undo it. `fix` is the YAML of a policy of the same kind and API
    version, one step ahead of it, that accepts the flow; "" when none can be written."""

    direction: str  # "Ingress" (of the destination) or "Egress" (of the source)
    decision: TierDecision
    fix: str
    why_no_fix: str = ""

    @property
    def policy(self) -> ClusterNetworkPolicy:
        return self.decision.policy

    @property
    def location(self) -> Location | None:
        return self.decision.rule.location

    @property
    def message(self) -> str:
        side = "ingress of the destination" if self.direction == INGRESS else "egress of the source"
        tier = self.policy.tier
        what = f"{self.decision.label} ({tier} tier) denies {self.decision.ports} at the {side}"
        before = (
            "before any NetworkPolicy" if tier == ADMIN else "once no NetworkPolicy isolates it"
        )
        if self.fix:
            return (
                f"{what}, {before}: a NetworkPolicy cannot allow it. The suggestion is a"
                f" {self.policy.kind} Accept at priority {self.policy.priority - 1}"  # type: ignore[operator]
                f" in the {tier} tier, evaluated before {self.policy.id}."
            )
        return f"{what}, {before}: a NetworkPolicy cannot allow it, and {self.why_no_fix}"


@dataclass(frozen=True, slots=True)
class AllowPlan:
    """What allows one flow: NetworkPolicies (YAML) for the sides they decide, and the cluster
    tier rules that deny it elsewhere, each with its fix when one can be written."""

    texts: tuple[str, ...]
    blocks: tuple[TierBlock, ...]


def _dialect(p: ClusterNetworkPolicy) -> str:
    if p.kind == "AdminNetworkPolicy":
        return "anp"
    if p.kind == "BaselineAdminNetworkPolicy":
        return "banp"
    return "eks" if p.api_version.startswith("networking.k8s.aws/") else "cnp"


def _tier_ports(ports: PortSet, dialect: str) -> list[dict]:
    """Ports as the dialect writes them: v1alpha1 and EKS `ports`, v1alpha2 `protocols`."""
    out = []
    for protocol, intervals in ports.by_protocol:
        for lo, hi in intervals.intervals:
            if dialect == "cnp":
                dest = {"number": lo} if lo == hi else {"range": {"start": lo, "end": hi}}
                out.append({protocol.lower(): {"destinationPort": dest}})
            elif lo == hi:
                out.append({"portNumber": {"protocol": protocol, "port": lo}})
            else:
                out.append({"portRange": {"protocol": protocol, "start": lo, "end": hi}})
    return out


def _pods(w: Workload) -> dict:
    return {
        "pods": {
            "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: w.namespace}},
            "podSelector": _pod_selector(w),
        }
    }


def _tier_accept(
    denying: ClusterNetworkPolicy, direction: str, src: Workload, dst: Workload, ports: PortSet
) -> tuple[str, str]:
    """(YAML of a policy accepting src -> dst on `ports` one priority ahead of `denying`, in
    its kind and API version; or "" and why none can be written)."""
    dialect = _dialect(denying)
    if dialect == "banp":
        return "", (
            "BaselineAdminNetworkPolicy is a singleton: edit its rule, or accept the flow in"
            " the Admin tier."
        )
    if not denying.priority:
        return "", (
            f"{denying.id} has priority 0, the first there is: edit its rule (two policies of"
            " equal priority run in an order the API leaves open)."
        )
    subject, peer = (dst, src) if direction == INGRESS else (src, dst)
    rule: dict = {
        "name": "allow-this-flow",
        "action": "Allow" if dialect == "anp" else "Accept",
        "from" if direction == INGRESS else "to": [_pods(peer)],
    }
    if not ports.is_all:
        rule["protocols" if dialect == "cnp" else "ports"] = _tier_ports(ports, dialect)
    spec: dict = {} if dialect == "anp" else {"tier": denying.tier}
    spec["priority"] = denying.priority - 1
    spec["subject"] = _pods(subject)
    spec[direction.lower()] = [rule]
    body = {
        "apiVersion": denying.api_version,
        "kind": denying.kind,
        "metadata": {"name": _dns_name(f"allow-{src.name}-to-{dst.name}")},
        "spec": spec,
    }
    comment = (
        f"allow {src.id} -> {dst.id}: {ports}, before {denying.id}"
        f" (priority {denying.priority}) denies it"
    )
    return f"# {comment}\n" + yaml.safe_dump(body, sort_keys=False, default_flow_style=False), ""


def _tier_denial(side: SideExplanation, ports: PortSet) -> TierDecision | None:
    """The first cluster tier rule that denies ports of the flow on this side, if any."""
    for step in side.chain:
        for d in step.decisions:
            if d.action == DENY and d.ports & ports:
                return d
    return None


def allow_flow_plan(
    snapshot: Snapshot, conn, explanation: Explanation, src: Workload, dst: Workload
) -> AllowPlan:
    """How to allow exactly the flow `explanation` asked about (all ports when it asked none).

    A side a cluster tier denies gets a tier policy that accepts the flow ahead of the
    denying one (an Admin Accept decides before every NetworkPolicy, so it covers all the
    side's ports); the other sides get the NetworkPolicies of `allow_flow`.
    """
    ports = explanation.asked if explanation.asked is not None else PortSet.all()
    blocks = []
    for side in (explanation.egress, explanation.ingress):
        if not (ports - side.allowed):
            continue
        denial = _tier_denial(side, ports)
        if denial is not None:
            fix, why = _tier_accept(denial.policy, side.direction, src, dst, ports)
            blocks.append(TierBlock(side.direction, denial, fix, why))
    blocked = {b.direction for b in blocks}
    texts = [
        t for t, direction in _network_policies(conn, src, dst, ports) if direction not in blocked
    ]
    return AllowPlan(tuple(texts) + tuple(b.fix for b in blocks if b.fix), tuple(blocks))


def _network_policies(conn, src: Workload, dst: Workload, ports: PortSet) -> list[tuple[str, str]]:
    what = f"allow {src.id} -> {dst.id}: {ports}"
    suffix = _dns_name(f"{src.name}-to-{dst.name}")
    out = []
    if conn.isolation(dst)[0]:
        out.append((_one_side(dst, src, "Ingress", ports, what, suffix), "Ingress"))
    if conn.isolation(src)[1]:
        out.append((_one_side(src, dst, "Egress", ports, what, suffix), "Egress"))
    return out
