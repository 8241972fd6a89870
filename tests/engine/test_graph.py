"""Graph views: Cytoscape elements, namespace aggregation and the matrix."""

from __future__ import annotations

from policies.engine import evaluate
from policies.engine.graph import aggregate, cytoscape_elements, matrix, to_networkx

from .helpers import pod, policy, snap


def _graph():
    deny = policy("deny", "podSelector: {}\npolicyTypes: [Ingress]", ns="db")
    allow = policy(
        "allow",
        "podSelector: {}\ningress:\n- from: [{namespaceSelector: {}}]\n  ports: [{port: 5432}]",
        ns="db",
    )
    return to_networkx(
        evaluate(snap(pod("web", ns="app"), pod("api", ns="app"), pod("pg", ns="db"), deny, allow))
    )


def test_full_view_has_namespaces_as_compound_nodes_and_isolation_states() -> None:
    els = cytoscape_elements(_graph())
    by_id = {n["data"]["id"]: n["data"] for n in els["nodes"]}
    assert by_id["ns:app"]["type"] == "namespace"
    assert by_id["db/pg[Pod]"]["parent"] == "ns:db"
    assert by_id["db/pg[Pod]"]["isolation"] == "ingress"
    assert by_id["app/web[Pod]"]["isolation"] == "open"
    assert by_id["0.0.0.0-255.255.255.255"]["label"] == "internet"
    edge = next(e["data"] for e in els["edges"] if e["data"]["id"] == "app/web[Pod]->db/pg[Pod]")
    assert edge["label"] == "TCP 5432"


def test_aggregation_collapses_namespaces_and_sums_edges() -> None:
    agg = aggregate(_graph())
    ids = sorted(n["data"]["id"] for n in agg["nodes"])
    assert ids == ["0.0.0.0-255.255.255.255", "ns:app", "ns:db"]
    edge = next(e["data"] for e in agg["edges"] if e["data"]["id"] == "ns:app->ns:db")
    assert edge["flows"] == 2
    assert edge["label"] == "TCP 5432"


def test_matrix_cells_say_all_some_or_none() -> None:
    m = matrix(_graph())
    assert m["keys"] == ["app", "db"]
    assert m["cells"][0][1] == {"state": "some", "ports": "TCP 5432"}
    assert m["cells"][1][0]["state"] == "all"
    inner = matrix(_graph(), "app")
    assert inner["labels"] == ["api", "web"]
    assert inner["cells"][0][1]["state"] == "all"
