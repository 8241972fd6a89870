"""The evaluation: which endpoints may talk to which, on which ports.

Pods are grouped into equivalence classes — same namespace (hence namespace labels), same pod
labels, same named ports — because no rule of the spec can tell two members of a class apart.
Every selector is evaluated once per class and kept as a bitmask over classes (a Python int),
and classes selected by the same policies share one "profile" of allowances. A flow needs the
source's egress side AND the destination's ingress side (spec: both must allow it).

External addresses are cut into atoms at every ipBlock boundary; atoms that every profile
treats alike are merged into one external endpoint.

Cluster-wide tiers (AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy):
each direction runs Admin tier -> NetworkPolicy -> Baseline tier -> default allow, the first
Accept or Deny being final. Their subjects and peers are evaluated per class too, so the
pipeline runs once per (profile, rules that name the other side, destination ports) — port
sets flowing through the tiers — never per pod pair. Clusters without them take the plain
NetworkPolicy path, unchanged.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

from .gcpause import gc_paused, paused_gc
from .intervals import (
    IPV4_ALL,
    IPV6_ALL,
    NO_INTERVALS,
    V4_END,
    IntervalSet,
    PortSet,
    cidr_interval,
    format_ip_range,
)
from .model import (
    ACCEPT,
    ADMIN,
    DENY,
    PASS,
    ClusterNetworkPolicy,
    ClusterRule,
    ClusterSubject,
    LabelSelector,
    NetworkPolicy,
    Peer,
    PolicyPort,
    Rule,
    Snapshot,
    Workload,
)
from .selectors import matches

__all__ = [
    "Connectivity",
    "Endpoint",
    "Flow",
    "evaluate",
    "peer_addresses",
    "reevaluate",
    "resolve_ports",
    "run_tier",
]

_ALL_SELECTOR = LabelSelector()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A workload, or a set of external addresses (`first-last` ranges joined by ',')."""

    id: str
    workload: Workload | None = None
    addresses: IntervalSet | None = None

    @property
    def is_external(self) -> bool:
        return self.workload is None


@dataclass(frozen=True, slots=True)
class Flow:
    src: Endpoint
    dst: Endpoint
    ports: PortSet


def resolve_ports(specs: tuple[PolicyPort, ...], dst_ports: tuple) -> PortSet:
    """A rule's `ports` against the destination's container ports (empty = every port).

    A named port allows the container ports with that name AND the rule's protocol (a
    cluster policy's named port has no protocol: the container port's own one counts); a
    name nobody declares allows nothing; external destinations declare no names.
    """
    if not specs:
        return PortSet.all()
    out: dict[str, list[tuple[int, int]]] = {}
    for spec in specs:
        if spec.port is None:
            out.setdefault(spec.protocol, []).append((1, 65535))
        elif isinstance(spec.port, int):
            out.setdefault(spec.protocol, []).append(
                (spec.port, spec.port if spec.end_port is None else spec.end_port)
            )
        else:
            for cp in dst_ports:
                if cp.name == spec.port and spec.protocol in ("", cp.protocol):
                    out.setdefault(cp.protocol, []).append((cp.port, cp.port))
    return PortSet.of({p: IntervalSet.of(v) for p, v in out.items()})


def peer_addresses(peer: Peer) -> IntervalSet:
    """The external addresses an ipBlock peer names: cidr minus every except."""
    if peer.ip_block is None:
        return IntervalSet()
    return _block_addresses(peer.ip_block.cidr, peer.ip_block.except_)


@lru_cache(maxsize=4096)
def _block_addresses(cidr: str, except_: tuple[str, ...]) -> IntervalSet:
    # Bounded, and keyed by text only: it keeps no policy alive.
    block = IntervalSet((cidr_interval(cidr),))
    excepts = IntervalSet.of(cidr_interval(e) for e in except_)
    return block - excepts


def run_tier(
    decisions: list[tuple[ClusterRule | None, str, PortSet]], rest: PortSet
) -> tuple[PortSet, PortSet, list[tuple[int, PortSet]]]:
    """One tier over the ports still undecided: the rules that name the other side, in
    precedence order, as (rule, effective action, its resolved ports).

    The first rule matching a port decides it: Accept, Deny, or Pass (it leaves the tier).
    Returns (accepted ports, ports going on to the next tier: passed or matched by no rule,
    [(index, ports it decided)] for the rules that decided something).
    """
    undecided = rest
    accepted = passed = PortSet.none()
    decided: list[tuple[int, PortSet]] = []
    for i, (_, action, ports) in enumerate(decisions):
        got = ports & undecided
        if not got:
            continue
        decided.append((i, got))
        undecided = undecided - got
        if action == ACCEPT:
            accepted = accepted | got
        elif action == PASS:
            passed = passed | got
        if not undecided:
            break
    return accepted, undecided | passed, decided


def cluster_policy_order(policies) -> list[ClusterNetworkPolicy]:
    """Admin tier first, then Baseline; within a tier by precedence (priority, then name)."""
    return sorted(policies, key=lambda p: (p.tier != ADMIN, p.precedence))


@dataclass(slots=True)
class _Class:
    index: int
    namespace: str
    labels: dict[str, str]
    ports: tuple
    workloads: list[Workload] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Contribution:
    """One rule of one policy, as seen from the pods it selects."""

    mask: int  # peer classes
    addresses: IntervalSet  # peer external addresses
    ports: tuple[PolicyPort, ...]
    policy: NetworkPolicy
    rule_index: int
    members: frozenset[int] = frozenset()  # the mask's classes, for O(1) membership tests


@dataclass(frozen=True, slots=True)
class _TierRule:
    """One rule of a cluster policy, as seen from the pods its subject selects."""

    members: frozenset[int]  # peer classes
    addresses: IntervalSet  # peer external addresses
    ports: tuple[PolicyPort, ...]
    action: str  # effective: a rule that fails closed denies
    policy: ClusterNetworkPolicy
    rule_index: int


def _contribution(
    mask: int,
    addresses: IntervalSet,
    ports: tuple[PolicyPort, ...],
    policy: NetworkPolicy,
    rule_index: int,
    members: frozenset[int],
) -> _Contribution:
    """_Contribution(...) without the frozen dataclass's __init__ (a setattr through object
    per field): one per rule of every policy, tens of thousands at XL."""
    c = _new(_Contribution)
    _set_mask(c, mask)
    _set_addresses(c, addresses)
    _set_ports(c, ports)
    _set_policy(c, policy)
    _set_rule_index(c, rule_index)
    _set_members(c, members)
    return c


_new = object.__new__
_set_mask, _set_addresses, _set_ports, _set_policy, _set_rule_index, _set_members = (
    getattr(_Contribution, name).__set__
    for name in ("mask", "addresses", "ports", "policy", "rule_index", "members")
)

_NO_TIER: tuple = ((), (), ())

# Up to this many distinct destination port-name sets, a rule naming a port is resolved for
# each of them once, and looked up by index per destination.
_FEW_PORT_KEYS = 64


