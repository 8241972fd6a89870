"""What only a browser shows of the policy editor: CodeMirror marks the server's diagnostics at
their lines, an edit's impact is listed and highlighted on the graph before saving, saving keeps
the text verbatim, exports download, a concurrent change shows a conflict instead of being
overwritten, and nothing breaks the CSP (the page fixture fails a test on any script error).

Expectations come from the backend (policies.changes), not from numbers written down here.
"""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from playwright.sync_api import expect

from policies import changes, revisions, snapshots
from policies.models import ClusterShare

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STOREFRONT_POLICY = "shop-frontend/storefront"
EDGE_PROXY = "shop-frontend/edge-proxy[Deployment]"
STOREFRONT = "shop-frontend/storefront[Deployment]"
CHECKOUT = "shop-backend/checkout[Deployment]"

# A policy as `kubectl get -o yaml` prints it: the server's fields must not be exported.
KUBECTL_GET = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: from-kubectl
  namespace: shop-data
  uid: 0b5a3c1e-0000-4000-8000-000000000001
  resourceVersion: "4711"
  generation: 2
  creationTimestamp: "2024-05-01T10:00:00Z"
  managedFields: [{manager: kubectl-client-side-apply, operation: Update}]
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: "{}"
spec:
  podSelector: {matchLabels: {app: redis}}
  policyTypes: [Ingress]
