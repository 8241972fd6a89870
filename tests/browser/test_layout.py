"""The cluster page's layout: at 1280x720 and 800x1000 the graph and the policy editor are both
on screen without scrolling (their boxes are measured, not eyeballed)."""

from __future__ import annotations

import pytest

from policies import revisions

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def boxes(page) -> dict:
    return page.evaluate(
        """() => Object.fromEntries(["graph", "policy-editor", "flow-inspector"].map((id) => {
             const r = document.querySelector(`[data-testid=${id}]`).getBoundingClientRect();
             return [id, {x: r.x, y: r.y, w: r.width, h: r.height}];
           }))"""
    )


@pytest.mark.parametrize("size", [(1280, 720), (800, 1000)])
def test_the_graph_and_the_editor_are_on_screen_without_scrolling(page, user, size):
    width, height = size
    cluster = revisions.load_demo(user)
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"/clusters/{cluster.pk}/?policy=shop-data/postgres")
    page.wait_for_function(
        "() => window.netviz && window.netviz.loads >= 1 && window.netviz.editor"
        " && window.netviz.editor.state().check !== null"
    )
    got = boxes(page)
    assert page.evaluate("() => window.scrollY") == 0
    for name in ("graph", "policy-editor"):
        box = got[name]
        assert box["w"] >= 300, name
        assert box["h"] >= 250, name
        assert 0 <= box["x"] <= box["x"] + box["w"] <= width + 1, name
        assert 0 <= box["y"] <= box["y"] + box["h"] <= height + 1, name
