"""The engine's data model: frozen, slotted dataclasses with tuples for collections.

Labels are tuples of (key, value) pairs sorted by key, so that they hash and compare; use
`dict(labels)` where a mapping is needed.

The methods a frozen dataclass would generate are not generated: __init__ is written out per
class, __eq__ and __hash__ come from `@_record` (one pair of functions over an attrgetter of
the class's fields), __repr__ and __setattr__ refusing changes from `_Frozen`; `@_record`
registers each class as a dataclass, so `dataclasses.fields()`, `replace()` and `asdict()` work
as before. Generated methods are compiled from source text at every start-up, about 13 ms of
`netviz analyze`'s; written here they come from the bytecode cache, and the hot constructors
(a Location per rule, peer and port) skip the generated __init__'s indirections.
tests/engine/test_model.py checks each class against what @dataclass(frozen=True) makes.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field
from operator import attrgetter

_set = object.__setattr__  # how a frozen class sets its own fields in __init__

# Registers the fields (for fields(), replace(), asdict()) and makes __slots__ from them.
_dataclass = dataclass(init=False, repr=False, eq=False, slots=True)


def _record(cls: type) -> type:
    """A frozen record: the dataclass of `cls`, with __eq__ and __hash__ over the fields that
    compare (in order, as @dataclass makes them) unless the class writes its own."""
    cls = _dataclass(cls)
    names = [f.name for f in cls.__dataclass_fields__.values() if f.compare]  # type: ignore[attr-defined]
    # attrgetter is a C call: no per-class source to compile at start-up, as @dataclass does
    values = attrgetter(*names) if len(names) > 1 else (lambda o, n=names[0]: (getattr(o, n),))
    if "__eq__" not in cls.__dict__:

        def __eq__(self: object, other: object) -> bool:
            if self is other:
                return True
            if other.__class__ is self.__class__:
                return values(self) == values(other)
            return NotImplemented

        cls.__eq__ = __eq__  # type: ignore[method-assign]
    if "__hash__" not in cls.__dict__ or cls.__dict__["__hash__"] is None:
        cls.__hash__ = lambda self: hash(values(self))  # type: ignore[method-assign]
    return cls


class _Frozen:
    """What a frozen slotted dataclass does beside its per-class methods."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __repr__(self) -> str:
        fields = self.__dataclass_fields__  # type: ignore[attr-defined]
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in fields)
        return f"{type(self).__qualname__}({shown})"

    def __getstate__(self) -> list[object]:
        return [getattr(self, n) for n in self.__dataclass_fields__]

    def __setstate__(self, state: list[object]) -> None:
        fields = self.__dataclass_fields__  # type: ignore[attr-defined]
        for n, v in zip(fields, state, strict=True):
            _set(self, n, v)


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


@_record
class Location(_Frozen):
    """Where something stands in the user's input: file, 1-based line, YAML field path."""

    file: str
    line: int = 0
    path: str = ""

    def __init__(self, file: str, line: int = 0, path: str = "") -> None:
        # One is made for every rule, peer and port read: the slots are set through their
        # descriptors (bound below), a shorter step than object.__setattr__.
        _location_file(self, file)
        _location_line(self, line)
        _location_path(self, path)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} {self.path}" if self.path else where


_location_file = Location.file.__set__  # type: ignore[attr-defined]
_location_line = Location.line.__set__  # type: ignore[attr-defined]
_location_path = Location.path.__set__  # type: ignore[attr-defined]


@_record
class Diagnostic(_Frozen):
    """A located message about the input: severity is 'error', 'warning' or 'info'."""

    severity: str
    message: str
    location: Location
    subject: str = ""  # the object it concerns, e.g. "NetworkPolicy shop/deny-all"

    def __init__(self, severity: str, message: str, location: Location, subject: str = "") -> None:
        _set(self, "severity", severity)
        _set(self, "message", message)
        _set(self, "location", location)
        _set(self, "subject", subject)

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


@_record
class Namespace(_Frozen):
    """A namespace; `labels` always include kubernetes.io/metadata.name."""

    name: str
    labels: Labels
    location: Location | None = None
    defined: bool = True  # False: used by a workload or policy but not in the manifests

    def __init__(
        self, name: str, labels: Labels, location: Location | None = None, defined: bool = True
    ) -> None:
        _set(self, "name", name)
        _set(self, "labels", labels)
        _set(self, "location", location)
        _set(self, "defined", defined)


@_record
class ContainerPort(_Frozen):
    """One port a container declares; `name` is what a named policy port refers to."""

    port: int
    protocol: str = "TCP"
    name: str | None = None

    def __init__(self, port: int, protocol: str = "TCP", name: str | None = None) -> None:
        _set(self, "port", port)
        _set(self, "protocol", protocol)
        _set(self, "name", name)


