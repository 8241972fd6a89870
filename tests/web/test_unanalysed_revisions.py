"""Every view that evaluates a revision, asked of one whose analysis failed or is still under
way: a clear message, or 409 in the API's error shape, never a 500 (and no evaluation in the
request: a failed analysis would fail again, a large one would hold the web process).

The shop cluster here has revision 1 (analysed), revision 2 (its analysis failed) and
revision 3 (being analysed by a live worker, hence the head).
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from policies import analysis, engine, revisions, snapshots, tasks
from policies.models import Revision

pytestmark = pytest.mark.django_db

EVALUATE = engine.evaluate  # the fixture replaces it with one that fails

FAILED_MESSAGE = "the analysis of revision 2 failed: RuntimeError: the engine gave up"
ANALYSING_MESSAGE = (
    "revision 3 is being analysed (35%: evaluating the policies); ask again in a moment"
)
POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
"""


def boom(snapshot):
    raise RuntimeError("the engine gave up")


@pytest.fixture
def shop(settings, shop_cluster, owner, shop_files, monkeypatch):
    """The shop with revision 2 failed and revision 3 analysing; evaluating anything in the
    request from then on fails the test."""
    settings.NETVIZ_ANALYSE_INLINE_BELOW = 1
    snapshot = snapshots.parse_manifests(shop_files)
    failed = revisions.upload_revision(shop_cluster, owner, snapshot, message="bigger")
    monkeypatch.setattr(engine, "evaluate", boom)
    analysis.clear()
    assert tasks.analyse_revision.call(failed.pk) == "failed"
    analysing = revisions.upload_revision(shop_cluster, owner, snapshot, message="again")
    Revision.objects.filter(pk=analysing.pk).update(
        status="analysing", progress=35, step="Evaluating the policies", heartbeat=timezone.now()
    )
    analysis.clear()  # nothing kept in this process: a view would have to evaluate
    assert shop_cluster.head.number == 3
    return shop_cluster


def _json_409(response, message: str, status: str) -> None:
    assert response.status_code == 409, response.content[:300]
    body = response.json()
    assert body["errors"][0]["message"] == message
    assert body["errors"][0]["path"] == "revision"
    assert body["status"] == status


@pytest.mark.parametrize(
    ("number", "message", "status"),
    [(2, FAILED_MESSAGE, "failed"), (3, ANALYSING_MESSAGE, "analysing")],
)
def test_json_views_of_a_revision_answer_409_with_where_its_analysis_stands(
    shop, owner, client_for, number, message, status
):
    client = client_for(owner)
    base = f"/clusters/{shop.pk}"
    for response in (
        client.get(f"{base}/revisions/{number}/graph.json"),
        client.get(f"{base}/revisions/{number}/find.json", {"q": "front"}),
        client.post(f"{base}/editor/check", {"revision": number, "yaml": POLICY}),
        client.get(f"{base}/compare/", {"a": 1, "b": number, "format": "json"}),
        client.get(f"{base}/compare/", {"a": number, "b": 1, "format": "json"}),
    ):
        _json_409(response, message, status)


@pytest.mark.parametrize("number", [2, 3])
def test_panels_of_a_revision_show_its_analysis_instead(shop, owner, client_for, number):
    client = client_for(owner)
    base = f"/clusters/{shop.pk}/revisions/{number}"
    hx = {"HX-Request": "true"}
    for path, query in (
        ("flows/", {}),
        ("matrix/", {}),
        ("explain/", {"src": "shop/frontend[Deployment]", "dst": "shop/backend[Deployment]"}),
        ("node/", {"id": "ns:shop"}),
    ):
        response = client.get(f"{base}/{path}", query, headers=hx)
        assert response.status_code == 200, path
        assert 'data-testid="analysis-status"' in response.content.decode(), path
    # What needs no evaluation is served as stored.
    assert client.get(f"{base}/").status_code == 200
    rows = client.get(f"{base}/rows/workloads/", headers=hx)
    assert rows.status_code == 200
    assert "backend" in rows.content.decode()
    status = client.get(f"/clusters/{shop.pk}/revisions/{number}/status")
    assert status.status_code == 200


@pytest.mark.parametrize(
    ("a", "b", "note"),
    [
        (1, 2, "The analysis of revision 2 failed: RuntimeError: the engine gave up."),
        (2, 1, "The analysis of revision 2 failed: RuntimeError: the engine gave up."),
        (
            1,
            3,
            "Revision 3 is being analysed (35%: evaluating the policies); ask again in a moment.",
        ),
        ("", "", "The analysis of revision 2 failed: RuntimeError: the engine gave up."),
    ],
)
def test_compare_with_an_unanalysed_revision_shows_the_policy_diffs_and_says_why_not_more(
    shop, owner, client_for, a, b, note
):
    # ("", "") is the page's default: the head (3, analysing) against the one before (2).
    response = client_for(owner).get(f"/clusters/{shop.pk}/compare/", {"a": a, "b": b})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="policy-diffs"' in page
    assert f'<p class="alert" role="status" data-testid="compare-unanalysed">{note}</p>' in page
    assert 'data-testid="compare-summary"' not in page


