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
