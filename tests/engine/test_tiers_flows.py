"""Which tier decided each allowed flow (tiers_flows.py) agrees with explain's chain.

explain evaluates one pair from the spec, rule by rule; flow_tiers works per class pair.
On every pair of every admin case (and the external ranges each side's rules tell apart),
the tiers that accepted some of a flow's ports on each side must be the same.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from policies.engine import evaluate, explain, load_paths
from policies.engine.graph import FlowIndex
from policies.engine.intervals import IntervalSet, cidr_interval
from policies.engine.tiers_flows import (
    ADMIN_BIT,
    BASELINE_BIT,
    DEFAULT_BIT,
    NETWORK_POLICY_BIT,
    TIER_BITS,
    flow_tiers,
    side_tiers,
    tier_fields,
)

from .helpers import ns, pod, policy, snap
from .test_corpus import ADMIN_CASES, CASES, _case_id
from .test_tiers import ALL_NS, V1, V2, cluster, ns_sel, pods_sel, rule, tier_policy

BITS = dict(TIER_BITS)


def _explained_bits(side, allowed) -> int:
    """The tiers of one explained side that accepted some of the flow's ports."""
    if not side.applicable:
        return 0
    if side.chain:
        return sum(BITS[step.tier] for step in side.chain if step.accepted & allowed)
    return NETWORK_POLICY_BIT if side.isolated else DEFAULT_BIT


def _code(snapshot, src, dst) -> int | None:
    e = explain(snapshot, src, dst)
    if not e.allowed:
        return None
    return _explained_bits(e.egress, e.allowed) | _explained_bits(e.ingress, e.allowed) << 4


def _boundaries(snapshot) -> set[int]:
    """Every address where some policy's ranges start or end."""
    points: set[int] = set()

    def add(cidr: str) -> None:
        lo, hi = cidr_interval(cidr)
        points.update((lo, hi + 1))

    for p in snapshot.policies:
        for r in (*p.ingress, *p.egress):
            for peer in r.peers:
                if peer.ip_block is not None:
                    add(peer.ip_block.cidr)
                    for e in peer.ip_block.except_:
                        add(e)
    for cp in snapshot.cluster_policies:
        for r in cp.egress:
            for peer in r.peers:
                for c in peer.networks:
                    add(c)
    return points


def _pieces(addresses: IntervalSet, bounds: set[int]) -> list[IntervalSet]:
    out = []
    for lo, hi in addresses.intervals:
        cuts = [lo, *sorted(x for x in bounds if lo < x <= hi), hi + 1]
        out.extend(IntervalSet(((a, b - 1),)) for a, b in pairwise(cuts))
    return out


def check_agrees_with_explain(snapshot) -> dict[tuple[str, str], int]:
    """Every allowed flow's code from flow_tiers equals explain's, pair by pair; returns them."""
    conn = evaluate(snapshot)
    got = flow_tiers(conn)
    assert got is not None
    classes, _, _ = conn.class_flows()
    class_of = {w.id: c for c, ws in enumerate(classes) for w in ws}
    codes = {}
    for s in snapshot.workloads:
        for d in snapshot.workloads:
            if s is d:
                continue
            want = _code(snapshot, s, d)
            have = got.pairs.get((class_of[s.id], class_of[d.id]))
            assert have == want, (s.id, d.id, have, want)
            if want is not None:
                codes[(s.id, d.id)] = want
    bounds = _boundaries(snapshot)
    for gi, ep in enumerate(conn.external_endpoints):
        pieces = _pieces(ep.addresses, bounds)
        for w in snapshot.workloads:
            c = class_of[w.id]
            for direction in ("out", "in"):
                want = None
                for piece in pieces:
                    src, dst = (w, piece) if direction == "out" else (piece, w)
                    one = _code(snapshot, src, dst)
                    if one is not None:
                        want = (want or 0) | one
                have = got.external.get((c, gi, direction))
                assert have == want, (w.id, ep.id, direction, have, want)
    return codes


@pytest.mark.skipif(not CASES, reason="no corpus")
@pytest.mark.parametrize("case", ADMIN_CASES, ids=[_case_id(c) for c in ADMIN_CASES])
def test_deciding_tier_of_every_flow_agrees_with_explain_on_admin_cases(case: Path) -> None:
    check_agrees_with_explain(load_paths([case / "input"]))


def test_a_cluster_without_cluster_policies_computes_nothing() -> None:
    conn = evaluate(snap(ns("x"), pod("a", ns="x"), pod("b", ns="x")))
    assert flow_tiers(conn) is None


A, B, C = "x/a[Pod]", "y/b[Pod]", "y/c[Pod]"


@pytest.mark.parametrize("api", [V1, V2])
def test_admin_accept_marks_its_flows_and_network_policy_the_rest(api: str) -> None:
    # a may reach y only through a NetworkPolicy; Admin accepts a -> b on 8080 before it.
    docs = cluster(
        tier_policy(
            api, "Admin", "let-a-in", pods_sel(app="b"),
            ingress=[rule("Accept", ns_sel(team="front"), ports=[("TCP", 8080)])],
        ),
        policy("deny-in", "podSelector: {}\npolicyTypes: [Ingress]", ns="y"),
    )  # fmt: skip
    codes = check_agrees_with_explain(snap(*docs))
    assert side_tiers(codes[(A, B)]) == (("default",), ("Admin",))
    assert tier_fields(codes[(A, B)])["tier"] == "admin"
    assert (A, C) not in codes  # isolated by NetworkPolicy, not named by Admin
    assert side_tiers(codes[(B, A)]) == (("default",), ("default",))
    assert tier_fields(codes[(B, A)])["tier"] == "policy"


