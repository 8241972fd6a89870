// Edge bundles: in a busy view, the many edges between the same two top-level nodes (two
// namespace boxes, or a box and a collapsed namespace or an external address) are drawn as one
// edge from box to box, and the two summed edges between two collapsed namespaces (one each
// way) as one edge with two heads; each is labelled with how many flows it carries and is as
// wide as its count says; tapping it opens it into its edges again. Pointing at a node, or an
// edit's highlight, still brings out the single edges inside a bundle.
//
// A bundle is an edge element of its own (`data.bundle`, class `bundle`, id `bundle:A->B`, or
// `bundle:A<->B` with class `both`);
// the edges it stands for stay in the graph (class `bundled`, not displayed), so the view's
// edges are still every flow it shows.

export const BUNDLE_MIN = 4; // edges between two boxes before they are drawn as one
export const BUNDLE_ABOVE = 100; // drawn edges in a view before any are bundled

// The top-level node an edge end is drawn in: its namespace box, or itself.
function top(node) {
  const parent = node.parent();
  return parent.nonempty() ? parent : node;
}

function flowsOf(edge) {
  return edge.data("flows") || 1;
}

/** The bundles' rules for the stylesheet; `colour(name)` reads css/variables.css. */
export function bundleStyles(colour) {
  return [
    {
      selector: "edge.bundle",
      style: {
        width: "data(weight)",
        "line-color": colour("graph-edge"),
        "target-arrow-color": colour("graph-edge"),
        opacity: 0.75,
        "font-weight": 600,
        // an edge between two boxes would be drawn under them (compound depth 0)
        "z-compound-depth": "top",
      },
    },
    {
      // both ways between two collapsed namespaces: faint as the summed edges are
      selector: "edge.bundle.both",
      style: {
        "source-arrow-shape": "triangle",
        "source-arrow-color": colour("graph-edge"),
        opacity: 0.45,
      },
    },
    { selector: "edge.bundled", style: { display: "none" } },
    {
      selector: "edge.bundled.near, edge.bundled.hl, edge.bundled:selected",
      style: { display: "element" },
    },
  ];
}

function bundleData(id, a, b, edges) {
  const flows = edges.reduce((sum, edge) => sum + flowsOf(edge), 0);
  return {
    id,
    source: a.id(),
    target: b.id(),
    bundle: true,
    count: flows,
    edges: edges.length,
    display: `${flows.toLocaleString("en")} flows`,
    weight: Math.min(1.5 + Math.log2(flows + 1), 12), // as wide as summed edges, and wider
  };
}

/**
 * Draws each set of at least BUNDLE_MIN drawn edges between the same two top-level nodes, one
 * of them a namespace box, as one bundle edge; and two summed edges between two collapsed
 * namespaces (or a collapsed namespace and an external address), one each way, as one edge
 * with a head at each end. Only when the view draws more than BUNDLE_ABOVE edges. Returns
 * the bundles.
 */
export function bundleEdges(cy) {
  cy.edges(".bundle").remove();
  cy.edges(".bundled").removeClass("bundled");
  const drawn = cy.edges().not(".minor, .hl-temp");
  if (drawn.length <= BUNDLE_ABOVE) return cy.collection();
  const sets = new Map();
  const ways = new Map(); // summed edges between two nodes outside any box, by the pair
  drawn.forEach((edge) => {
    const a = top(edge.source());
    const b = top(edge.target());
    if (a.same(b)) return;
    if (a.isParent() || b.isParent()) {
      const key = `${a.id()}->${b.id()}`;
      if (!sets.has(key)) sets.set(key, { a, b, edges: [] });
      sets.get(key).edges.push(edge);
    } else if (edge.data("flows")) {
      const [x, y] = a.id() < b.id() ? [a, b] : [b, a];
      const key = `${x.id()}<->${y.id()}`;
      if (!ways.has(key)) ways.set(key, { a: x, b: y, edges: [] });
      ways.get(key).edges.push(edge);
    }
  });
  const bundles = [];
  const members = new Map();
  for (const [key, { a, b, edges }] of sets) {
    if (edges.length < BUNDLE_MIN) continue;
    const data = bundleData(`bundle:${key}`, a, b, edges);
    bundles.push({ group: "edges", data, classes: "bundle" });
    members.set(`bundle:${key}`, edges);
  }
  for (const [key, { a, b, edges }] of ways) {
    if (edges.length !== 2) continue; // one way only: nothing to merge
    const data = { ...bundleData(`bundle:${key}`, a, b, edges), both: true };
    bundles.push({ group: "edges", data, classes: "bundle both" });
    members.set(`bundle:${key}`, edges);
  }
  const added = cy.add(bundles);
  added.forEach((bundle) => {
    const edges = cy.collection(members.get(bundle.id()));
    edges.addClass("bundled");
    bundle.scratch("netvizMembers", edges);
  });
  return added;
}

// The edges a bundle stands for.
export function bundleMembers(bundle) {
  return bundle.scratch("netvizMembers") || bundle.cy().collection();
}

/** Opens a bundle: its edges are drawn again, one by one, and the bundle goes. */
export function openBundle(cy, bundle) {
  const members = bundleMembers(bundle);
  cy.batch(() => {
    members.removeClass("bundled");
    bundle.remove();
  });
  return members;
}
