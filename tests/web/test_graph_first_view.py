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


def _by_id(out: dict) -> dict:
    """A view with its edges keyed by id (their order is not part of the answer)."""
    return {**out, "edges": {e["data"]["id"]: e["data"] for e in out["edges"]}}


def _general(index: FlowIndex, view: graphs.ViewFilter, monkeypatch) -> dict:
    with monkeypatch.context() as patch:
        patch.setattr(graphs, "_expand_only", lambda index, f: False)
        return graphs._elements(index, view)


@pytest.fixture(scope="module")
def tiered() -> FlowIndex:
    data = REPO / "tests" / "data" / "web"
    return _index([("tiers.yaml", (data / "tiers.yaml").read_text())])


@pytest.mark.parametrize("group", ["auto", "ns"])
def test_opening_namespaces_answers_as_the_walk_over_every_flow(generated_m, group, monkeypatch):
    names = sorted(generated_m.namespace_sizes)
    looked_at = []
    walk = generated_m.view_edges

    def counted(*args, among=None, **kwargs):
        looked_at.append(len(generated_m.edges) if among is None else len(among))
        return walk(*args, among=among, **kwargs)

    for expand in (*names, f"{names[0]},{names[-1]}"):
        view, errors = graphs.parse_filter(QueryDict(f"group={group}&expand={expand}"))
        assert not errors
        monkeypatch.setattr(generated_m, "view_edges", counted)
        fast = graphs.elements(generated_m, view)
        monkeypatch.undo()
        assert _by_id(fast) == _by_id(_general(generated_m, view, monkeypatch)), expand
        assert fast["expanded"] == sorted(expand.split(","))
    # each opening looked at the edges of one namespace's groups (or two), not at all of them
    assert max(looked_at) < len(generated_m.edges) / 4


@pytest.mark.parametrize("name", ["shop", "tiered"])
def test_opening_a_namespace_of_a_small_grouped_view_answers_the_same(name, request, monkeypatch):
    index = request.getfixturevalue(name)
    for namespace in sorted(index.namespace_sizes):
        view, _ = graphs.parse_filter(QueryDict(f"group=ns&expand={namespace}"))
        assert graphs._expand_only(index, view)
        fast = graphs.elements(index, view)
        assert _by_id(fast) == _by_id(_general(index, view, monkeypatch))
    if name == "tiered":
        assert index.tiers is not None
        assert any("tier" in e["data"] for e in fast["edges"])
