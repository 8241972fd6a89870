"""The flow index and its views: Cytoscape elements, namespace aggregation and the matrix."""

from __future__ import annotations

import json

import pytest

from policies.engine import evaluate, load_paths
from policies.engine.graph import (
    FlowIndex,
    FlowList,
    endpoint_label,
    external_label,
    to_networkx,
)

from .helpers import pod, policy, snap


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
    everything = range(len(index.nodes))
    els = index.full(everything, index.view_edges(everything))
    by_id = {n["data"]["id"]: n["data"] for n in els["nodes"]}
    assert by_id["ns:app"]["type"] == "namespace"
    assert by_id["db/pg[Pod]"]["parent"] == "ns:db"
    assert by_id["db/pg[Pod]"]["isolation"] == "ingress"
    assert by_id["app/web[Pod]"]["isolation"] == "open"
    assert by_id["0.0.0.0-255.255.255.255"]["label"] == "internet"
    edge = next(e["data"] for e in els["edges"] if e["data"]["id"] == "app/web[Pod]->db/pg[Pod]")
    assert edge["label"] == "TCP 5432"


def _member_flows(index: FlowIndex) -> dict[tuple[str, str], str]:
    everything = range(len(index.nodes))
    flows = FlowList(index.view_edges(everything))
    got = {(index.nodes[s]["id"], index.nodes[d]["id"]): index.ports[p][0] for s, d, p in flows}
    assert len(got) == len(flows) == index.flow_count  # each flow once
    return got


def test_the_index_holds_every_flow_once_with_its_ports() -> None:
    conn = _conn()
    index = FlowIndex.build(conn)
    assert _member_flows(index) == {(f.src.id, f.dst.id): str(f.ports) for f in conn.flows()}
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
    everything = range(len(index.nodes))
    out = index.aggregate(everything, index.view_edges(everything), expand={"db"})
    ids = {n["data"]["id"]: n["data"]["type"] for n in out["nodes"]}
    assert ids["ns:db"] == "namespace"
    assert ids["db/pg[Pod]"] == "workload"
    assert ids["ns:app"] == "namespace-aggregate"
    edge = next(e["data"] for e in out["edges"] if e["data"]["id"] == "ns:app->db/pg[Pod]")
    assert (edge["flows"], edge["label"]) == (2, "TCP 5432")


def test_matrix_cells_say_all_some_or_none() -> None:
    index = _index()
    m = index.namespace_matrix
    assert m["keys"] == ["app", "db", "ext:"]  # every external address as one last row
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


def test_workloads_alike_form_one_group_and_the_answer_stays_exact() -> None:
    # web and api are one group (no policy tells them apart); pg is isolated on its own.
    index = _index()
    groups = [sorted(index.nodes[i]["id"] for i in g) for g in index.groups]
    assert ["app/api[Pod]", "app/web[Pod]"] in groups
    assert ["db/pg[Pod]"] in groups


@pytest.mark.parametrize(("pods", "namespaces"), [(1, 1), (2, 1), (40, 1), (60, 3)])
def test_an_open_cluster_is_a_group_per_namespace_however_many_pods(pods, namespaces) -> None:
    # No policy: every pod reaches every other and the outside. The index holds a group per
    # namespace and an edge per pair of groups, whatever the number of pods.
    docs = [pod(f"p{i}", ns=f"ns{i % namespaces}") for i in range(pods)]
    conn = evaluate(snap(*docs))
    index = FlowIndex.build(conn)
    workload_groups = [g for g in index.groups if index.is_workload(g[0])]
    assert len(workload_groups) == namespaces
    assert len(index.edges) <= (namespaces + 1) ** 2
    assert index.flow_count == pods * (pods - 1) + 2 * pods
    if pods <= 40:
        assert _member_flows(index) == {(f.src.id, f.dst.id): str(f.ports) for f in conn.flows()}


def test_a_big_group_is_drawn_as_one_node_and_its_flows_are_counted() -> None:
    index = FlowIndex.build(evaluate(snap(*(pod(f"p{i}", ns="big") for i in range(30)))))
    everything = range(len(index.nodes))
    out = index.full(everything, index.view_edges(everything))
    [group] = [n["data"] for n in out["nodes"] if n["data"]["type"] == "group"]
    assert group["workloads"] == 30
    assert group["parent"] == "ns:big"
    loop = next(e["data"] for e in out["edges"] if e["data"]["source"] == e["data"]["target"])
    assert loop["flows"] == 30 * 29
    assert loop["label"] == "All Connections"
    assert len(out["nodes"]) == 3  # the namespace, the group, the internet


def test_a_page_of_flows_expands_only_that_page() -> None:
    index = FlowIndex.build(evaluate(snap(*(pod(f"p{i:02}", ns="big") for i in range(30)))))
    flows = index.flows_between("ns:big", "ns:big")
    assert len(flows) == 30 * 29
    everything = list(flows)
    assert flows[100:110] == everything[100:110]
    assert flows[-1] == everything[-1]
    assert all(s != d for s, d, _ in everything)


def _corpus_inputs() -> list:
    from .test_corpus import ADMIN_CASES, CASES

    return [pytest.param(case / "input", id=case.name) for case in (*CASES, *ADMIN_CASES)]


@pytest.mark.parametrize("folder", _corpus_inputs())
def test_the_grouped_index_lists_exactly_the_engines_flows(folder) -> None:
    # Every corpus case, NetworkPolicy and cluster tiers alike: the index built from the
    # classes expands to the very flows the engine lists one by one, in the same order.
    conn = evaluate(load_paths([folder]))
    index = FlowIndex.build(conn)
    expected = [
        {"src": f.src.id, "dst": f.dst.id, "conns": f.ports.to_conns()} for f in conn.flows()
    ]
    assert list(index.connections()) == expected
    assert index.flow_count == len(expected)


@pytest.mark.parametrize(
    ("ident", "label"),
    [
        # every IPv4 address
        ("0.0.0.0-255.255.255.255", "internet"),
        # one block, as its ipBlock wrote it
        ("10.0.0.0-10.255.255.255", "10.0.0.0/8"),
        # the private ranges excepted: what is left reads as a complement
        (
            "0.0.0.0-9.255.255.255,11.0.0.0-172.15.255.255,"
            "172.32.0.0-192.167.255.255,192.169.0.0-255.255.255.255",
            "internet except 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16",
        ),
        # a cidr with an except of its own: the CIDRs that are left
        ("203.0.113.0-203.0.113.191", "203.0.113.0/25, 203.0.113.128/26"),
        # both families whole
        (
            "0.0.0.0-255.255.255.255,::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "internet (IPv4 and IPv6)",
        ),
        # an IPv6 block
        ("2001:db8::-2001:db8:0:ffff:ffff:ffff:ffff:ffff", "2001:db8::/48"),
    ],
)
def test_external_endpoints_are_named_as_cidrs_or_the_internet_except_some(ident, label):
    assert external_label(ident) == label


def test_a_long_list_of_cidrs_names_the_first_and_counts_the_rest():
    assert external_label("10.0.0.1-10.0.0.200", limit=2) == "10.0.0.1/32, 10.0.0.2/31 (+8 more)"


def test_a_workload_id_reads_as_itself_and_a_range_as_cidrs():
    assert endpoint_label("ns/web[Deployment]") == "ns/web[Deployment]"
    assert endpoint_label("10.0.0.0-10.255.255.255") == "10.0.0.0/8"
