"""The cluster list, the cluster page and the revision view."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import engines
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from policies import changes, queries, revisions, snapshots
from policies.models import ClusterShare

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client_for, owner):
    return client_for(owner)


@pytest.mark.parametrize(
    "url", ["/", "/clusters/1/", "/clusters/1/revisions/1/", "/settings/tokens/"]
)
def test_every_page_needs_a_login(client, url):
    assertRedirects(client.get(url), f"/accounts/login/?next={url}", fetch_redirect_response=False)


def test_the_login_page_renders(client):
    assertContains(client.get("/accounts/login/"), 'name="password"')


def test_logout_is_a_post_form_in_the_header(browser):
    response = browser.get("/")
    assertContains(response, 'action="/accounts/logout/"')
    assertContains(response, "olivia")
    assertRedirects(browser.post("/accounts/logout/"), "/accounts/login/")


def test_the_cluster_list_shows_counts_and_the_last_change(browser, shop_cluster, owner):
    changes.delete_policy(shop_cluster, owner, "shop", "default-deny")
    response = browser.get("/")
    row = (
        response.content.decode().split(f'href="/clusters/{shop_cluster.pk}/"')[1].split("</tr>")[0]
    )
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert cells == ["r2", "1", "2", "2"]
    assert "ago</time>" in row


def test_the_cluster_list_includes_clusters_shared_with_me(client_for, shop_cluster, make_user):
    viewer = make_user("vera")
    ClusterShare.objects.create(cluster=shop_cluster, user=viewer, role="viewer")
    response = client_for(viewer).get("/")
    assertContains(response, f'href="/clusters/{shop_cluster.pk}/"')
    assertContains(response, "shared")


def test_an_empty_cluster_list_invites_an_upload(browser):
    assertContains(browser.get("/"), "No clusters yet")


def test_the_cluster_page_shows_namespaces_workloads_policies(browser, shop_cluster):
    response = browser.get(f"/clusters/{shop_cluster.pk}/")
    page = response.content.decode()
    summary = page.split('data-testid="summary"')[1].split("</section>")[0]
    assert re.findall(r'stat-value">(\d+)<', summary) == ["1", "2", "3", "0"]
    for text in (
        "team=web",
        "app=frontend",
        "http 8080/TCP",
        "backend-from-frontend",
        "shop.yaml:9",
    ):
        assert text in page
    # the verbatim YAML, comments included, is one click away (fetched when the row opens)
    assert "# Deny everything in shop" not in page
    opened = browser.get(
        f"/clusters/{shop_cluster.pk}/editor/policy",
        {"policy": "shop/default-deny"},
        headers={"HX-Request": "true"},
    )
    assert "# Deny everything in shop" in opened.content.decode()


def test_the_graph_has_its_own_block_between_the_summary_and_the_tables(shop_cluster, owner, rf):
    # Issue #4 overrides {% block graph %} with a [data-testid=graph] element.
    template = engines["django"].from_string(
        '{% extends "policies/cluster.html" %}'
        '{% block graph %}<div data-testid="graph"></div>{% endblock %}'
    )
    request = rf.get("/")
    request.user = owner
    page = template.render(queries.revision_overview(shop_cluster, shop_cluster.head), request)
    summary, graph = page.index('data-testid="summary"'), page.index('data-testid="graph"')
    assert summary < graph < page.index('data-testid="policies"')


def test_a_revision_can_be_opened_as_it_was(browser, shop_cluster, owner):
    changes.delete_policy(shop_cluster, owner, "shop", "default-deny")
    old = browser.get(f"/clusters/{shop_cluster.pk}/revisions/1/")
    assertContains(old, "default-deny")
    assertContains(old, 'data-testid="old-revision"')
    assertContains(old, "Go to the latest (revision 2)")
    latest = browser.get(f"/clusters/{shop_cluster.pk}/")
    assertNotContains(latest, '<td class="strong">default-deny</td>')
    assertNotContains(latest, 'data-testid="old-revision"')
    history = latest.content.decode().split('data-testid="history"')[1].split("</section>")[0]
    assert "Deleted shop/default-deny" in history
    assert f'href="/clusters/{shop_cluster.pk}/revisions/1/"' in history


def test_a_missing_revision_is_404(browser, shop_cluster):
    assert browser.get(f"/clusters/{shop_cluster.pk}/revisions/9/").status_code == 404


def test_a_missing_cluster_is_404(browser):
    assert browser.get("/clusters/999/").status_code == 404


def test_names_and_labels_from_uploads_are_shown_escaped_never_as_html(
    browser, web_data, shop_files
):
    uploads = [SimpleUploadedFile(n, c) for n, c in shop_files]
    response = browser.post("/clusters/new/", {"name": "<b>x</b>", "files": uploads}, follow=True)
    assert response.status_code == 200
    assertContains(response, "&lt;b&gt;x&lt;/b&gt;")
    assertNotContains(response, "<b>x</b>")
    # The API server refuses such a label value; the error quoting it is escaped too.
    xss = SimpleUploadedFile("xss.yaml", (web_data / "xss.yaml").read_bytes())
    response = browser.post("/clusters/new/", {"name": "y", "files": [xss]})
    assert response.status_code == 422
    assertContains(
        response,
        "&#x27;&lt;script&gt;alert(1)&lt;/script&gt;&#x27; is not a valid label value",
        status_code=422,
    )
    assertNotContains(response, "<script>alert(1)</script>", status_code=422)


def test_pages_follow_the_content_security_policy(browser, shop_cluster):
    # script-src 'self' and style-src 'self': no inline script, style element or attribute.
    for url in ("/", f"/clusters/{shop_cluster.pk}/", "/clusters/new/", "/settings/tokens/"):
        response = browser.get(url)
        assert "script-src 'self'" in response["Content-Security-Policy"]
        page = response.content.decode()
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == [], url
        assert "<style" not in page, url
        assert " style=" not in page, url
        assert '<script src="/static/vendor/htmx.min.js" defer></script>' in page
        assert 'hx-headers=\'{"X-CSRFToken": "' in page


# --- the policy editor's part of the page --------------------------------------------------------


def test_the_cluster_page_gives_the_editor_its_endpoints_templates_and_rights(
    client_for, users_by_role, shop_cluster
):
    page = client_for(users_by_role["editor"]).get(f"/clusters/{shop_cluster.pk}/")
    assertContains(page, f'data-check-url="/clusters/{shop_cluster.pk}/editor/check"')
    assertContains(page, 'data-can-edit="true"')
    assertContains(page, '<option value="allow-from-namespace" data-fields="namespace peer">')
    assertContains(page, 'data-testid="save"')
    assertContains(page, f'href="/clusters/{shop_cluster.pk}/export.zip"')
    assertContains(page, f'href="/clusters/{shop_cluster.pk}/history/"')
    viewer = client_for(users_by_role["viewer"]).get(f"/clusters/{shop_cluster.pk}/")
    assertContains(viewer, 'data-can-edit="false"')
    assertNotContains(viewer, 'data-testid="save"')


def test_an_old_revision_is_read_only_in_the_editor_and_exports_as_it_was(
    browser, shop_cluster, owner
):
    changes.delete_policy(shop_cluster, owner, "shop", "default-deny")
    page = browser.get(f"/clusters/{shop_cluster.pk}/revisions/1/")
    assertContains(page, 'data-can-edit="false"')
    assertContains(page, f'href="/clusters/{shop_cluster.pk}/export.yaml?revision=1"')
    assertNotContains(page, "data-new-policy-form")


def test_after_a_save_the_editor_refreshes_its_list_and_the_revision_out_of_band(
    browser, shop_cluster, owner
):
    changes.delete_policy(shop_cluster, owner, "shop", "default-deny")
    response = browser.get(
        f"/clusters/{shop_cluster.pk}/", headers={"HX-Request": "true", "HX-Target": "policy-index"}
    )
    assert "HX-Target" in response["Vary"]
    page = response.content.decode()
    assert "<html" not in page
    index, rest = page.strip().split("</section>", 1)
    assert index.startswith('<section id="policy-index"')
    assert 'data-policy="shop/backend-from-frontend"' in index
    assert "default-deny" not in index
    assert "revision 2" in index
    for oob in ("revision-meta", "revision-stats", "policy-table", "history-card"):
        assert re.search(f'id="{oob}"[^>]*hx-swap-oob="true"', rest), oob
    assert "Revision 2 of 2" in rest


def test_the_cluster_page_sends_a_page_of_each_table_and_htmx_fetches_the_rest(client_for, owner):
    pods = "\n---\n".join(
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i:03}, namespace: big}}"
        for i in range(120)
    )
    cluster = revisions.create_cluster(owner, "big", snapshots.parse_manifests([("p.yaml", pods)]))
    client = client_for(owner)
    page = client.get(f"/clusters/{cluster.pk}/").content.decode()
    workloads = page.split('data-testid="workloads"')[1].split("</section>")[0]
    assert workloads.count('<td class="strong">') == 50
    assert "1 to 50 of 120" in workloads
    assert 'data-testid="workloads-pages"' in workloads
    rows = client.get(
        f"/clusters/{cluster.pk}/rows/workloads/?page=3", headers={"HX-Request": "true"}
    )
    text = rows.content.decode()
    assert text.count('<td class="strong">') == 20
    assert "p100" in text
    assert "p099" not in text
    assert "101 to 120 of 120" in text
    # without JavaScript the same page comes through the page's own query string
    assert "p100" in client.get(f"/clusters/{cluster.pk}/?wpage=3").content.decode()
    assert client.get(f"/clusters/{cluster.pk}/rows/secrets/").status_code == 404


def test_namespaces_come_a_page_at_a_time(client_for, owner):
    pods = "\n---\n".join(
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: ns{i:03}}}" for i in range(70)
    )
    cluster = revisions.create_cluster(owner, "wide", snapshots.parse_manifests([("p.yaml", pods)]))
    client = client_for(owner)
    page = client.get(f"/clusters/{cluster.pk}/").content.decode()
    table = page.split('data-testid="namespaces"')[1].split("</section>")[0]
    assert table.count('<td class="strong">') == 50
    assert "1 to 50 of 70" in table
    assert 'data-testid="namespaces-pages"' in table
    assert "ns050" not in table
    rows = client.get(
        f"/clusters/{cluster.pk}/rows/namespaces/?page=2", headers={"HX-Request": "true"}
    ).content.decode()
    assert rows.count('<td class="strong">') == 20
    assert '<td class="strong">ns050</td>' in rows
    assert "51 to 70 of 70" in rows
    again = client.get(f"/clusters/{cluster.pk}/?npage=2").content.decode()
    assert '<td class="strong">ns069</td>' in again


def test_the_policy_table_sends_yaml_only_for_the_row_opened(client_for, owner, shop_cluster):
    client = client_for(owner)
    page = client.get(f"/clusters/{shop_cluster.pk}/").content.decode()
    table = page.split('id="policy-table"')[1].split("</section>")[0]
    assert table.count("data-policy-row=") == 3
    assert "apiVersion" not in table  # each row's YAML comes when it is opened
    opened = re.search(r'<details hx-get="([^"]+)" hx-trigger="toggle once"', table)
    assert opened is not None
    url = opened.group(1).replace("&amp;", "&")
    text = client.get(url, headers={"HX-Request": "true"})
    assert "HX-Request" in text["Vary"]
    assert text.content.decode().startswith("apiVersion: networking.k8s.io/v1")
    # the JSON answer of the same URL is the editor's, unchanged
    assert client.get(url).json()["yaml"] == text.content.decode()
    # a policy named in the address is sent open, with its text
    selected = client.get(f"/clusters/{shop_cluster.pk}/?policy=shop/default-deny").content
    row = selected.decode().split('data-policy-row="shop/default-deny"')[1].split("</td>")[0]
    assert '<details open><summary>Show</summary><pre class="code"' in row
    assert "name: default-deny" in row


def test_a_policy_text_is_escaped_in_the_opened_row(client_for, owner):
    policy = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata:\n  name: p\n  namespace: shop\n"
        "  annotations: {note: '<script>alert(1)</script>'}\n"
        "spec: {podSelector: {}}\n"
    )
    cluster = revisions.create_cluster(
        owner, "odd", snapshots.parse_manifests([("p.yaml", policy)])
    )
    body = (
        client_for(owner)
        .get(
            f"/clusters/{cluster.pk}/editor/policy",
            {"policy": "shop/p"},
            headers={"HX-Request": "true"},
        )
        .content.decode()
    )
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_a_big_policy_index_lists_a_namespace_when_it_is_opened(
    client_for, owner, shop_cluster, monkeypatch
):
    monkeypatch.setattr(queries, "INDEX_INLINE", 1)
    client = client_for(owner)
    page = client.get(f"/clusters/{shop_cluster.pk}/").content.decode()
    index = page.split('id="policy-index"')[1].split("</section>")[0]
    assert 'hx-trigger="toggle once"' in index
    assert "data-policy=" not in index  # names come when the namespace is opened
    names = client.get(
        f"/clusters/{shop_cluster.pk}/rows/policy-names/?namespace=shop",
        headers={"HX-Request": "true"},
    ).content.decode()
    assert names.count("data-policy=") == 3
    assert 'data-policy="shop/default-deny"' in names


def test_the_warnings_count_links_to_the_warnings_and_agrees_in_number(
    client_for, owner, corpus_cases
):
    folder = corpus_cases / "onlineboutique_workloads" / "input"
    pairs = [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]
    cluster = revisions.create_cluster(owner, "boutique", snapshots.parse_manifests(pairs))
    page = client_for(owner).get(f"/clusters/{cluster.pk}/").content.decode()
    assert 'href="#warning-table" data-testid="warnings-badge"' in page
    assert 'id="warning-table"' in page
    assert '<span class="stat-label">warnings</span>' in page
    # a warning about a policy links to it (the editor opens it)
    assert 'data-testid="warning-policy"' in page


def test_one_of_a_kind_is_not_counted_in_the_plural(client_for, owner, shop_cluster):
    page = client_for(owner).get(f"/clusters/{shop_cluster.pk}/").content.decode()
    assert '<span class="stat-label">namespace</span>' in page  # the shop has one namespace
    assert "warnings-badge" not in page  # and no warning to link to


def test_not_found_and_not_allowed_are_styled_pages(client_for, users_by_role, shop_cluster):
    stranger = client_for(users_by_role["stranger"]).get(f"/clusters/{shop_cluster.pk}/")
    assert stranger.status_code == 404
    assertContains(stranger, 'data-testid="error-page"', status_code=404)
    assertContains(stranger, "css/base.css", status_code=404)
    viewer = client_for(users_by_role["viewer"])
    denied = viewer.post(f"/clusters/{shop_cluster.pk}/revisions/1/revert/")
    assertContains(denied, "Not allowed", status_code=403)
    assertContains(denied, 'data-testid="error-page"', status_code=403)


def test_only_the_demo_offers_the_first_tour(client_for, owner, shop_cluster):
    demo = revisions.load_demo(owner)
    client = client_for(owner)
    assertContains(client.get(f"/clusters/{demo.pk}/"), 'data-testid="onboarding"')
    assertNotContains(client.get(f"/clusters/{shop_cluster.pk}/"), 'data-testid="onboarding"')
