"""policies.graphs: the view filters over a revision's flow index, the shapes they ask for,
the selector and port syntax.

The index is built straight from the engine here (no database), through JSON as the database
stores it; the expected answers come from the engine's flows, grouped by hand.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from functools import reduce
from operator import or_

import pytest

from policies import engine, graphs
from policies.engine.graph import FlowIndex
from policies.engine.model import LabelSelector, Requirement
from policies.engine.selectors import matches
from policies.revisions import DEMO_DIR


@pytest.fixture(scope="module")
def demo_conn() -> engine.Connectivity:
    return engine.evaluate(engine.load_paths([DEMO_DIR]))


@pytest.fixture(scope="module")
def demo(demo_conn) -> FlowIndex:
    return FlowIndex.from_dict(json.loads(json.dumps(FlowIndex.build(demo_conn).to_dict())))


def by_namespace(conn: engine.Connectivity) -> dict[tuple[str, str], tuple[engine.PortSet, int]]:
    """The engine's flows summed per (namespace or external range) pair, the slow obvious way."""

    def group(ep: engine.Endpoint) -> str:
        return f"ns:{ep.workload.namespace}" if ep.workload else ep.id

    summed = defaultdict(list)
    for f in conn.flows():
        summed[(group(f.src), group(f.dst))].append(f.ports)
    return {key: (reduce(or_, ports), len(ports)) for key, ports in summed.items()}


def view(**query: str) -> graphs.ViewFilter:
    f, errors = graphs.parse_filter(query)
    assert errors == {}
    return f


def ids(out: dict, kind: str = "nodes") -> set[str]:
    return {el["data"]["id"] for el in out[kind]}


def test_the_full_view_has_every_endpoint_and_flow_and_a_box_per_namespace(demo, demo_conn):
    out = graphs.elements(demo, view())
    assert out["mode"] == "full"
    endpoints = {ep.id for ep in demo_conn.endpoints}
    namespaces = {f"ns:{w.namespace}" for w in demo_conn.snapshot.workloads}
    assert ids(out) == endpoints | namespaces
    assert ids(out, "edges") == {f"{f.src.id}->{f.dst.id}" for f in demo_conn.flows()}


def test_collapsing_every_namespace_sums_the_flows_between_namespaces(demo, demo_conn):
    out = graphs.elements(demo, view(group="ns"))
    expected = by_namespace(demo_conn)
    got = {(e["data"]["source"], e["data"]["target"]): e["data"] for e in out["edges"]}
    assert got.keys() == expected.keys()
    for key, (ports, count) in expected.items():
        assert (got[key]["label"], got[key]["flows"]) == (str(ports), count)
    namespaces = {w.namespace for w in demo_conn.snapshot.workloads}
    assert {
        n["data"]["id"] for n in out["nodes"] if n["data"]["type"] == "namespace-aggregate"
    } == {f"ns:{ns}" for ns in namespaces}


def test_regrouping_a_view_gives_the_stored_whole_cluster_aggregation(demo):
    # elements() serves the unfiltered case from the aggregation stored with the index; the
    # code that regroups filtered views must give the same answer on the same input.
    keep, edges = graphs.visible(demo, view())
    out = demo.aggregate(keep, edges)
    assert out["nodes"] == demo.aggregated["nodes"]
    assert out["edges"] == demo.aggregated["edges"]


def test_expanding_a_namespace_shows_its_workloads_and_keeps_the_rest_collapsed(demo):
    out = graphs.elements(demo, view(group="ns", expand="shop-data"))
    nodes = {el["data"]["id"]: el["data"] for el in out["nodes"]}
    assert nodes["ns:shop-data"]["type"] == "namespace"
    assert nodes["ns:shop-backend"]["type"] == "namespace-aggregate"
    assert nodes["shop-data/postgres[StatefulSet]"]["parent"] == "ns:shop-data"
    edges = {el["data"]["id"]: el["data"] for el in out["edges"]}
    # catalog and orders reach postgres on 5432: one summed edge from their namespace
    summed = edges["ns:shop-backend->shop-data/postgres[StatefulSet]"]
    assert summed["flows"] == 2
    assert summed["label"] == "TCP 5432"
    assert out["expanded"] == ["shop-data"]


def test_more_workloads_than_the_threshold_aggregate_by_themselves(demo, monkeypatch):
    monkeypatch.setattr(graphs, "AGGREGATE_ABOVE", 5)
    assert graphs.elements(demo, view())["mode"] == "aggregated"
    # narrowed to one namespace, few enough to show one by one again
    assert graphs.elements(demo, view(ns="shop-backend"))["mode"] == "full"


