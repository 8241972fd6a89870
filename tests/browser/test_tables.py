"""The cluster page's tables in a browser: a policy's YAML is fetched when its row opens, as
text (a policy's own strings never become markup)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from policies import revisions

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_opening_a_policy_row_fetches_its_yaml(page, user):
    cluster = revisions.load_demo(user)
    page.goto(f"/clusters/{cluster.pk}/")
    row = page.locator('[data-policy-row="shop-data/postgres"]')
    expect(row.locator("pre")).to_have_text("…")
    row.locator("summary").click()
    text = row.locator("pre")
    expect(text).to_contain_text("kind: NetworkPolicy")
    stored = cluster.head.policies.get(namespace="shop-data", name="postgres").yaml
    assert text.inner_text().strip() == stored.strip()
    # the rows not opened fetched nothing
    assert page.locator('[data-testid="policies"] pre', has_text="apiVersion").count() == 1
