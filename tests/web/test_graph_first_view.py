"""The graph's first view (the whole cluster, aggregated) is answered from what the index
stored when it was made, without walking its edges: it must be exactly what the general
path computes, on a generated cluster above the aggregation threshold and on small ones."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.http import QueryDict

from policies import engine, graphs
from policies.engine.graph import FlowIndex

REPO = Path(__file__).resolve().parents[2]


def _index(files: list[tuple[str, str]]) -> FlowIndex:
    built = FlowIndex.build(engine.evaluate(engine.load_documents(files)))
    return FlowIndex.from_dict(built.to_dict())  # as views get it: read back from its row


@pytest.fixture(scope="module")
def generated_m(tmp_path_factory) -> FlowIndex:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import generate
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    out = tmp_path_factory.mktemp("M")
    generate.generate("M", out)
    return _index([(p.name, p.read_text()) for p in sorted(out.glob("*.yaml"))])


@pytest.fixture(scope="module")
def shop() -> FlowIndex:
    data = REPO / "tests" / "data" / "web"
    return _index([(n, (data / n).read_text()) for n in ("shop.yaml", "shop-policies.yaml")])


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("", True),
        ("group=ns", True),
        ("group=none", False),
        ("ext=0", False),
        ("expand={namespace}", False),
        ("ns={namespace}", False),
        ("group=ns&port=53", False),
    ],
)
def test_the_first_view_is_the_general_answer_at_scale(generated_m, query, first):
    assert generated_m.workloads > graphs.AGGREGATE_ABOVE
    query = query.format(namespace=sorted(generated_m.namespace_sizes)[0])
    view, errors = graphs.parse_filter(QueryDict(query))
    assert not errors
    assert graphs._first_view(generated_m, view) is first
    assert graphs.elements(generated_m, view) == graphs._elements(generated_m, view)


def test_the_first_view_of_a_small_cluster_is_its_full_view_unless_grouped(shop):
    auto, _ = graphs.parse_filter(QueryDict(""))
    assert not graphs._first_view(shop, auto)
    assert graphs.elements(shop, auto)["mode"] == "full"
    grouped, _ = graphs.parse_filter(QueryDict("group=ns"))
    assert graphs._first_view(shop, grouped)
    assert graphs.elements(shop, grouped) == graphs._elements(shop, grouped)


def test_the_first_view_does_not_walk_the_edges(generated_m, monkeypatch):
    def walked(*args, **kwargs):
        raise AssertionError("the first view walked the edges")

    monkeypatch.setattr(generated_m, "view_edges", walked)
    view, _ = graphs.parse_filter(QueryDict(""))
    out = graphs.elements(generated_m, view)
    assert out["stats"]["shown_flows"] == generated_m.flow_count > 0