class Connectivity:
    """The answer for one snapshot: allowed flows between workloads and external ranges."""

    @gc_paused
    def __init__(self, snapshot: Snapshot, base: Connectivity | None = None) -> None:
        self.snapshot = snapshot
        self._pairs: list[tuple[int, int, PortSet]] | None = None
        self._endpoints: tuple[Endpoint, ...] | None = None
        self._interned: dict[PortSet, PortSet] = {}
        self._resolved_cache: dict[int, tuple] = {}
        self._unions: dict[tuple[int, ...], PortSet] = {}
        self._joins: dict[tuple[int, int], PortSet] = {}
        self._specs_values: dict[tuple[PolicyPort, ...], tuple[PolicyPort, ...]] = {}
        self._named_lists: dict[int, tuple[tuple[PolicyPort, ...], list[PortSet]]] = {}
        self.base: Connectivity | None = None
        if base is not None and base._reusable_for(snapshot):
            self.base = base
            # Same workloads and namespaces, and no selector looks at a label key the classes
            # ignored: the classes and every selector already evaluated stay valid.
            self._classes, self._class_of = base._classes, base._class_of
            self._port_key, self._all_mask = base._port_key, base._all_mask
            self._key_ports = base._key_ports
            self._ns_labels, self._by_ns = base._ns_labels, base._by_ns
            self._ns_cache, self._pod_cache = base._ns_cache, base._pod_cache
            self._members_cache = base._members_cache
            self._selector_keys = base._selector_keys
            self._by_label, self._by_pair = base._by_label, base._by_pair
        else:
            self._classes = []
            self._class_of = {}
            self._selector_keys = _selector_keys(snapshot.policies, snapshot.cluster_policies)
            self._build_classes()
            port_keys: dict[tuple, int] = {}
            self._port_key = [port_keys.setdefault(c.ports, len(port_keys)) for c in self._classes]
            self._key_ports: list[tuple] = list(port_keys)  # the ports of each port key
            self._all_mask = (1 << len(self._classes)) - 1
            self._ns_labels = {ns.name: dict(ns.labels) for ns in snapshot.namespaces}
            self._ns_cache: dict[LabelSelector, frozenset[str]] = {}
            self._pod_cache: dict[tuple[LabelSelector, frozenset[str]], int] = {}
            self._members_cache: dict[int, frozenset[int]] = {}
            self._by_ns: dict[str, list[_Class]] = defaultdict(list)
            # (namespace, key, value) -> its classes: a selector with matchLabels only needs
            # to test the classes carrying its first pair, not every class of the namespace.
            self._by_label: dict[tuple[str, str, str], list[_Class]] = defaultdict(list)
            self._by_pair: dict[tuple[str, str], list[_Class]] = defaultdict(list)  # all namespaces
            for c in self._classes:
                self._by_ns[c.namespace].append(c)
                for k, v in c.labels.items():
                    self._by_label[(c.namespace, k, v)].append(c)
                    self._by_pair[(k, v)].append(c)
        self._evaluate_policies()
        self._cut_external()

    def _reusable_for(self, snapshot: Snapshot) -> bool:
        known = {id(p) for p in (*self.snapshot.policies, *self.snapshot.cluster_policies)}
        added = [p for p in snapshot.policies if id(p) not in known]
        added_cluster = [p for p in snapshot.cluster_policies if id(p) not in known]
        return (
            snapshot.workloads == self.snapshot.workloads
            and snapshot.namespaces == self.snapshot.namespaces
            and _selector_keys(added, added_cluster) <= self._selector_keys
        )

    # classes ----------------------------------------------------------------------------------
    def _build_classes(self) -> None:
        # Only label keys that some pod selector mentions can tell pods apart; the rest (a
        # pod-template-hash, a unique id) would split classes without changing any answer.
        keys = self._selector_keys
        index: dict[tuple, int] = {}
        for w in self.snapshot.workloads:
            named = tuple(sorted({p for p in w.ports if p.name}, key=lambda p: (p.name, p.port)))
            labels = tuple(kv for kv in w.labels if kv[0] in keys)
            key = (w.namespace, labels, named)
            i = index.get(key)
            if i is None:
                i = index[key] = len(self._classes)
                self._classes.append(_Class(i, w.namespace, dict(labels), named))
            self._classes[i].workloads.append(w)
            self._class_of[w.id] = i

    def _members(self, mask: int) -> frozenset[int]:
        """The class indexes of a mask (-1: every class), computed once per distinct mask."""
        if mask == -1:
            mask = self._all_mask
        got = self._members_cache.get(mask)
        if got is None:
            got = frozenset(_set_bits(mask))
            self._members_cache[mask] = got
        return got

    def _namespaces(self, selector: LabelSelector) -> frozenset[str]:
        got = self._ns_cache.get(selector)
        if got is None:
            got = frozenset(n for n, labels in self._ns_labels.items() if matches(selector, labels))
            self._ns_cache[selector] = got
        return got

    def _pods(self, selector: LabelSelector, namespaces: frozenset[str]) -> int:
        key = (selector, namespaces)
        got = self._pod_cache.get(key)
        if got is None:
            candidates = self._candidates(selector, namespaces)
            if len(selector.match_labels) == 1 and not selector.match_expressions:
                found = [c.index for c in candidates]  # each carries the one pair asked for
            else:
                found = [c.index for c in candidates if matches(selector, c.labels)]
            got = self._pod_cache[key] = _mask_of(found)
            # The mask's classes are at hand: _members() need not find them again bit by bit.
            self._members_cache.setdefault(got, frozenset(found))
        return got

    def _candidates(self, selector: LabelSelector, namespaces: frozenset[str]) -> Iterator[_Class]:
        """The classes of these namespaces that may match: with matchLabels, only those with its
        first pair (matches() still decides; this only skips sure misses)."""
        if not selector.match_labels:
            for ns in namespaces:
                yield from self._by_ns.get(ns, ())
            return
        first = selector.match_labels[0]
        everywhere = self._by_pair.get(first, ())
        if len(namespaces) < len(everywhere):
            for ns in namespaces:
                yield from self._by_label.get((ns, *first), ())
        else:
            for c in everywhere:
                if c.namespace in namespaces:
                    yield c

    def selected_mask(self, policy: NetworkPolicy) -> int:
        """Classes the policy's podSelector selects (its own namespace only)."""
        return self._pods(policy.pod_selector, frozenset((policy.namespace,)))

    def peer_mask(self, policy: NetworkPolicy, peer: Peer) -> int:
        """Classes one from/to entry selects (spec: podSelector alone = the policy's namespace;
        namespaceSelector alone = every pod of the matching namespaces; both = the AND)."""
        if peer.ip_block is not None:
            return 0
        if peer.namespace_selector is None:
            namespaces = frozenset((policy.namespace,))
        else:
            namespaces = self._namespaces(peer.namespace_selector)
        return self._pods(peer.pod_selector or _ALL_SELECTOR, namespaces)

    def _rule_contribution(self, policy: NetworkPolicy, rule: Rule, i: int) -> _Contribution:
        if not rule.peers:  # an empty or absent from/to: every source/destination, IPs too
            return _contribution(
                self._all_mask, self._external_all, rule.ports, policy, i, self._members(-1)
            )
        masks = []
        addresses = NO_INTERVALS
        for peer in rule.peers:
            if peer.ip_block is not None:
                addresses = addresses | peer_addresses(peer)
            else:
                masks.append(self.peer_mask(policy, peer))
        mask, members = self._union(masks)
        return _contribution(mask, addresses, rule.ports, policy, i, members)

    def _union(self, masks: list[int]) -> tuple[int, frozenset[int]]:
        """The OR of masks, and its classes: a union of their member sets (set algebra in C),
        not a walk over the bits of the OR."""
        if len(masks) == 1:
            return masks[0], self._members(masks[0])
        mask = 0
        for m in masks:
            mask |= m
        got = self._members_cache.get(mask)
        if got is None:
            got = self._members_cache[mask] = frozenset().union(*map(self._members, masks))
        return mask, got

    def _policy_parts(self, p: NetworkPolicy) -> tuple[int, list, list]:
        """(selected classes, ingress contributions, egress contributions) of one policy.

        Kept by identity, shared with evaluations derived from this one: an edit re-uses the
        unchanged policy objects, and hashing a policy means hashing every rule in it.
        """
        return _by_identity(self._contrib_cache, p, self._compute_policy_parts)

    def _compute_policy_parts(self, p: NetworkPolicy) -> tuple[int, list, list]:
        selected = self.selected_mask(p)
        return (
            selected,
            [self._rule_contribution(p, r, i) for i, r in enumerate(p.ingress)] if selected else [],
            [self._rule_contribution(p, r, i) for i, r in enumerate(p.egress)] if selected else [],
        )

    def _policy_blocks(
        self, policy: NetworkPolicy | ClusterNetworkPolicy
    ) -> tuple[IntervalSet, ...]:
        """Every address set a policy's ipBlocks name: each block's addresses and each except."""
        return _by_identity(self._block_cache, policy, _compute_blocks)

    def _evaluate_policies(self) -> None:
        n = len(self._classes)
        self._blocks: list[IntervalSet] = []
        has_v6 = False
        # Kept per evaluation and handed to the ones re-evaluated from it: a module-level
        # cache kept every policy ever evaluated alive in a long-running server.
        base = self.base
        self._block_cache: dict[int, tuple[object, tuple[IntervalSet, ...]]] = (
            base._block_cache if base is not None else {}
        )
        for p in (*self.snapshot.policies, *self.snapshot.cluster_policies):
            blocks = self._policy_blocks(p)
            self._blocks.extend(blocks)
            has_v6 = has_v6 or any(b.intervals[-1][1] > V4_END for b in blocks if b)
        # IPv6 space is modelled when some policy speaks of IPv6; otherwise the IPv4 space
        # stands for "the internet" (manifests carry no pod addresses, and most clusters are v4).
        self._external_all = IPV4_ALL | IPV6_ALL if has_v6 else IPV4_ALL
        ingress_profiles: list[list[int]] = [[] for _ in range(n)]
        egress_profiles: list[list[int]] = [[] for _ in range(n)]
        self._policy_in: dict[int, list[_Contribution]] = {}
        self._policy_out: dict[int, list[_Contribution]] = {}
        base = self.base
        shared = base is not None and base._external_all == self._external_all
        self._contrib_cache: dict[int, tuple[NetworkPolicy, tuple[int, list, list]]] = (
            base._contrib_cache if shared else {}  # type: ignore[union-attr]
        )
        for pi, p in enumerate(self.snapshot.policies):
            selected, ingress, egress = self._policy_parts(p)
            if not selected:
                continue
            if p.affects_ingress:
                self._policy_in[pi] = ingress
            if p.affects_egress:
                self._policy_out[pi] = egress
            for c in self._members(selected):
                if p.affects_ingress:
                    ingress_profiles[c].append(pi)
                if p.affects_egress:
                    egress_profiles[c].append(pi)
        self._in_profile = [tuple(x) for x in ingress_profiles]
        self._out_profile = [tuple(x) for x in egress_profiles]
        self._profile_id: dict[tuple, int] = {}
        for prof in (*self._in_profile, *self._out_profile):
            self._profile_id.setdefault(prof, len(self._profile_id))
        self._in_contribs: dict[tuple, list[_Contribution]] = {}
        self._out_contribs: dict[tuple, list[_Contribution]] = {}
        # Masks are for set algebra; membership tests and iteration use index sets and sorted
        # lists, because testing one bit of a Python int copies the int (O(classes)).
        self._out_any: dict[tuple, tuple[int, ...]] = {}
        self._out_any_set: dict[tuple, frozenset[int]] = {}
        for prof in set(self._in_profile):
            contribs = [c for pi in prof for c in self._policy_in[pi]]
            self._in_contribs[prof] = contribs
        for prof in set(self._out_profile):
            contribs = [c for pi in prof for c in self._policy_out[pi]]
            self._out_contribs[prof] = contribs
            members = self._union([c.mask for c in contribs])[1] if prof else self._members(-1)
            self._out_any_set[prof] = members
            self._out_any[prof] = tuple(sorted(members))
        self._tiered = bool(self.snapshot.cluster_policies)
        if self._tiered:
            self._evaluate_tiers(shared)
        else:
            # The keys the external addresses and flows are grouped by: the NetworkPolicy
            # profiles alone when no cluster policy exists.
            self._out_key: list = self._out_profile
            self._in_key: list = self._in_profile

    # cluster-wide tiers -----------------------------------------------------------------------
    def _evaluate_tiers(self, shared: bool) -> None:
        n = len(self._classes)
        self._cluster = cluster_policy_order(self.snapshot.cluster_policies)
        base = self.base
        self._cluster_cache: dict[int, tuple[ClusterNetworkPolicy, tuple]] = (
            base._cluster_cache  # type: ignore[union-attr]
            if shared and base is not None and base._tiered
            else {}
        )
        lists = {name: [[] for _ in range(n)] for name in ("ai", "ao", "bi", "bo")}
        self._tier_parts: dict[int, tuple[list[_TierRule], list[_TierRule]]] = {}
        for pi, p in enumerate(self._cluster):
            subject, ingress, egress = self._cluster_parts(p)
            if not subject:
                continue
            self._tier_parts[pi] = (ingress, egress)
            prefix = "a" if p.tier == ADMIN else "b"
            for c in self._members(subject):
                if ingress:
                    lists[prefix + "i"][c].append(pi)
                if egress:
                    lists[prefix + "o"][c].append(pi)
        self._admin_in = [tuple(x) for x in lists["ai"]]
        self._admin_out = [tuple(x) for x in lists["ao"]]
        self._base_in = [tuple(x) for x in lists["bi"]]
        self._base_out = [tuple(x) for x in lists["bo"]]
        self._out_key = [
            (self._admin_out[c], self._out_profile[c], self._base_out[c]) for c in range(n)
        ]
        self._in_key = [
            (self._admin_in[c], self._in_profile[c], self._base_in[c]) for c in range(n)
        ]
        self._key_id: dict[tuple, int] = {}
        for key in (*self._out_key, *self._in_key):
            self._key_id.setdefault(key, len(self._key_id))
        self._tier_lists: dict[tuple[bool, tuple], list[_TierRule]] = {}

    def _tier_list(self, egress: bool, prof: tuple) -> list[_TierRule]:
        """The rules of a tier profile (policies in precedence order), in written order."""
        got = self._tier_lists.get((egress, prof))
        if got is None:
            got = [r for pi in prof for r in self._tier_parts[pi][1 if egress else 0]]
            self._tier_lists[(egress, prof)] = got
        return got

    def _subject_mask(self, subject: ClusterSubject) -> int:
        namespaces = self._namespaces(subject.namespace_selector)
        return self._pods(subject.pod_selector or _ALL_SELECTOR, namespaces)

    def _cluster_parts(self, p: ClusterNetworkPolicy) -> tuple[int, list, list]:
        """(subject classes, ingress rules, egress rules) of a cluster policy, by identity."""
        return _by_identity(self._cluster_cache, p, self._compute_cluster_parts)

    def _compute_cluster_parts(self, p: ClusterNetworkPolicy) -> tuple[int, list, list]:
        subject = self._subject_mask(p.subject)
        return (
            subject,
            [self._tier_rule(p, r, i) for i, r in enumerate(p.ingress)] if subject else [],
            [self._tier_rule(p, r, i) for i, r in enumerate(p.egress)] if subject else [],
        )

    def _tier_rule(self, p: ClusterNetworkPolicy, rule: ClusterRule, i: int) -> _TierRule:
        if rule.fails_closed:  # the API's "fail closed" for Deny and Pass: deny all
            return _TierRule(self._members(-1), self._external_all, (), DENY, p, i)
        mask = 0
        addresses = IntervalSet()
        for peer in rule.peers:
            if peer.kind == "namespaces":
                mask |= self._pods(_ALL_SELECTOR, self._namespaces(peer.namespace_selector))
            elif peer.kind == "pods":
                namespaces = self._namespaces(peer.namespace_selector or _ALL_SELECTOR)
                mask |= self._pods(peer.pod_selector or _ALL_SELECTOR, namespaces)
            elif peer.kind == "networks":
                addresses = addresses | IntervalSet.of(cidr_interval(c) for c in peer.networks)
            # nodes and domainNames are not evaluated: they match nothing here; an invalid
            # peer matches nothing in an Accept rule
        return _TierRule(
            self._members(mask), addresses & self._external_all, rule.ports, rule.action, p, i
        )

    def _pipeline(
        self,
        a_rules: list[_TierRule],
        a_ids: tuple,
        isolated: bool,
        np_allowed: PortSet,
        b_rules: list[_TierRule],
        b_ids: tuple,
        dports: tuple,
    ) -> PortSet:
        """Admin tier -> NetworkPolicy -> Baseline tier -> default allow, on port sets."""
        accepted, rest, _ = run_tier(
            [(None, a_rules[j].action, resolve_ports(a_rules[j].ports, dports)) for j in a_ids],
            PortSet.all(),
        )
        if isolated:  # NetworkPolicy always decides for the pods it isolates
            return accepted | (rest & np_allowed)
        if b_ids and rest:
            got, rest, _ = run_tier(
                [(None, b_rules[j].action, resolve_ports(b_rules[j].ports, dports)) for j in b_ids],
                rest,
            )
            accepted = accepted | got
        return accepted | rest

    def _key_parts(self, egress: bool, key: tuple) -> tuple[dict[int, tuple], tuple]:
        """For a side key: {class: signature} for the classes its rules tell apart, and the
        signature of every other class. A signature is, per part (Admin rules, NetworkPolicy
        contributions, Baseline rules), the indexes of the rules that name the class; rules
        naming every class are in all signatures and tell nothing apart."""
        got = self._parts_cache.get((egress, key))
        if got is None:
            a_prof, n_prof, b_prof = key
            contribs = self._out_contribs if egress else self._in_contribs
            sets = (
                [r.members for r in self._tier_list(egress, a_prof)],
                [c.members for c in contribs[n_prof]] if n_prof else [],
                [r.members for r in self._tier_list(egress, b_prof)],
            )
            n = len(self._classes)
            per: dict[int, tuple[list[int], list[int], list[int]]] = {}
            for part, members_list in enumerate(sets):
                for j, members in enumerate(members_list):
                    if len(members) == n:
                        continue
                    for x in members:
                        lists = per.get(x)
                        if lists is None:
                            lists = per[x] = ([], [], [])
                        lists[part].append(j)
            every = [[j for j, m in enumerate(part) if len(m) == n] for part in sets]
            named = {}
            for x, lists in per.items():  # indexes were appended in order; merge the rest
                named[x] = tuple(
                    tuple(sorted((*lists[k], *every[k]))) if every[k] else tuple(lists[k])
                    for k in range(3)
                )
            got = self._parts_cache[(egress, key)] = (named, tuple(tuple(e) for e in every))
        return got

    def _tier_side(self, egress: bool, key: tuple, sig: tuple, d: int, cache: dict) -> PortSet:
        """What one side's pipeline allows, given which of its rules name the other side
        (`sig`); d is the destination class. Cached on what the answer depends on: the
        matching tier rules, what NetworkPolicy allows, and the destination's named ports."""
        a_prof, n_prof, b_prof = key
        a_ids, n_ids, b_ids = sig
        if n_prof:  # which NetworkPolicy rules allow what into d (named ports resolved)
            np_allowed = self._ports_of(egress, n_prof, n_ids, d, cache)
            if not a_ids:
                return np_allowed  # NetworkPolicy decides everything
            ck = (egress, a_prof, a_ids, id(np_allowed), self._port_key[d])
        else:
            if not a_ids and not b_ids:
                return PortSet.all()
            np_allowed = PortSet.all()
            ck = (egress, a_prof, a_ids, b_prof, b_ids, self._port_key[d])
        got = cache.get(ck)
        if got is None:
            got = self._pipeline(
                self._tier_list(egress, a_prof),
                a_ids,
                bool(n_prof),
                np_allowed,
                self._tier_list(egress, b_prof),
                b_ids,
                self._classes[d].ports,
            )
            got = cache[ck] = self._interned.setdefault(got, got)
        return got

    def _tiered_pairs_from(self, sources, only_dst: int | None, cache: dict, both: dict) -> list:
        # Per source, the destinations its egress rules name are evaluated one by one; all
        # others share one answer per destination-ports key, and are skipped at once when
        # that answer is empty (an isolated egress) — the common case. Likewise on ingress,
        # a source that no rule of the destination's key names takes the key's base answer.
        out = []
        n = len(self._classes)
        self._parts_cache: dict = getattr(self, "_parts_cache", {})
        dsts = list(range(n)) if only_dst is None else sorted(self._members(only_dst))
        dst_set = None if only_dst is None else self._members(only_dst)
        out_key, in_key, port_key = self._out_key, self._in_key, self._port_key
        side, parts_of, parts_cache = self._tier_side, self._key_parts, self._parts_cache
        everything = PortSet.all()
        port_keys = sorted(set(port_key[d] for d in dsts))
        stand_in = {}  # a destination class of each ports key
        for d in dsts:
            stand_in.setdefault(port_key[d], d)

        for s in sources:
            ek = out_key[s]
            if ek == _NO_TIER:
                e_named, e_base, candidates = None, None, dsts
            else:
                e_named, e_base = parts_of(True, ek)
                if any(side(True, ek, e_base, stand_in[pk], cache) for pk in port_keys):
                    candidates = dsts
                else:  # only the named destinations can be reached
                    candidates = sorted(
                        e_named if dst_set is None else dst_set.intersection(e_named)
                    )
            for d in candidates:
                if e_named is None:
                    e = everything
                else:
                    e = side(True, ek, e_named.get(d, e_base), d, cache)
                    if not e:
                        continue
                ik = in_key[d]
                if ik == _NO_TIER:
                    i = everything
                else:
                    got = parts_cache.get((False, ik)) or parts_of(False, ik)
                    i = side(False, ik, got[0].get(s, got[1]), d, cache)
                key = (id(e), id(i))
                ports = both.get(key)
                if ports is None:
                    ports = both[key] = e & i
                if ports:
                    out.append((s, d, ports))
        return out

    def _tiered_external(self, atoms) -> tuple[dict, dict]:
        """Per egress key, and per (ingress key, ports): {atom: ports} through the tiers."""
        cache: dict = {}

        atom_ids: dict[tuple, tuple] = {}
        everything = PortSet.all()

        def per_atom(egress: bool, prof: tuple) -> tuple[list[_TierRule], dict[int, tuple]]:
            """A tier profile's rules, and {atom: indexes of the rules naming it}."""
            got = atom_ids.get((egress, prof))
            if got is None:
                rules = self._tier_list(egress, prof)
                ids: dict[int, list[int]] = {}
                for j, r in enumerate(rules):
                    if r.addresses:
                        for ai in self._atoms_in(r.addresses):
                            ids.setdefault(ai, []).append(j)
                got = atom_ids[(egress, prof)] = (rules, {k: tuple(v) for k, v in ids.items()})
            return got

        def sig_of(egress: bool, key: tuple, np_sig: dict, dports: tuple) -> dict:
            # Atoms no tier rule names keep the NetworkPolicy answer (isolated) or all
            # ports; only the named ones run the pipeline.
            a_prof, n_prof, b_prof = key
            isolated = bool(n_prof)
            a_rules, a_ids = per_atom(egress, a_prof)
            b_rules, b_ids = per_atom(egress, b_prof)
            if isolated:
                out = dict(np_sig)
                touched = set(a_ids)
            else:
                out = dict.fromkeys(range(len(atoms)), everything)
                touched = set(a_ids) | set(b_ids)
            none = PortSet.none()
            for ai in touched:
                np_allowed = np_sig.get(ai, none) if isolated else everything
                a, b = a_ids.get(ai, ()), b_ids.get(ai, ())
                ck = (egress, id(a_rules), a, np_allowed, id(b_rules), b, dports, isolated)
                got = cache.get(ck)
                if got is None:
                    got = cache[ck] = self._pipeline(
                        a_rules, a, isolated, np_allowed, b_rules, b, dports
                    )
                if got:
                    out[ai] = got
                else:
                    out.pop(ai, None)
            return out

        out_sig = {}
        for key in set(self._out_key):
            n_prof = key[1]
            np_sig = self._atom_ports(atoms, self._out_contribs[n_prof], (), -1, bool(n_prof))
            out_sig[key] = sig_of(True, key, np_sig, ())
        in_sig = {}
        for (key, pk), ports in self._in_ext_keys().items():
            n_prof = key[1]
            np_sig = self._atom_ports(atoms, self._in_contribs[n_prof], ports, pk, bool(n_prof))
            in_sig[(key, pk)] = sig_of(False, key, np_sig, ports)
        return out_sig, in_sig

    def _in_ext_keys(self) -> dict[tuple, tuple]:
        """{(ingress key, destination port names' key): those ports} over the classes: what
        the ingress from external addresses depends on (port key: an int, cheap to hash)."""
        out: dict[tuple, tuple] = {}
        port_key = self._port_key
        for c, key in zip(self._classes, self._in_key, strict=True):
            out.setdefault((key, port_key[c.index]), c.ports)
        return out

    def cluster_policies_for(
        self, workload: Workload
    ) -> tuple[tuple[ClusterNetworkPolicy, ...], tuple[ClusterNetworkPolicy, ...]]:
        """(cluster policies with ingress rules whose subject selects the workload, those with
        egress rules), Admin tier first, each tier in precedence order."""
        if not self._tiered:
            return (), ()
        c = self._class_of[workload.id]
        pols = self._cluster
        return (
            tuple(pols[i] for i in (*self._admin_in[c], *self._base_in[c])),
            tuple(pols[i] for i in (*self._admin_out[c], *self._base_out[c])),
        )

    def side_rules(self, egress: bool, c: int) -> tuple[list, list | None, list]:
        """One side of class c as rules, for tiers_flows.py's "which tier decided": (Admin
        rules, NetworkPolicy contributions or None when none isolates it, Baseline rules),
        in precedence order; each has `members`, `addresses` and `ports` (tier rules also
        `action`). Classes sharing a side get the same list objects."""
        key = (self._out_key if egress else self._in_key)[c]
        contribs = self._out_contribs if egress else self._in_contribs
        if not self._tiered:
            return [], contribs[key] if key else None, []
        a_prof, n_prof, b_prof = key
        np_part = contribs[n_prof] if n_prof else None
        return self._tier_list(egress, a_prof), np_part, self._tier_list(egress, b_prof)

    # isolation --------------------------------------------------------------------------------
    def isolation(self, workload: Workload) -> tuple[bool, bool]:
        """(isolated for ingress, isolated for egress) of a workload."""
        c = self._class_of[workload.id]
        return bool(self._in_profile[c]), bool(self._out_profile[c])

    def selecting_policies(self, workload: Workload) -> tuple[tuple[NetworkPolicy, ...], ...]:
        """(policies isolating its ingress, policies isolating its egress)."""
        c = self._class_of[workload.id]
        pols = self.snapshot.policies
        return (
            tuple(pols[i] for i in self._in_profile[c]),
            tuple(pols[i] for i in self._out_profile[c]),
        )

    # ports between classes --------------------------------------------------------------------
    def _ports_of(self, egress: bool, prof: tuple, ids: tuple, d: int, cache: dict) -> PortSet:
        """The ports rules `ids` of a profile allow into class d (named ports resolved)."""
        key = (egress, self._profile_id[prof], ids, self._port_key[d])
        got = cache.get(key)
        if got is None:
            contribs = (self._out_contribs if egress else self._in_contribs)[prof]
            parts = [self._resolved(contribs[i].ports, d) for i in ids]
            if len(parts) == 1:
                got = parts[0]
            else:  # the parts are interned, and a cluster has few distinct ones
                ukey = tuple(map(id, parts))
                got = self._unions.get(ukey)
                if got is None:
                    got = PortSet.none()
                    for part in parts:
                        got = got | part
                    # One object per distinct value, so that callers can key on identity.
                    got = self._unions[ukey] = self._interned.setdefault(got, got)
            cache[key] = got
        return got

    def _resolved(self, specs: tuple[PolicyPort, ...], d: int) -> PortSet:
        """resolve_ports against class d's ports, once per rule's `ports` (and per port names
        of the destination when the rule names a port): thousands of policies, few answers.
        Interned: one object per distinct value."""
        got = self._unnamed(specs)
        if got is not None:
            return got
        return self._resolved_for_key(specs, self._port_key[d])

    def _resolved_for_key(self, specs: tuple[PolicyPort, ...], pk: int) -> PortSet:
        """A rule naming a port, resolved against the ports of port key pk (interned)."""
        by_names = self._resolved_cache[id(specs)][2]
        ports = by_names.get(pk)
        if ports is None:
            ports = resolve_ports(specs, self._key_ports[pk])
            ports = by_names[pk] = self._interned.setdefault(ports, ports)
        return ports

    def _named_ports(self, specs: tuple[PolicyPort, ...]) -> list[PortSet] | None:
        """A rule naming a port, resolved for every port key (indexed by it); None when there
        are too many port keys for that to pay."""
        if len(self._key_ports) > _FEW_PORT_KEYS:
            return None
        got = self._named_lists.get(id(specs))
        if got is None:  # the entry pins `specs`: its id stays its own
            ports = [self._resolved_for_key(specs, pk) for pk in range(len(self._key_ports))]
            got = self._named_lists[id(specs)] = (specs, ports)
        return got[1]

    def _unnamed(self, specs: tuple[PolicyPort, ...]) -> PortSet | None:
        """The ports of a rule that names no port (the same for every destination), interned;
        None when it names one."""
        got = self._resolved_cache.get(id(specs))
        if got is None:  # the entry pins `specs`: its id stays its own
            # Equal `ports` of different policies share one entry (hashed once per object).
            same = self._specs_values.setdefault(specs, specs)
            got = self._resolved_cache.get(id(same)) if same is not specs else None
            if got is None:
                if any(isinstance(spec.port, str) for spec in specs):
                    got = (specs, None, {})
                else:
                    ports = resolve_ports(specs, ())
                    got = (specs, self._interned.setdefault(ports, ports), None)
            self._resolved_cache[id(specs)] = (specs, got[1], got[2])
        return got[1]

    def _join(self, a: PortSet, b: PortSet) -> PortSet:
        """a | b of two interned port sets, interned, kept per pair."""
        key = (id(a), id(b))
        got = self._joins.get(key)
        if got is None:
            got = a | b
            got = self._joins[key] = self._interned.setdefault(got, got)
        return got

    def _egress_row(self, contribs: list[_Contribution]) -> dict[int, PortSet]:
        """{destination class: ports} that these egress rules allow, built with set algebra
        in C (but for rules naming a port: their answer depends on the destination)."""
        out: dict[int, PortSet] = {}
        resolved, port_key = self._resolved, self._port_key
        for j, c in enumerate(contribs):
            ports = self._unnamed(c.ports)
            if ports is not None:
                fresh = dict.fromkeys(c.members, ports)
            else:  # the answer depends on each destination's port names
                by_key = self._named_ports(c.ports)
                if by_key is not None:
                    fresh = {x: by_key[port_key[x]] for x in c.members}
                else:
                    fresh = {x: resolved(c.ports, x) for x in c.members}
            if j:
                for x in out.keys() & c.members:
                    fresh[x] = self._join(out[x], fresh[x])
            out.update(fresh)
        return out

    def _egress_to(self, contribs: list[_Contribution], d: int) -> PortSet:
        """What these egress rules allow into class d (some rule names it)."""
        got = PortSet.none()
        for c in contribs:
            if d in c.members:
                got = self._join(got, self._resolved(c.ports, d))
        return got

    @gc_paused
    def class_pairs(self) -> list[tuple[int, int, PortSet]]:
        """Every (source class, destination class, ports) with some allowed port."""
        if self._pairs is not None:
            return self._pairs
        cache: dict = {}
        both: dict[tuple[int, int], PortSet] = {}
        n = len(self._classes)
        base = self.base
        if base is None:
            out = self._pairs_from(range(n), None, cache, both)
        else:
            # Only the rows of classes whose egress changed and the columns of classes whose
            # ingress changed can differ from the base evaluation.
            src_changed, dst_changed = self._changed_since(base)
            src_set, dst_set = self._members(src_changed), self._members(dst_changed)
            out = [t for t in base.class_pairs() if t[0] not in src_set and t[1] not in dst_set]
            out += self._pairs_from(sorted(src_set), None, cache, both)
            kept = [s for s in range(n) if s not in src_set]
            out += self._pairs_from(kept, dst_changed, cache, both)
        self._pairs = out
        return out

    def changed_since(self, base: Connectivity) -> tuple[int, int] | None:
        """(source, destination) class masks whose flows may differ from `base`'s, when this
        evaluation was derived from it; None when everything may differ."""
        if self.base is not base or base._external_all != self._external_all:
            return None
        return self._changed_since(base)

    def _changed_since(self, base: Connectivity) -> tuple[int, int]:
        """(classes whose egress may differ, classes whose ingress may differ) from `base`."""
        src = dst = 0
        for c in range(len(self._classes)):
            if self._out_profile_key(c) != base._out_profile_key(c):
                src |= 1 << c
            if self._in_profile_key(c) != base._in_profile_key(c):
                dst |= 1 << c
        return src, dst

    def _in_profile_key(self, c: int) -> tuple:
        pols = self.snapshot.policies
        key = tuple(pols[i] for i in self._in_profile[c])
        if self._tiered:  # a cluster policy object carries its tier and precedence
            key += tuple(self._cluster[i] for i in (*self._admin_in[c], *self._base_in[c]))
        return key

    def _out_profile_key(self, c: int) -> tuple:
        pols = self.snapshot.policies
        key = tuple(pols[i] for i in self._out_profile[c])
        if self._tiered:
            key += tuple(self._cluster[i] for i in (*self._admin_out[c], *self._base_out[c]))
        return key

    def _pairs_from(self, sources, only_dst: int | None, cache: dict, both: dict) -> list:
        if self._tiered:
            return self._tiered_pairs_from(sources, only_dst, cache, both)
        # The hot loop of the evaluation (one pass per candidate pair): plain loops over the
        # few rules of a destination and set lookups; no big-int bit tests, no generators.
        # Every port set here is interned, so that a pair's answer is cached by identity.
        out = []
        append = out.append
        in_profile, out_profile = self._in_profile, self._out_profile
        resolved, join = self._resolved, self._join
        everything = PortSet.all()
        only = sorted(self._members(only_dst)) if only_dst is not None else None
        # e & i per (id(e), id(i)): both are interned, and live while the evaluation does
        by_e: dict[int, dict[int, PortSet | None]] = {}
        last_e = by_i = None
        # per destination class: [(peer classes, ports)] of its ingress rules, or None when no
        # policy isolates its ingress
        rows: list = [None] * len(self._classes)
        for d in range(len(self._classes)) if only is None else only:
            prof = in_profile[d]
            if prof:
                rows[d] = [(c.members, resolved(c.ports, d)) for c in self._in_contribs[prof]]
        for s in sources:
            e_prof = out_profile[s]
            e_contribs = self._out_contribs[e_prof] if e_prof else None
            # a whole row when every column is wanted; a few columns (an edit's re-evaluation)
            # are looked up one by one
            e_row = self._egress_row(e_contribs) if e_contribs and only is None else None
            if only is None:
                candidates = self._out_any[e_prof]
            else:  # a few columns: test them, rather than walking the whole row
                reach = self._out_any_set[e_prof]
                candidates = [d for d in only if d in reach]
            for d in candidates:
                row = rows[d]
                if row is not None:
                    i = None
                    for members, ports in row:
                        if s in members:
                            i = ports if i is None else join(i, ports)
                    if i is None:
                        continue  # no ingress rule of d names s
                else:
                    i = everything
                if e_row is not None:
                    e = e_row[d]
                elif e_contribs is None:
                    e = everything
                else:
                    e = self._egress_to(e_contribs, d)
                if e is not last_e:  # runs of destinations share the source's egress answer
                    last_e = e
                    by_i = by_e.get(id(e))
                    if by_i is None:
                        by_i = by_e[id(e)] = {}
                ports = by_i.get(id(i), by_e)  # type: ignore[union-attr]
                if ports is by_e:  # not seen yet (None: nothing allowed)
                    ports = by_i[id(i)] = (e & i) or None  # type: ignore[index]
                if ports is not None:
                    append((s, d, ports))
        return out

    # external addresses -----------------------------------------------------------------------
    def _cut_external(self) -> None:
        points = set()
        for lo, hi in self._external_all.intervals:
            points.update((lo, hi + 1))
        for block in self._blocks:
            for lo, hi in block.intervals:
                points.update((lo, hi + 1))
        bounds = sorted(points)
        atoms = [(a, b - 1) for a, b in pairwise(bounds) if a in self._external_all]
        base = self.base
        if base is not None and base._atoms == atoms and self._contrib_cache is base._contrib_cache:
            self._atoms_cache = base._atoms_cache
            self._atom_ports_cache = base._atom_ports_cache
        else:
            self._atoms_cache: dict[IntervalSet, list[int]] = {}
            self._atom_ports_cache: dict[tuple, dict[int, PortSet]] = {}
        self._atom_starts = [a for a, _ in atoms]
        # per atom, the ports each profile allows to / from it
        out_sig: dict[tuple, dict[int, PortSet]] = {}
        in_sig: dict[tuple, dict[int, PortSet]] = {}
        if self._tiered:
            out_sig, in_sig = self._tiered_external(atoms)
        else:
            for prof, contribs in self._out_contribs.items():
                out_sig[prof] = self._atom_ports(atoms, contribs, (), -1, bool(prof))
            for (prof, pk), ports in self._in_ext_keys().items():
                in_sig[(prof, pk)] = self._atom_ports(
                    atoms, self._in_contribs[prof], ports, pk, bool(prof)
                )
        # Only allowances that differ between atoms can split them (most profiles name no
        # ipBlock: they allow nothing external, or everything).
        # Port sets are compared as the id of their interned equal: hashing a tuple of port
        # sets per atom calls a Python __hash__ per element. Cached signatures are shared
        # objects: each is looked at once.
        canon: dict[int, int] = {id(None): id(None)}
        interned = self._interned

        def ids(sig: dict[int, PortSet]) -> dict[int, int]:
            out = {}
            for ai, ports in sig.items():
                got = canon.get(id(ports))
                if got is None:  # `ports` lives in `sig` until the grouping is done
                    got = canon[id(ports)] = id(interned.setdefault(ports, ports))
                out[ai] = got
            return out

        distinct = {id(sig): sig for sig in (*out_sig.values(), *in_sig.values()) if sig}
        telling = []
        for sig in distinct.values():
            sig_ids = ids(sig)
            if not (len(sig) == len(atoms) and len(set(sig_ids.values())) == 1):
                telling.append(sig_ids)
        groups: dict[tuple, list[int]] = {}
        for ai in range(len(atoms)):
            groups.setdefault(tuple(sig.get(ai) for sig in telling), []).append(ai)
        self._external: list[Endpoint] = []
        self._atom_group: dict[int, int] = {}
        for members in groups.values():
            addresses = IntervalSet.of(atoms[i] for i in members)
            ident = ",".join(format_ip_range(lo, hi) for lo, hi in addresses.intervals)
            self._external.append(Endpoint(ident, None, addresses))
        self._external.sort(key=lambda e: e.addresses.intervals[0][0])  # type: ignore[union-attr]
        for gi, ep in enumerate(self._external):
            for ai, atom in enumerate(atoms):
                if atom[0] in ep.addresses:  # type: ignore[operator]
                    self._atom_group[ai] = gi
        self._atoms = atoms
        self._out_ext = {prof: self._group_ports(sig) for prof, sig in out_sig.items()}
        self._in_ext = {key: self._group_ports(sig) for key, sig in in_sig.items()}

    def _atom_ports(
        self, atoms, contribs, dst_ports: tuple, pk: int, isolated: bool
    ) -> dict[int, PortSet]:
        """{atom: ports} the rules allow to or from external atoms; dst_ports are the
        destination's port names and pk their key (-1: an external destination)."""
        if not isolated:
            return dict.fromkeys(range(len(atoms)), PortSet.all())
        # Most rules name no ipBlock: they say nothing here, whatever the destination.
        contribs = [c for c in contribs if c.addresses.intervals]
        if not contribs:
            return {}
        # Contributions of unchanged policies are the very objects an edit's re-evaluation
        # shares with its base, and so are the atoms: their answers carry over.
        key = (tuple(id(c) for c in contribs), pk)
        got = self._atom_ports_cache.get(key)
        if got is None:
            got = self._atom_ports_cache[key] = self._compute_atom_ports(contribs, dst_ports)
        return got

    def _compute_atom_ports(self, contribs, dst_ports) -> dict[int, PortSet]:
        out: dict[int, PortSet] = {}
        for c in contribs:
            ports = self._unnamed(c.ports)
            if ports is None:
                ports = resolve_ports(c.ports, dst_ports)
                ports = self._interned.setdefault(ports, ports)
            if not ports:
                continue
            for ai in self._atoms_in(c.addresses):
                got = out.get(ai)
                out[ai] = ports if got is None else self._join(got, ports)
        return out

    def _atoms_in(self, addresses: IntervalSet) -> list[int]:
        """Indexes of the atoms inside `addresses` (atoms are cut at its every boundary)."""
        got = self._atoms_cache.get(addresses)
        if got is None:
            got = []
            for lo, hi in addresses.intervals:
                got.extend(
                    range(bisect_left(self._atom_starts, lo), bisect_right(self._atom_starts, hi))
                )
            self._atoms_cache[addresses] = got
        return got

    def _group_ports(self, sig: dict[int, PortSet]) -> dict[int, PortSet]:
        return {self._atom_group[ai]: ports for ai, ports in sig.items() if ports}

    @property
    def external_endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(self._external)

    def class_flows(
        self,
    ) -> tuple[list[tuple[Workload, ...]], list[tuple[int, int, PortSet]], list[tuple]]:
        """The answer at the size of the answer, for callers that must not expand it.

        Returns the classes (workloads every policy treats alike), the allowed (source class,
        destination class, ports), and per class its external flows as (class, index into
        `external_endpoints`, "out" or "in", ports). Members of one class reach each other
        on the ports of the class's pair with itself, but no workload reaches itself.
        """
        classes = [tuple(c.workloads) for c in self._classes]
        external = []
        for c in self._classes:
            for gi, ports in self._out_ext[self._out_key[c.index]].items():
                external.append((c.index, gi, "out", ports))
            for gi, ports in self._in_ext[(self._in_key[c.index], self._port_key[c.index])].items():
                external.append((c.index, gi, "in", ports))
        return classes, self.class_pairs(), external

    # the answer -------------------------------------------------------------------------------
    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """Every endpoint, workloads and external ranges, sorted by id."""
        if self._endpoints is None:
            eps = [Endpoint(w.id, w) for w in self.snapshot.workloads]
            self._endpoints = tuple(sorted((*eps, *self._external), key=lambda e: e.id))
        return self._endpoints

    def flows(self, touching: tuple[int, int] | None = None) -> Iterator[Flow]:
        """Every allowed flow, workload pairs and external ranges, sorted by (src, dst).

        `touching` = (source classes, destination classes) as bitmasks keeps only the flows
        out of the first or into the second (what an edit can have changed).

        They are made one source at a time: memory stays that of the class pairs and one
        source's flows, whatever the answer's size (an open cluster of 10,000 pods is 10^8
        flows, which as one sorted list of keys took 3.9 GB).
        """
        port_sets: list[PortSet] = []
        with paused_gc():
            plan = self._flow_plan(touching, port_sets)
        return _decoded(_flow_blocks(*plan), self.endpoints, port_sets)

    def _flow_plan(
        self, touching: tuple[int, int] | None, port_sets: list[PortSet]
    ) -> tuple[list[_Sends], list[int]]:
        """What each endpoint (by rank) sends to, shared by the members of a class: the keys
        of its flows to single endpoints (sorted), and (destination ranks, port-set index)
        for classes of several workloads; and, per rank, which of those is its own (0: none).

        A key is a destination's rank shifted left by _PORT_BITS | a port-set index, so that
        keys sort by destination (see _flow_blocks); `port_sets` gets the sets indexed.
        """
        by_rank = self.endpoints
        rank = {ep.id: i for i, ep in enumerate(by_rank)}
        port_index: dict[int, int] = {}

        def index(ports: PortSet) -> int:
            pi = port_index.get(id(ports))
            if pi is None:
                pi = port_index[id(ports)] = len(port_sets)
                port_sets.append(ports)
            return pi

        members = [[rank[w.id] << _PORT_BITS for w in c.workloads] for c in self._classes]
        src_on = self._members(touching[0]) if touching is not None else None
        dst_on = self._members(touching[1]) if touching is not None else None
        n = len(self._classes)
        # per class, then per external group: flows to single endpoints, and to classes
        singles: list[list[int]] = [[] for _ in range(n + len(self._external))]
        groups: list[list[tuple[list[int], int]]] = [[] for _ in singles]
        last = pi = None
        for s, d, ports in self.class_pairs():
            if src_on is not None and s not in src_on and d not in dst_on:  # type: ignore[operator]
                continue
            if ports is not last:  # runs of pairs share one port set
                last, pi = ports, index(ports)
            dsts = members[d]
            if len(dsts) > 1:
                groups[s].append((dsts, pi))  # type: ignore[arg-type]
            elif s != d:  # (a workload has no flow to itself)
                singles[s].append(dsts[0] | pi)  # type: ignore[operator]
        ext_rank = [rank[e.id] << _PORT_BITS for e in self._external]
        for c in self._classes:
            if src_on is None or c.index in src_on:
                for gi, ports in self._out_ext[self._out_key[c.index]].items():
                    singles[c.index].append(ext_rank[gi] | index(ports))
            if dst_on is None or c.index in dst_on:
                key = (self._in_key[c.index], self._port_key[c.index])
                for gi, ports in self._in_ext[key].items():
                    dsts = members[c.index]
                    if len(dsts) > 1:
                        groups[n + gi].append((dsts, index(ports)))
                    else:
                        singles[n + gi].append(dsts[0] | index(ports))
        own: list[int] = [0] * len(by_rank)  # rank → index into `sends`
        sends: list[_Sends] = [((), ())]
        senders = [*members, *([r] for r in ext_rank)]
        for k, ranks in enumerate(senders):
            if singles[k] or groups[k]:
                singles[k].sort()
                sends.append((singles[k], groups[k]))
                for r in ranks:
                    own[r >> _PORT_BITS] = len(sends) - 1
        return sends, own


