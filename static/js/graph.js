// The cluster page's connectivity graph: Cytoscape, the filters, the matrix and flow-table
// tabs, and the inspector. The server filters and groups (graph.json takes the same query
// string as the page), so a link to the page reproduces the view; this file draws, lays out and
// keeps the URL in step with history.replaceState.
//
// Data from manifests (names, labels) only ever reaches the DOM through textContent, and
// Cytoscape draws on a canvas; htmx swaps in server-rendered, autoescaped partials.
//
// cluster.js mounts it and hands the API it returns (the end of mountGraph) to the editor.

import { bundleEdges, bundleStyles, openBundle } from "./bundles.js";
import { reason, request, withQuery } from "./http.js";
import { labelStyles, liftEdges, liftStyles, quietLabels, separate } from "./layout.js";

/**
 * Mounts the graph on the workspace element (`[data-graph-root]`); `cytoscape` and `htmx` are the
 * vendored libraries. Returns the graph's API; nothing is shown until its `start()`.
 */
export function mountGraph(root, { cytoscape, htmx }) {
  const container = root.querySelector("[data-testid=graph]");
  const baseUrl = root.dataset.baseUrl;
  const statusLine = root.querySelector("[data-graph-status]");
  const loading = root.querySelector("[data-graph-loading]");
  const filterErrors = root.querySelector("[data-filter-errors]");

  // The view state and its defaults; only values that differ from these go into the URL.
  const DEFAULTS = {
    view: "graph", layout: "grouped", group: "auto", ns: "", sel: "", port: "", ext: "1",
    focus: "", dir: "both", expand: "", q: "", mns: "", policy: "", diff: "",
  };
  // The keys the server reads to filter and group; the rest only matter in the browser.
  const SERVER_KEYS = ["group", "ns", "sel", "port", "ext", "focus", "dir", "expand"];

  const state = { ...DEFAULTS };
  const params = new URLSearchParams(window.location.search);
  for (const key of Object.keys(DEFAULTS)) {
    if (params.has(key)) state[key] = params.get(key);
  }

  // Colours come from css/variables.css, which the legend (css/graph.css) uses too; the
  // ones only the canvas has stay here.
  const css = getComputedStyle(root);
  const colour = (name) => css.getPropertyValue(`--${name}`).trim();
  const stateStyle = (name, style, width) => ({
    fill: colour(`state-${name}-fill`),
    border: colour(`state-${name}`),
    style,
    width,
  });
  const STATE_STYLE = {
    both: stateStyle("both", "solid", 3),
    ingress: stateStyle("ingress", "double", 5),
    egress: stateStyle("egress", "dotted", 3),
    open: stateStyle("open", "dashed", 2.5),
  };
  const STATES = Object.keys(STATE_STYLE);

  function shortPorts(label) {
    return label === "All Connections" ? "all ports" : label;
  }

  function workloadLabel(d) {
    const replicas = d.replicas > 1 ? ` ×${d.replicas}` : "";
    return `${d.label}\n${d.kind}${replicas}`;
  }

  function nodeWidth(text) {
    const longest = Math.max(...text.split("\n").map((line) => line.length));
    return Math.min(Math.max(70, longest * 6.6 + 22), 220);
  }

  // Element data as the server sends it, plus what the stylesheet reads (`display`, sizes).
  function prepareNode(el) {
    const d = el.data;
    if (d.type === "workload") {
      d.display = workloadLabel(d);
      d.width = nodeWidth(d.display);
    } else if (d.type === "group") {
      // Workloads every policy treats alike, drawn as one node: its members are listed when
      // it is tapped, and its flows are counted on its edges.
      d.display = `${d.label}\n${d.workloads} alike`;
      d.width = nodeWidth(d.display);
    } else if (d.type === "namespace-aggregate") {
      d.display = d.label;
      d.size = Math.round(34 + 9 * Math.sqrt(d.workloads));
      const counts = d.isolation_counts || {};
      for (const s of STATES) d[`pie_${s}`] = (100 * (counts[s] || 0)) / Math.max(d.workloads, 1);
    } else {
      d.display = d.label;
    }
    return el;
  }

  function prepareEdge(el) {
    const d = el.data;
    d.all = d.label === "All Connections";
    if (d.flows) {
      d.display = `${d.flows} flow${d.flows === 1 ? "" : "s"} · ${shortPorts(d.label)}`;
      d.weight = Math.min(1.5 + Math.log2(d.flows), 9);
    } else {
      d.display = d.all ? "" : d.label;
      d.weight = d.all ? 2.5 : 1.6;
    }
    return el;
  }

  const stylesheet = [
    {
      selector: "node",
      style: {
        label: "data(display)",
        "font-family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
        "font-size": 11,
        color: colour("text"),
        "text-wrap": "wrap",
        "text-max-width": 200,
        "min-zoomed-font-size": 6,
      },
    },
    {
      selector: "node[type='workload']",
      style: {
        shape: "round-rectangle",
        width: "data(width)",
        height: 38,
        "text-valign": "center",
        "text-halign": "center",
        "line-height": 1.25,
      },
    },
    ...STATES.map((s) => ({
      selector: `node[isolation='${s}']`,
      style: {
        "background-color": STATE_STYLE[s].fill,
        "border-color": STATE_STYLE[s].border,
        "border-style": STATE_STYLE[s].style,
        "border-width": STATE_STYLE[s].width,
      },
    })),
    {
      selector: "node[type='group']",
      style: {
        shape: "round-rectangle",
        width: "data(width)",
        height: 46,
        "text-valign": "center",
        "text-halign": "center",
        "line-height": 1.25,
        "border-width": 4,
        "border-style": "double",
      },
    },
    {
      selector: "node[type='external']",
      style: {
        shape: "hexagon",
        width: 44,
        height: 40,
        "background-color": colour("graph-external-fill"),
        "border-color": colour("graph-external"),
        "border-width": 2,
        "text-valign": "bottom",
        "text-margin-y": 5,
        "text-max-width": 170,
        "font-size": 10,
        color: "#3b4a5e",
      },
    },
    {
      selector: "node[type='namespace']",
      style: {
        shape: "round-rectangle",
        "background-color": colour("graph-namespace-fill"),
        "border-color": colour("graph-namespace"),
        "border-width": 1.5,
        "text-valign": "top",
        "text-halign": "center",
        "text-margin-y": -4,
        "font-size": 12,
        "font-weight": 600,
        color: "#3b4a5e",
        // the title stays readable where edges and their labels cross it
        "text-background-color": colour("surface"),
        "text-background-opacity": 1,
        "text-background-padding": 2,
        "text-background-shape": "round-rectangle",
        padding: 14,
      },
    },
    {
      selector: "node[type='namespace'][?expanded]",
      style: { "border-style": "dashed", "border-color": colour("accent") },
    },
    {
      selector: "node[type='namespace-aggregate']",
      style: {
        shape: "ellipse",
        width: "data(size)",
        height: "data(size)",
        "background-color": colour("surface"),
        "border-color": "#3b4a5e",
        "border-width": 2,
        "text-valign": "bottom",
        "text-margin-y": 5,
        "font-size": 12,
        "font-weight": 600,
        "pie-size": "82%",
        ...Object.fromEntries(
          STATES.flatMap((s, i) => [
            [`pie-${i + 1}-background-color`, STATE_STYLE[s].border],
            [`pie-${i + 1}-background-size`, `data(pie_${s})`],
          ]),
        ),
      },
    },
    {
      selector: "edge",
      style: {
        "curve-style": "bezier",
        width: "data(weight)",
        "line-color": colour("graph-edge"),
        "target-arrow-color": colour("graph-edge"),
        "target-arrow-shape": "triangle",
        "arrow-scale": 1.1,
        label: "data(display)",
        "font-size": 10,
        color: "#243042",
        "text-background-color": colour("surface"),
        "text-background-opacity": 0.9,
        "text-background-padding": 2,
        "text-background-shape": "round-rectangle",
        "min-zoomed-font-size": 8,
        "loop-direction": "-45deg",
        "loop-sweep": "-60deg",
      },
    },
    {
      selector: "edge[tlabel]",
      style: {
        "target-label": "data(tlabel)",
        "target-text-offset": 46,
        "font-weight": 600,
      },
    },
    {
      selector: "edge[?all]",
      style: {
        "line-color": colour("graph-edge-all"),
        "target-arrow-color": colour("graph-edge-all"),
      },
    },
    // Thousands of summed edges between collapsed namespaces: faint until a node is pointed at.
    { selector: "edge[flows]", style: { opacity: 0.3, "line-color": "#8593a5" } },
    { selector: ".faded", style: { opacity: 0.07, "text-opacity": 0 } },
    { selector: "edge.near", style: { opacity: 1, "z-index": 5 } },
    // Beyond the busiest summed edges: drawn only around the node pointed at.
    { selector: "edge.minor", style: { display: "none" } },
    { selector: "edge.minor.near, edge.minor.hl", style: { display: "element" } },
    ...bundleStyles(colour),
    ...labelStyles(),
    ...liftStyles(),
    {
      selector: "node:selected",
      style: { "overlay-color": colour("accent"), "overlay-opacity": 0.18, "overlay-padding": 6 },
    },
    {
      selector: "edge:selected",
      style: {
        "line-color": colour("accent"),
        "target-arrow-color": colour("accent"),
        width: 4,
        opacity: 1,
        "z-index": 10,
      },
    },
    { selector: ".found", style: { "overlay-color": "#f5b400", "overlay-opacity": 0.35 } },
    // Changes an edit would make (highlight()); removed ones are dashed.
    ...["added", "removed", "changed"].map((kind) => ({
      selector: `edge.hl-${kind}`,
      style: {
        "line-color": colour(`change-${kind}`),
        "target-arrow-color": colour(`change-${kind}`),
        width: 4.5,
        opacity: 1,
        "z-index": 20,
      },
    })),
    { selector: "edge.hl-removed", style: { "line-style": "dashed" } },
    { selector: "edge.hl-temp", style: { "line-dash-pattern": [8, 5], "line-style": "dashed" } },
  ];

  const cy = cytoscape({
    container,
    style: stylesheet,
    minZoom: 0.03,
    maxZoom: 4,
    boxSelectionEnabled: false,
    selectionType: "single",
  });

  // --- URL ------------------------------------------------------------------------------------

  // The view state under `keys` that differs from the defaults.
  function changed(keys) {
    return Object.fromEntries(
      keys.filter((key) => state[key] !== DEFAULTS[key]).map((key) => [key, state[key]]),
    );
  }

  function endpoint(path, params = {}) {
    return withQuery(`${baseUrl}${path}`, params);
  }

  function saveState() {
    // Always the page's own path: the page may have been opened at a panel's no-JS address.
    window.history.replaceState(null, "", endpoint("", changed(Object.keys(DEFAULTS))));
  }

  function setState(changes, { reload = true } = {}) {
    Object.assign(state, changes);
    saveState();
    syncControls();
    if (reload) refresh();
  }

  // --- loading and drawing the graph -----------------------------------------------------------

  let loads = 0;
  let sequence = 0;
  let lastData = null;
  let lastHighlight = null;

  function setStatus(text, isError = false) {
    statusLine.textContent = text;
    statusLine.classList.toggle("error", isError);
  }

  async function loadGraph() {
    const mine = ++sequence;
    root.dataset.state = "loading";
    loading.hidden = false;
    try {
      const answer = await request(endpoint("graph.json", changed(SERVER_KEYS)));
      if (mine !== sequence) return; // a newer request superseded this one
      if (!answer.ok || !answer.body) throw new Error(reason(answer));
      draw(answer.body);
    } catch (error) {
      if (mine === sequence) setStatus(`Could not load the graph: ${error.message}`, true);
    } finally {
      if (mine === sequence) {
        loading.hidden = true;
        root.dataset.state = "ready";
        loads += 1;
      }
    }
  }

  // Many flows into one workload on the same ports (every pod to DNS) carry one label, near
  // that workload, instead of a pile of identical labels along the way.
  function declutterLabels() {
    const groups = new Map();
    cy.edges().forEach((e) => {
      if (!e.data("display") || e.data("flows")) return;
      const key = `${e.data("target")}\u0000${e.data("label")}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(e);
    });
    for (const edges of groups.values()) {
      if (edges.length < 3) continue;
      for (const e of edges) e.data("display", "");
      edges[0].data("tlabel", edges[0].data("label"));
    }
  }

  // A first view of a big cluster is thousands of summed edges between namespaces: only the
  // busiest are drawn, the rest come out around the node pointed at (the matrix has them all).
  const MAJOR_EDGES = 150;
  let minorEdges = 0;
  let bundles = 0; // bundles.js: edges between two boxes drawn as one

  function thinEdges() {
    const summed = cy.edges("[flows]");
    minorEdges = Math.max(summed.length - MAJOR_EDGES, 0);
    if (!minorEdges) return;
    const order = summed.sort((a, b) => b.data("flows") - a.data("flows"));
    order.slice(MAJOR_EDGES).addClass("minor");
  }

  function draw(data) {
    lastData = data;
    cy.batch(() => {
      cy.elements().remove();
      cy.add(data.nodes.map(prepareNode));
      cy.add(data.edges.map(prepareEdge));
      declutterLabels();
      thinEdges();
      bundles = bundleEdges(cy).length;
    });
    showErrors(data.errors || {});
    describe(data);
    runLayout();
    if (lastHighlight) highlight(lastHighlight);
    if (state.q) find(state.q, { quiet: true });
    root.dispatchEvent(new CustomEvent("netviz:drawn", { detail: data })); // tiers.js
  }

  function showErrors(errors) {
    const names = { sel: "Labels", port: "Port", focus: "Focus", dir: "Direction", group: "Group" };
    const lines = Object.entries(errors).map(([key, text]) => `${names[key] || key}: ${text}`);
    filterErrors.textContent = lines.join(" · ");
    filterErrors.hidden = lines.length === 0;
    for (const key of ["sel", "port"]) {
      const input = root.querySelector(`[data-control=${key}]`);
      if (input) input.setAttribute("aria-invalid", key in errors ? "true" : "false");
    }
  }

  function describe(data) {
    const s = data.stats;
    const n = (value) => value.toLocaleString("en");
    let text;
    if (data.mode === "aggregated") {
      const groups = data.nodes.filter((el) => el.data.type === "namespace-aggregate").length;
      text =
        `Namespaces collapsed: ${n(groups)} namespaces, ${n(data.edges.length)} edges summing ` +
        `${n(s.shown_flows)} flows among ${n(s.shown_workloads)} workloads. ` +
        "Tap a namespace to expand it, or read the matrix.";
    } else {
      text = `${n(s.shown_workloads)} workloads, ${n(s.shown_flows)} allowed flows`;
      if (s.shown_workloads !== s.workloads || s.shown_flows !== s.flows) {
        text += ` (of ${n(s.workloads)} and ${n(s.flows)})`;
      }
      text += ".";
    }
    if (diffNote) text += ` ${diffNote}`;
    if (minorEdges) {
      text += ` Drawn: the ${MAJOR_EDGES} busiest edges; point at a namespace for its other ones.`;
    }
    if (bundles) {
      const n = bundles === 1 ? "1 bundle" : `${bundles} bundles`;
      text += ` ${n} of edges between two namespaces, drawn as one: tap one to open it.`;
    }
    if (data.filter) text += ` Filter: ${data.filter}.`;
    if (data.notice) text += ` ${data.notice}`;
    setStatus(text);
  }

  const LAYOUTS = {
    grouped: null, // groupedLayout() below
    cose: (n) => ({
      name: "cose",
      animate: false,
      randomize: true,
      nodeDimensionsIncludeLabels: true,
      padding: 30,
      componentSpacing: 60,
      nodeRepulsion: () => (n > 150 ? 60000 : 14000),
      idealEdgeLength: () => (n > 150 ? 140 : 70),
      edgeElasticity: () => 120,
      nestingFactor: 1.1,
      gravity: 0.6,
      numIter: n > 150 ? 500 : 1200,
    }),
    dagre: () => ({
      name: "dagre",
      rankDir: "LR",
      nodeSep: 18,
      rankSep: 90,
      edgeSep: 8,
      padding: 30,
      nodeDimensionsIncludeLabels: true,
    }),
    grid: () => ({
      name: "grid",
      padding: 30,
      avoidOverlap: true,
      nodeDimensionsIncludeLabels: true,
    }),
  };

  // A linear order of nodes with few edges pointing backwards (Eades, Lin and Smyth's greedy
  // heuristic): sinks go last, sources first, otherwise the node with the most out-minus-in.
  function flowOrder(ids, links) {
    const outs = new Map(ids.map((id) => [id, new Set()]));
    const ins = new Map(ids.map((id) => [id, new Set()]));
    for (const { data } of links) {
      outs.get(data.source).add(data.target);
      ins.get(data.target).add(data.source);
    }
    const left = [];
    const right = [];
    const remaining = new Set(ids);
    const take = (id, list) => {
      list.push(id);
      remaining.delete(id);
      for (const t of outs.get(id)) ins.get(t).delete(id);
      for (const s of ins.get(id)) outs.get(s).delete(id);
    };
    while (remaining.size) {
      let moved = true;
      while (moved) {
        moved = false;
        for (const id of remaining) {
          if (!outs.get(id).size) {
            take(id, right);
            moved = true;
          } else if (!ins.get(id).size) {
            take(id, left);
            moved = true;
          }
        }
      }
      if (!remaining.size) break;
      let best = null;
      let score = -Infinity;
      for (const id of remaining) {
        const d = outs.get(id).size - ins.get(id).size;
        if (d > score) {
          best = id;
          score = d;
        }
      }
      take(best, left);
    }
    return [...left, ...right.reverse()];
  }

  // "Grouped": each namespace's workloads in a tidy grid inside its box, then the boxes (and
  // external ranges, and collapsed namespaces) in rows, in the order of the flows, to the
  // canvas's proportions. Force-directed layouts let compound namespaces overlap, and a ranked
  // layout (dagre) draws one long strip and takes a minute on thousands of edges.
  function groupedLayout() {
    const GAP_X = 18;
    const GAP_Y = 16;
    const PAD = 14;
    const LABEL = 22; // a namespace's title sits above its box
    const GAP = 56; // between boxes
    const boxes = new Map();
    const offsets = new Map();
    cy.nodes("[type='namespace']").forEach((ns) => {
      const kids = ns.children().sort((a, b) => (a.id() < b.id() ? -1 : 1));
      if (kids.empty()) return;
      const cols = Math.ceil(Math.sqrt(kids.length * 1.5));
      const rows = Math.ceil(kids.length / cols);
      const cellW = Math.max(...kids.map((k) => k.outerWidth())) + GAP_X;
      const cellH = Math.max(...kids.map((k) => k.outerHeight())) + GAP_Y;
      const w = cols * cellW - GAP_X + 2 * PAD;
      const h = rows * cellH - GAP_Y + 2 * PAD + LABEL;
      kids.forEach((k, i) => {
        offsets.set(k.id(), {
          box: ns.id(),
          dx: -w / 2 + PAD + (i % cols) * cellW + (cellW - GAP_X) / 2,
          dy: -h / 2 + LABEL + PAD + Math.floor(i / cols) * cellH + (cellH - GAP_Y) / 2,
        });
      });
      boxes.set(ns.id(), { w, h });
    });
    cy.nodes()
      .orphans()
      .filter((n) => n.data("type") !== "namespace")
      .forEach((n) => {
        const bb = n.boundingBox({ includeLabels: true });
        boxes.set(n.id(), { w: bb.w, h: bb.h });
      });
    const top = (node) => (node.isChild() ? node.parent().id() : node.id());
    const links = new Map();
    cy.edges().forEach((e) => {
      const a = top(e.source());
      const b = top(e.target());
      if (a !== b) links.set(`${a}->${b}`, { data: { source: a, target: b } });
    });
    // Pairs linked both ways (open namespaces) say nothing about direction, and flows out to
    // external addresses would make cycles with flows in from them: external ranges are
    // ordered as sources, where traffic enters the cluster.
    const oneWay = [...links.values()].filter(
      ({ data }) =>
        !links.has(`${data.target}->${data.source}`) &&
        cy.getElementById(data.target).data("type") !== "external",
    );
    const order = flowOrder([...boxes.keys()], oneWay);
    let area = 0;
    for (const { w, h } of boxes.values()) area += (w + GAP) * (h + GAP);
    const aspect = Math.max(cy.width(), 100) / Math.max(cy.height(), 100);
    const widest = Math.max(...[...boxes.values()].map((box) => box.w));
    const rowWidth = Math.max(Math.sqrt(area * aspect) * 1.1, widest);
    const centres = new Map();
    let x = 0;
    let y = 0;
    let row = [];
    const flush = () => {
      const rowHeight = Math.max(...row.map((id) => boxes.get(id).h));
      for (const id of row) centres.get(id).y = y + rowHeight / 2;
      y += rowHeight + GAP;
      x = 0;
      row = [];
    };
    for (const id of order) {
      const { w } = boxes.get(id);
      if (row.length && x + w > rowWidth) flush();
      centres.set(id, { x: x + w / 2, y: 0 });
      x += w + GAP;
      row.push(id);
    }
    if (row.length) flush();
    cy.batch(() => {
      cy.nodes().forEach((n) => {
        if (n.isParent()) return;
        const at = offsets.get(n.id());
        const p = centres.get(at ? at.box : n.id());
        n.position(at ? { x: p.x + at.dx, y: p.y + at.dy } : { x: p.x, y: p.y });
      });
    });
  }

  // Dagre and cose take seconds to minutes on thousands of edges (collapsed namespaces of a big
  // cluster); above this the grouped layout stands in for them.
  const SLOW_LAYOUT_EDGES = 1500;

  function runLayout() {
    const name = state.layout in LAYOUTS ? state.layout : "grouped";
    if (name === "grouped" || (name !== "grid" && cy.edges().length > SLOW_LAYOUT_EDGES)) {
      groupedLayout();
      separate(cy); // a no-op unless a box is wider than the row it was put in
      liftEdges(cy);
      quietLabels(cy);
      cy.fit(undefined, 30);
      if (name !== "grouped") {
        const which = name === "dagre" ? "hierarchical" : "force-directed";
        const limit = SLOW_LAYOUT_EDGES.toLocaleString("en");
        setStatus(
          `${statusLine.textContent} The ${which} layout takes up to ${limit} edges; filter first.`,
        );
      }
      return;
    }
    // Bundles are drawn over the edges they stand for, which are what the layout weighs.
    const eles = cy.elements().not(".bundle");
    const layout = eles.layout({ ...LAYOUTS[name](cy.nodes().length), fit: false });
    // Force-directed and ranked layouts only try not to overlap nodes: separate() makes sure.
    layout.one("layoutstop", () => {
      separate(cy);
      liftEdges(cy);
      quietLabels(cy);
      cy.fit(undefined, 30);
    });
    layout.run();
  }

  // --- finding, focusing, expanding ------------------------------------------------------------

  function resolve(text) {
    // An id, `namespace/name`, or a name unique in the view.
    const wanted = text.trim();
    if (!wanted) return null;
    const exact = cy.getElementById(wanted);
    if (exact.nonempty()) return exact;
    const workloads = cy.nodes("[type='workload']");
    const byPath = workloads.filter((n) => `${n.data("namespace")}/${n.data("label")}` === wanted);
    if (byPath.length === 1) return byPath[0];
    const byName = workloads.filter((n) => n.data("label") === wanted);
    return byName.length === 1 ? byName[0] : null;
  }

  function namespaceOf(text) {
    const slash = text.indexOf("/");
    return slash > 0 ? text.slice(0, slash) : "";
  }

  function find(text, { quiet = false } = {}) {
    cy.nodes(".found").removeClass("found");
    let node = resolve(text);
    if (!node && foundGroup.has(text.trim())) {
      // Found by the server, drawn here as one node with the workloads alike to it.
      const group = cy.getElementById(foundGroup.get(text.trim()));
      if (group.nonempty()) node = group;
    }
    if (node) {
      node.addClass("found");
      // Its neighbours stay in view: fit the node and whom it talks to, not the node alone.
      const near = node.closedNeighborhood();
      if (near.nodes().length > 1) {
        cy.animate({ fit: { eles: near.union(near.parents()), padding: 40 } }, { duration: 250 });
      } else {
        cy.animate({ center: { eles: node }, zoom: Math.max(cy.zoom(), 1) }, { duration: 250 });
      }
      return node;
    }
    const ns = namespaceOf(text);
    const collapsed = ns ? cy.getElementById(`ns:${ns}`) : cy.collection();
    if (collapsed.nonempty() && collapsed.data("type") === "namespace-aggregate") {
      // Still collapsed: open its namespace, and find it once the graph is back.
      expand(ns);
      return null;
    }
    if (!quiet) setStatus(`No workload “${text}” in this view (filters may hide it).`, true);
    return null;
  }

  // The server searches every workload and address of the revision, not only those drawn:
  // suggestions while typing, and the one endpoint it names on Enter or Focus.
  const findList = root.querySelector("[data-find-list]");
  const foundGroup = new Map(); // a found id → the group node that draws it with its alike
  const searches = { suggest: null, find: null }; // each kind's request in flight

  // `kind` keeps the suggestions typed meanwhile from cancelling the search of Enter or Focus.
  async function search(text, kind = "find") {
    if (searches[kind]) searches[kind].abort();
    const controller = new AbortController();
    searches[kind] = controller;
    try {
      const answer = await request(endpoint("find.json", { q: text }), {
        signal: controller.signal,
      });
      if (!answer.ok || !answer.body) return null;
      for (const r of answer.body.results) if (r.group) foundGroup.set(r.id, r.group);
      return answer.body;
    } catch {
      return null; // superseded by a newer search
    }
  }

  function suggest(found) {
    const options = found.results.map((r) => {
      const option = document.createElement("option");
      option.value = r.id;
      option.label =
        r.type === "workload" ? `${r.namespace}/${r.label} · ${r.kind} · ${r.match}` : r.label;
      return option;
    });
    findList.replaceChildren(...options);
  }

  // Find (Enter) highlights what is drawn; anything else, or Focus, shows it and its
  // neighbours, its namespace expanded, and opens it in the inspector.
  async function findAnywhere(text, { focus = false } = {}) {
    const wanted = text.trim();
    if (!wanted) return;
    const here = resolve(wanted);
    if (here && !focus) {
      find(wanted);
      inspectNode(here.id());
      return;
    }
    if (here) {
      focusOn(here.id());
      return;
    }
    const found = await search(wanted);
    if (!found) return;
    if (!found.best) {
      suggest(found);
      setStatus(
        found.total
          ? `${found.total} endpoints match “${wanted}”: pick one from the suggestions.`
          : `No workload or address “${wanted}” in this revision.`,
        true,
      );
      return;
    }
    const hit = found.results.find((r) => r.id === found.best);
    const open = new Set(state.expand ? state.expand.split(",") : []);
    if (hit && hit.namespace) open.add(hit.namespace);
    control("q").value = found.best;
    setState({ q: found.best, focus: found.best, expand: [...open].sort().join(",") });
    inspectNode(found.best);
  }

  function expand(ns) {
    const open = new Set(state.expand ? state.expand.split(",") : []);
    open.add(ns);
    setState({ expand: [...open].sort().join(",") });
  }

  function collapse(ns) {
    const open = new Set(state.expand ? state.expand.split(",") : []);
    open.delete(ns);
    setState({ expand: [...open].sort().join(",") });
  }

  function focusOn(id, dir) {
    setState({ focus: id, dir: dir || state.dir });
  }

  // --- the inspector ---------------------------------------------------------------------------

  function showSideTab(name) {
    for (const tab of root.querySelectorAll("[data-side-tab]")) {
      tab.setAttribute("aria-selected", String(tab.dataset.sideTab === name));
    }
    for (const panel of root.querySelectorAll("[data-side-panel]")) {
      panel.hidden = panel.dataset.sidePanel !== name;
    }
  }

  function inspect(path, values) {
    showSideTab("inspector");
    return htmx.ajax("GET", endpoint(path, values), {
      target: "#flow-inspector",
      swap: "outerHTML",
    });
  }

  function inspectFlow(src, dst, port) {
    return inspect("explain/", { src, dst, port });
  }

  function inspectNode(id) {
    return inspect("node/", { id });
  }

  // `?diff=A-B` (the compare page's "Show on the graph"): the flows revision B added, removed
  // or changed since revision A, highlighted as an edit's impact is.
  let diffNote = "";

  async function showDiff(text) {
    const [a, b] = text.split("-");
    const answer = await request(withQuery(root.dataset.compareUrl, { a, b, format: "json" }));
    if (!answer.ok || !answer.body) {
      setStatus(`Could not load the changes ${text}: ${reason(answer)}.`, true);
      return;
    }
    diffNote = `Highlighted: the flows changed from revision ${a} to ${b} (${answer.body.summary}).`;
    highlight(answer.body.connectivity);
    if (lastData) describe(lastData);
  }

  // Set by start(): the editor, which shows a policy its own way.
  let openPolicy = null;

  // `line` (a warning's, from the warnings panel or ?line=): the editor opens at it.
  function showPolicy(id, line = 0) {
    state.policy = id;
    saveState();
    showSideTab("policies");
    if (openPolicy) {
      openPolicy(id, { line });
      return;
    }
    const view = root.querySelector("[data-policy-view]");
    if (!view) return;
    view.hidden = false;
    view.querySelector("[data-policy-title]").textContent = id;
    const yamlView = view.querySelector("[data-policy-yaml]");
    // The policy table holds one page of policies: the others come from the server.
    const source = document.querySelector(`[data-policy-source="${CSS.escape(id)}"]`);
    if (source) {
      yamlView.textContent = source.textContent;
      return;
    }
    yamlView.textContent = "Loading…";
    const url = withQuery(view.dataset.policyUrl, { policy: id, revision: view.dataset.revision });
    request(url).then((answer) => {
      if (state.policy !== id) return; // another policy was asked for meanwhile
      yamlView.textContent =
        answer.ok && answer.body ? answer.body.yaml : "This policy is not in this revision.";
    });
  }

  // --- views: graph, matrix, flow table --------------------------------------------------------

  function showView(name) {
    for (const tab of root.querySelectorAll("[data-view]")) {
      tab.setAttribute("aria-selected", String(tab.dataset.view === name));
    }
    for (const panel of root.querySelectorAll("[data-view-panel]")) {
      panel.hidden = panel.dataset.viewPanel !== name;
    }
    for (const el of root.querySelectorAll("[data-graph-only]")) el.hidden = name !== "graph";
    // The matrix shows the whole revision; the filters apply to the graph and the flow table.
    root.querySelector("[data-graph-filters]").hidden = name === "matrix";
    if (name === "matrix") loadMatrix();
    if (name === "flows") loadFlows();
    if (name === "graph") {
      // The graph is drawn only while its tab shows: a hidden canvas has no size to lay out in.
      cy.resize();
      if (lastData) cy.fit(undefined, 30);
      else loadGraph();
    }
  }

  function loadMatrix() {
    return htmx.ajax("GET", endpoint("matrix/", { namespace: state.mns }), {
      target: "#matrix-panel",
      swap: "innerHTML",
    });
  }

  function loadFlows() {
    return htmx.ajax("GET", endpoint("flows/", changed(SERVER_KEYS)), {
      target: "#flows-panel",
      swap: "innerHTML",
    });
  }

  function refresh() {
    if (state.view === "graph") loadGraph();
    else lastData = null; // drawn again when its tab is shown
    if (state.view === "flows") loadFlows();
  }

  // --- PNG export ------------------------------------------------------------------------------

  function exportPng() {
    const blob = cy.png({
      output: "blob",
      bg: "#ffffff",
      full: true,
      scale: 2,
      maxWidth: 8000,
      maxHeight: 8000,
    });
    const link = document.createElement("a");
    const name = (root.dataset.clusterName || "cluster").replace(/[^A-Za-z0-9._-]+/g, "-");
    link.href = URL.createObjectURL(blob);
    link.download = `${name}-r${root.dataset.revision}-graph.png`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  // --- highlighting edges (for the policy editor's impact preview) ----------------------------

  function endpointNode(id) {
    const node = cy.getElementById(id);
    if (node.nonempty() && node.data("type") !== "namespace") return node;
    // A workload inside a collapsed namespace: its namespace node stands for it.
    const ns = namespaceOf(id);
    const group = ns ? cy.getElementById(`ns:${ns}`) : cy.collection();
    return group.nonempty() && group.data("type") === "namespace-aggregate" ? group : null;
  }

  function clearHighlight() {
    lastHighlight = null;
    cy.batch(() => {
      cy.edges(".hl-temp").remove();
      cy.edges(".hl").removeClass("hl hl-added hl-removed hl-changed");
    });
  }

  function highlight(edgesByKind) {
    clearHighlight();
    lastHighlight = edgesByKind || {};
    const result = { highlighted: 0, temporary: 0, missing: [] };
    cy.batch(() => {
      for (const kind of ["added", "removed", "changed"]) {
        for (const { src, dst } of lastHighlight[kind] || []) {
          const a = endpointNode(src);
          const b = endpointNode(dst);
          if (!a || !b) {
            result.missing.push({ kind, src, dst });
            continue;
          }
          const existing = cy.getElementById(`${a.id()}->${b.id()}`);
          if (existing.nonempty()) {
            existing.addClass(`hl hl-${kind}`);
            result.highlighted += 1;
          } else {
            // Not in the graph (a flow an edit removes from another revision, or adds):
            // drawn for now, dashed, and gone with clearHighlight().
            cy.add({
              group: "edges",
              data: {
                id: `hl:${kind}:${a.id()}->${b.id()}`,
                source: a.id(),
                target: b.id(),
                display: "",
                weight: 3,
              },
              classes: `hl hl-${kind} hl-temp`,
            });
            result.temporary += 1;
          }
        }
      }
    });
    return result;
  }

  // --- controls --------------------------------------------------------------------------------

  function control(name) {
    return root.querySelector(`[data-control=${name}]`);
  }

  function syncControls() {
    for (const key of ["layout", "group", "sel", "port", "dir", "q"]) {
      const el = control(key);
      if (el && document.activeElement !== el) el.value = state[key];
    }
    const ns = control("ns");
    if (state.ns && !Array.from(ns.options).some((o) => o.value === state.ns)) {
      ns.add(new Option(state.ns, state.ns)); // several namespaces, from a shared link
    }
    ns.value = state.ns;
    control("ext").checked = state.ext !== "0";
    const chip = root.querySelector("[data-focus-chip]");
    chip.hidden = !state.focus;
    chip.querySelector("[data-focus-name]").textContent = state.focus;
  }

  function debounce(fn, ms) {
    let timer;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  const typed = debounce((key, value) => setState({ [key]: value.trim() }), 400);

  root.querySelector("[data-graph-filters]").addEventListener("submit", (e) => e.preventDefault());
  control("sel").addEventListener("input", (e) => typed("sel", e.target.value));
  control("port").addEventListener("input", (e) => typed("port", e.target.value));
  control("ns").addEventListener("change", (e) => setState({ ns: e.target.value }));
  control("dir").addEventListener("change", (e) => setState({ dir: e.target.value }));
  control("group").addEventListener("change", (e) => {
    setState({ group: e.target.value, expand: "" });
  });
  control("ext").addEventListener("change", (e) => setState({ ext: e.target.checked ? "1" : "0" }));
  control("layout").addEventListener("change", (e) => {
    setState({ layout: e.target.value }, { reload: false });
    runLayout();
  });
  control("q").addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    setState({ q: e.target.value.trim() }, { reload: false });
    findAnywhere(state.q);
  });
  const suggestFor = debounce(async (text) => {
    const found = text.length >= 2 ? await search(text, "suggest") : null;
    if (found && found.query === control("q").value.trim()) suggest(found);
  }, 200);
  control("q").addEventListener("input", (e) => {
    const text = e.target.value.trim();
    // A suggestion picked from the list (its value is an id): go to it at once.
    const picked = Array.from(findList.options).some((o) => o.value === text);
    if (picked && e.inputType === "insertReplacementText") {
      setState({ q: text }, { reload: false });
      findAnywhere(text);
      return;
    }
    suggestFor(text);
  });
  control("q").addEventListener("change", (e) => {
    setState({ q: e.target.value.trim() }, { reload: false });
    if (state.q) find(state.q, { quiet: true });
  });

  const actions = {
    fit: () => cy.animate({ fit: { padding: 30 } }, { duration: 200 }),
    "zoom-in": () => cy.zoom({ level: cy.zoom() * 1.3, renderedPosition: center() }),
    "zoom-out": () => cy.zoom({ level: cy.zoom() / 1.3, renderedPosition: center() }),
    png: exportPng,
    clear: () => {
      const { view, layout, mns, policy } = state;
      setState({ ...DEFAULTS, view, layout, mns, policy });
    },
    unfocus: () => setState({ focus: "" }),
    "focus-found": () => findAnywhere(control("q").value, { focus: true }),
  };

  function center() {
    return { x: container.clientWidth / 2, y: container.clientHeight / 2 };
  }

  root.addEventListener("click", (e) => {
    const button = e.target.closest("[data-action]");
    if (button && actions[button.dataset.action]) {
      e.preventDefault();
      actions[button.dataset.action]();
    }
    const view = e.target.closest("[data-view]");
    if (view) {
      setState({ view: view.dataset.view }, { reload: false });
      showView(state.view);
    }
    const side = e.target.closest("[data-side-tab]");
    if (side) showSideTab(side.dataset.sideTab);
  });

  // The matrix's own tools: a filter on the names of its rows and columns, and the rows'
  // order (by name, or by how many destinations or sources each reaches or is reached by).
  function matrixTable(el) {
    const wrap = el.closest("[data-testid=matrix]");
    return wrap ? wrap.querySelector("table.matrix") : null;
  }

  function filterMatrix(input) {
    const table = matrixTable(input);
    if (!table) return;
    const wanted = input.value.trim().toLowerCase();
    const heads = Array.from(table.querySelectorAll("thead th.col-head"));
    const rows = Array.from(table.querySelectorAll("tbody tr"));
    const shown = rows.map((row) => {
      const name = row.querySelector("th").textContent.toLowerCase();
      return !wanted || name.includes(wanted);
    });
    rows.forEach((row, i) => {
      row.hidden = !shown[i];
      const key = row.querySelector("th").title;
      const column = heads.findIndex((th) => th.title === key);
      if (column < 0) return;
      heads[column].hidden = !shown[i];
      for (const r of rows) r.querySelectorAll("td.cell")[column].hidden = !shown[i];
    });
  }

  function sortMatrix(select) {
    const table = matrixTable(select);
    if (!table) return;
    const body = table.querySelector("tbody");
    const rows = Array.from(body.querySelectorAll("tr"));
    const heads = Array.from(table.querySelectorAll("thead th.col-head"));
    const allowed = (cell) => !cell.classList.contains("none");
    const scores = new Map(
      rows.map((row) => {
        const cells = Array.from(row.querySelectorAll("td.cell"));
        const column = heads.findIndex((th) => th.title === row.querySelector("th").title);
        const score =
          select.value === "out"
            ? cells.filter(allowed).length
            : select.value === "in"
              ? rows.filter((r) => allowed(r.querySelectorAll("td.cell")[column])).length
              : 0;
        return [row, score];
      }),
    );
    const name = (row) => row.querySelector("th").textContent.trim();
    rows.sort((a, b) => scores.get(b) - scores.get(a) || name(a).localeCompare(name(b)));
    body.append(...rows);
  }

  document.addEventListener("input", (e) => {
    if (e.target.matches("[data-matrix-filter]")) filterMatrix(e.target);
  });
  document.addEventListener("change", (e) => {
    if (e.target.matches("[data-matrix-sort]")) sortMatrix(e.target);
  });

  // Links and buttons inside swapped partials: policy links, matrix cells, inspector actions.
  document.addEventListener("click", (e) => {
    const policy = e.target.closest("a[data-policy]");
    if (policy) {
      e.preventDefault();
      showPolicy(policy.dataset.policy, Number(policy.dataset.line) || 0);
      return;
    }
    const matrixNs = e.target.closest("a[data-matrix-ns]");
    if (matrixNs) {
      e.preventDefault();
      setState({ mns: matrixNs.dataset.matrixNs }, { reload: false });
      loadMatrix();
      return;
    }
    const cell = e.target.closest("td.cell[data-src]");
    if (cell) {
      inspectFlow(cell.dataset.src, cell.dataset.dst);
      return;
    }
    const action = e.target.closest("[data-graph-action]");
    if (!action) return;
    const { node, namespace } = action.dataset;
    switch (action.dataset.graphAction) {
      case "focus":
        focusOn(node);
        break;
      case "ask-from":
        document.getElementById("ask-src").value = node;
        document.getElementById("ask-dst").focus();
        break;
      case "expand":
        if (state.view !== "graph") actions.graphTab();
        expand(namespace);
        break;
      case "collapse":
        collapse(namespace);
        break;
      case "only-namespace":
        setState({ ns: namespace });
        break;
      case "matrix":
        setState({ view: "matrix", mns: namespace }, { reload: false });
        showView("matrix");
        break;
    }
  });

  actions.graphTab = () => {
    setState({ view: "graph" }, { reload: false });
    showView("graph");
  };

  cy.on("tap", "edge", (e) => {
    const edge = e.target;
    if (edge.data("bundle")) {
      openBundle(cy, edge);
      bundles -= 1;
      liftEdges(cy);
      quietLabels(cy);
      return;
    }
    inspectFlow(edge.data("source"), edge.data("target"));
  });
  cy.on("tap", "node", (e) => {
    const node = e.target;
    const type = node.data("type");
    if (type === "namespace-aggregate") {
      inspectNode(node.id());
      expand(node.data("namespace"));
    } else {
      inspectNode(node.id());
    }
  });
  cy.on("dbltap", "node[type='workload'], node[type='group']", (e) => focusOn(e.target.id()));
  // A node dragged elsewhere: what passes over it, and which labels fit, change.
  cy.on("dragfree", "node", () => {
    liftEdges(cy);
    quietLabels(cy);
  });

  // Pointing at a node brings out its flows and dims the rest.
  cy.on("mouseover", "node", (e) => {
    const node = e.target;
    if (node.data("type") === "namespace") return;
    const near = node.closedNeighborhood();
    cy.batch(() => {
      cy.elements().not(near).not(node.ancestors()).addClass("faded");
      near.edges().addClass("near");
    });
  });
  cy.on("mouseout", "node", () => {
    cy.batch(() => cy.elements(".faded, .near").removeClass("faded near"));
  });

  // --- the API ---------------------------------------------------------------------------------

  // The workspace changed size (the editor widened its panel): fit the graph to it, if shown.
  function resize() {
    if (container.closest("[hidden]")) return;
    cy.resize();
    cy.fit(undefined, 30);
  }

  // Centres the highlighted edge of one change (a row of the editor's impact list).
  function showHighlighted(kind, src, dst) {
    const matches = (id, end) => end === id || end === `ns:${namespaceOf(id)}`;
    const edge = cy.edges(`.hl-${kind}`).filter(
      (e) => matches(src, e.source().id()) && matches(dst, e.target().id()),
    );
    if (edge.nonempty()) cy.animate({ center: { eles: edge }, zoom: Math.max(cy.zoom(), 1) });
  }

  // The policy the page's URL names (?policy=), as the editor opens and closes them.
  function setPolicyInUrl(id) {
    if (state.policy !== id) setState({ policy: id }, { reload: false });
  }

  return {
    cy,
    /**
     * Shows the view the URL asks for and loads the graph. `openPolicy(id)` shows a policy
     * (from a link or ?policy=) instead of the stored YAML the page has without it.
     */
    start(options = {}) {
      openPolicy = options.openPolicy || null;
      syncControls();
      saveState();
      showView(state.view);
      // ?line= only says where to open the editor: it does not stay in the URL.
      if (state.policy) showPolicy(state.policy, Number(params.get("line")) || 0);
      if (state.diff) showDiff(state.diff);
    },
    highlight,
    clearHighlight,
    reload: loadGraph,
    resize,
    setPolicyInUrl,
    showHighlighted,
    showSideTab,
    get loads() {
      return loads;
    },
    get data() {
      return lastData;
    },
  };
}
