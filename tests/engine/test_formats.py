"""The five output formats, on one small cluster."""

from __future__ import annotations

import csv
import io
import json

import pytest

from policies.engine import evaluate
from policies.engine.formats import render

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
