"""The graph's geometry, measured through window.netviz.cy after each layout: no two nodes
overlap, external addresses lie outside every namespace box, and edges are drawn above the
namespace boxes. On the demo and on the benchmark generator's medium cluster (M, ~360
workloads in 20 namespaces), whose first view is collapsed and whose full view is not.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from policies import analysis, engine, revisions, snapshots
from policies.engine.graph import FlowIndex
from policies.models import Revision, RevisionGraph
from tests.browser.conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every pair of drawn, non-compound nodes whose boxes (labels included) intersect; every
# external node whose box meets a namespace box; and the drawing order of edges against
# namespace boxes (Cytoscape draws in sortByZIndex order, first at the bottom).
GEOMETRY = """() => {
  const cy = window.netviz.cy;
  const box = (n) => n.boundingBox({ includeLabels: true, includeOverlays: false });
  const meet = (a, b) => a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2;
  const leaves = cy.nodes(":childless").filter((n) => n.visible());
  const boxes = leaves.map((n) => [n.id(), box(n)]);
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      if (meet(boxes[i][1], boxes[j][1])) overlaps.push([boxes[i][0], boxes[j][0]]);
    }
  }
  const spaces = cy.nodes("[type='namespace']");
  const inside = [];
  cy.nodes("[type='external']").forEach((ext) => {
    spaces.forEach((ns) => {
      if (meet(box(ext), box(ns))) inside.push([ext.id(), ns.id()]);
    });
  });
  const order = cy.elements().sortByZIndex();
  const rank = new Map(order.map((ele, i) => [ele.id(), i]));
  const boxRanks = spaces.map((ns) => rank.get(ns.id()));
  const edgeRanks = cy.edges().map((e) => rank.get(e.id()));
  return {
    nodes: leaves.length,
    namespaces: spaces.length,
    externals: cy.nodes("[type='external']").length,
    edges: cy.edges().length,
    overlaps,
    inside,
    topBox: boxRanks.length ? Math.max(...boxRanks) : -1,
    lowestEdge: edgeRanks.length ? Math.min(...edgeRanks) : Infinity,
  };
}"""


def open_graph(page, url: str) -> dict:
    page.goto(url)
    page.wait_for_function("() => window.netviz && window.netviz.loads >= 1")
    return page.evaluate(GEOMETRY)


def assert_readable(shown: dict) -> None:
    assert shown["overlaps"] == [], f"{len(shown['overlaps'])} overlapping pairs"
    assert shown["inside"] == [], "external nodes drawn inside a namespace box"
    assert shown["topBox"] < shown["lowestEdge"], "an edge is drawn under a namespace box"


@pytest.fixture(scope="module")
def medium_parts(tmp_path_factory):
    """benchmarks/generate.py M: its snapshot and graph index, computed once."""
    outdir = tmp_path_factory.mktemp("cluster-M")
    script = REPO / "benchmarks" / "generate.py"
    subprocess.run([sys.executable, str(script), "M", str(outdir)], check=True, capture_output=True)
    files = [(path.name, path.read_bytes()) for path in sorted(outdir.glob("*.yaml"))]
    snapshot = snapshots.parse_manifests(files)
    return snapshot, FlowIndex.build(engine.evaluate(snapshot)).to_dict()


def medium_cluster(user, parts):
    snapshot, graph = parts
    cluster = revisions.create_cluster(user, "medium", snapshot)
    RevisionGraph.objects.update_or_create(
        revision=cluster.head, defaults={"version": analysis.CACHE_VERSION, "data": graph}
    )
    Revision.objects.filter(pk=cluster.head.pk).update(status=Revision.Status.READY, progress=100)
    return cluster


@pytest.mark.parametrize("layout", ["grouped", "cose", "dagre", "grid"])
def test_the_demo_is_drawn_without_overlaps_in_every_layout(page, user, layout):
    cluster = revisions.load_demo(user)
    shown = open_graph(page, f"/clusters/{cluster.pk}/?layout={layout}")
    # the demo has what the checks are about: boxes, external addresses, edges among them
    assert shown["namespaces"] >= 3
    assert shown["externals"] >= 1
    assert shown["edges"] >= 10
    assert_readable(shown)


def test_the_force_layout_of_a_medium_cluster_does_not_overlap(page, user, medium_parts):
    cluster = medium_cluster(user, medium_parts)
    shown = open_graph(page, f"/clusters/{cluster.pk}/?group=none&layout=cose")
    assert shown["namespaces"] >= 20
    assert shown["nodes"] >= 100
    assert_readable(shown)


def test_the_first_view_of_a_medium_cluster_keeps_its_grid(page, user, medium_parts):
    cluster = medium_cluster(user, medium_parts)
    shown = open_graph(page, f"/clusters/{cluster.pk}/")
    assert page.evaluate("() => window.netviz.data.mode") == "aggregated"
    assert_readable(shown)
    # still a grid: the collapsed namespaces sit in a few rows, not a line or a cloud
    rows = page.evaluate(
        """() => new Set(window.netviz.cy.nodes("[type='namespace-aggregate']")
                   .map((n) => Math.round(n.position().y))).size"""
    )
    assert 2 <= rows <= 8
