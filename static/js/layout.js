// Passes that run after any layout of the graph (graph.js's runLayout), so that what a layout
// leaves is readable whichever one it was:
//
// - separate(): no two nodes overlap. Force-directed (cose) and ranked (dagre) layouts only
//   try; this guarantees it, first among the workloads of each namespace box, then among the
//   boxes and the nodes outside them. External addresses are never inside a namespace box,
//   because they are top-level nodes and top-level nodes no longer overlap.
// - liftEdges(): an edge that passes a node it does not join is drawn over that node, not
//   under it (Cytoscape draws nodes over edges, so it would seem to end there).
// - quietLabels(): no edge label covers a node's title or another edge label; the labels that
//   would are shown only while their edge is pointed at or selected.
//
// Sizes are Cytoscape's bounding boxes (with labels where they count), in model coordinates.
// Nothing here reads names: it moves nodes, and sets classes the stylesheet reads.

const LEAF_GAP = 10; // between two workloads of one namespace box
const TOP_GAP = 28; // between namespace boxes and the nodes outside them
const PUSHES = 60; // rounds of local pushing before the exact fallback
const WHOLE = { includeLabels: true, includeOverlays: false, includeUnderlays: false };

function boxOf(node) {
  const bb = node.boundingBox(WHOLE);
  return { x: (bb.x1 + bb.x2) / 2, y: (bb.y1 + bb.y2) / 2, w: bb.w, h: bb.h };
}

// How far two boxes overlap along each axis, `gap` included (both > 0: they overlap).
function overlap(a, b, gap) {
  return {
    x: (a.w + b.w) / 2 + gap - Math.abs(a.x - b.x),
    y: (a.h + b.h) / 2 + gap - Math.abs(a.y - b.y),
  };
}

// Each overlapping pair, found with a sweep along x (boxes sorted by their left side).
function overlappingPairs(items, gap) {
  const order = [...items].sort((a, b) => a.x - a.w / 2 - (b.x - b.w / 2));
  const pairs = [];
  for (let i = 0; i < order.length; i++) {
    const a = order[i];
    const right = a.x + a.w / 2 + gap;
    for (let j = i + 1; j < order.length; j++) {
      const b = order[j];
      if (b.x - b.w / 2 >= right) break;
      const o = overlap(a, b, gap);
      if (o.x > 0 && o.y > 0) pairs.push([a, b, o]);
    }
  }
  return pairs;
}

/**
 * Moves the centres of `items` ({x, y, w, h}) until no two overlap with `gap` between them,
 * keeping the picture the layout made: overlapping pairs are pushed apart along the axis they
 * overlap least on; whatever is left after PUSHES rounds is settled by spreading all centres
 * from their middle by the one factor that parts every pair (it only lengthens distances, so
 * it cannot make a new overlap). Returns how many rounds it took.
 */
export function spread(items, gap) {
  items.forEach((item, i) => {
    item.i = i; // breaks ties between centres on one line
  });
  for (let round = 0; round < PUSHES; round++) {
    const pairs = overlappingPairs(items, gap);
    if (!pairs.length) return round;
    for (const [a, b, o] of pairs) {
      if (o.x <= o.y) {
        const side = a.x < b.x || (a.x === b.x && a.i < b.i) ? -1 : 1;
        a.x += (side * o.x) / 2;
        b.x -= (side * o.x) / 2;
      } else {
        const side = a.y < b.y || (a.y === b.y && a.i < b.i) ? -1 : 1;
        a.y += (side * o.y) / 2;
        b.y -= (side * o.y) / 2;
      }
    }
  }
  const pairs = overlappingPairs(items, gap);
  if (!pairs.length) return PUSHES;
  // Centres on one point cannot be spread apart: part them first.
  const seen = new Set();
  items.forEach((item, i) => {
    while (seen.has(`${item.x},${item.y}`)) item.x += 1 + (i % 7);
    seen.add(`${item.x},${item.y}`);
  });
  const mid = {
    x: items.reduce((sum, it) => sum + it.x, 0) / items.length,
    y: items.reduce((sum, it) => sum + it.y, 0) / items.length,
  };
  let factor = 1;
  for (const [a, b] of overlappingPairs(items, gap)) {
    const dx = Math.abs(a.x - b.x);
    const dy = Math.abs(a.y - b.y);
    const needX = dx ? ((a.w + b.w) / 2 + gap) / dx : Infinity;
    const needY = dy ? ((a.h + b.h) / 2 + gap) / dy : Infinity;
    factor = Math.max(factor, Math.min(needX, needY) * 1.001);
  }
  for (const item of items) {
    item.x = mid.x + (item.x - mid.x) * factor;
    item.y = mid.y + (item.y - mid.y) * factor;
  }
  return PUSHES + 1;
}

function moveBy(nodes, dx, dy) {
  if (!dx && !dy) return;
  nodes.forEach((n) => {
    const p = n.position();
    n.position({ x: p.x + dx, y: p.y + dy });
  });
}