status: {}
"""

SELECT = """needle => {
  const view = window.netviz.editor.view;
  const at = view.state.doc.toString().indexOf(needle);
  if (at < 0) throw new Error(`not in the editor: ${needle}`);
  view.dispatch({selection: {anchor: at, head: at + needle.length}, scrollIntoView: true});
  view.focus();
}"""


@pytest.fixture
def demo(user):
    return revisions.load_demo(user)


@pytest.fixture
def quiet(page):
    """Call it to wait until the page has no request in flight and no check pending.

    The live server's threads share the test's SQLite connection (an in-memory database), so
    the test reads or writes the database only while the page is quiet: a query of the test in
    the middle of a request's transaction (or the other way round) would trip both.
    """
    in_flight = set()
    page.on("request", lambda request: in_flight.add(request))
    page.on("requestfinished", lambda request: in_flight.discard(request))
    page.on("requestfailed", lambda request: in_flight.discard(request))

    def wait() -> None:
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=impact].stale')"
            " && !document.querySelector('.htmx-request')"
        )
        for _ in range(400):
            if not in_flight:
                return
            page.wait_for_timeout(25)
        raise AssertionError(f"still in flight: {[r.url for r in in_flight]}")

    return wait


def open_policy(page, cluster, policy: str) -> None:
    """Open the cluster page with a policy in the editor, checked and the graph drawn."""
    page.goto(f"/clusters/{cluster.pk}/?policy={policy}")
    page.wait_for_function(
        """name => window.netviz && window.netviz.loads >= 1 && window.netviz.editor
             && window.netviz.editor.state().original === name
             && window.netviz.editor.state().check !== null""",
        arg=policy,
    )


def editor_text(page) -> str:
    return page.evaluate("() => window.netviz.editor.view.state.doc.toString()")


def replace(page, needle: str, replacement: str) -> str:
    """Select `needle` in the editor and type over it, as a user would; returns the new text."""
    page.evaluate(SELECT, needle)
    page.keyboard.type(replacement)
    return editor_text(page)


def wait_for_check(page) -> None:
    page.wait_for_function(
        "() => window.netviz.editor.state().check !== null && "
        "!document.querySelector('[data-testid=impact]').classList.contains('stale')"
    )


def stored_yaml(cluster, number: int, policy: str) -> str:
    namespace, name = policy.split("/")
    return cluster.revisions.get(number=number).policies.get(namespace=namespace, name=name).yaml


def test_broken_yaml_is_marked_at_its_line_in_the_editor_and_listed_with_that_line(
    page, demo, quiet
):
    open_policy(page, demo, STOREFRONT_POLICY)
    original = editor_text(page)
    text = replace(page, "app: storefront", "app: storefront: x")
    line = original.splitlines().index("      app: storefront") + 1
    problem = page.locator("[data-testid=diagnostics] .diag.error")
    expect(problem).to_have_count(1)
    quiet()
    expected = changes.check_edit(demo.head, text, ("shop-frontend", "storefront")).diagnostics
    assert [d["line"] for d in expected] == [line]  # the backend locates it at the typed line
    expect(problem).to_contain_text(f"line {line}")
    expect(problem).to_contain_text(expected[0]["message"])
    # CodeMirror underlines that line and puts a marker in the lint gutter beside it.
    marked = page.locator(".cm-line", has=page.locator(".cm-lintRange-error"))
    expect(marked).to_have_text("      app: storefront: x")
    marker = page.locator(".cm-gutter-lint .cm-lint-marker-error").bounding_box()
    number = page.locator(".cm-lineNumbers .cm-gutterElement", has_text=re.compile(f"^{line}$"))
    assert abs(marker["y"] - number.bounding_box()["y"]) < 6
    expect(page.locator("[data-testid=impact]")).to_contain_text("Fix the error")

    # a click on the listed problem puts the cursor on its line
    page.evaluate("() => window.netviz.editor.view.dispatch({selection: {anchor: 0}})")
    problem.locator("button").click()
    cursor_line = page.evaluate(
        """() => { const s = window.netviz.editor.view.state;
                   return s.doc.lineAt(s.selection.main.head).number; }"""
    )
    assert cursor_line == line

    # typing over two lines at once (which the browser alone would do with inline styles,
    # against the CSP) fixes it: the policy without its policyTypes line is valid
    text = replace(page, "app: storefront: x\n  policyTypes: [Ingress, Egress]", "app: storefront")
    assert text == original.replace("\n  policyTypes: [Ingress, Egress]", "")
    expect(problem).to_have_count(0)


def test_a_valid_edit_lists_its_impact_and_highlights_those_flows_on_the_graph(page, demo, quiet):
    open_policy(page, demo, STOREFRONT_POLICY)
    expect(page.locator("[data-testid=impact]")).to_contain_text("No change yet")
    text = replace(page, "app: edge-proxy", "app: nobody")
    wait_for_check(page)
    quiet()
    impact = changes.check_edit(demo.head, text, ("shop-frontend", "storefront")).impact
    assert {(f["src"], f["dst"]) for f in impact["removed"]} == {(EDGE_PROXY, STOREFRONT)}

    panel = page.locator("[data-testid=impact]")
    expect(panel.locator(".impact-row.removed")).to_have_count(len(impact["removed"]))
    expect(panel.locator(".impact-row.added")).to_have_count(len(impact["added"]))
    expect(panel.locator(".impact-row.changed")).to_have_count(len(impact["changed"]))
    expect(panel.locator(".impact-row.removed")).to_contain_text("shop-frontend/edge-proxy")
    expect(panel.locator(".impact-summary")).to_contain_text(
        f"\u2212{len(impact['removed'])} removed"
    )
    classes = page.evaluate(
        "id => window.netviz.cy.getElementById(id).classes()", f"{EDGE_PROXY}->{STOREFRONT}"
    )
    assert "hl-removed" in classes
    # the page's CSP-safe styling reached CodeMirror (constructed stylesheets, editor.js theme)
    gutter = page.eval_on_selector(".cm-gutters", "g => getComputedStyle(g).backgroundColor")
    assert gutter == "rgb(245, 247, 250)"

    # back to the stored text: nothing to preview, nothing highlighted
    page.keyboard.press("Control+z")
    wait_for_check(page)
    quiet()
    assert editor_text(page) == stored_yaml(demo, 1, STOREFRONT_POLICY)
    expect(panel).to_contain_text("No change yet")
    assert page.evaluate("() => window.netviz.cy.edges('.hl').length") == 0
    replace(page, "app: edge-proxy", "app: nobody")
    expect(panel.locator(".impact-row.removed")).to_have_count(1)
    page.click("[data-editor-action=close]")  # unsaved: the editor asks first
    page.click("[data-editor-action=guard-discard]")
    expect(page.locator("[data-testid=policy-editor]")).to_be_hidden()
    assert page.evaluate("() => window.netviz.cy.edges('.hl').length") == 0


def test_saving_makes_a_revision_with_the_text_verbatim_comments_and_all(page, demo, quiet):
    open_policy(page, demo, STOREFRONT_POLICY)
    page.evaluate(SELECT, "spec:")
    page.keyboard.press("Home")
    page.keyboard.type("# Only the proxy may call the storefront (ticket 42).\n")
    text = replace(page, "app: edge-proxy", "app: edge-proxy  # the ingress")
    page.fill("#editor-message", "Document the storefront policy")
    page.click("[data-testid=save]")

    status = page.locator("[data-editor-status]")
    expect(status).to_contain_text("Saved as revision 2")
    quiet()
    summary = demo.revisions.get(number=2).impact["summary"]
    expect(status).to_have_text(f"Saved as revision 2 ({summary}).")
    assert stored_yaml(demo, 2, STOREFRONT_POLICY) == text  # comments and key order kept
    expect(page.locator("[data-editor-eyebrow]")).to_contain_text("revision 2")
    expect(page.locator("[data-testid=policy-index-revision]")).to_have_text("revision 2")
    expect(page.locator("[data-testid=revision-meta]")).to_contain_text("Revision 2 of 2")
    expect(page.locator("[data-testid=save]")).to_be_disabled()  # nothing new to save
    page.wait_for_function("() => window.netviz.loads >= 2")  # the graph was drawn again

    quiet()
    page.click("[data-testid=history-link]")
    row = page.locator("[data-testid=revision-row][data-revision='2']")
    expect(row).to_contain_text("Document the storefront policy")
    expect(row).to_contain_text("pat")


def test_export_downloads_clean_yaml_for_one_policy_all_of_them_and_a_zip(page, user, quiet):
    files = [*revisions.demo_files(), ("kubectl-get.yaml", KUBECTL_GET.encode())]
    cluster = revisions.create_cluster(user, "exported", snapshots.parse_manifests(files))
    open_policy(page, cluster, "shop-data/from-kubectl")
    menu = page.locator("[data-testid=export]")

    def download(name: str) -> bytes:
        menu.locator("summary").click()
        with page.expect_download() as info:
            menu.get_by_role("link", name=name).click()
        with open(info.value.path(), "rb") as f:
            return f.read()

    one = download("This policy shop-data/from-kubectl").decode()
    assert "kind: NetworkPolicy" in one
    assert "name: from-kubectl" in one
    for server_side in ("managedFields", "resourceVersion", "uid:", "status:", "last-applied"):
        assert server_side not in one
    every = download("All policies, one YAML file").decode()
    assert "managedFields" not in every
    with zipfile.ZipFile(io.BytesIO(download("One file per namespace (zip)"))) as archive:
        names = archive.namelist()
    quiet()
    assert every.count("kind: NetworkPolicy") == cluster.head.policies.count()
    namespaces = set(cluster.head.policies.values_list("namespace", flat=True))
    assert len(names) == len(namespaces)


def test_a_concurrent_change_shows_a_conflict_instead_of_being_overwritten(
    page, demo, make_other_user, expected_statuses, quiet
):
    expected_statuses.add(409)  # the save the server refuses
    other = make_other_user("sam")
    ClusterShare.objects.create(cluster=demo, user=other, role="editor")
    open_policy(page, demo, STOREFRONT_POLICY)
    quiet()
    stored = stored_yaml(demo, 1, STOREFRONT_POLICY)
    theirs = stored.replace("app: edge-proxy", "app: edge-proxy-v2")
    changes.apply_edit(
        demo,
        other,
        theirs,
        base_number=1,
        original=("shop-frontend", "storefront"),
        message="Rename the proxy",
    )

    replace(page, "app: storefront", "app: storefront  # mine")
    page.click("[data-testid=save]")
    conflict = page.locator("[data-testid=conflict]")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("sam saved revision 2 after you opened revision 1")
    expect(conflict).to_contain_text("Rename the proxy")
    their_line = conflict.locator("pre .diff-line.add", has_text="app: edge-proxy-v2")
    expect(their_line).to_have_count(1)
    quiet()
    assert demo.revisions.count() == 2  # nothing of mine was saved over theirs

    conflict.get_by_role("button", name="Load their version").click()
    expect(conflict).to_be_hidden()
    assert editor_text(page) == theirs
    expect(page.locator("[data-editor-eyebrow]")).to_contain_text("revision 2")

    # They change it again; this time I keep mine, knowingly.
    quiet()
    changes.apply_edit(
        demo,
        other,
        theirs + "# again\n",
        base_number=2,
        original=("shop-frontend", "storefront"),
        message="Again",
    )
    mine = replace(page, "app: storefront", "app: storefront  # mine")
    page.click("[data-testid=save]")
    expect(conflict).to_contain_text("sam saved revision 3 after you opened revision 2")
    conflict.get_by_role("button", name="Keep mine (overwrite)").click()
    expect(page.locator("[data-editor-status]")).to_contain_text("Saved as revision 4")
    quiet()
    assert stored_yaml(demo, 4, STOREFRONT_POLICY) == mine


def test_a_template_opens_as_a_new_policy_that_saves_into_the_list(page, demo, quiet):
    open_policy(page, demo, STOREFRONT_POLICY)
    page.click("[data-tool=new] summary")
    page.select_option("#new-template", "deny-ingress")
    page.select_option("#new-namespace", "shop-data")
    expect(page.locator("#new-peer")).to_be_hidden()
    page.get_by_role("button", name="Open in the editor").click()
    page.wait_for_function("() => window.netviz.editor.state().original === ''")
    wait_for_check(page)
    quiet()
    text = editor_text(page)
    assert text == changes.template_yaml("deny-ingress", "shop-data")
    check = changes.check_edit(demo.head, text, None)
    (name,) = check.policies
    expect(page.locator("[data-editor-title]")).to_have_text(f"New: {name[0]}/{name[1]}")
    rows = page.locator("[data-testid=impact] .impact-row.removed")
    expect(rows).to_have_count(len(check.impact["removed"]))

    page.click("[data-testid=save]")
    expect(page.locator("[data-editor-status]")).to_contain_text("Saved as revision 2")
    expect(page.locator(f"#policy-index a[data-policy='{name[0]}/{name[1]}']")).to_be_visible()
    expect(page.locator("[data-editor-action=delete]")).to_be_visible()  # now a stored policy


def test_allow_this_flow_from_the_inspector_writes_the_policies_with_their_impact(
    page, demo, quiet
):
    page.goto(f"/clusters/{demo.pk}/")
    page.wait_for_function("() => window.netviz && window.netviz.loads >= 1")
    form = page.locator("[data-testid=ask-form]")
    form.locator("[name=src]").fill(STOREFRONT)
    form.locator("[name=dst]").fill(CHECKOUT)
    form.locator("[name=port]").fill("tcp 8080")
    form.locator("button[type=submit]").click()
    page.locator("[data-allow-flow]").click()

    page.wait_for_function("() => window.netviz.editor.state().open")
    wait_for_check(page)
    quiet()
    suggestion = changes.suggest_allow_flow(demo.head, STOREFRONT, CHECKOUT, "TCP 8080")
    assert editor_text(page) == suggestion["yaml"]
    added = page.locator("[data-testid=impact] .impact-row.added")
    expect(added).to_have_count(len(suggestion["impact"]["added"]))
    expect(added.first).to_contain_text("shop-frontend/storefront")
    expect(page.locator("#allow-src")).to_have_value(STOREFRONT)


def test_deleting_a_policy_shows_its_impact_before_it_is_confirmed(page, demo, quiet):
    open_policy(page, demo, "shop-data/redis")
    page.click("[data-editor-action=delete]")
    panel = page.locator("[data-testid=impact]")
    expect(panel).to_contain_text("Deleting it would")
    quiet()
    expected = changes.delete_impact(demo.head, "shop-data", "redis")
    expect(panel.locator(".impact-row")).to_have_count(
        sum(len(expected["impact"][k]) for k in ("added", "removed", "changed"))
    )
    assert demo.revisions.count() == 1  # only a preview so far

    page.click("[data-testid=delete-confirm]")
    expect(page.get_by_text("Deleted shop-data/redis: revision 2.")).to_be_visible()
    expect(page.locator("[data-testid=policy-editor]")).to_be_hidden()
    expect(page.locator("#policy-index a[data-policy='shop-data/redis']")).to_have_count(0)
    quiet()
    assert not demo.revisions.get(number=2).policies.filter(name="redis").exists()


def test_a_viewer_reads_the_policy_but_cannot_change_or_save_it(page, user, make_other_user):
    owner = make_other_user("olga")
    cluster = revisions.load_demo(owner)
    ClusterShare.objects.create(cluster=cluster, user=user, role="viewer")
    open_policy(page, cluster, STOREFRONT_POLICY)
    expect(page.locator("[data-testid=policy-editor] .cm-editor")).to_be_visible()
    expect(page.locator("[data-testid=save]")).to_have_count(0)
    expect(page.locator("[data-editor-action=delete]")).to_have_count(0)
    expect(page.locator("[data-editor-eyebrow]")).to_contain_text("Viewing")
    before = editor_text(page)
    page.locator(".cm-content").click()
    page.keyboard.type("oops")
    assert editor_text(page) == before


def test_completion_offers_the_networkpolicy_keys_and_values_that_fit_the_cursor(page, demo):
    open_policy(page, demo, STOREFRONT_POLICY)
    options = page.locator(".cm-tooltip-autocomplete li")

    def pick(typed: str, offered: list[str]) -> None:
        page.keyboard.type(typed)
        expect(options).to_have_text(offered)
        options.first.click()

    # keys of a rule of spec.ingress, then of one of its ports, then a protocol
    page.evaluate(SELECT, "      ports:\n        - port: http")
    pick("      po", ["ports"])
    pick("\n  - proto", ["protocol"])
    pick("U", ["UDP"])
    assert "      ports:\n        - protocol: UDP\n" in editor_text(page)
    # values of policyTypes, in a flow list too
    replace(page, "[Ingress, Egress]", "[Ingress, E")
    expect(options).to_have_text(["Egress"])


def test_an_edit_the_other_side_still_denies_says_why_and_offers_to_allow_it(page, demo, quiet):
    open_policy(page, demo, "shop-data/postgres")
    replace(page, "values: [catalog, orders]", "values: [catalog, orders, cart]")
    wait_for_check(page)
    quiet()
    panel = page.locator("[data-testid=impact]")
    expect(panel).to_contain_text("change no flow")
    why = panel.locator("[data-testid=impact-why]")
    expect(why).to_have_count(1)
    expect(why).to_contain_text("egress of shop-backend/cart[Deployment] still denies it")
    expect(why).to_contain_text("shop-backend/")  # the policy that isolates cart's egress

    # "Allow this flow…" writes the policies the flow needs (after the user drops the edit)
    why.get_by_role("button", name="Allow this flow…").click()
    page.click("[data-editor-action=guard-discard]")
    page.wait_for_function(
        "() => window.netviz.editor.view.state.doc.toString().includes('cart')"
        " && window.netviz.editor.state().original === ''"
    )


def test_a_yaml_error_at_the_end_of_the_text_points_at_its_last_line(page, demo, quiet):
    open_policy(page, demo, STOREFRONT_POLICY)
    text = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: x\n"
        "  namespace: shop-frontend\nspec:\n  podSelector: {matchLabels: {app: a}"
    )
    page.evaluate(
        """text => { const view = window.netviz.editor.view;
             view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: text}}); }""",
        text,
    )
    wait_for_check(page)
    quiet()
    lines = text.count("\n") + 1
    label = page.locator(".diag.error .diag-line").first
    expect(label).to_be_visible()
    number = int(label.inner_text().split()[1])
    assert number <= lines  # never a line past the end of the text
    # (the parser reports this one a line past the end: it is shown at the last, marked so)
    expect(label).to_have_text(f"line {lines} (end)")


def test_a_save_error_of_the_text_goes_once_the_text_is_fixed(page, demo, quiet, expected_statuses):
    expected_statuses.add(400)  # the save of the broken text
    open_policy(page, demo, STOREFRONT_POLICY)
    replace(page, "app: storefront", "app: [storefront")
    wait_for_check(page)
    quiet()
    page.click("[data-testid=save]")
    status = page.locator("[data-editor-status]")
    expect(status).to_contain_text("Not saved")
    # the editor closed the bracket as it was typed: the fix takes both out
    replace(page, "app: [storefront]", "app: storefront-v2")
    wait_for_check(page)
    quiet()
    expect(status).to_be_hidden()
