"""The engine's data model: frozen, slotted dataclasses with tuples for collections.

Labels are tuples of (key, value) pairs sorted by key, so that they hash and compare; use
`dict(labels)` where a mapping is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ACCEPT",
    "ADMIN",
    "BASELINE",
    "DENY",
    "EGRESS",
    "INGRESS",
    "PASS",
    "PROTOCOLS",
    "ClusterNetworkPolicy",
    "ClusterPeer",
    "ClusterRule",
    "ClusterSubject",
    "ContainerPort",
    "Diagnostic",
    "IPBlock",
    "LabelSelector",
    "Labels",
    "Location",
    "Namespace",
    "NetworkPolicy",
    "Peer",
    "PolicyPort",
    "Requirement",
    "Rule",
    "Snapshot",
    "Workload",
]

INGRESS = "Ingress"
EGRESS = "Egress"
PROTOCOLS = ("TCP", "UDP", "SCTP")

Labels = tuple[tuple[str, str], ...]

# Cluster-wide tiers (AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy)
ADMIN = "Admin"
BASELINE = "Baseline"
ACCEPT = "Accept"  # v1alpha1 writes it "Allow"
DENY = "Deny"
PASS = "Pass"


@dataclass(frozen=True, slots=True)
class Location:
    """Where something stands in the user's input: file, 1-based line, YAML field path."""

    file: str
    line: int = 0
    path: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} {self.path}" if self.path else where


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A located message about the input: severity is 'error', 'warning' or 'info'."""

    severity: str
    message: str
    location: Location
    subject: str = ""  # the object it concerns, e.g. "NetworkPolicy shop/deny-all"

    def __str__(self) -> str:
        subject = f" ({self.subject})" if self.subject else ""
        return f"{self.location}: {self.message}{subject}"

    def as_dict(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "file": self.location.file,
            "line": self.location.line,
            "path": self.location.path,
            "message": self.message,
            "subject": self.subject,
        }


@dataclass(frozen=True, slots=True)
class Namespace:
    """A namespace; `labels` always include kubernetes.io/metadata.name."""

    name: str
    labels: Labels
    location: Location | None = None
    defined: bool = True  # False: used by a workload or policy but not in the manifests


@dataclass(frozen=True, slots=True)
class ContainerPort:
    port: int
    protocol: str = "TCP"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Workload:
    """A set of pods shown as one endpoint: a controller, or a standalone Pod."""

    namespace: str
    name: str
    kind: str
    labels: Labels
    ports: tuple[ContainerPort, ...] = ()
    replicas: int = 1
    location: Location | None = None
    pod_ips: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}[{self.kind}]"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One matchExpressions entry: operator is In, NotIn, Exists or DoesNotExist."""

    key: str
    operator: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A label selector; the empty selector matches everything."""

    match_labels: Labels = ()
    match_expressions: tuple[Requirement, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions


@dataclass(frozen=True, slots=True)
class IPBlock:
    cidr: str
    except_: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyPort:
    """One `ports` entry. `port` None means every port of the protocol; a str is a named port."""

    protocol: str = "TCP"
    port: int | str | None = None
    end_port: int | None = None
    # Where it was written; not part of its identity (equal ports allow the same thing).
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Peer:
    """One `from`/`to` entry. Exactly one of ip_block or (pod/namespace selectors) is set."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """An ingress or egress rule. Empty `peers` = every peer; empty `ports` = every port."""

    peers: tuple[Peer, ...] = ()
    ports: tuple[PolicyPort, ...] = ()
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    """A NetworkPolicy with its effective policy types (defaults applied)."""

    namespace: str
    name: str
    pod_selector: LabelSelector
    policy_types: tuple[str, ...]
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()
    location: Location | None = None
    declared_policy_types: bool = True
    source: str = ""  # the YAML as the user wrote it (comments and key order kept)

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def affects_ingress(self) -> bool:
        return INGRESS in self.policy_types

    @property
    def affects_egress(self) -> bool:
        return EGRESS in self.policy_types


@dataclass(frozen=True, slots=True)
class ClusterSubject:
    """The pods a cluster policy applies to: `subject.namespaces` (pod_selector None: every
    pod of the matching namespaces) or `subject.pods` (namespaceSelector AND podSelector)."""

    namespace_selector: LabelSelector = LabelSelector()
    pod_selector: LabelSelector | None = None


@dataclass(frozen=True, slots=True)
class ClusterPeer:
    """One `from`/`to` entry of a cluster policy rule; `kind` says which field is set:
    namespaces, pods, networks, nodes, domainNames, or "" when none is (an invalid peer,
    which fails closed)."""

    kind: str
    namespace_selector: LabelSelector | None = None
    pod_selector: LabelSelector | None = None
    networks: tuple[str, ...] = ()  # CIDRs (external addresses, as ipBlocks)
    node_selector: LabelSelector | None = None
    domain_names: tuple[str, ...] = ()
    location: Location | None = field(default=None, compare=False)

    @property
    def evaluated(self) -> bool:
        """False for the experimental peers netviz loads but cannot decide (nodes, domains)."""
        return self.kind not in ("nodes", "domainNames")


@dataclass(frozen=True, slots=True)
class ClusterRule:
    """A rule of a cluster policy. `action` is Accept, Deny or Pass (v1alpha1's Allow is
    Accept); empty `ports` = every port. A named port (str) with protocol "" resolves to
    the destination pod's container port of that name, whatever its protocol. A range
    running backwards (end below port) matches no port: v1alpha1 accepts one, and an empty
    `ports: []` is kept as one."""

    action: str
    peers: tuple[ClusterPeer, ...]
    ports: tuple[PolicyPort, ...] = ()
    name: str = ""
    location: Location | None = field(default=None, compare=False)

    @property
    def fails_closed(self) -> bool:
        """A peer with no field set: the API says to fail closed, which for a Deny or Pass
        rule means "Deny all" (an Accept rule then simply matches nothing there)."""
        return self.action != ACCEPT and any(p.kind == "" for p in self.peers)

    @property
    def effective_action(self) -> str:
        return DENY if self.fails_closed else self.action

    @property
    def undecidable(self) -> bool:
        """Names nodes or domain names, which netviz loads but does not evaluate."""
        return any(not p.evaluated for p in self.peers)


@dataclass(frozen=True, slots=True)
class ClusterNetworkPolicy:
    """A cluster-scoped policy of the Admin or Baseline tier, whatever API wrote it:
    policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy (Admin) and
    BaselineAdminNetworkPolicy (Baseline, no priority), policy.networking.k8s.io/v1alpha2
    and networking.k8s.aws/v1alpha1 ClusterNetworkPolicy (`spec.tier`)."""

    name: str
    kind: str
    tier: str  # ADMIN or BASELINE
    priority: int | None  # None: BaselineAdminNetworkPolicy (runs after every other Baseline)
    subject: ClusterSubject
    ingress: tuple[ClusterRule, ...] = ()
    egress: tuple[ClusterRule, ...] = ()
    api_version: str = ""
    location: Location | None = None
    source: str = ""  # the YAML as the user wrote it

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def precedence(self) -> tuple[int, str, str]:
        """Sort key within a tier: priority ascending; equal priorities by name, as
        kube-network-policies and Calico break the tie the API leaves open."""
        return (1001 if self.priority is None else self.priority, self.name, self.kind)

    def action_label(self, rule: ClusterRule) -> str:
        """The action as the user's API spells it (v1alpha1 says Allow)."""
        if rule.action == ACCEPT and self.kind != "ClusterNetworkPolicy":
            return "Allow"
        return rule.action


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything loaded from one set of manifests."""

    namespaces: tuple[Namespace, ...] = ()
    workloads: tuple[Workload, ...] = ()
    policies: tuple[NetworkPolicy, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    # Cluster-scoped policies of the Admin and Baseline tiers (no namespace), sorted by id.
    cluster_policies: tuple[ClusterNetworkPolicy, ...] = ()

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "warning")

    @property
    def notes(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "info")