/**
 * Parts every overlapping pair of nodes: the workloads inside each namespace box, then the
 * boxes and the nodes outside any box (external addresses, collapsed namespaces), which move
 * with everything inside them. Returns the number of nodes or boxes that moved.
 */
export function separate(cy) {
  let moved = 0;
  // Inside each box: its children (workloads and groups of alike workloads).
  cy.nodes(":parent").forEach((box) => {
    const kids = box.children();
    if (kids.length < 2) return;
    const items = kids.map((node) => ({ node, ...boxOf(node) }));
    const before = items.map((it) => ({ x: it.x, y: it.y }));
    spread(items, LEAF_GAP);
    items.forEach((it, i) => {
      const dx = it.x - before[i].x;
      const dy = it.y - before[i].y;
      if (dx || dy) {
        moveBy(it.node, dx, dy);
        moved += 1;
      }
    });
  });
  // Then the top level: boxes (with what they hold) and the nodes outside any box.
  const tops = cy.nodes().orphans();
  if (tops.length < 2) return moved;
  const items = tops.map((node) => ({ node, ...boxOf(node) }));
  const before = items.map((it) => ({ x: it.x, y: it.y }));
  spread(items, TOP_GAP);
  items.forEach((it, i) => {
    const dx = it.x - before[i].x;
    const dy = it.y - before[i].y;
    if (!dx && !dy) return;
    const inside = it.node.descendants().filter((n) => !n.isParent());
    moveBy(it.node.isParent() ? inside : it.node, dx, dy);
    moved += 1;
  });
  return moved;
}

// --- labels ------------------------------------------------------------------------------------

const LABEL_ONLY = {
  includeNodes: false,
  includeEdges: false,
  includeLabels: true,
  includeMainLabels: true,
  includeSourceLabels: false,
  includeTargetLabels: false,
  includeOverlays: false,
  includeUnderlays: false,
};
const TARGET_LABEL_ONLY = { ...LABEL_ONLY, includeMainLabels: false, includeTargetLabels: true };

// The boxes of an edge's labels: the one along it, and the one at its target (each may be
// empty). One box for both would span the whole edge.
function labelBoxes(edge) {
  return [edge.boundingBox(LABEL_ONLY), edge.boundingBox(TARGET_LABEL_ONLY)].filter(
    (box) => box.w > 0 && box.h > 0 && Number.isFinite(box.x1),
  );
}

const meets = (a, b) => a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2;

// Boxes in cells of a coarse grid, to find the few near a given box.
class Cells {
  constructor(size) {
    this.size = size;
    this.cells = new Map();
  }

  *keys(box) {
    const s = this.size;
    for (let x = Math.floor(box.x1 / s); x <= Math.floor(box.x2 / s); x++) {
      for (let y = Math.floor(box.y1 / s); y <= Math.floor(box.y2 / s); y++) yield `${x},${y}`;
    }
  }

  add(box) {
    for (const key of this.keys(box)) {
      if (!this.cells.has(key)) this.cells.set(key, []);
      this.cells.get(key).push(box);
    }
  }

  // The boxes in the cells the segment from `p` to `q` passes through, cell by cell along it
  // (Amanatides and Woo's walk), a box once per cell it is in.
  *along(p, q) {
    const s = this.size;
    let x = Math.floor(p.x / s);
    let y = Math.floor(p.y / s);
    const lastX = Math.floor(q.x / s);
    const lastY = Math.floor(q.y / s);
    const dx = q.x - p.x;
    const dy = q.y - p.y;
    const stepX = Math.sign(dx);
    const stepY = Math.sign(dy);
    let nextX = dx ? ((stepX > 0 ? x + 1 : x) * s - p.x) / dx : Infinity;
    let nextY = dy ? ((stepY > 0 ? y + 1 : y) * s - p.y) / dy : Infinity;
    const everyX = dx ? s / Math.abs(dx) : Infinity;
    const everyY = dy ? s / Math.abs(dy) : Infinity;
    for (let steps = 0; steps < 100000; steps++) {
      yield* this.cells.get(`${x},${y}`) || [];
      if (x === lastX && y === lastY) return;
      if (nextX < nextY) {
        nextX += everyX;
        x += stepX;
      } else {
        nextY += everyY;
        y += stepY;
      }
    }
  }

  hits(box) {
    for (const key of this.keys(box)) {
      for (const other of this.cells.get(key) || []) if (meets(box, other)) return true;
    }
    return false;
  }
}

/** The stylesheet's rules for labels that quietLabels() hides. */
export function labelStyles() {
  return [
    { selector: "edge.quiet", style: { label: "", "target-label": "" } },
    {
      selector: "edge.quiet.near, edge.quiet:selected",
      style: { label: "data(display)" },
    },
    {
      selector: "edge.quiet.near[tlabel], edge.quiet:selected[tlabel]",
      style: { "target-label": "data(tlabel)" },
    },
  ];
}

