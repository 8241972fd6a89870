"""The engine's data model: frozen, slotted dataclasses with tuples for collections.

Labels are tuples of (key, value) pairs sorted by key, so that they hash and compare; use
`dict(labels)` where a mapping is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "EGRESS",
    "INGRESS",
    "PROTOCOLS",
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
class Snapshot:
    """Everything loaded from one set of manifests."""

    namespaces: tuple[Namespace, ...] = ()
    workloads: tuple[Workload, ...] = ()
    policies: tuple[NetworkPolicy, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = field(default=())

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "warning")

    @property
    def notes(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "info")
