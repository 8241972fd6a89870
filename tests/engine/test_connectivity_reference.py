"""The evaluation against a plain reference: every pod pair checked rule by rule.

The engine groups pods into classes, keeps selections as bitmasks, shares caches between equal
selectors and rule ports, and builds each source's egress row with set algebra. None of that
may change an answer. The reference below does the spec's work one pair at a time, with the
same selector matching and port resolution (tested on their own elsewhere), on random small
clusters that mix what those shortcuts depend on: one or several matchLabels pairs, match
expressions, namespace selectors, overlapping rules, named ports and deny-alls.
"""

from __future__ import annotations

import json
import random
import tracemalloc

import pytest

from policies.engine import connectivity, evaluate, load_documents
from policies.engine.connectivity import reevaluate, resolve_ports
from policies.engine.intervals import PortSet
from policies.engine.model import NetworkPolicy, Peer, Snapshot, Workload
from policies.engine.selectors import matches

NAMESPACES = ("shop", "pay", "ops")
KEYS = ("app", "tier", "team")
VALUES = ("a", "b", "c")
PORT_NAMES = ("http", "dns", "metrics")


def _selector(rng: random.Random) -> dict:
    out: dict = {}
    if rng.random() < 0.7:
        out["matchLabels"] = {
            k: rng.choice(VALUES) for k in rng.sample(KEYS, rng.choice((1, 1, 1, 2)))
        }
    if rng.random() < 0.35:
        op = rng.choice(("In", "NotIn", "Exists", "DoesNotExist"))
        req: dict = {"key": rng.choice(KEYS), "operator": op}
        if op in ("In", "NotIn"):
            req["values"] = rng.sample(VALUES, rng.choice((1, 2)))
        out["matchExpressions"] = [req]
    return out


def _peer(rng: random.Random) -> dict:
    roll = rng.random()
    if roll < 0.45:
        return {"podSelector": _selector(rng)}
    if roll < 0.7:
        return {"namespaceSelector": _selector(rng) if rng.random() < 0.6 else {}}
    if roll < 0.9:
        return {"namespaceSelector": _selector(rng), "podSelector": _selector(rng)}
    return {"ipBlock": {"cidr": "10.0.0.0/8"}}


def _ports(rng: random.Random) -> list:
    out = []
    for _ in range(rng.choice((0, 0, 1, 2))):
        roll = rng.random()
        if roll < 0.4:
            out.append({"port": rng.choice((80, 443, 53)), "protocol": rng.choice(("TCP", "UDP"))})
        elif roll < 0.7:
            out.append({"port": rng.choice(PORT_NAMES)})
        elif roll < 0.85:
            out.append({"port": 8000, "endPort": 8100})
        else:
            out.append({"protocol": "UDP"})
    return out


def _rules(rng: random.Random) -> list:
    rules = []
    for _ in range(rng.choice((0, 1, 2, 3))):
        rule: dict = {}
        if rng.random() < 0.85:
            rule["peers"] = [_peer(rng) for _ in range(rng.choice((1, 1, 2)))]
        ports = _ports(rng)
        if ports:
            rule["ports"] = ports
        rules.append(rule)
    return rules


def _cluster(seed: int) -> list[tuple[str, str]]:
    """A random cluster as (file, JSON text) documents (JSON is YAML)."""
    rng = random.Random(seed)
    docs: list[dict] = []
    for ns in NAMESPACES:
        labels = {k: rng.choice(VALUES) for k in rng.sample(KEYS, rng.choice((0, 1, 2)))}
        docs.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}
        )
    for i in range(rng.randint(4, 14)):
        labels = {k: rng.choice(VALUES) for k in rng.sample(KEYS, rng.choice((1, 2, 3)))}
        ports = [
            {"containerPort": number, "protocol": proto, "name": name}
            for name, number, proto in rng.sample(
                (("http", 80, "TCP"), ("dns", 53, "UDP"), ("metrics", 9090, "TCP")),
                rng.choice((0, 1, 2)),
            )
        ]
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"p{i}",
                    "namespace": rng.choice(NAMESPACES),
                    "labels": labels,
                },
                "spec": {"containers": [{"name": "c", "image": "x", "ports": ports}]},
            }
        )
    for i in range(rng.randint(1, 9)):
        spec: dict = {"podSelector": _selector(rng) if rng.random() < 0.8 else {}}
        types = rng.choice((["Ingress"], ["Egress"], ["Ingress", "Egress"]))
        spec["policyTypes"] = types
        for kind, key in (("Ingress", "from"), ("Egress", "to")):
            if kind in types:
                spec[kind.lower()] = [
                    {key if k == "peers" else k: v for k, v in rule.items()} for rule in _rules(rng)
                ]
        docs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": f"np{i}", "namespace": rng.choice(NAMESPACES)},
                "spec": spec,
            }
        )
    return [(f"doc{i}.yaml", json.dumps(doc)) for i, doc in enumerate(docs)]


def _peer_matches(policy: NetworkPolicy, peer: Peer, other: Workload, ns_labels: dict) -> bool:
    if peer.ip_block is not None:
        return False  # workload pairs only: pods have no addresses here
    if peer.namespace_selector is None:
        in_namespaces = other.namespace == policy.namespace
    else:
        in_namespaces = matches(peer.namespace_selector, ns_labels[other.namespace])
    selector = peer.pod_selector
    return in_namespaces and (selector is None or matches(selector, dict(other.labels)))


