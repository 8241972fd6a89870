// How the policy editor lists what an edit would change in connectivity: a summary with a chip
// per kind of change, and a row per changed flow (a button that shows it on the graph). The
// flows are the server's impact JSON: {added: [{src, dst, conns}], removed: [...], changed:
// [{src, dst, before, after}]}.

import { el } from "./dom.js";

const KINDS = [
  ["added", "+", "added"],
  ["removed", "−", "removed"],
  ["changed", "~", "ports changed"],
];
const MAX_ROWS = 150;

function shortEndpoint(id) {
  return id.replace(/\[[^\]]*\]$/, ""); // "ns/name[Deployment]" -> "ns/name"
}

function formatConns(conns) {
  if (typeof conns === "string") return conns === "All Connections" ? "every port" : conns;
  const parts = Object.entries(conns || {}).map(([protocol, ports]) => `${protocol} ${ports}`);
  return parts.length ? parts.join(", ") : "nothing";
}

/** How many flows the change adds, removes and changes, in all. */
export function impactTotal(impact) {
  return KINDS.reduce((n, [kind]) => n + (impact[kind] || []).length, 0);
}

/** The summary's nodes: `lead` ("Saving would") and a chip per kind with its count. */
export function impactSummaryNodes(impact, lead) {
  const nodes = [el("span", "impact-lead", lead)];
  for (const [kind, sign, label] of KINDS) {
    const count = (impact[kind] || []).length;
    const chip = el("span", `impact-chip ${kind}${count ? "" : " zero"}`, `${sign}${count}`);
    chip.append(` ${label}`);
    nodes.push(chip);
  }
  return nodes;
}

/** A list item per changed flow, the first MAX_ROWS of them, then how many more there are. */
export function impactRowNodes(impact) {
  const rows = [];
  for (const [kind, sign, label] of KINDS) {
    for (const flow of impact[kind] || []) {
      if (rows.length >= MAX_ROWS) break;
      const item = el("li", `impact-row ${kind}`);
      const button = el("button", "impact-button");
      button.type = "button";
      button.dataset.src = flow.src;
      button.dataset.dst = flow.dst;
      button.dataset.kind = kind;
      button.title = `${label}: ${flow.src} → ${flow.dst} (show it on the graph)`;
      const ports =
        kind === "changed"
          ? `${formatConns(flow.before)} → ${formatConns(flow.after)}`
          : formatConns(flow.conns);
      const ends = el("span", "impact-ends");
      ends.append(
        el("span", "impact-end", shortEndpoint(flow.src)),
        el("span", "impact-arrow", "→"),
        el("span", "impact-end", shortEndpoint(flow.dst)),
      );
      button.append(el("span", "impact-sign", sign), ends, el("span", "impact-ports", ports));
      item.append(button);
      rows.push(item);
    }
  }
  const total = impactTotal(impact);
  if (total > rows.length) {
    rows.push(el("li", "impact-more muted", `… and ${total - rows.length} more`));
  }
  return rows;
}

/**
 * Why an edit that changes no flow changes nothing: a list item per flow its rules name that
 * the other side still denies (the server's `why`), each with "Allow this flow…".
 */
export function whyNodes(why) {
  return why.map((w) => {
    const item = el("li", "impact-why");
    item.dataset.testid = "impact-why";
    const button = el("button", "button small", "Allow this flow…");
    button.type = "button";
    button.dataset.allowSrc = w.src;
    button.dataset.allowDst = w.dst;
    button.title = `Write the policies ${shortEndpoint(w.src)} → ${shortEndpoint(w.dst)} needs`;
    item.append(el("span", "impact-why-text", w.message), button);
    return item;
  });
}