def _by_identity[T, V](cache: dict[int, tuple[T, V]], obj: T, compute: Callable[[T], V]) -> V:
    """`compute(obj)`, kept by the object's identity: policies are hashed by every rule they
    hold, while an edit re-uses the unchanged objects. The entry keeps the object, so that an
    id() reused by a newer object is never taken for it."""
    cached = cache.get(id(obj))
    if cached is not None and cached[0] is obj:
        return cached[1]
    value = compute(obj)
    cache[id(obj)] = (obj, value)
    return value


def _compute_blocks(policy: NetworkPolicy | ClusterNetworkPolicy) -> tuple[IntervalSet, ...]:
    out: list[IntervalSet] = []
    if isinstance(policy, ClusterNetworkPolicy):  # `networks` CIDRs cut the address space too
        for crule in policy.egress:
            for cpeer in crule.peers:
                out.extend(IntervalSet((cidr_interval(c),)) for c in cpeer.networks)
        return tuple(out)
    for rule in (*policy.ingress, *policy.egress):
        for peer in rule.peers:
            if peer.ip_block is not None:
                out.append(peer_addresses(peer))
                out.extend(IntervalSet((cidr_interval(e),)) for e in peer.ip_block.except_)
    return tuple(out)


# The width of a flow key's port-set field: more distinct port-set objects than any cluster
# makes; a key of two ranks and this field stays within CPython's two-digit ints up to 2**15
# endpoints.
_PORT_BITS = 30