@pytest.mark.parametrize("api", [V1, V2])
def test_a_flow_split_between_admin_and_network_policy_names_both(api: str) -> None:
    # Admin accepts TCP 80 into y; a NetworkPolicy isolating y allows every port from x.
    docs = cluster(
        tier_policy(
            api, "Admin", "web", ns_sel(team="back"),
            ingress=[rule("Accept", ALL_NS, ports=[("TCP", 80)])],
        ),
        policy(
            "from-x",
            "podSelector: {}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {team: front}}",
            ns="y",
        ),
    )  # fmt: skip
    codes = check_agrees_with_explain(snap(*docs))
    assert side_tiers(codes[(A, C)])[1] == ("Admin", "NetworkPolicy")
    assert side_tiers(codes[(B, C)])[1] == ("Admin",)  # only TCP 80, from inside y


@pytest.mark.parametrize("api", [V1, V2])
def test_baseline_decides_egress_and_networks_split_the_internet(api: str) -> None:
    # Baseline: b may reach only 10.0.0.0/8 (Accept), everything else denied; Admin passes
    # c's egress to 10.1.0.0/16 on to Baseline.
    docs = cluster(
        tier_policy(
            api, "Baseline", "base", pods_sel(app="b"),
            egress=[
                rule("Accept", {"networks": ["10.0.0.0/8"]}),
                rule("Deny", {"networks": ["0.0.0.0/0"]}),
            ],
        ),
        tier_policy(
            api, "Admin", "pass", ns_sel(team="back"), priority=5,
            egress=[rule("Pass", {"networks": ["10.1.0.0/16"]})],
        ),
    )  # fmt: skip
    check_agrees_with_explain(snap(*docs))


def test_tier_fields_summarise_admin_before_baseline() -> None:
    assert tier_fields(ADMIN_BIT | BASELINE_BIT << 4)["tier"] == "admin"
    assert tier_fields(DEFAULT_BIT | BASELINE_BIT << 4)["tier"] == "baseline"
    assert tier_fields(NETWORK_POLICY_BIT | DEFAULT_BIT << 4) == {
        "tier": "policy",
        "tiers": {"egress": ["NetworkPolicy"], "ingress": ["default"]},
    }


# ---- the graph index carries the codes --------------------------------------------------------


def _edge_tiers(index: FlowIndex) -> dict[tuple[str, str], dict]:
    view = index.full(range(len(index.nodes)), index.view_edges(range(len(index.nodes))))
    return {(e["data"]["source"], e["data"]["target"]): e["data"] for e in view["edges"]}


@pytest.mark.skipif(not CASES, reason="no corpus")
@pytest.mark.parametrize("case", ADMIN_CASES, ids=[_case_id(c) for c in ADMIN_CASES])
def test_every_graph_edge_carries_the_tiers_explain_gives_its_flow(case: Path) -> None:
    snapshot = load_paths([case / "input"])
    codes = check_agrees_with_explain(snapshot)
    index = FlowIndex.build(evaluate(snapshot))
    stored = FlowIndex.from_dict(json.loads(json.dumps(index.to_dict())))
    for built in (index, stored):
        edges = _edge_tiers(built)
        workload_edges = {k: v for k, v in edges.items() if k in codes}
        assert workload_edges.keys() == codes.keys()
        for pair, data in workload_edges.items():
            assert {k: data[k] for k in ("tier", "tiers")} == tier_fields(codes[pair]), pair
        for data in edges.values():  # external edges too, and every one of a tiered cluster
            assert data["tier"] in ("admin", "baseline", "policy")


def test_an_index_without_cluster_policies_has_no_tier_fields() -> None:
    snapshot = snap(ns("x"), pod("a", ns="x"), pod("b", ns="x"))
    index = FlowIndex.build(evaluate(snapshot))
    assert index.tiers is None
    assert index.to_dict()["tiers"] is None
    edges = _edge_tiers(index)
    assert edges
    assert all("tier" not in e for e in edges.values())


@pytest.mark.parametrize("api", [V1, V2])
def test_alike_workloads_split_into_groups_when_different_tiers_decide_them(api: str) -> None:
    # b1 and b2 get the same ports from a, but b1's through an Admin Accept: one group each,
    # and the aggregated namespace edge says some of its flows were decided by Admin.
    docs = [
        ns("x", team="front"),
        ns("y", team="back"),
        pod("a", ns="x"),
        pod("b1", ns="y", labels={"app": "b", "id": "1"}),
        pod("b2", ns="y", labels={"app": "b", "id": "2"}),
        tier_policy(api, "Admin", "b1", pods_sel(id="1"), ingress=[rule("Accept", ALL_NS)]),
    ]
    index = FlowIndex.build(evaluate(snap(*docs)))
    edges = _edge_tiers(index)
    assert edges[("x/a[Pod]", "y/b1[Pod]")]["tier"] == "admin"
    assert edges[("x/a[Pod]", "y/b2[Pod]")]["tier"] == "policy"
    assert edges[("x/a[Pod]", "y/b1[Pod]")]["label"] == edges[("x/a[Pod]", "y/b2[Pod]")]["label"]
    aggregated = {(e["data"]["source"], e["data"]["target"]): e["data"]
                  for e in index.aggregated["edges"]}  # fmt: skip
    assert aggregated[("ns:x", "ns:y")]["tier"] == "admin"
    assert aggregated[("ns:y", "ns:x")]["tier"] == "policy"
