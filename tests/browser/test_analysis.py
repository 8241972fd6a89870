"""A large upload in the browser: stored at once, the page shows the analysis progressing,
then the graph; a failed analysis shows its error over the previous revision's graph."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from policies import analysis, engine, revisions, snapshots

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def in_worker(settings) -> None:
    """Every upload, however small, goes to the worker (the threshold is 1 object)."""
    settings.NETVIZ_ANALYSE_INLINE_BELOW = 1


@pytest.fixture
def shop_files(data_dir):
    return [(n, (data_dir / "web" / n).read_bytes()) for n in ("shop.yaml", "shop-policies.yaml")]


def graph_drawn(page) -> None:
    page.wait_for_function("() => window.netviz && window.netviz.loads >= 1")


def test_an_upload_shows_its_analysis_progress_then_becomes_the_graph(
    page, in_worker, shop_files, run_worker
):
    page.goto("/clusters/new/")
    page.fill("input[name=name]", "big-shop")
    page.fill("textarea[name=manifests]", "\n---\n".join(c.decode() for _, c in shop_files))
    page.get_by_role("button", name="Upload and analyse").click()
    status = page.locator("[data-testid=analysis-status]")
    expect(status).to_be_visible()
    expect(page.locator("[data-testid=analysis-progress]")).to_have_attribute("value", "0")
    expect(page.locator("[data-testid=analysis-step]")).to_have_text("Waiting for a worker")
    expect(page.locator("[data-graph-root]")).to_have_count(0)
    analysis.clear()  # the worker reads the stored rows, as its own process would
    run_worker()
    # The next poll reloads the page into the graph.
    expect(page.locator("[data-graph-root]")).to_have_count(1)
    graph_drawn(page)
    expect(status).to_have_count(0)
    workloads = page.evaluate("() => window.netviz.cy.nodes(\"[type='workload']\").length")
    assert workloads == 2


def test_a_failed_analysis_shows_its_error_and_the_previous_graph(
    page, user, settings, shop_files, run_worker, monkeypatch
):
    cluster = revisions.create_cluster(user, "shop", snapshots.parse_manifests(shop_files))
    settings.NETVIZ_ANALYSE_INLINE_BELOW = 1
    revisions.upload_revision(cluster, user, snapshots.parse_manifests(shop_files), message="grown")
    page.goto(f"/clusters/{cluster.pk}/")
    expect(page.locator("[data-testid=analysis-progress]")).to_be_visible()

    def boom(snapshot):
        raise RuntimeError("the engine gave up")

    monkeypatch.setattr(engine, "evaluate", boom)
    analysis.clear()
    run_worker()
    monkeypatch.undo()
    failed = page.locator("[data-testid=analysis-failed]")
    expect(failed).to_contain_text("Revision 2 (“grown”) could not be analysed")
    expect(failed).to_contain_text("RuntimeError: the engine gave up")
    expect(failed).to_contain_text("The cluster stays at revision 1")
    graph_drawn(page)
    expect(page.locator("[data-graph-root]")).to_have_attribute("data-revision", "1")