@_record
class Workload(_Frozen):
    """A set of pods shown as one endpoint: a controller, or a standalone Pod."""

    namespace: str
    name: str
    kind: str
    labels: Labels
    ports: tuple[ContainerPort, ...] = ()
    replicas: int = 1
    location: Location | None = None
    pod_ips: tuple[str, ...] = ()

    def __init__(
        self,
        namespace: str,
        name: str,
        kind: str,
        labels: Labels,
        ports: tuple[ContainerPort, ...] = (),
        replicas: int = 1,
        location: Location | None = None,
        pod_ips: tuple[str, ...] = (),
    ) -> None:
        _set(self, "namespace", namespace)
        _set(self, "name", name)
        _set(self, "kind", kind)
        _set(self, "labels", labels)
        _set(self, "ports", ports)
        _set(self, "replicas", replicas)
        _set(self, "location", location)
        _set(self, "pod_ips", pod_ips)

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}[{self.kind}]"


@_record
class Requirement(_Frozen):
    """One matchExpressions entry: operator is In, NotIn, Exists or DoesNotExist."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def __init__(self, key: str, operator: str, values: tuple[str, ...] = ()) -> None:
        _set(self, "key", key)
        _set(self, "operator", operator)
        _set(self, "values", values)


class _HashOnce(_Frozen):
    """Room for a hash worked out once (not a field: no part of equality, repr or replace)."""

    __slots__ = ("_hash",)


@_record
class LabelSelector(_HashOnce):
    """A label selector; the empty selector matches everything."""

    match_labels: Labels = ()
    match_expressions: tuple[Requirement, ...] = ()

    def __init__(
        self, match_labels: Labels = (), match_expressions: tuple[Requirement, ...] = ()
    ) -> None:
        _set(self, "match_labels", match_labels)
        _set(self, "match_expressions", match_expressions)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if other.__class__ is self.__class__:
            return (
                self.match_labels == other.match_labels
                and self.match_expressions == other.match_expressions
            )
        return NotImplemented

    def __hash__(self) -> int:
        # Selectors key the linter's and the evaluation's lookups, over and over: the hash of
        # their nested tuples is computed once per object.
        try:
            return self._hash
        except AttributeError:
            value = hash((self.match_labels, self.match_expressions))
            _set(self, "_hash", value)
            return value

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions


_EVERYTHING = LabelSelector()  # the empty selector, ClusterSubject's default (one, shared)


@_record
class IPBlock(_Frozen):
    """An ipBlock peer: addresses in `cidr` but in none of `except_`."""

    cidr: str
    except_: tuple[str, ...] = ()

    def __init__(self, cidr: str, except_: tuple[str, ...] = ()) -> None:
        _set(self, "cidr", cidr)
        _set(self, "except_", except_)


@_record
class PolicyPort(_Frozen):
    """One `ports` entry. `port` None means every port of the protocol; a str is a named port."""

    protocol: str = "TCP"
    port: int | str | None = None
    end_port: int | None = None
    # Where it was written; not part of its identity (equal ports allow the same thing).
    location: Location | None = field(default=None, compare=False)

    def __init__(
        self,
        protocol: str = "TCP",
        port: int | str | None = None,
        end_port: int | None = None,
        location: Location | None = None,
    ) -> None:
        _set(self, "protocol", protocol)
        _set(self, "port", port)
        _set(self, "end_port", end_port)
        _set(self, "location", location)


@_record
class Peer(_Frozen):
    """One `from`/`to` entry. Exactly one of ip_block or (pod/namespace selectors) is set."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None
    location: Location | None = None

    def __init__(
        self,
        pod_selector: LabelSelector | None = None,
        namespace_selector: LabelSelector | None = None,
        ip_block: IPBlock | None = None,
        location: Location | None = None,
    ) -> None:
        _set(self, "pod_selector", pod_selector)
        _set(self, "namespace_selector", namespace_selector)
        _set(self, "ip_block", ip_block)
        _set(self, "location", location)


@_record
class Rule(_Frozen):
    """An ingress or egress rule. Empty `peers` = every peer; empty `ports` = every port."""

    peers: tuple[Peer, ...] = ()
    ports: tuple[PolicyPort, ...] = ()
    location: Location | None = None

    def __init__(
        self,
        peers: tuple[Peer, ...] = (),
        ports: tuple[PolicyPort, ...] = (),
        location: Location | None = None,
    ) -> None:
        _set(self, "peers", peers)
        _set(self, "ports", ports)
        _set(self, "location", location)