def test_compare_of_two_analysed_revisions_still_shows_the_connectivity(
    shop, owner, client_for, monkeypatch
):
    monkeypatch.undo()  # evaluating is allowed again
    Revision.objects.filter(number=3).update(status="ready", progress=100, step="")
    response = client_for(owner).get(f"/clusters/{shop.pk}/compare/", {"a": 1, "b": 3})
    page = response.content.decode()
    assert 'data-testid="compare-summary"' in page
    assert "compare-unanalysed" not in page


def test_head_views_answer_409_while_the_head_is_analysed(shop, owner, client_for, api_client_for):
    client, api = client_for(owner), api_client_for(owner)
    base = f"/clusters/{shop.pk}"
    for response in (
        client.post(f"{base}/editor/check", {"yaml": POLICY}),
        client.post(f"{base}/editor/delete", {"policy": "shop/backend-from-frontend"}),
        client.get(
            f"{base}/editor/allow-flow",
            {"src": "shop/frontend[Deployment]", "dst": "shop/backend[Deployment]"},
        ),
        client.get(f"{base}/graph.json"),
        api.post(f"/api{base}/preview", POLICY, content_type="application/yaml"),
        api.get(f"/api{base}/connections"),
    ):
        _json_409(response, ANALYSING_MESSAGE, "analysing")


def test_writes_to_a_head_being_analysed_answer_409_and_store_nothing(
    shop, owner, client_for, api_client_for
):
    # An edit is evaluated against its head: while the worker has it, the client waits.
    client, api = client_for(owner), api_client_for(owner)
    base = f"/clusters/{shop.pk}"
    policy_url = f"/api{base}/policies/shop/backend-from-frontend"
    for response in (
        client.post(f"{base}/editor/save", {"yaml": POLICY, "base_revision": 3}),
        client.post(
            f"{base}/editor/delete",
            {"policy": "shop/backend-from-frontend", "confirm": "yes", "base_revision": 3},
        ),
        api.put(f"/api{base}/policies/shop/deny-all", POLICY, content_type="application/yaml"),
        api.delete(policy_url),
        api.delete(policy_url, headers={"If-Match": '"3"'}),
    ):
        _json_409(response, ANALYSING_MESSAGE, "analysing")
    assert list(shop.revisions.values_list("number", flat=True).order_by("number")) == [1, 2, 3]


def test_a_write_after_a_dead_worker_applies_to_the_revision_before(
    shop, owner, api_client_for, monkeypatch
):
    # The worker analysing revision 3 died (no heartbeat for long): revision 3 is failed,
    # revision 1 is the head again, and the edit applies to it.
    Revision.objects.filter(number=3, cluster=shop).update(
        heartbeat=timezone.now() - timezone.timedelta(hours=1)
    )
    # evaluating revision 1 in the request is what an edit of it does
    monkeypatch.setattr(engine, "evaluate", EVALUATE)
    response = api_client_for(owner).put(
        f"/api/clusters/{shop.pk}/policies/shop/deny-all", POLICY, content_type="application/yaml"
    )
    assert response.status_code == 201, response.content[:300]
    revision = shop.revisions.get(number=response.json()["revision"])
    assert revision.number == 4
    assert revision.parent.number == 1
    assert shop.revisions.get(number=3).status == "failed"


@pytest.mark.parametrize("number", [2, 3])
def test_exports_of_an_unanalysed_revision_serve_its_stored_policies(
    shop, owner, client_for, api_client_for, number
):
    # Exports read the stored YAML and evaluate nothing: what was uploaded can be taken out.
    client = client_for(owner)
    exported = client.get(f"/clusters/{shop.pk}/export.yaml", {"revision": number})
    assert exported.status_code == 200
    assert "name: backend-from-frontend" in exported.content.decode()
    zipped = client.get(f"/clusters/{shop.pk}/export.zip", {"revision": number})
    assert (zipped.status_code, zipped.content[:2]) == (200, b"PK")
    head = api_client_for(owner).get(f"/api/clusters/{shop.pk}/export.yaml")
    assert head.status_code == 200
    assert 'filename="cluster-' in head["Content-Disposition"]
    assert "-r3-policies.yaml" in head["Content-Disposition"]


def test_the_history_page_lists_both(shop, owner, client_for):
    page = client_for(owner).get(f"/clusters/{shop.pk}/history/").content.decode()
    assert 'data-testid="revision-failed"' in page