/**
 * Hides the label of each edge that would cover a node's title (a namespace box's name, a
 * workload, an external address's or a collapsed namespace's name) or an edge label already
 * kept, busiest edges first; a hidden label comes back while its edge is pointed at or
 * selected. Returns how many were hidden.
 */
export function quietLabels(cy) {
  cy.edges(".quiet").removeClass("quiet");
  const titles = new Cells(120);
  cy.nodes()
    .filter((n) => n.visible())
    .forEach((n) => {
      // a workload's label is inside its node, which is drawn over edges anyway: all of it
      const box = n.isParent() ? n.boundingBox(LABEL_ONLY) : n.boundingBox(WHOLE);
      if (box.w > 0 && box.h > 0) titles.add(box);
    });
  const kept = new Cells(120);
  const weight = (e) => e.data("count") || e.data("flows") || 0;
  const labelled = cy
    .edges()
    .filter((e) => e.visible() && (e.data("display") || e.data("tlabel")))
    .sort((a, b) => weight(b) - weight(a));
  const quiet = [];
  labelled.forEach((edge) => {
    const boxes = labelBoxes(edge);
    if (boxes.some((box) => titles.hits(box) || kept.hits(box))) quiet.push(edge);
    else for (const box of boxes) kept.add(box);
  });
  cy.collection(quiet).addClass("quiet");
  return quiet.length;
}

// --- edges over nodes --------------------------------------------------------------------------

const LIFT_MAX_EDGES = 8000; // beyond, a hairball either way: the default order is kept

// Whether the segment from `p` to `q` passes through the inside of `box` (Liang and Barsky's
// clipping).
function crosses(p, q, box) {
  const dx = q.x - p.x;
  const dy = q.y - p.y;
  let lo = 0;
  let hi = 1;
  for (const [a, b] of [
    [-dx, p.x - box.x1],
    [dx, box.x2 - p.x],
    [-dy, p.y - box.y1],
    [dy, box.y2 - p.y],
  ]) {
    if (a === 0) {
      if (b <= 0) return false;
      continue;
    }
    const r = b / a;
    if (a < 0) lo = Math.max(lo, r);
    else hi = Math.min(hi, r);
    if (lo >= hi) return false;
  }
  return true;
}

// An edge as drawn: its straight line, or the curve Cytoscape bends one of two edges between
// the same nodes into (a quadratic curve through one control point), as a polyline.
export function edgePath(edge, alone = false) {
  const s = edge.source().position();
  const t = edge.target().position();
  if (alone) return [s, t]; // no other edge between its two nodes: Cytoscape draws it straight
  const bend = edge.controlPoints();
  if (!bend || bend.length !== 1) return [s, t];
  const a = edge.sourceEndpoint();
  const b = edge.targetEndpoint();
  const c = bend[0];
  return Array.from({ length: 13 }, (_, i) => {
    const k = i / 12;
    return {
      x: (1 - k) ** 2 * a.x + 2 * (1 - k) * k * c.x + k * k * b.x,
      y: (1 - k) ** 2 * a.y + 2 * (1 - k) * k * c.y + k * k * b.y,
    };
  });
}

/** The stylesheet's rule for edges liftEdges() draws over the nodes they pass. */
export function liftStyles() {
  return [{ selector: "edge.over", style: { "z-compound-depth": "top" } }];
}

/**
 * Draws over the nodes each edge that passes a node it does not join: nodes are drawn over
 * edges, so such an edge would seem to end at the node it runs under. (Leading edges around
 * nodes was tried: in a namespace's grid of workloads the detours zigzag.) Returns how many.
 */
export function liftEdges(cy) {
  cy.edges(".over").removeClass("over");
  const edges = cy.edges().filter((e) => e.visible() && !e.isLoop() && !e.data("bundle"));
  if (edges.length > LIFT_MAX_EDGES) return 0;
  const bodies = new Cells(160);
  cy.nodes(":childless")
    .filter((n) => n.visible())
    .forEach((node) => {
      const b = node.boundingBox({ includeLabels: false, includeOverlays: false });
      bodies.add({ x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2, node });
    });
  const pair = (edge) => [edge.source().id(), edge.target().id()].sort().join("\u0000");
  const pairs = new Map();
  edges.forEach((edge) => pairs.set(pair(edge), (pairs.get(pair(edge)) || 0) + 1));
  const over = edges.filter((edge) => {
    if (edge.source().isParent() || edge.target().isParent()) return false;
    const ends = [edge.source(), edge.target()];
    const points = edgePath(edge, pairs.get(pair(edge)) === 1);
    for (let i = 1; i < points.length; i++) {
      const p = points[i - 1];
      const q = points[i];
      for (const box of bodies.along(p, q)) {
        if (!ends.some((end) => box.node.same(end)) && crosses(p, q, box)) return true;
      }
    }
    return false;
  });
  over.addClass("over");
  return over.length;
}
