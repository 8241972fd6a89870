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
  // every edge label drawn (its style's label, as Cytoscape draws it) against node titles
  // and the other drawn edge labels
  const only = { includeNodes: false, includeEdges: false, includeLabels: true,
                 includeSourceLabels: false, includeOverlays: false, includeUnderlays: false };
  const mainOnly = { ...only, includeMainLabels: true, includeTargetLabels: false };
  const targetOnly = { ...only, includeMainLabels: false, includeTargetLabels: true };
  const real = (b) => b.w > 0 && b.h > 0;
  const titles = cy.nodes().filter((n) => n.visible()).map((n) => [n.id(),
    n.isParent() ? n.boundingBox({ ...only, includeMainLabels: true }) : box(n)]).filter(([, b]) => real(b));
  const labels = [];
  cy.edges().filter((e) => e.visible()).forEach((e) => {
    if (e.style("label")) labels.push([e, e.boundingBox(mainOnly)]);
    if (e.style("target-label")) labels.push([e, e.boundingBox(targetOnly)]);
  });
  const covered = [];
  labels.forEach(([e, b], i) => {
    if (!real(b)) return;
    for (const [id, t] of titles) if (meet(b, t)) covered.push([e.id(), id]);
    for (const [f, c] of labels.slice(i + 1)) {
      if (f !== e && real(c) && meet(b, c)) covered.push([e.id(), f.id()]);
    }
  });
  // every edge between two nodes, as drawn (its line, or its curve sampled), against the
  // bodies of the other nodes: one it passes through must be drawn under it, not over it
  const path = (e) => {
    const s = e.source().position(), t = e.target().position();
    const cp = e.controlPoints();
    if (!cp || cp.length !== 1) return [s, t];
    const a = e.sourceEndpoint(), b = e.targetEndpoint(), c = cp[0];
    return Array.from({ length: 21 }, (_, i) => {
      const k = i / 20;
      return { x: (1 - k) ** 2 * a.x + 2 * (1 - k) * k * c.x + k * k * b.x,
               y: (1 - k) ** 2 * a.y + 2 * (1 - k) * k * c.y + k * k * b.y };
    });
  };
  const cuts = (p, q, r) => {  // does segment p-q pass through the inside of box r?
    let lo = 0, hi = 1;
    const d = { x: q.x - p.x, y: q.y - p.y };
    for (const [a, b] of [[-d.x, p.x - r.x1], [d.x, r.x2 - p.x], [-d.y, p.y - r.y1], [d.y, r.y2 - p.y]]) {
      if (a === 0) { if (b <= 0) return false; continue; }
      const v = b / a;
      if (a < 0) lo = Math.max(lo, v); else hi = Math.min(hi, v);
      if (lo >= hi) return false;
    }
    return true;
  };
  const bodies = leaves.map((n) => {
    const b = n.boundingBox({ includeLabels: false, includeOverlays: false });
    return [n, { x1: b.x1 + 1, y1: b.y1 + 1, x2: b.x2 - 1, y2: b.y2 - 1 }];
  });
  const passing = [];
  const hidden = [];
  cy.edges().filter((e) => e.visible() && !e.isLoop() && !e.source().isParent() && !e.target().isParent())
    .forEach((e) => {
      const pts = path(e);
      for (const [n, r] of bodies) {
        if (n.same(e.source()) || n.same(e.target())) continue;
        if (!pts.some((p, i) => i > 0 && cuts(pts[i - 1], p, r))) continue;
        passing.push([e.id(), n.id()]);
        if (rank.get(e.id()) < rank.get(n.id())) hidden.push([e.id(), n.id()]);
      }
    });
  return {
    passing: passing.length,
    hidden,
    labels: labels.length,
    covered,
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
    assert shown["covered"] == [], "edge labels cover node titles or each other"
    assert shown["hidden"] == [], "edges run under nodes they do not join"


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
    assert shown["labels"] >= 5  # labels are still drawn, only not over titles
    if layout == "grouped":
        assert shown["passing"] >= 1  # edges that pass nodes, to be drawn over them
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


BUNDLES = """() => {
  const cy = window.netviz.cy;
  const top = (n) => (n.isChild() ? n.parent().id() : n.id());
  return cy.edges(".bundle").map((b) => {
    const members = cy.edges("[!bundle]").filter(
      (e) => top(e.source()) === b.source().id() && top(e.target()) === b.target().id(),
    );
    return {
      id: b.id(),
      key: `${b.source().id()}->${b.target().id()}`,
      count: b.data("count"),
      label: b.data("display"),
      width: b.renderedStyle("width"),
      members: members.map((e) => e.id()),
      shown: members.filter((e) => e.visible()).length,
      visible: b.visible(),
    };
  });
}"""


def expected_bundles(data: dict) -> dict[str, int]:
    """From the server's graph JSON alone: the flows between two top-level nodes (a namespace
    box holding either end), for each pair with at least 4 edges."""
    parent = {n["data"]["id"]: n["data"].get("parent") for n in data["nodes"]}
    edges: dict[str, list[dict]] = {}
    for e in data["edges"]:
        s, t = e["data"]["source"], e["data"]["target"]
        a, b = parent[s] or s, parent[t] or t
        if a != b and (parent[s] or parent[t]):
            edges.setdefault(f"{a}->{b}", []).append(e["data"])
    return {k: sum(d.get("flows") or 1 for d in v) for k, v in edges.items() if len(v) >= 4}


def test_edges_between_two_namespaces_are_bundled_with_their_count(page, user, medium_parts):
    cluster = medium_cluster(user, medium_parts)
    shown = open_graph(page, f"/clusters/{cluster.pk}/?group=none")
    assert_readable(shown)  # the bundles too are drawn above the namespace boxes
    data = page.evaluate("() => window.netviz.data")
    assert len(data["edges"]) > 100  # busy enough to bundle
    bundles = page.evaluate(BUNDLES)
    assert len(bundles) >= 3
    assert {b["key"]: b["count"] for b in bundles} == expected_bundles(data)
    for b in bundles:
        assert b["visible"], b["id"]
        assert b["shown"] == 0, b["id"]
        assert str(b["count"]) in b["label"].replace(",", "")
    # wider for more flows
    widest = max(bundles, key=lambda b: b["count"])
    narrowest = min(bundles, key=lambda b: b["count"])
    assert widest["count"] > narrowest["count"]
    assert float(widest["width"][:-2]) > float(narrowest["width"][:-2])
    # every flow is still an edge of the graph, bundled or not
    flows = page.evaluate("() => window.netviz.cy.edges('[!bundle]').map((e) => e.id())")
    assert sorted(flows) == sorted(e["data"]["id"] for e in data["edges"])
    # a tap opens a bundle into its edges
    page.evaluate("id => { window.netviz.cy.getElementById(id).emit('tap'); }", widest["id"])
    after = {b["id"]: b for b in page.evaluate(BUNDLES)}
    assert widest["id"] not in after
    opened = page.evaluate(
        "ids => ids.filter((id) => window.netviz.cy.getElementById(id).visible()).length",
        widest["members"],
    )
    assert opened == len(widest["members"])


def test_a_view_with_few_edges_is_not_bundled(page, user):
    cluster = revisions.load_demo(user)
    open_graph(page, f"/clusters/{cluster.pk}/")
    data = page.evaluate("() => window.netviz.data")
    assert len(data["edges"]) <= 100
    assert page.evaluate(BUNDLES) == []


def test_the_first_view_draws_both_ways_between_two_namespaces_as_one_edge(
    page, user, medium_parts
):
    cluster = medium_cluster(user, medium_parts)
    shown = open_graph(page, f"/clusters/{cluster.pk}/")
    assert_readable(shown)
    data = page.evaluate("() => window.netviz.data")
    assert data["mode"] == "aggregated"
    drawn = page.evaluate(
        "() => window.netviz.cy.edges('[!bundle]').not('.minor').map((e) => e.id())"
    )
    flows = {e["data"]["id"]: e["data"]["flows"] for e in data["edges"]}
    ends = {e["data"]["id"]: (e["data"]["source"], e["data"]["target"]) for e in data["edges"]}
    # expected from the server's JSON: drawn edges (not loops) whose reverse is drawn too
    both = {
        tuple(sorted(ends[i])): flows[i] + flows[f"{ends[i][1]}->{ends[i][0]}"]
        for i in drawn
        if ends[i][0] != ends[i][1] and f"{ends[i][1]}->{ends[i][0]}" in drawn
    }
    bundles = page.evaluate(
        """() => window.netviz.cy.edges('.bundle').map((b) => ({
             id: b.id(), ends: [b.source().id(), b.target().id()].sort(),
             count: b.data('count'), label: b.data('display'),
             heads: [b.style('source-arrow-shape'), b.style('target-arrow-shape')],
           }))"""
    )
    assert bundles  # M has a few namespaces that talk both ways
    assert {tuple(b["ends"]): b["count"] for b in bundles} == both
    for b in bundles:
        assert f"{b['count']:,} flows" == b["label"]
        assert b["heads"] == ["triangle", "triangle"]
    # a tap opens one into its two edges
    first = bundles[0]
    a, b = first["ends"]
    page.evaluate("id => { window.netviz.cy.getElementById(id).emit('tap'); }", first["id"])
    shown_now = page.evaluate(
        "ids => ids.map((id) => window.netviz.cy.getElementById(id).nonempty()"
        " && window.netviz.cy.getElementById(id).visible())",
        [f"{a}->{b}", f"{b}->{a}", first["id"]],
    )
    assert shown_now == [True, True, False]
