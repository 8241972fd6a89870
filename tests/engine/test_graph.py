"""The flow index and its views: Cytoscape elements, namespace aggregation and the matrix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policies.engine import Snapshot, evaluate, load_paths, reevaluate
from policies.engine.graph import FlowIndex, to_networkx

from .helpers import pod, policy, snap

DEMO = Path(__file__).resolve().parents[2] / "policies" / "demo"


def _conn():
    deny = policy("deny", "podSelector: {}\npolicyTypes: [Ingress]", ns="db")
    allow = policy(
        "allow",
        "podSelector: {}\ningress:\n- from: [{namespaceSelector: {}}]\n  ports: [{port: 5432}]",
        ns="db",
    )
    return evaluate(
        snap(pod("web", ns="app"), pod("api", ns="app"), pod("pg", ns="db"), deny, allow)
    )


def _index() -> FlowIndex:
    return FlowIndex.build(_conn())


def test_full_view_has_namespaces_as_compound_nodes_and_isolation_states() -> None:
    index = _index()
    els = index.full(range(len(index.nodes)), index.edges)
    by_id = {n["data"]["id"]: n["data"] for n in els["nodes"]}
    assert by_id["ns:app"]["type"] == "namespace"
    assert by_id["db/pg[Pod]"]["parent"] == "ns:db"
    assert by_id["db/pg[Pod]"]["isolation"] == "ingress"
    assert by_id["app/web[Pod]"]["isolation"] == "open"
    assert by_id["0.0.0.0-255.255.255.255"]["label"] == "internet"
    edge = next(e["data"] for e in els["edges"] if e["data"]["id"] == "app/web[Pod]->db/pg[Pod]")
    assert edge["label"] == "TCP 5432"


def test_the_index_holds_every_flow_once_with_its_ports() -> None:
    conn = _conn()
    index = FlowIndex.build(conn)
    got = {
        (index.nodes[s]["id"], index.nodes[d]["id"]): index.ports[p][0] for s, d, p in index.edges
    }
    assert got == {(f.src.id, f.dst.id): str(f.ports) for f in conn.flows()}
    assert len(got) == len(index.edges)
    assert len({label for label, _ in index.ports}) == len(index.ports)


def test_aggregation_collapses_namespaces_and_sums_edges() -> None:
    agg = _index().aggregated
    ids = sorted(n["data"]["id"] for n in agg["nodes"])
    assert ids == ["0.0.0.0-255.255.255.255", "ns:app", "ns:db"]
    edge = next(e["data"] for e in agg["edges"] if e["data"]["id"] == "ns:app->ns:db")
    assert edge["flows"] == 2
    assert edge["label"] == "TCP 5432"


def test_expanding_a_namespace_keeps_its_workloads_and_sums_the_rest() -> None:
    index = _index()
    out = index.aggregate(range(len(index.nodes)), index.edges, expand={"db"})
    ids = {n["data"]["id"]: n["data"]["type"] for n in out["nodes"]}
    assert ids["ns:db"] == "namespace"
    assert ids["db/pg[Pod]"] == "workload"
    assert ids["ns:app"] == "namespace-aggregate"
    edge = next(e["data"] for e in out["edges"] if e["data"]["id"] == "ns:app->db/pg[Pod]")
    assert (edge["flows"], edge["label"]) == (2, "TCP 5432")


def test_matrix_cells_say_all_some_or_none() -> None:
    index = _index()
    m = index.namespace_matrix
    assert m["keys"] == ["app", "db"]
    assert m["cells"][0][1] == {"state": "some", "ports": "TCP 5432"}
    assert m["cells"][1][0]["state"] == "all"
    inner = index.workload_matrix("app")
    assert inner["labels"] == ["api", "web"]
    assert inner["cells"][0][1]["state"] == "all"
    assert inner["cells"][0][0]["state"] == "none"  # no flow of a workload to itself


def test_the_index_survives_a_json_round_trip() -> None:
    index = _index()
    again = FlowIndex.from_dict(json.loads(json.dumps(index.to_dict())))
    assert again.to_dict() == index.to_dict()
    assert again.port_set(0) == index.port_set(0)


def test_networkx_export_has_the_same_nodes_and_edges() -> None:
    conn = _conn()
    g = to_networkx(conn)
    assert set(g.nodes) == {ep.id for ep in conn.endpoints}
    assert {(a, b): d["ports"] for a, b, d in g.edges(data=True)} == {
        (f.src.id, f.dst.id): f.ports for f in conn.flows()
    }


def _semantic(index: FlowIndex) -> tuple:
    """What an index says, whatever order its port sets were numbered in."""
    flows = {
        (index.nodes[s]["id"], index.nodes[d]["id"]): index.ports[p][0] for s, d, p in index.edges
    }
    return index.nodes, flows, index.aggregated, index.namespace_matrix


@pytest.mark.parametrize("position", range(0, 14, 3))
def test_an_index_patched_after_an_edit_is_the_index_built_from_scratch(position) -> None:
    # Dropping one demo policy (a real edit) and adding one that opens a port: the index
    # patched from the parent's must say exactly what a full build says.
    before = evaluate(load_paths([DEMO]))
    dropped = before.snapshot.policies[position % len(before.snapshot.policies)]
    opened = snap(
        policy(
            "open-9999", "podSelector: {}\ningress:\n- ports: [{port: 9999}]", ns=dropped.namespace
        )
    ).policies[0]
    kept = tuple(p for p in before.snapshot.policies if p is not dropped)
    for policies in (kept, tuple(sorted((*kept, opened), key=lambda p: p.id))):
        after_snapshot = Snapshot(before.snapshot.namespaces, before.snapshot.workloads, policies)
        after = reevaluate(before, after_snapshot)
        assert after.changed_since(before) is not None  # the patch path, not a full build
        patched = FlowIndex.build(after, FlowIndex.build(before))
        assert _semantic(patched) == _semantic(FlowIndex.build(evaluate(after_snapshot)))


def test_a_patched_index_shows_the_isolation_an_edit_brings() -> None:
    before = evaluate(snap(pod("web", ns="app"), pod("api", ns="app"), pod("pg", ns="db")))
    deny = snap(policy("deny", "podSelector: {}\npolicyTypes: [Ingress]", ns="app")).policies
    after = reevaluate(
        before, Snapshot(before.snapshot.namespaces, before.snapshot.workloads, deny)
    )
    patched = FlowIndex.build(after, FlowIndex.build(before))
    states = {n["id"]: n.get("isolation") for n in patched.nodes}
    assert states["app/web[Pod]"] == states["app/api[Pod]"] == "ingress"
    assert states["db/pg[Pod]"] == "open"
    assert _semantic(patched) == _semantic(FlowIndex.build(evaluate(after.snapshot)))
