"""The graph JSON, the inspector partials, the matrix and the flow table (policies.views.graph)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from policies import analysis, changes, engine, graphs, revisions, snapshots
from policies.engine.explain import explain
from policies.models import RevisionGraph

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
EDGE_PROXY = "shop-frontend/edge-proxy[Deployment]"
STOREFRONT = "shop-frontend/storefront[Deployment]"
CHECKOUT = "shop-backend/checkout[Deployment]"
GRAFANA = "monitoring/grafana[Deployment]"
PROMETHEUS = "monitoring/prometheus[StatefulSet]"
POSTGRES = "shop-data/postgres[StatefulSet]"


@pytest.fixture(autouse=True)
def fresh_memo():
    # The per-process memo is keyed by revision; tests reuse primary keys.
    analysis.clear()
    yield
    analysis.clear()


@pytest.fixture
def demo(owner):
    return revisions.load_demo(owner)


@pytest.fixture
def browser(client_for, owner):
    return client_for(owner)


@pytest.fixture
def demo_snapshot(demo):
    return snapshots.revision_snapshot(demo.head)


def explain_url(cluster, **query: str) -> str:
    return f"/clusters/{cluster.pk}/explain/?{urlencode(query)}"


def inspector(response) -> str:
    page = response.content.decode()
    assert 'data-testid="flow-inspector"' in page
    return page


# --- the graph JSON ----------------------------------------------------------------------------


def test_the_demo_graph_has_every_workload_and_every_allowed_flow(browser, demo, demo_snapshot):
    data = browser.get(f"/clusters/{demo.pk}/graph.json").json()
    conn = engine.evaluate(demo_snapshot)
    assert data["mode"] == "full"
    workloads = [n for n in data["nodes"] if n["data"]["type"] == "workload"]
    assert len(workloads) == len(demo_snapshot.workloads)
    assert len(data["edges"]) == len(list(conn.flows()))
    assert data["stats"]["flows"] == len(data["edges"])
    storefront = next(n["data"] for n in workloads if n["data"]["id"] == STOREFRONT)
    assert storefront["kind"] == "Deployment"
    assert storefront["replicas"] == 3
    assert storefront["isolation"] == "both"
    assert storefront["parent"] == "ns:shop-frontend"
    edge = next(
        e["data"] for e in data["edges"] if e["data"]["id"] == f"{EDGE_PROXY}->{STOREFRONT}"
    )
    assert edge["label"] == "TCP 8080"


def test_the_graph_json_is_sent_without_pretty_printing(browser, demo):
    response = browser.get(f"/clusters/{demo.pk}/graph.json")
    assert response["Content-Type"] == "application/json"
    assert b", " not in response.content[:200]  # no pretty-printing spaces


def test_a_namespace_collapsed_view_sums_flows_and_unions_ports(browser, demo):
    data = browser.get(f"/clusters/{demo.pk}/graph.json?group=ns").json()
    assert data["mode"] == "aggregated"
    groups = {n["data"]["id"]: n["data"] for n in data["nodes"]}
    assert groups["ns:shop-backend"]["workloads"] == 5
    edges = {e["data"]["id"]: e["data"] for e in data["edges"]}
    dns = edges["ns:shop-backend->ns:kube-system"]
    assert dns["flows"] == 5  # every backend workload to coredns
    assert dns["label"] == "TCP 53,UDP 53"


def test_a_cluster_above_the_threshold_opens_aggregated(browser, demo, monkeypatch):
    monkeypatch.setattr(graphs, "AGGREGATE_ABOVE", 10)
    data = browser.get(f"/clusters/{demo.pk}/graph.json").json()
    assert data["mode"] == "aggregated"
    assert not any(n["data"]["type"] == "workload" for n in data["nodes"])
    expanded = browser.get(f"/clusters/{demo.pk}/graph.json?expand=shop-data").json()
    workloads = {n["data"]["label"] for n in expanded["nodes"] if n["data"]["type"] == "workload"}
    assert workloads == {"kafka", "postgres", "redis"}
    assert expanded["expanded"] == ["shop-data"]


def test_filters_come_from_the_query_string(browser, demo):
    query = urlencode({"focus": POSTGRES, "dir": "in", "ext": "0"})
    data = browser.get(f"/clusters/{demo.pk}/graph.json?{query}").json()
    assert {e["data"]["source"] for e in data["edges"]} == {
        "shop-backend/catalog[Deployment]",
        "shop-backend/orders[Deployment]",
        PROMETHEUS,
    }
    assert "flows to" in data["filter"]


def test_bad_filters_are_reported_by_field_and_the_rest_still_applies(browser, demo):
    query = urlencode({"sel": "app in (web", "focus": "nope/nothing[Pod]", "ns": "shop-data"})
    data = browser.get(f"/clusters/{demo.pk}/graph.json?{query}").json()
    assert set(data["errors"]) == {"sel", "focus"}
    assert "missing ')'" in data["errors"]["sel"]
    workloads = {n["data"]["namespace"] for n in data["nodes"] if n["data"]["type"] == "workload"}
    assert workloads == {"shop-data"}


def test_an_old_revision_has_the_graph_it_had(browser, shop_cluster, owner):
    changes.delete_policy(shop_cluster, owner, "shop", "default-deny")
    old = browser.get(f"/clusters/{shop_cluster.pk}/revisions/1/graph.json").json()
    new = browser.get(f"/clusters/{shop_cluster.pk}/graph.json").json()
    assert (old["revision"], new["revision"]) == (1, 2)
    assert len(old["edges"]) == 1  # frontend -> backend on grpc, nothing else
    assert len(new["edges"]) > len(old["edges"])
    assert browser.get(f"/clusters/{shop_cluster.pk}/revisions/7/graph.json").status_code == 404


def test_the_graph_is_computed_once_and_kept_with_the_revision(browser, demo, monkeypatch):
    browser.get(f"/clusters/{demo.pk}/graph.json")
    assert RevisionGraph.objects.filter(revision=demo.head, version=analysis.CACHE_VERSION).exists()
    analysis.clear()

    def no_evaluation(*args, **kwargs):
        raise AssertionError("evaluated again")

    monkeypatch.setattr(engine, "evaluate", no_evaluation)
    assert browser.get(f"/clusters/{demo.pk}/graph.json?group=ns").status_code == 200


# --- Find ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "postgres",  # its name alone
        "shop-data/postgres",  # namespace/name, as people write it
        POSTGRES,  # the id the graph uses
        "SHOP-DATA/Postgres",  # case does not matter
    ],
)
def test_find_names_a_workload_by_short_name_whatever_the_view_draws(browser, demo, typed):
    found = browser.get(f"/clusters/{demo.pk}/find.json?{urlencode({'q': typed})}").json()
    assert found["best"] == POSTGRES
    assert found["results"][0]["id"] == POSTGRES
    assert found["results"][0]["namespace"] == "shop-data"


def test_find_suggests_by_prefix_and_by_label_best_first(browser, demo, demo_snapshot):
    found = browser.get(f"/clusters/{demo.pk}/find.json?q=app%3Dpostgres").json()
    assert [r["id"] for r in found["results"]] == [POSTGRES]
    assert found["results"][0]["match"] == "label app=postgres"
    prefix = browser.get(f"/clusters/{demo.pk}/find.json?q=shop-").json()
    expected = sorted(w.id for w in demo_snapshot.workloads if w.namespace.startswith("shop-"))
    assert sorted(r["id"] for r in prefix["results"]) == expected
    assert prefix["total"] == len(expected)
    assert prefix["best"] == ""  # several match equally: the user picks one


def test_find_of_nothing_or_of_no_workload_answers_empty(browser, demo):
    for typed in ("", "no-such-thing-anywhere"):
        found = browser.get(f"/clusters/{demo.pk}/find.json?{urlencode({'q': typed})}").json()
        assert (found["results"], found["total"], found["best"]) == ([], 0, "")


def test_find_searches_the_revision_it_is_asked_about(browser, shop_cluster):
    head = browser.get(f"/clusters/{shop_cluster.pk}/find.json?q=a").json()
    old = browser.get(f"/clusters/{shop_cluster.pk}/revisions/1/find.json?q=a").json()
    assert (old["revision"], head["revision"]) == (1, shop_cluster.head.number)


# --- external endpoints as CIDRs ----------------------------------------------------------------


def test_external_endpoints_are_labelled_as_cidrs_in_the_graph_table_and_inspector(browser, demo):
    data = browser.get(f"/clusters/{demo.pk}/graph.json?group=none").json()
    external = {n["data"]["id"]: n["data"]["label"] for n in data["nodes"]
                if n["data"]["type"] == "external"}  # fmt: skip
    # the demo's ipBlock 203.0.113.0/24 except 203.0.113.192/26 splits the addresses in two
    assert sorted(external.values()) == [
        "203.0.113.0/25, 203.0.113.128/26",
        "internet except 203.0.113.0/25, 203.0.113.128/26",
    ]
    allowed = next(i for i, label in external.items() if label.startswith("203.0.113.0/25"))
    table = browser.get(f"/clusters/{demo.pk}/flows/?group=none", headers=HTMX)
    assertContains(table, "203.0.113.0/25, 203.0.113.128/26")
    assertContains(table, f'title="{allowed}"')  # the ranges stay at hand
    checkout = next(e["data"]["source"] for e in data["edges"] if e["data"]["target"] == allowed)
    page = inspector(browser.get(explain_url(demo, src=checkout, dst=allowed), headers=HTMX))
    assert "203.0.113.0/25, 203.0.113.128/26</span>" in page


def test_a_cache_of_an_older_layout_is_rebuilt(browser, demo):
    RevisionGraph.objects.create(revision=demo.head, version=0, data={"stale": True})
    assert browser.get(f"/clusters/{demo.pk}/graph.json").status_code == 200
    assert RevisionGraph.objects.get(revision=demo.head).version == analysis.CACHE_VERSION


GRAPH_URLS = [
    "graph.json",
    "flows/",
    "matrix/",
    "explain/?src=a&dst=b",
    "node/?id=x",
    "find.json?q=x",
]


@pytest.mark.parametrize("path", GRAPH_URLS)
def test_a_stranger_is_told_the_cluster_does_not_exist(
    client_for, users_by_role, shop_cluster, path
):
    response = client_for(users_by_role["stranger"]).get(f"/clusters/{shop_cluster.pk}/{path}")
    assert response.status_code == 404


@pytest.mark.parametrize("path", GRAPH_URLS)
def test_a_viewer_may_see_the_graph(client_for, users_by_role, shop_cluster, path):
    response = client_for(users_by_role["viewer"]).get(f"/clusters/{shop_cluster.pk}/{path}")
    assert response.status_code == 200


def test_the_graph_needs_a_login(client, shop_cluster):
    url = f"/clusters/{shop_cluster.pk}/graph.json"
    assertRedirects(client.get(url), f"/accounts/login/?next={url}", fetch_redirect_response=False)


def test_the_graph_endpoints_only_answer_get(browser, shop_cluster):
    assert browser.post(f"/clusters/{shop_cluster.pk}/graph.json").status_code == 405
    assert browser.post(f"/clusters/{shop_cluster.pk}/explain/").status_code == 405


# --- the cluster page ---------------------------------------------------------------------------


def test_the_cluster_page_holds_the_graph_the_inspector_and_the_scripts(browser, demo):
    page = browser.get(f"/clusters/{demo.pk}/").content.decode()
    for needle in (
        'data-testid="graph"',
        'data-testid="flow-inspector"',
        f'data-base-url="/clusters/{demo.pk}/"',
        '<script type="module" src="/static/js/cluster.js"></script>',
        'id="__________cytoscape_stylesheet"',
        f'<option value="{STOREFRONT}">',
    ):
        assert needle in page, needle


def test_an_old_revision_page_points_the_graph_at_that_revision(browser, shop_cluster, owner):
    changes.delete_policy(shop_cluster, owner, "shop", "default-deny")
    page = browser.get(f"/clusters/{shop_cluster.pk}/revisions/1/").content.decode()
    assert f'data-base-url="/clusters/{shop_cluster.pk}/revisions/1/"' in page


def test_a_policy_link_opens_that_policy_on_the_page(browser, demo):
    response = browser.get(f"/clusters/{demo.pk}/?policy=shop-backend/checkout")
    page = response.content.decode()
    view = page.split("data-policy-view")[1].split("</div>")[0]
    assert "name: checkout" in view
    assert "port: htpp" in view


# --- the flow inspector -------------------------------------------------------------------------


def test_an_allowed_flow_lists_the_policies_and_rules_of_both_sides(browser, demo, demo_snapshot):
    response = browser.get(explain_url(demo, src=EDGE_PROXY, dst=STOREFRONT), headers=HTMX)
    page = inspector(response)
    assert "<html" not in page  # the partial alone
    assert "ALLOWED" in page
    expected = explain(demo_snapshot, EDGE_PROXY, STOREFRONT)
    for side in (expected.egress, expected.ingress):
        for policy in side.policies:
            assert f'data-policy="{policy.id}"' in page
    assert f'href="/clusters/{demo.pk}/?policy=shop-frontend/storefront"' in page
    assert "TCP 8080" in page
    assert "blocks it" not in page


def test_a_flow_denied_by_the_sources_egress_says_so(browser, demo):
    page = inspector(browser.get(explain_url(demo, src=STOREFRONT, dst=GRAFANA), headers=HTMX))
    assert "DENIED" in page
    assert "blocked by the source&#x27;s egress" in page
    egress = page.split('data-testid="side-egress"')[1].split("</section>")[0]
    ingress = page.split('data-testid="side-ingress"')[1].split("</section>")[0]
    assert "blocks it" in egress
    assert "No rule of these policies names the other side" in egress
    assert "blocks it" not in ingress
    assert "Nothing isolates it" in ingress


def test_a_flow_denied_by_the_destinations_ingress_says_so(browser, demo):
    page = inspector(browser.get(explain_url(demo, src=GRAFANA, dst=STOREFRONT), headers=HTMX))
    assert "blocked by the destination&#x27;s ingress" in page
    ingress = page.split('data-testid="side-ingress"')[1].split("</section>")[0]
    assert "blocks it" in ingress
    assert 'data-policy="shop-frontend/storefront"' in ingress
    egress = page.split('data-testid="side-egress"')[1].split("</section>")[0]
    assert "Nothing isolates it" in egress


def test_a_rule_that_allows_nothing_shows_as_such(browser, demo):
    # The demo's typo: checkout's ingress names port "htpp", which no container declares.
    page = inspector(browser.get(explain_url(demo, src=STOREFRONT, dst=CHECKOUT), headers=HTMX))
    ingress = page.split('data-testid="side-ingress"')[1].split("</section>")[0]
    egress = page.split('data-testid="side-egress"')[1].split("</section>")[0]
    # storefront's egress allows TCP 8080: only checkout's ingress blocks the flow
    assert "blocks it" in ingress
    assert "blocks it" not in egress
    assert "shop-backend/checkout" in ingress
    assert ">nothing<" in ingress
    assert "policies-backend.yaml:131" in ingress


def test_a_flow_allowed_on_other_ports_is_denied_on_the_port_asked(browser, demo):
    url = explain_url(demo, src=EDGE_PROXY, dst=STOREFRONT, port="tcp 9090")
    page = inspector(browser.get(url, headers=HTMX))
    assert "DENIED" in page
    assert "on TCP 9090" in page
    assert "TCP 8080" in page  # what is allowed instead


def test_a_flow_nothing_isolates_is_allowed_by_default(browser, demo):
    page = inspector(browser.get(explain_url(demo, src=GRAFANA, dst=PROMETHEUS), headers=HTMX))
    assert "ALLOWED" in page
    assert "Every port of every protocol" in page
    assert page.count("Nothing isolates it") == 2


def test_the_why_form_accepts_short_names_and_external_addresses(browser, demo):
    url = explain_url(demo, src="payments", dst="203.0.113.10", port="443")
    page = inspector(browser.get(url, headers=HTMX))
    assert "ALLOWED" in page
    assert "An external address: no policy governs it." in page


def test_the_why_form_explains_what_it_could_not_read(browser, demo):
    url = explain_url(demo, src="no-such-thing", dst=STOREFRONT, port="tcp 99999")
    response = browser.get(url, headers=HTMX)
    assert response.status_code == 200  # htmx swaps it in
    assertContains(response, "ports must be within 1-65535")
    url = explain_url(demo, src="no-such-thing", dst="")
    page = inspector(browser.get(url, headers=HTMX))
    assert "neither a workload nor an IP address" in page
    assert "name a destination" in page


def test_without_javascript_the_why_form_renders_the_whole_page(browser, demo):
    response = browser.get(explain_url(demo, src=EDGE_PROXY, dst=STOREFRONT))
    assertContains(response, "<html")
    assertContains(response, 'data-testid="graph"')
    assertContains(response, "ALLOWED")
    assertContains(response, f'value="{EDGE_PROXY}"')  # the form keeps what was asked


def test_a_collapsed_edge_lists_the_flows_it_stands_for(browser, demo):
    url = explain_url(demo, src="ns:shop-backend", dst="ns:shop-data")
    page = inspector(browser.get(url, headers=HTMX))
    assert "4 allowed flows" in page  # catalog, orders to postgres; cart to redis; orders to kafka
    assert "src=shop-backend%2Forders%5BDeployment%5D&amp;dst=shop-data%2Fkafka" in page


def test_tapping_a_workload_shows_its_labels_policies_and_flows(browser, demo):
    response = browser.get(f"/clusters/{demo.pk}/node/?{urlencode({'id': POSTGRES})}", headers=HTMX)
    page = inspector(response)
    assert "app=postgres" in page
    assert "postgres:5432/TCP" in page
    assert "isolated for ingress and egress" in page
    ingress = page.split("<dt>Ingress</dt>")[1].split("</dd>")[0]
    assert 'data-policy="shop-data/postgres"' in ingress
    assert 'data-policy="shop-data/default-deny"' in ingress
    flows_in = page.split("Flows in")[1].split("Flows out")[0]
    assert "catalog" in flows_in
    assert "prometheus" in flows_in


def test_tapping_a_namespace_shows_its_workloads_and_policies(browser, demo):
    response = browser.get(f"/clusters/{demo.pk}/node/?id=ns:shop-data", headers=HTMX)
    page = inspector(response)
    assert "team=data" in page
    assert 'data-policy="shop-data/default-deny"' in page
    assert 'data-graph-action="expand" data-namespace="shop-data"' in page


def test_tapping_an_external_range_shows_its_flows(browser, demo):
    node = "203.0.113.0-203.0.113.191"
    page = inspector(browser.get(f"/clusters/{demo.pk}/node/?id={node}", headers=HTMX))
    assert "External addresses" in page
    assert "payments" in page.split("Flows in")[1]


def test_an_unknown_node_is_reported_in_the_inspector(browser, demo):
    page = inspector(browser.get(f"/clusters/{demo.pk}/node/?id=nope", headers=HTMX))
    assert "Nothing called &#x27;nope&#x27; in revision 1" in page


def test_labels_from_rows_are_escaped_in_the_inspector(browser, owner, shop_files):
    # The loader refuses such a label now; rows stored before it did may still hold one.
    shop = snapshots.parse_manifests(shop_files)
    evil = engine.Workload("shop", "evil", "Pod", (("app", "<script>alert(1)</script>"),))
    snapshot = engine.assemble(shop.namespaces, (*shop.workloads, evil), shop.policies)
    cluster = revisions.create_cluster(owner, "xss", snapshot)
    response = browser.get(f"/clusters/{cluster.pk}/node/?id=shop/evil[Pod]", headers=HTMX)
    assertContains(response, "app=&lt;script&gt;alert(1)&lt;/script&gt;")
    assertNotContains(response, "<script>alert(1)</script>")


# --- the matrix and the flow table ---------------------------------------------------------------


def test_the_matrix_is_namespace_by_namespace(browser, demo):
    page = browser.get(f"/clusters/{demo.pk}/matrix/", headers=HTMX).content.decode()
    assert 'data-testid="matrix"' in page
    assert page.count('<th scope="row"') == 5 + 1  # and every external address as one row
    # the internet reaches the frontend (edge-proxy on 443), not the data namespace
    cell = page.split('data-src="ext:" data-dst="ns:shop-frontend"')[0].rsplit("<td", 1)[1]
    assert 'class="cell some"' in cell
    cell = page.split('data-src="ext:" data-dst="ns:shop-data"')[0].rsplit("<td", 1)[1]
    assert 'class="cell none"' in cell
    # backend to data on some ports, monitoring to kube-system on all, data to frontend none
    assert 'data-src="ns:shop-backend" data-dst="ns:shop-data"' in page
    cell = page.split('data-src="ns:monitoring" data-dst="ns:kube-system"')[0].rsplit("<td", 1)[1]
    assert 'class="cell all"' in cell
    cell = page.split('data-src="ns:shop-backend" data-dst="ns:shop-data"')[0].rsplit("<td", 1)[1]
    assert 'class="cell some"' in cell
    assert 'title="shop-backend → shop-data: TCP 5432,6379,9092-9094"' in page


def test_a_matrix_cell_of_external_addresses_lists_its_flows(browser, demo):
    page = inspector(
        browser.get(explain_url(demo, src="ext:", dst="ns:shop-frontend"), headers=HTMX)
    )
    assert "edge-proxy" in page
    assert "internet except" in page


def test_the_matrix_of_a_namespace_is_workload_by_workload(browser, demo):
    page = browser.get(f"/clusters/{demo.pk}/matrix/?namespace=shop-backend", headers=HTMX)
    text = page.content.decode()
    assert text.count('<th scope="row"') == 5
    assert f'data-src="{CHECKOUT}" data-dst="shop-backend/payments[Deployment]"' in text
    assert browser.get(f"/clusters/{demo.pk}/matrix/?namespace=nope").status_code == 404


def test_the_flow_table_lists_the_flows_of_the_view_a_page_at_a_time(
    browser, demo, demo_snapshot, monkeypatch
):
    # a namespace's flows are those in, out of and inside it
    backend = [
        f
        for f in engine.evaluate(demo_snapshot).flows()
        if "shop-backend" in (f.src.workload and f.src.workload.namespace,
                              f.dst.workload and f.dst.workload.namespace)
    ]  # fmt: skip
    n = len(backend)
    page = browser.get(f"/clusters/{demo.pk}/flows/?ns=shop-backend", headers=HTMX)
    assertContains(
        page, f"Flows 1\u2013{n} of {n} (filter: namespace shop-backend; 61 in the cluster)"
    )
    monkeypatch.setattr("policies.views.graph.FLOWS_PER_PAGE", 25)
    second = browser.get(f"/clusters/{demo.pk}/flows/?page=2", headers=HTMX)
    assertContains(second, "Flows 26\u201350 of 61")
    assertContains(second, f"/clusters/{demo.pk}/flows/?page=3")
    assertContains(second, "why</a>")


def test_the_flow_table_without_javascript_is_the_whole_page(browser, demo):
    response = browser.get(f"/clusters/{demo.pk}/flows/?port=tcp+5432")
    assertContains(response, "<html")
    assertContains(response, 'data-testid="flow-table"')
    assertContains(response, "filter: flows allowing TCP 5432")


def test_the_graph_json_of_a_cluster_without_a_revision_is_404(browser, owner):
    from policies.models import Cluster

    cluster = Cluster.objects.create(owner=owner, name="empty")
    assert browser.get(f"/clusters/{cluster.pk}/graph.json").status_code == 404