def test_asking_for_every_workload_of_a_huge_view_still_aggregates(demo, monkeypatch):
    monkeypatch.setattr(graphs, "AGGREGATE_ABOVE", 5)
    monkeypatch.setattr(graphs, "FULL_LIMIT", 10)
    out = graphs.elements(demo, view(group="none"))
    assert out["mode"] == "aggregated"
    assert "too many" in out["notice"]


def test_the_namespace_filter_keeps_its_workloads_and_every_flow_in_or_out(demo, demo_conn):
    out = graphs.elements(demo, view(ns="shop-data", ext="0"))
    nodes = {el["data"]["id"]: el["data"] for el in out["nodes"]}
    workloads = {i for i, d in nodes.items() if d["type"] == "workload"}
    assert workloads == {
        "shop-data/kafka[StatefulSet]",
        "shop-data/postgres[StatefulSet]",
        "shop-data/redis[StatefulSet]",
    }

    # every flow with an end in shop-data, the other end's namespace collapsed into one node
    def end(ep: engine.Endpoint) -> str | None:
        if ep.workload is None:
            return None
        return ep.id if ep.workload.namespace == "shop-data" else f"ns:{ep.workload.namespace}"

    expected = {
        f"{end(f.src)}->{end(f.dst)}"
        for f in demo_conn.flows()
        if end(f.src) and end(f.dst) and "shop-data" in (f.src.workload.namespace,
                                                         f.dst.workload.namespace)
    }  # fmt: skip
    assert ids(out, "edges") == expected
    inbound = {e for e in expected if e.endswith("[StatefulSet]") and e.startswith("ns:")}
    outbound = {e for e in expected if e.startswith("shop-data/") and "->ns:" in e}
    assert inbound
    assert outbound
    peers = {i for i, d in nodes.items() if d["type"] == "namespace-aggregate"}
    assert peers == {e.split("->")[0] for e in inbound} | {e.split("->")[1] for e in outbound}
    assert out["mode"] == "full"  # the namespace itself is drawn one workload at a time


def test_the_namespace_filter_with_a_focus_inside_keeps_the_focus_view(demo):
    out = graphs.elements(
        demo, view(ns="shop-data", focus="shop-data/postgres[StatefulSet]", dir="out")
    )
    assert all(e["data"]["source"] == "shop-data/postgres[StatefulSet]" for e in out["edges"])


def test_the_port_filter_keeps_only_who_can_reach_that_port(demo, demo_conn):
    wanted = engine.PortSet.parse("TCP 5432")
    expected = {f"{f.src.id}->{f.dst.id}" for f in demo_conn.flows() if f.ports & wanted}
    out = graphs.elements(demo, view(port="TCP 5432"))
    assert ids(out, "edges") == expected
    assert "shop-backend/catalog[Deployment]->shop-data/postgres[StatefulSet]" in expected
    assert "shop-backend/catalog[Deployment]->shop-backend/cart[Deployment]" not in expected
    # only the endpoints of those flows are left
    assert ids(out) - {i for i in ids(out) if i.startswith("ns:")} == {
        end for edge in expected for end in edge.split("->")
    }


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        # postgres is reached by catalog, orders and prometheus, and reaches only coredns
        ("in", {"catalog", "orders", "prometheus"}),
        ("out", {"coredns"}),
        ("both", {"catalog", "orders", "prometheus", "coredns"}),
    ],
)
def test_focus_shows_a_workload_and_its_neighbours_in_one_direction(demo, direction, expected):
    out = graphs.elements(demo, view(focus="shop-data/postgres[StatefulSet]", dir=direction))
    labels = {el["data"]["label"] for el in out["nodes"] if el["data"]["type"] == "workload"}
    assert labels == expected | {"postgres"}


def test_a_label_selector_keeps_the_workloads_it_matches(demo):
    out = graphs.elements(demo, view(sel="tier in (data),app!=kafka", ext="0"))
    labels = {el["data"]["label"] for el in out["nodes"] if el["data"]["type"] == "workload"}
    assert labels == {"postgres", "redis"}


def test_hiding_external_addresses_drops_them_and_their_flows(demo):
    out = graphs.elements(demo, view(ext="0"))
    assert not any(el["data"]["type"] == "external" for el in out["nodes"])
    assert all("/" in el["data"]["source"] and "/" in el["data"]["target"] for el in out["edges"])


def test_bad_parameters_are_reported_one_by_one_and_ignored(demo):
    f, errors = graphs.parse_filter({"sel": "tier in (a", "port": "tcp 99999", "dir": "up"})
    assert set(errors) == {"sel", "port", "dir"}
    assert f.selector is None
    assert f.ports is None
    assert f.direction == "both"
    assert graphs.elements(demo, f)["stats"]["shown_flows"] == len(demo.edges)


