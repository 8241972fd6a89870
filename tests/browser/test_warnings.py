"""Each warning of the warnings panel opens the editor on its policy with the cursor on the
warning's line: the line of the editor is compared with the line of the uploaded file the
warning names, so the test knows nothing of how the two are mapped."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from policies import revisions, snapshots

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A Deployment, then a policy with comments above it (the stored text keeps them, so its
# first line is not the object's), whose rule names a port no pod declares; then a policy
# with a name kubectl would refuse, which the loader warns about by name only.
MANIFEST = (Path(__file__).parents[1] / "data" / "web" / "warning-lines.yaml").read_text()

# Where the editor's cursor is, and that line's text and whether it is on screen.
CURSOR = """() => {
  const view = window.netviz.editor.view;
  const head = view.state.selection.main.head;
  const line = view.state.doc.lineAt(head);
  const at = view.coordsAtPos(head);
  const box = view.scrollDOM.getBoundingClientRect();
  return {
    policy: window.netviz.editor.state().original,
    number: line.number,
    text: line.text,
    shown: !!at && at.top >= box.top && at.bottom <= box.bottom,
  };
}"""


def cursor_after(page, action, policy: str) -> dict:
    action()
    page.wait_for_function(
        """p => window.netviz.editor && window.netviz.editor.state().original === p
             && window.netviz.editor.view.state.selection.main.head > 0""",
        arg=policy,
    )
    return page.evaluate(CURSOR)


def file_line(files: list[tuple[str, bytes]], name: str, line: int) -> str:
    text = dict(files)[name].decode()
    return text.splitlines()[line - 1]


def test_the_demos_warning_opens_the_editor_at_its_line(page, user):
    cluster = revisions.load_demo(user)
    warnings = cluster.head.warnings
    assert warnings, "the demo has a warning to follow"
    page.goto(f"/clusters/{cluster.pk}/")
    page.wait_for_function("() => window.netviz && window.netviz.loads >= 1")
    page.locator("[data-testid=warnings-badge]").click()
    link = page.locator("[data-testid=warnings] [data-testid=warning-policy]").first
    expect(link).to_be_visible()
    cursor = cursor_after(page, link.click, link.get_attribute("data-policy"))
    w = warnings[0]
    assert cursor["text"] == file_line(revisions.demo_files(), w["file"], w["line"])
    assert "htpp" in cursor["text"]
    assert cursor["shown"]


def test_each_warning_lands_on_its_own_line_below_comments(page, user):
    files = [("shop.yaml", MANIFEST.encode())]
    cluster = revisions.create_cluster(user, "shop", snapshots.parse_manifests(files))
    warnings = [w for w in cluster.head.warnings if w.get("line")]
    assert len(warnings) >= 2, warnings
    page.goto(f"/clusters/{cluster.pk}/")
    page.wait_for_function("() => window.netviz && window.netviz.loads >= 1")
    links = page.locator("[data-testid=warnings] [data-testid=warning-policy]")
    expect(links).to_have_count(len(warnings))
    seen = set()
    for i, w in enumerate(warnings):
        link = links.nth(i)
        cursor = cursor_after(page, link.click, link.get_attribute("data-policy"))
        assert cursor["text"] == file_line(files, w["file"], w["line"]), w
        assert cursor["shown"]
        seen.add(cursor["policy"])
        # back to the list for the next one (the editor keeps no edit: nothing to confirm)
        page.evaluate("() => window.netviz.editor.close()")
        page.wait_for_function("() => !window.netviz.editor.state().open")
    assert seen == {"shop/api-in", "shop/Allow_All"}


def test_a_link_with_a_line_opens_the_editor_there(page, user):
    files = [("shop.yaml", MANIFEST.encode())]
    cluster = revisions.create_cluster(user, "shop", snapshots.parse_manifests(files))
    cursor = cursor_after(
        page,
        lambda: page.goto(f"/clusters/{cluster.pk}/?policy=shop/api-in&line=15"),
        "shop/api-in",
    )
    assert cursor["number"] == 15
    assert cursor["text"].strip() == "- port: htpp"
    # the line is where the editor opened, not part of the view's address
    assert "line=" not in page.url
