"""Cluster-wide tiers in the browser: an Admin Deny beats a NetworkPolicy Accept, the edge is
not drawn, and the inspector names the Admin policy and the rule that decided."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from policies import revisions, snapshots

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DATA = Path(__file__).resolve().parents[1] / "data" / "web"
FE, BE = "shop/frontend[Deployment]", "shop/backend[Deployment]"


def test_an_admin_deny_removes_the_edge_and_the_inspector_names_it(page, user):
    files = [("tiers.yaml", (DATA / "tiers.yaml").read_bytes())]
    cluster = revisions.create_cluster(user, "tiers", snapshots.parse_manifests(files))
    page.goto(f"/clusters/{cluster.pk}/")
    page.wait_for_function("() => window.netviz && window.netviz.loads >= 1")
    edges = page.evaluate("() => window.netviz.cy.edges().map((e) => e.id())")
    nodes = page.evaluate("() => window.netviz.cy.nodes().map((n) => n.id())")
    assert {FE, BE} <= set(nodes)
    assert f"{FE}->{BE}" not in edges
    form = page.locator("[data-testid=ask-form]")
    form.locator("[name=src]").fill(FE)
    form.locator("[name=dst]").fill(BE)
    form.locator("[name=port]").fill("tcp 9090")
    form.locator("button[type=submit]").click()
    inspector = page.locator("[data-testid=flow-inspector]")
    expect(inspector.locator("[data-testid=verdict]")).to_contain_text("DENIED")
    chain = inspector.locator("[data-testid=tier-chain-ingress]")
    expect(chain.locator("tr[data-tier=Admin]")).to_contain_text(
        "ClusterNetworkPolicy/freeze-backend ingress[0] 'deny-everyone'"
    )
    expect(chain.locator("tr[data-tier=Admin]")).to_contain_text("Deny")


PROM = "monitoring/prometheus[Deployment]"


def test_the_tier_toggle_styles_admin_decided_edges_and_shows_the_legend(page, user):
    files = [("tiers-accept.yaml", (DATA / "tiers-accept.yaml").read_bytes())]
    cluster = revisions.create_cluster(user, "every-tier", snapshots.parse_manifests(files))
    page.goto(f"/clusters/{cluster.pk}/?group=none")
    page.wait_for_function("() => window.netviz && window.netviz.loads >= 1")
    toggle = page.locator("[data-testid=tier-toggle]")
    legend = page.locator("[data-testid=tier-legend]")
    expect(toggle).to_be_visible()
    expect(legend).to_be_hidden()
    admin_edge = f"[id = '{PROM}->{BE}']"
    policy_edge = f"[id = '{FE}->{BE}']"

    def line(selector: str) -> str:
        return page.evaluate("(s) => window.netviz.cy.edges(s).style('line-color')", selector)

    before, policy_before = line(admin_edge), line(policy_edge)
    assert before != "rgb(123,44,191)"  # off: drawn like any edge (var(--tier-admin) is not)
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(legend).to_be_visible()
    expect(legend).to_contain_text("Admin")
    assert page.evaluate(f"() => window.netviz.cy.edges(\"{admin_edge}\").hasClass('tier-admin')")
    assert line(admin_edge) == "rgb(123,44,191)"
    assert line(policy_edge) == policy_before  # a NetworkPolicy-decided edge keeps its colour
    baseline = page.evaluate(
        f"() => window.netviz.cy.edges(\"[id = '{BE}->{FE}']\").style('line-style')"
    )
    assert baseline == "dashed"
    toggle.click()
    expect(legend).to_be_hidden()
    assert line(admin_edge) == before


def test_the_tier_toggle_stays_hidden_without_cluster_policies(page, user):
    files = [(name, (DATA / name).read_bytes()) for name in ("shop.yaml", "shop-policies.yaml")]
    cluster = revisions.create_cluster(user, "shop", snapshots.parse_manifests(files))
    page.goto(f"/clusters/{cluster.pk}/")
    page.wait_for_function("() => window.netviz && window.netviz.loads >= 1")
    assert page.evaluate("() => window.netviz.data.tiered") is False
    expect(page.locator("[data-testid=tier-toggle]")).to_be_hidden()
    expect(page.locator("[data-testid=tier-legend]")).to_be_hidden()


def test_allow_this_flow_under_an_admin_deny_offers_the_admin_accept(page, user):
    files = [("tiers.yaml", (DATA / "tiers.yaml").read_bytes())]
    cluster = revisions.create_cluster(user, "tiers", snapshots.parse_manifests(files))
    page.goto(f"/clusters/{cluster.pk}/")
    page.wait_for_function("() => window.netviz && window.netviz.loads >= 1")
    page.evaluate(f"() => window.netviz.editor.allowFlow('{FE}', '{BE}', 'tcp 9090')")
    page.wait_for_function("() => window.netviz.editor.state().open")
    text = page.evaluate("() => window.netviz.editor.view.state.doc.toString()")
    assert "kind: ClusterNetworkPolicy" in text
    assert "priority: 9" in text
    status = page.locator(".panel-status")
    expect(status).to_contain_text("a NetworkPolicy cannot allow it")
    expect(status).to_contain_text("'deny-everyone'")