# What the members of a class (or an external range) send to: see Connectivity._flow_plan.
_Sends = tuple[list[int], list[tuple[list[int], int]]]


def _flow_blocks(sends: list[_Sends], own: list[int]) -> Iterator[tuple[int, list[int]]]:
    """Per source rank, in order, with any flow: (the rank, its flows' keys, sorted), a key
    being the destination's shifted rank | the port-set index (see Connectivity._flow_plan).
    A destination appears once per source, so sorting the keys sorts by destination."""
    for r, at in enumerate(own):
        if not at:
            continue
        singles, groups = sends[at]
        if not groups:  # the common case at scale: the class's sorted keys as they are
            if singles:
                yield r, singles
            continue
        me = r << _PORT_BITS
        keys = list(singles)
        for dsts, pi in groups:
            keys.extend([rd | pi for rd in dsts if rd != me])
        if keys:
            keys.sort()
            yield r, keys


_DECODE_CHUNK = 65536  # flows made per collector pause


def _decoded(
    blocks: Iterator[tuple[int, list[int]]], by_rank, port_sets: list[PortSet]
) -> Iterator[Flow]:
    """The flows of each source's keys (see _flow_blocks), made without the frozen
    dataclass's __init__ (a setattr through object per field): a million flows at XL.

    They are made a chunk at a time with the collector paused (see gcpause): a caller that
    keeps them all (list(conn.flows())) otherwise sets off full collections that walk every
    live object again and again. The pause never spans a yield.
    """
    port_mask = (1 << _PORT_BITS) - 1
    new = object.__new__
    set_src, set_dst, set_ports = Flow.src.__set__, Flow.dst.__set__, Flow.ports.__set__  # type: ignore[attr-defined]
    while True:
        chunk: list[Flow] = []
        append = chunk.append
        with paused_gc():
            for r, keys in blocks:
                src = by_rank[r]
                for key in keys:
                    f = new(Flow)
                    set_src(f, src)
                    set_dst(f, by_rank[key >> _PORT_BITS])
                    set_ports(f, port_sets[key & port_mask])
                    append(f)
                if len(chunk) >= _DECODE_CHUNK:
                    break
        if not chunk:
            return
        yield from chunk
        del chunk  # the caller holds what it keeps