def _side(snapshot: Snapshot, me: Workload, other: Workload, dst: Workload, egress: bool):
    """What `me`'s egress (or ingress) allows towards (or from) `other`: None when no
    policy isolates it, else the union over every rule that names `other`."""
    ns_labels = {ns.name: dict(ns.labels) for ns in snapshot.namespaces}
    allowed = None
    for p in snapshot.policies:
        if p.namespace != me.namespace or not matches(p.pod_selector, dict(me.labels)):
            continue
        if not (p.affects_egress if egress else p.affects_ingress):
            continue
        allowed = allowed or PortSet.none()
        for rule in p.egress if egress else p.ingress:
            if not rule.peers or any(_peer_matches(p, x, other, ns_labels) for x in rule.peers):
                allowed = allowed | resolve_ports(rule.ports, dst.ports)
    return allowed


def _reference(snapshot: Snapshot) -> dict[tuple[str, str], str]:
    out = {}
    for s in snapshot.workloads:
        for d in snapshot.workloads:
            if s is d:
                continue
            e = _side(snapshot, s, d, d, egress=True)
            i = _side(snapshot, d, s, d, egress=False)
            ports = (PortSet.all() if e is None else e) & (PortSet.all() if i is None else i)
            if ports:
                out[(s.id, d.id)] = str(ports)
    return out


@pytest.mark.parametrize("seed", range(60))
def test_workload_pairs_match_the_pair_by_pair_reference(seed: int) -> None:
    snapshot = load_documents(_cluster(seed))
    got = {
        (f.src.id, f.dst.id): str(f.ports)
        for f in evaluate(snapshot).flows()
        if not f.src.is_external and not f.dst.is_external
    }
    assert got == _reference(snapshot)


def test_the_random_clusters_exercise_what_the_shortcuts_depend_on() -> None:
    # Not vacuous: across the seeds, pairs are allowed on every port, on some ports, or not
    # at all; named ports resolve against some destinations; equal selectors recur.
    seen = set()
    for seed in range(60):
        snapshot = load_documents(_cluster(seed))
        ref = _reference(snapshot)
        seen.update("all" if v == "All Connections" else "some" for v in ref.values())
        if len(ref) < len(snapshot.workloads) * (len(snapshot.workloads) - 1):
            seen.add("denied")
        rules = [r for p in snapshot.policies for r in (*p.ingress, *p.egress)]
        named = {s.port for r in rules for s in r.ports if isinstance(s.port, str)}
        declared = {c.name for w in snapshot.workloads for c in w.ports}
        if named & declared:
            seen.add("named")
        selectors = [p.pod_selector for p in snapshot.policies]
        if len(set(selectors)) < len(selectors):
            seen.add("equal selectors")
    assert seen == {"all", "some", "denied", "named", "equal selectors"}


def _all_flows(conn) -> list[tuple[str, str, str]]:
    return [(f.src.id, f.dst.id, str(f.ports)) for f in conn.flows()]


@pytest.mark.parametrize("seed", range(0, 60, 3))
def test_a_reevaluation_after_an_edit_answers_as_a_fresh_evaluation(seed: int) -> None:
    # The editor's path: the caches, classes and rows of the base are reused where the edit
    # leaves them valid. Each policy in turn is dropped, and replaced by another seed's.
    snapshot = load_documents(_cluster(seed))
    other = load_documents(_cluster(seed + 1000)).policies
    base = evaluate(snapshot)
    for i in range(len(snapshot.policies)):
        for replacement in ((), other[i % len(other) :][:1]):
            policies = (*snapshot.policies[:i], *replacement, *snapshot.policies[i + 1 :])
            after = Snapshot(snapshot.namespaces, snapshot.workloads, policies)
            assert _all_flows(reevaluate(base, after)) == _all_flows(evaluate(after))


@pytest.mark.parametrize("seed", range(0, 60, 4))
def test_many_port_name_sets_take_the_per_destination_path(seed: int, monkeypatch) -> None:
    # Past a few distinct sets of destination port names, rules naming a port are resolved
    # per destination instead of per port-names key: the same answers.
    monkeypatch.setattr(connectivity, "_FEW_PORT_KEYS", 0)
    snapshot = load_documents(_cluster(seed))
    got = {
        (f.src.id, f.dst.id): str(f.ports)
        for f in evaluate(snapshot).flows()
        if not f.src.is_external and not f.dst.is_external
    }
    assert got == _reference(snapshot)


@pytest.mark.parametrize("seed", range(0, 60, 5))
def test_flows_come_sorted_by_source_then_destination_each_pair_once(seed: int) -> None:
    # Made one source at a time: the writers and the diff rely on this order.
    conn = evaluate(load_documents(_cluster(seed)))
    pairs = [(f.src.id, f.dst.id) for f in conn.flows()]
    assert pairs == sorted(set(pairs))


def test_listing_an_open_cluster_keeps_memory_of_one_source_not_of_the_answer() -> None:
    # 1,000 pods without a policy: a million flows. Listing them one at a time, as the
    # writers do, must not hold the whole answer (as one sorted list of keys it is ~36 MB).
    pods = "".join(
        f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: open,"
        f" labels: {{app: p{i}}}}}\n"
        for i in range(1000)
    )
    conn = evaluate(load_documents([("open.yaml", pods)]))
    tracemalloc.start()
    try:
        flows = conn.flows()
        first = next(flows)
        count = 1 + sum(1 for _ in flows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    externals = [ep for ep in conn.endpoints if ep.is_external]
    assert externals
    assert (first.src, first.dst.id) == (externals[0], "open/p0[Pod]")
    # every ordered pair of pods, and each pod to and from every address outside
    assert count == 1000 * 999 + 2 * 1000 * len(externals)
    assert peak < 12_000_000, peak
