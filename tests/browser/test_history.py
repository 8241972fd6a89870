"""What only a browser shows of the compare page: each policy's diff on its own numbered
lines, added and removed lines marked, and the connectivity diff as a table."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from policies import changes, revisions

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_compare_page_shows_a_policy_diff_line_by_line_with_marks(page, user):
    cluster = revisions.load_demo(user)
    policy = cluster.head.policies.get(namespace="shop-data", name="postgres")
    edited = policy.yaml.replace("port: postgres", "port: 5433", 1)
    assert edited != policy.yaml
    changes.apply_edit(
        cluster, user, edited, base_number=cluster.head.number, original=("shop-data", "postgres")
    )
    page.goto(f"/clusters/{cluster.pk}/compare/")

    diff = page.locator("[data-testid=policy-diff]")
    expect(diff).to_have_count(1)
    removed = diff.locator("tr[data-change=removed]")
    added = diff.locator("tr[data-change=added]")
    expect(removed).to_have_count(1)
    expect(added).to_have_count(1)
    expect(removed).to_contain_text("port: postgres")
    expect(added).to_contain_text("port: 5433")
    expect(removed.locator(".diff-mark")).to_have_text("-")
    expect(added.locator(".diff-mark")).to_have_text("+")
    # several lines, one above the other (a collapsed <pre> would put them on one)
    rows = diff.locator("tr.diff-row")
    assert rows.count() >= 5
    tops = [rows.nth(i).bounding_box()["y"] for i in range(rows.count())]
    assert tops == sorted(tops)
    assert len(set(tops)) == len(tops)
    # the colours differ for added, removed and unchanged lines
    colours = page.evaluate(
        """() => ["add", "del", "ctx"].map((k) =>
             getComputedStyle(document.querySelector(`tr.diff-row.${k}`)).backgroundColor)"""
    )
    assert len(set(colours)) == 3

    flows = page.locator("[data-testid=connectivity-diff] [data-testid=flow-change]")
    expect(flows.first).to_be_visible()

    # and the same changes on the graph of the newer revision
    page.click("[data-testid=diff-on-graph]")
    page.wait_for_function("() => window.netviz && window.netviz.loads >= 1")
    page.wait_for_function("() => window.netviz.cy.edges('.hl').length > 0")
    expect(page.locator("[data-graph-status]")).to_contain_text("from revision 1 to 2")
