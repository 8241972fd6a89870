// The cluster page's one entry module: mounts the graph and the policy editor and wires them
// together. The modules know each other only through what this file hands them.
//
// Cytoscape, CodeMirror and htmx are vendored classic scripts, `<script defer>` in the page's
// head above this module's tag. Module scripts are deferred too, and the platform runs deferred
// scripts in document order once the page is parsed, so their globals exist when this runs.
// This file is the only one of ours that reads them; the others get them as arguments.

import { mountEditor } from "./editor.js";
import { mountGraph } from "./graph.js";
import { mountMenus } from "./menus.js";
import { mountOnboarding } from "./onboarding.js";
import { mountTiers } from "./tiers.js";
import "./upload.js"; // the "Upload new manifests" card, for those who may edit

mountMenus();
mountOnboarding(document.querySelector("[data-onboarding]"));

const graphRoot = document.querySelector("[data-graph-root]");
const editorRoot = document.querySelector("[data-editor-root]");

// A cluster with no revision yet has neither.
if (graphRoot) {
  const graph = mountGraph(graphRoot, { cytoscape: window.cytoscape, htmx: window.htmx });
  mountTiers(graphRoot, graph.cy); // before start(): it listens for the first drawing
  const editor = editorRoot
    ? mountEditor(editorRoot, { CM: window.CM, htmx: window.htmx, graph })
    : null;
  // Policy links (the list, the inspector, ?policy= in the URL) open the policy in the editor.
  graph.start({ openPolicy: editor ? editor.open : null });

  // The page's one global. `cy` is a documented contract (scripts outside this repository
  // read the graph through it); the rest is a surface for the browser tests (tests/browser),
  // not for our modules, which never read window.netviz.
  window.netviz = {
    cy: graph.cy,
    editor,
    highlight: graph.highlight,
    clearHighlight: graph.clearHighlight,
    get loads() {
      return graph.loads;
    },
    get data() {
      return graph.data;
    },
  };
  // benchmarks/web_probe.py times the page to this event.
  document.dispatchEvent(new CustomEvent("netviz:ready", { detail: { cy: graph.cy } }));
}
