// The tier toggle of the graph: on a cluster with cluster-wide policies (AdminNetworkPolicy,
// BaselineAdminNetworkPolicy, ClusterNetworkPolicy), edges carry `tier` — "admin" when an
// Admin rule accepted some of their ports on either side, "baseline" when a Baseline rule
// did (and no Admin rule), "policy" otherwise — and `tiers`, each side's deciding tiers
// (policies/engine/tiers_flows.py). The toggle draws Admin- and Baseline-decided edges in
// their tier's colour and shows the legend; the server sends `tiered` with the graph, and the
// toggle stays hidden on clusters without such policies.

const TIERS = ["admin", "baseline"];

export function mountTiers(root, cy) {
  const toggle = root.querySelector("[data-testid=tier-toggle]");
  const legend = root.querySelector("[data-testid=tier-legend]");
  if (!toggle || !legend) return null;

  const css = getComputedStyle(root);
  const colour = (name) => css.getPropertyValue(`--${name}`).trim();
  const style = cy.style();
  style
    .selector("edge.tier-admin")
    .style({
      "line-color": colour("tier-admin"),
      "target-arrow-color": colour("tier-admin"),
      width: 4,
      opacity: 1,
      "z-index": 4,
    })
    .selector("edge.tier-baseline")
    .style({
      "line-color": colour("tier-baseline"),
      "target-arrow-color": colour("tier-baseline"),
      "line-style": "dashed",
      opacity: 1,
      "z-index": 3,
    })
    .update();

  let on = false;

  function apply() {
    cy.batch(() => {
      for (const tier of TIERS) {
        cy.edges(`.tier-${tier}`).removeClass(`tier-${tier}`);
        if (on) cy.edges(`[tier = '${tier}']`).addClass(`tier-${tier}`);
      }
    });
  }

  function set(value) {
    on = value;
    toggle.setAttribute("aria-pressed", String(on));
    legend.hidden = !on || toggle.hidden;
    apply();
  }

  toggle.addEventListener("click", () => set(!on));
  // graph.js announces each drawing with the data the server sent.
  root.addEventListener("netviz:drawn", (e) => {
    toggle.hidden = !e.detail.tiered;
    legend.hidden = !on || toggle.hidden;
    apply();
  });
  return { set, get on() { return on; } };
}
