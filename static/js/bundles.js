// Edge bundles: in a busy view, the many edges between the same two top-level nodes (two
// namespace boxes, or a box and a collapsed namespace or an external address) are drawn as one
// edge from box to box, labelled with how many flows it carries and as wide as that count
// says; tapping it opens it into its edges again. Pointing at a node, selecting it, or an
// edit's highlight still brings out the single edges inside a bundle.
//
// A bundle is an edge element of its own (`data.bundle`, class `bundle`, id `bundle:A->B`);
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
    { selector: "edge.bundled", style: { display: "none" } },
    {
      selector: "edge.bundled.near, edge.bundled.hl, edge.bundled:selected",
      style: { display: "element" },
    },
  ];
}

/**
 * Draws each set of at least BUNDLE_MIN drawn edges between the same two top-level nodes as
 * one bundle edge, when the view draws more than BUNDLE_ABOVE edges. Returns the bundles.
 */
export function bundleEdges(cy) {
  cy.edges(".bundle").remove();
  cy.edges(".bundled").removeClass("bundled");
  const drawn = cy.edges().not(".minor, .hl-temp");
  if (drawn.length <= BUNDLE_ABOVE) return cy.collection();
  const sets = new Map();
  drawn.forEach((edge) => {
    const a = top(edge.source());
    const b = top(edge.target());
    if (a.same(b) || !(a.isParent() || b.isParent())) return;
    const key = `${a.id()}->${b.id()}`;
    if (!sets.has(key)) sets.set(key, { a, b, edges: [] });
    sets.get(key).edges.push(edge);
  });
  const bundles = [];
  for (const [key, { a, b, edges }] of sets) {
    if (edges.length < BUNDLE_MIN) continue;
    const flows = edges.reduce((sum, edge) => sum + flowsOf(edge), 0);
    for (const edge of edges) edge.addClass("bundled");
    bundles.push({
      group: "edges",
      data: {
        id: `bundle:${key}`,
        source: a.id(),
        target: b.id(),
        bundle: true,
        count: flows,
        edges: edges.length,
        display: `${flows.toLocaleString("en")} flows`,
        weight: Math.min(2 + 1.6 * Math.log2(edges.length), 12),
      },
      classes: "bundle",
    });
  }
  return cy.add(bundles);
}

// The edges a bundle stands for.
export function bundleMembers(cy, bundle) {
  const a = bundle.source();
  const b = bundle.target();
  return cy
    .edges(".bundled")
    .filter((edge) => top(edge.source()).same(a) && top(edge.target()).same(b));
}

/** Opens a bundle: its edges are drawn again, one by one, and the bundle goes. */
export function openBundle(cy, bundle) {
  const members = bundleMembers(cy, bundle);
  cy.batch(() => {
    members.removeClass("bundled");
    bundle.remove();
  });
  return members;
}