def _selector_keys(policies, cluster_policies=()) -> frozenset[str]:
    """Every label key a pod selector of these policies looks at (namespace labels need no
    key: a class never spans namespaces)."""
    selectors: list[LabelSelector | None] = []
    add = selectors.append
    for p in policies:
        add(p.pod_selector)
        for rules in (p.ingress, p.egress):
            for rule in rules:
                for peer in rule.peers:
                    add(peer.pod_selector)
    for cp in cluster_policies:
        add(cp.subject.pod_selector)
        for crule in (*cp.ingress, *cp.egress):
            for cpeer in crule.peers:
                add(cpeer.pod_selector)
    keys: set[str] = set()
    for selector in selectors:  # plain loops: tens of thousands of selectors at XL
        if selector is not None:
            for k, _ in selector.match_labels:
                keys.add(k)
            for r in selector.match_expressions:
                keys.add(r.key)
    return frozenset(keys)


def _set_bits(mask: int) -> list[int]:
    """The indexes of a mask's set bits: a C-level scan of its binary text between hits."""
    text = bin(mask)[:1:-1]  # least significant bit first
    out = []
    add, find = out.append, text.find
    i = find("1")
    while i >= 0:
        add(i)
        i = find("1", i + 1)
    return out


def _mask_of(indexes: list[int]) -> int:
    """The mask of these bit indexes; a byte buffer when there are many, so that no big int
    is copied per bit."""
    if len(indexes) < 16:
        mask = 0
        for i in indexes:
            mask |= 1 << i
        return mask
    buf = bytearray(max(indexes) // 8 + 1)
    for i in indexes:
        buf[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buf, "little")


def evaluate(snapshot: Snapshot) -> Connectivity:
    """Evaluates every policy of the snapshot once; flows are produced on demand."""
    return Connectivity(snapshot)


def reevaluate(before: Connectivity, after: Snapshot) -> Connectivity:
    """`after` evaluated reusing `before` where it can: an edit of a few policies costs only
    the rows and columns of the classes those policies select (full evaluation otherwise)."""
    return Connectivity(after, base=before)