@pytest.mark.parametrize("namespace", ["shop-backend", "shop-data", "kube-system"])
def test_the_workload_matrix_has_each_pairs_ports(demo, demo_conn, namespace):
    grid = demo.workload_matrix(namespace)
    keys = grid["keys"]
    assert keys == sorted(w.id for w in demo_conn.snapshot.workloads if w.namespace == namespace)
    flows = {(f.src.id, f.dst.id): f.ports for f in demo_conn.flows()}
    for a, src in enumerate(keys):
        for b, dst in enumerate(keys):
            ports = flows.get((src, dst))
            state = "none" if not ports else "all" if ports.is_all else "some"
            assert grid["cells"][a][b] == {"state": state, "ports": str(ports) if ports else ""}


def test_the_namespace_matrix_is_the_namespace_aggregation_with_externals_as_one(demo, demo_conn):
    grid = demo.namespace_matrix
    assert grid["keys"][-1] == "ext:"
    assert grid["labels"][-1] == "external addresses"
    summed = defaultdict(list)
    for (src, dst), (ports, _) in by_namespace(demo_conn).items():
        key = tuple(k if k.startswith("ns:") else "ext:" for k in (src, dst))
        summed[key].append(ports)
    for a, src in enumerate(grid["keys"]):
        for b, dst in enumerate(grid["keys"]):
            key = tuple(k if k == "ext:" else f"ns:{k}" for k in (src, dst))
            ports = reduce(or_, summed[key]) if key in summed else None
            assert grid["cells"][a][b]["ports"] == (str(ports) if ports else "")


def test_flows_between_a_namespace_and_a_workload(demo):
    flows = graphs.flows(
        demo, demo.flows_between("ns:shop-backend", "shop-data/postgres[StatefulSet]")
    )
    assert {f.src["label"] for f in flows} == {"catalog", "orders"}
    assert flows[0].query.startswith("src=shop-backend%2F")


@pytest.mark.parametrize(
    ("text", "labels", "expressions"),
    [
        # equality, both spellings
        ("app=web", [("app", "web")], []),
        ("app==web", [("app", "web")], []),
        # inequality matches pods without the key too, as NotIn does
        ("app!=web", [], [Requirement("app", "NotIn", ("web",))]),
        # sets, with spaces around values
        ("tier in (front, api)", [], [Requirement("tier", "In", ("front", "api"))]),
        ("tier notin (db)", [], [Requirement("tier", "NotIn", ("db",))]),
        # existence
        ("legacy", [], [Requirement("legacy", "Exists")]),
        ("!legacy", [], [Requirement("legacy", "DoesNotExist")]),
        # prefixed keys and several requirements (commas inside a set do not split)
        (
            "app.kubernetes.io/name=web,tier in (a,b),!x",
            [("app.kubernetes.io/name", "web")],
            [Requirement("tier", "In", ("a", "b")), Requirement("x", "DoesNotExist")],
        ),
        # an empty value is a value
        ("app=", [("app", "")], []),
    ],
)
def test_label_selectors_parse_as_kubectl_reads_them(text, labels, expressions):
    assert graphs.parse_selector(text) == LabelSelector(tuple(labels), tuple(expressions))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tier in (a,b", "missing ')'"),
        ("tier in a,b)", "unmatched ')'"),
        ("app=web,,tier=x", "empty requirement"),
        ("app=we b", "expected key=value"),
        ("tier in (a,,b)", "is not a label value"),
    ],
)
def test_a_bad_selector_says_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        graphs.parse_selector(text)


def test_a_parsed_selector_matches_as_kubernetes_does():
    selector = graphs.parse_selector("tier in (front,api),app!=legacy")
    assert matches(selector, {"tier": "api"})
    assert not matches(selector, {"tier": "api", "app": "legacy"})
    assert not matches(selector, {"app": "web"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TCP 5432", "TCP 5432"),
        ("tcp-80", "TCP 80"),
        ("5432/TCP", "TCP 5432"),
        ("udp/53", "UDP 53"),
        # a bare number is TCP, the protocol Kubernetes defaults to
        ("8080", "TCP 8080"),
        ("8000-8100", "TCP 8000-8100"),
    ],
)
def test_ports_are_read_as_people_type_them(text, expected):
    assert str(graphs.parse_ports(text)) == expected


def test_a_port_out_of_range_is_an_error():
    with pytest.raises(ValueError, match="1-65535"):
        graphs.parse_ports("tcp 70000")
