"""The five output formats, on one small cluster."""

from __future__ import annotations

import csv
import io
import json

import pytest

from policies.engine import evaluate
from policies.engine.connectivity import Endpoint, Flow
from policies.engine.formats import _CHUNK, _PINNED, render
from policies.engine.intervals import PortSet

from .helpers import pod, policy, snap


@pytest.fixture
def flows():
    deny = policy(
        "b-in",
        "podSelector: {matchLabels: {app: b}}\ningress:\n- ports: [{port: 80}, {port: 53, protocol: UDP}]",
    )
    return list(evaluate(snap(pod("a"), pod("b"), deny)).flows())


def test_txt_is_sorted_src_dst_conns_lines(flows) -> None:
    assert render(flows, "txt").splitlines() == [
        "0.0.0.0-255.255.255.255 => default/a[Pod] : All Connections",
        "0.0.0.0-255.255.255.255 => default/b[Pod] : TCP 80,UDP 53",
        "default/a[Pod] => 0.0.0.0-255.255.255.255 : All Connections",
        "default/a[Pod] => default/b[Pod] : TCP 80,UDP 53",
        "default/b[Pod] => 0.0.0.0-255.255.255.255 : All Connections",
        "default/b[Pod] => default/a[Pod] : All Connections",
    ]


def test_json_is_the_design_contract(flows) -> None:
    data = json.loads(render(flows, "json"))
    assert list(data) == ["connections"]
    assert {
        "src": "default/a[Pod]",
        "dst": "default/b[Pod]",
        "conns": {"TCP": "80", "UDP": "53"},
    } in data["connections"]
    assert {"src": "default/b[Pod]", "dst": "default/a[Pod]", "conns": "All Connections"} in data[
        "connections"
    ]


def test_csv_has_a_header_row(flows) -> None:
    rows = list(csv.reader(io.StringIO(render(flows, "csv"))))
    assert rows[0] == ["src", "dst", "conn"]
    assert ["default/a[Pod]", "default/b[Pod]", "TCP 80,UDP 53"] in rows


def test_md_is_a_table(flows) -> None:
    lines = render(flows, "md").splitlines()
    assert lines[0] == "| src | dst | conn |"
    assert "| default/a[Pod] | default/b[Pod] | TCP 80,UDP 53 |" in lines


def test_dot_has_namespaces_as_clusters_and_labelled_edges(flows) -> None:
    text = render(flows, "dot")
    assert text.startswith("digraph netviz {")
    assert 'subgraph cluster_0 {\n    label="default";' in text
    assert '"default/a[Pod]" -> "default/b[Pod]" [label="TCP 80,UDP 53"];' in text
    assert '"0.0.0.0-255.255.255.255" [shape=ellipse];' in text


def test_unknown_format_is_refused(flows) -> None:
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render(flows, "xml")


def _expected_record(src: str, dst: str, ports: PortSet) -> dict[str, object]:
    return {"src": src, "dst": dst, "conns": ports.to_conns()}


@pytest.mark.parametrize("count", [400, _PINNED + 600])
def test_json_and_txt_name_the_ports_of_each_flow_when_port_sets_come_and_go(count) -> None:
    # --focus-conn narrows the ports of every flow into a new object that is freed once
    # written: an id reused by the next flow's port set must not bring back the last text,
    # before and after the writers stop pinning new port sets.
    texts = ["TCP 80", "UDP 53", "TCP 80-90,SCTP 7", "All Connections"]
    a, b = Endpoint("ns/a[Pod]"), Endpoint("ns/b[Pod]")

    def fresh():
        for i in range(count):
            src, dst = (a, b) if i % 3 else (b, a)
            yield Flow(src, dst, PortSet.parse(texts[i * 7 % len(texts)]))

    records = json.loads(render(fresh(), "json"))["connections"]
    assert records == [
        _expected_record(f.src.id, f.dst.id, f.ports)
        for f in [Flow(f.src, f.dst, f.ports) for f in fresh()]
    ]
    assert render(fresh(), "txt").splitlines() == [
        f"{f.src.id} => {f.dst.id} : {f.ports}" for f in fresh()
    ]


def test_json_and_txt_over_many_chunks_match_record_by_record() -> None:
    # More flows than one written chunk, endpoints made anew per flow (equal ids, other
    # objects), and ids that need JSON escaping.
    n = 3 * _CHUNK + 5
    ports = [PortSet.parse("tcp-80"), PortSet.all(), PortSet.parse("udp 53,60-70")]
    flows = [
        Flow(Endpoint(f'ns/a"{i % 11}\\[Pod]'), Endpoint(f"ns/b{i}[Pod]"), ports[i % 3])
        for i in range(n)
    ]
    text = render(flows, "json")
    assert json.loads(text)["connections"] == [
        _expected_record(f.src.id, f.dst.id, f.ports) for f in flows
    ]
    assert text.startswith('{"connections": [\n  {"src": ')
    assert text.endswith("}\n]}\n")
    assert text.count("\n") == n + 2  # the opening line, one per record, the closing one
    assert render(flows, "txt").splitlines() == [
        f"{f.src.id} => {f.dst.id} : {f.ports}" for f in flows
    ]


def test_no_flow_is_an_empty_list() -> None:
    assert render([], "json") == '{"connections": []}\n'
    assert render([], "txt") == ""
