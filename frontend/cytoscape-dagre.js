// Entry for static/vendor/cytoscape-dagre.js (esbuild IIFE): dagre + cytoscape-dagre, registered
// on the global `cytoscape`, so static/vendor/cytoscape.min.js must be loaded first.
//
// cytoscape-dagre's published dist inlines its own copy of @dagrejs/dagre; we build from its
// src/ instead so the dagre that ships is the one pinned in package.json / package-lock.json.
// (src/ is not in the package's "exports" map, hence the relative path.)
import cytoscapeDagre from "../node_modules/cytoscape-dagre/src/index.mjs";

if (typeof window.cytoscape !== "function") {
  throw new Error("cytoscape-dagre.js: load cytoscape.min.js before this file");
}
// src/index.mjs already self-registers when window.cytoscape exists; use() is idempotent
// (it re-sets the same layout), and keeps the registration explicit.
window.cytoscape.use(cytoscapeDagre);