@_record
class NetworkPolicy(_Frozen):
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

    def __init__(
        self,
        namespace: str,
        name: str,
        pod_selector: LabelSelector,
        policy_types: tuple[str, ...],
        ingress: tuple[Rule, ...] = (),
        egress: tuple[Rule, ...] = (),
        location: Location | None = None,
        declared_policy_types: bool = True,
        source: str = "",
    ) -> None:
        _set(self, "namespace", namespace)
        _set(self, "name", name)
        _set(self, "pod_selector", pod_selector)
        _set(self, "policy_types", policy_types)
        _set(self, "ingress", ingress)
        _set(self, "egress", egress)
        _set(self, "location", location)
        _set(self, "declared_policy_types", declared_policy_types)
        _set(self, "source", source)

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def affects_ingress(self) -> bool:
        return INGRESS in self.policy_types

    @property
    def affects_egress(self) -> bool:
        return EGRESS in self.policy_types


@_record
class ClusterSubject(_Frozen):
    """The pods a cluster policy applies to: `subject.namespaces` (pod_selector None: every
    pod of the matching namespaces) or `subject.pods` (namespaceSelector AND podSelector)."""

    namespace_selector: LabelSelector = _EVERYTHING
    pod_selector: LabelSelector | None = None

    def __init__(
        self,
        namespace_selector: LabelSelector = _EVERYTHING,
        pod_selector: LabelSelector | None = None,
    ) -> None:
        _set(self, "namespace_selector", namespace_selector)
        _set(self, "pod_selector", pod_selector)


@_record
class ClusterPeer(_Frozen):
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

    def __init__(
        self,
        kind: str,
        namespace_selector: LabelSelector | None = None,
        pod_selector: LabelSelector | None = None,
        networks: tuple[str, ...] = (),
        node_selector: LabelSelector | None = None,
        domain_names: tuple[str, ...] = (),
        location: Location | None = None,
    ) -> None:
        _set(self, "kind", kind)
        _set(self, "namespace_selector", namespace_selector)
        _set(self, "pod_selector", pod_selector)
        _set(self, "networks", networks)
        _set(self, "node_selector", node_selector)
        _set(self, "domain_names", domain_names)
        _set(self, "location", location)

    @property
    def evaluated(self) -> bool:
        """False for the experimental peers netviz loads but cannot decide (nodes, domains)."""
        return self.kind not in ("nodes", "domainNames")


@_record
class ClusterRule(_Frozen):
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

    def __init__(
        self,
        action: str,
        peers: tuple[ClusterPeer, ...],
        ports: tuple[PolicyPort, ...] = (),
        name: str = "",
        location: Location | None = None,
    ) -> None:
        _set(self, "action", action)
        _set(self, "peers", peers)
        _set(self, "ports", ports)
        _set(self, "name", name)
        _set(self, "location", location)

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


@_record
class ClusterNetworkPolicy(_Frozen):
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

    def __init__(
        self,
        name: str,
        kind: str,
        tier: str,
        priority: int | None,
        subject: ClusterSubject,
        ingress: tuple[ClusterRule, ...] = (),
        egress: tuple[ClusterRule, ...] = (),
        api_version: str = "",
        location: Location | None = None,
        source: str = "",
    ) -> None:
        _set(self, "name", name)
        _set(self, "kind", kind)
        _set(self, "tier", tier)
        _set(self, "priority", priority)
        _set(self, "subject", subject)
        _set(self, "ingress", ingress)
        _set(self, "egress", egress)
        _set(self, "api_version", api_version)
        _set(self, "location", location)
        _set(self, "source", source)

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


@_record
class Snapshot(_Frozen):
    """Everything loaded from one set of manifests."""

    namespaces: tuple[Namespace, ...] = ()
    workloads: tuple[Workload, ...] = ()
    policies: tuple[NetworkPolicy, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    # Cluster-scoped policies of the Admin and Baseline tiers (no namespace), sorted by id.
    cluster_policies: tuple[ClusterNetworkPolicy, ...] = ()

    def __init__(
        self,
        namespaces: tuple[Namespace, ...] = (),
        workloads: tuple[Workload, ...] = (),
        policies: tuple[NetworkPolicy, ...] = (),
        diagnostics: tuple[Diagnostic, ...] = (),
        cluster_policies: tuple[ClusterNetworkPolicy, ...] = (),
    ) -> None:
        _set(self, "namespaces", namespaces)
        _set(self, "workloads", workloads)
        _set(self, "policies", policies)
        _set(self, "diagnostics", diagnostics)
        _set(self, "cluster_policies", cluster_policies)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "warning")

    @property
    def notes(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "info")
