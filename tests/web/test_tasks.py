"""policies.tasks and the worker path: large uploads are stored at once and analysed by a
worker; the page shows the progress; a failed analysis keeps the previous head; a retried
API upload with the same Idempotency-Key stores nothing twice."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.tasks.signals import task_started
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from policies import analysis, engine, queries, revisions, snapshots, tasks
from policies.models import Cluster, IdempotencyKey, Revision, RevisionGraph
from tests.workers import run_worker

pytestmark = pytest.mark.django_db

PENDING, READY, FAILED = (Revision.Status.PENDING, Revision.Status.READY, Revision.Status.FAILED)

OPEN_BACKEND = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: backend-from-frontend
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: backend}
  ingress:
    - ports: [{port: 9090}]
"""


@pytest.fixture
def in_worker(settings) -> None:
    """Every upload, however small, goes to the worker (the threshold is 1 object)."""
    settings.NETVIZ_ANALYSE_INLINE_BELOW = 1


@pytest.fixture
def api(api_client_for, owner):
    return api_client_for(owner)


def upload(api, shop_files, name: str = "prod", key: str = ""):
    """POST /api/clusters/ with the shop's files, and an Idempotency-Key when given."""
    data = {"name": name, "files": [SimpleUploadedFile(n, c) for n, c in shop_files]}
    headers = {"Idempotency-Key": key} if key else {}
    return api.post("/api/clusters/", data, headers=headers)


def boom(snapshot):
    raise RuntimeError("the engine gave up")


# --- the worker path ---------------------------------------------------------------------------


def test_a_small_upload_is_analysed_in_the_request(
    api, shop_files, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, shop_files)
    assert response.status_code == 201
    assert response.json()["status"] == "ready"
    revision = Revision.objects.get()
    assert (revision.status, revision.progress) == (READY, 100)
    assert RevisionGraph.objects.filter(revision=revision).exists()
    assert not DBTaskResult.objects.exists()


def test_a_large_upload_is_stored_pending_with_its_task_and_answered_at_once(
    in_worker, api, shop_files
):
    response = upload(api, shop_files)
    assert response.status_code == 201
    cluster = Cluster.objects.get()
    assert response.json() == {"id": cluster.pk, "revision": 1, "status": "pending"}
    revision = cluster.revisions.get()
    assert (revision.status, revision.progress) == (PENDING, 0)
    assert revision.workloads.count() == 2  # the manifests are stored
    assert not RevisionGraph.objects.exists()  # nothing analysed in the request
    task = DBTaskResult.objects.get()
    assert task.task_path == "policies.tasks.analyse_revision"
    assert task.args_kwargs == {"args": [revision.pk], "kwargs": {}}
    # Still the cluster's head: the page shows it, analysing.
    assert cluster.head == revision


def test_the_task_records_each_step_then_marks_the_revision_ready(
    in_worker, api, shop_files, monkeypatch
):
    upload(api, shop_files)
    revision = Revision.objects.get()
    seen = []
    build = analysis.flow_index

    def watch(rev):
        # What a poller reads from the database while the graph is being built.
        row = Revision.objects.get(pk=rev.pk)
        seen.append((row.status, row.progress, row.step))
        return build(rev)

    monkeypatch.setattr(analysis, "flow_index", watch)
    analysis.clear()  # as in a worker process: the state comes from the rows
    assert tasks.analyse_revision.call(revision.pk) == "ready"
    assert seen == [("analysing", 65, "Building the graph")]
    revision.refresh_from_db()
    assert (revision.status, revision.progress, revision.step, revision.error) == (
        READY,
        100,
        "",
        "",
    )
    assert RevisionGraph.objects.filter(revision=revision).exists()
    # A second run (a task delivered twice) finds nothing to do.
    monkeypatch.setattr(analysis, "flow_index", boom)
    assert tasks.analyse_revision.call(revision.pk) == "ready"


def test_while_analysing_the_graph_and_connections_answer_409_with_the_progress(
    in_worker, api, shop_files, client_for, owner
):
    cluster_id = upload(api, shop_files).json()["id"]
    # A live worker at it: it stamped its heartbeat a moment ago.
    Revision.objects.update(
        status="analysing", progress=35, step="Evaluating the policies", heartbeat=timezone.now()
    )
    client = client_for(owner)
    for response in (
        client.get(f"/clusters/{cluster_id}/graph.json"),
        client.get(f"/clusters/{cluster_id}/revisions/1/graph.json"),
        api.get(f"/api/clusters/{cluster_id}/connections"),
    ):
        assert response.status_code == 409
        body = response.json()
        assert (body["status"], body["progress"], body["revision"]) == ("analysing", 35, 1)
        assert body["errors"][0]["message"] == (
            "revision 1 is being analysed (35%: evaluating the policies); ask again in a moment"
        )
    # The panels show the progress instead of computing the graph in the request.
    flows = client.get(f"/clusters/{cluster_id}/flows/", headers={"HX-Request": "true"})
    assert b'data-testid="analysis-progress"' in flows.content


def test_the_cluster_page_polls_the_progress_until_the_analysis_ends(
    in_worker, api, shop_files, client_for, owner
):
    cluster_id = upload(api, shop_files).json()["id"]
    client = client_for(owner)
    page = client.get(f"/clusters/{cluster_id}/").content.decode()
    status_url = f"/clusters/{cluster_id}/revisions/1/status"
    assert 'data-testid="analysis-progress"' in page
    assert f'hx-get="{status_url}"' in page
    assert 'hx-trigger="every 1s"' in page
    assert "data-graph-root" not in page  # no graph to load yet
    Revision.objects.update(
        status="analysing", progress=65, step="Building the graph", heartbeat=timezone.now()
    )
    partial = client.get(status_url, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    text = partial.content.decode()
    assert '<progress class="analysis-bar" max="100" value="65"' in text
    assert "Building the graph" in text
    assert "<html" not in text  # the partial alone
    assert "HX-Refresh" not in partial.headers
    # Once it ends, the poll reloads the page, which now holds the graph.
    run_worker_inline = tasks.analyse_revision.call
    Revision.objects.update(status="pending")
    run_worker_inline(Revision.objects.get().pk)
    done = client.get(status_url, headers={"HX-Request": "true"})
    assert done.headers["HX-Refresh"] == "true"
    assert "data-graph-root" in client.get(f"/clusters/{cluster_id}/").content.decode()


def test_a_failed_analysis_shows_its_error_and_keeps_the_previous_head(
    settings, shop_cluster, owner, shop_files, client_for, api, monkeypatch
):
    settings.NETVIZ_ANALYSE_INLINE_BELOW = 1
    before = shop_cluster.head
    stored = revisions.upload_revision(
        shop_cluster, owner, snapshots.parse_manifests(shop_files), message="bigger"
    )
    assert (stored.number, stored.status) == (2, PENDING)
    monkeypatch.setattr(engine, "evaluate", boom)
    analysis.clear()
    assert tasks.analyse_revision.call(stored.pk) == "failed"
    stored.refresh_from_db()
    assert (stored.status, stored.error) == (FAILED, "RuntimeError: the engine gave up")
    assert shop_cluster.head == before
    monkeypatch.undo()

    client = client_for(owner)
    page = client.get(f"/clusters/{shop_cluster.pk}/").content.decode()
    assert 'data-testid="analysis-failed"' in page
    assert "Revision 2 (“bigger”) could not be analysed: RuntimeError: the engine gave up" in page
    assert "The cluster stays at revision 1" in page
    assert 'data-revision="1"' in page  # the graph of the head, revision 1
    graph = client.get(f"/clusters/{shop_cluster.pk}/graph.json")
    assert (graph.status_code, graph.json()["revision"]) == (200, 1)
    assert api.get(f"/api/clusters/{shop_cluster.pk}/connections").status_code == 200
    failed = client.get(f"/clusters/{shop_cluster.pk}/revisions/2/").content.decode()
    assert 'data-testid="analysis-error"' in failed
    assert "hx-trigger" not in failed.split('data-testid="analysis-status"')[1][:400]
    assert client.get(f"/clusters/{shop_cluster.pk}/revisions/2/graph.json").status_code == 409
    history = client.get(f"/clusters/{shop_cluster.pk}/history/").content.decode()
    assert 'data-testid="revision-failed"' in history
    [summary] = queries.cluster_summaries(owner)
    assert summary.revision == 1
    # The list page says the newer revision failed, and why, beside the head it still shows.
    [listed] = api.get("/api/clusters/").json()["clusters"]
    assert (listed["revision"], listed["status"]) == (1, "ready")
    clusters = client.get("/").content.decode()
    assert '<span class="tag danger" data-testid="cluster-failed"' in clusters
    assert 'title="RuntimeError: the engine gave up">r2 failed</span>' in clusters


def test_after_a_failed_revision_numbers_go_on_and_edits_build_on_the_head(
    settings, shop_cluster, owner, shop_files, api, client_for, monkeypatch
):
    settings.NETVIZ_ANALYSE_INLINE_BELOW = 1
    failed = revisions.upload_revision(shop_cluster, owner, snapshots.parse_manifests(shop_files))
    monkeypatch.setattr(engine, "evaluate", boom)
    analysis.clear()
    tasks.analyse_revision.call(failed.pk)
    monkeypatch.undo()
    # An edit from revision 1 (the head) is no conflict: the failed revision is not the head.
    response = api.put(
        f"/api/clusters/{shop_cluster.pk}/policies/shop/backend-from-frontend",
        OPEN_BACKEND,
        content_type="application/yaml",
        headers={"If-Match": '"1"'},
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"revision": 3}
    edited = shop_cluster.revisions.get(number=3)
    assert (edited.parent.number, edited.status) == (1, READY)  # edits stay inline
    assert shop_cluster.head == edited
    assert list(shop_cluster.revisions.values_list("number", "status")) == [
        (3, "ready"),
        (2, "failed"),
        (1, "ready"),
    ]
    # The failed revision cannot be restored: a copy would fail the same way.
    client = client_for(owner)
    refused = client.post(f"/clusters/{shop_cluster.pk}/revisions/2/revert/", follow=True)
    assert "Revision 2 could not be analysed; it cannot be restored." in refused.content.decode()
    assert shop_cluster.revisions.count() == 3


def test_reverting_to_a_large_revision_is_analysed_by_the_worker(
    settings, shop_cluster, owner, client_for, monkeypatch
):
    edit = OPEN_BACKEND
    api_put = client_for(owner).post(
        f"/clusters/{shop_cluster.pk}/editor/save",
        {"yaml": edit, "base_revision": 1, "original": "shop/backend-from-frontend"},
    )
    assert api_put.status_code == 200, api_put.content
    settings.NETVIZ_ANALYSE_INLINE_BELOW = 1  # revision 1 counts as large now
    monkeypatch.setattr(engine, "evaluate", boom)  # nothing is evaluated in the request
    analysis.clear()
    response = client_for(owner).post(f"/clusters/{shop_cluster.pk}/revisions/1/revert/")
    assert response.status_code == 302
    reverted = shop_cluster.revisions.get(number=3)
    assert (reverted.status, reverted.parent.number) == (PENDING, 2)
    assert DBTaskResult.objects.filter(pk=reverted.task_id).exists()
    assert shop_cluster.head.number == 3  # being analysed, as an upload would be
    monkeypatch.undo()
    assert tasks.analyse_revision.call(reverted.pk) == READY
    reverted.refresh_from_db()
    # its impact is against revision 2: what the edit added is taken away
    edited = shop_cluster.revisions.get(number=2)
    assert edited.impact["summary"] == "+1 -0 ~0"
    assert reverted.impact["summary"] == "+0 -1 ~0"
    first = analysis.flow_index(shop_cluster.revisions.get(number=1)).to_dict()
    assert analysis.flow_index(reverted).to_dict() == first


def test_a_revert_while_the_head_is_analysed_waits_for_the_worker(
    settings, shop_cluster, owner, shop_files, monkeypatch
):
    settings.NETVIZ_ANALYSE_INLINE_BELOW = 1
    pending = revisions.upload_revision(shop_cluster, owner, snapshots.parse_manifests(shop_files))
    settings.NETVIZ_ANALYSE_INLINE_BELOW = 1000  # revision 1 is small; the head is not ready
    monkeypatch.setattr(engine, "evaluate", boom)
    analysis.clear()
    reverted = revisions.revert_to(shop_cluster, owner, 1)
    assert (reverted.status, reverted.parent) == (PENDING, pending)


def test_a_real_worker_takes_an_upload_from_pending_to_ready(
    transactional_db, in_worker, api, shop_files, client_for, owner
):
    response = upload(api, shop_files)
    assert response.json()["status"] == "pending"
    cluster_id = response.json()["id"]
    analysis.clear()  # nothing kept from the request: the worker reads the rows
    run_worker()
    revision = Revision.objects.get()
    assert (revision.status, revision.progress) == (READY, 100)
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    connections = api.get(f"/api/clusters/{cluster_id}/connections")
    assert connections.status_code == 200
    assert json.loads(b"".join(connections.streaming_content))["connections"]
    graph = client_for(owner).get(f"/clusters/{cluster_id}/graph.json")
    assert graph.status_code == 200


# --- Idempotency-Key ---------------------------------------------------------------------------


def test_a_retried_upload_with_the_same_key_answers_the_same_and_stores_nothing(
    in_worker, api, shop_files
):
    first = upload(api, shop_files, key="upload-7f3a")
    again = upload(api, shop_files, key="upload-7f3a")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert (Cluster.objects.count(), Revision.objects.count(), DBTaskResult.objects.count()) == (
        1,
        1,
        1,
    )
    # Without the key, the same request is a new upload (here refused: the name is taken).
    assert upload(api, shop_files).status_code == 400


def test_idempotency_keys_belong_to_one_user(api, api_client_for, make_user, shop_files):
    mine = upload(api, shop_files, key="k1")
    theirs = upload(api_client_for(make_user("rita")), shop_files, key="k1")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


def test_two_copies_of_one_request_that_race_past_the_check_store_once(owner, shop_files):
    # Both copies found no stored key and were validated; the unique key decides.
    snapshot = snapshots.parse_manifests(shop_files)
    first = revisions.new_cluster(owner, "prod", snapshot, idempotency_key="race")
    second = revisions.new_cluster(owner, "prod-copy", snapshot, idempotency_key="race")
    assert second == first
    assert list(Cluster.objects.values_list("name", flat=True)) == ["prod"]
    assert IdempotencyKey.objects.get().revision == first


def test_an_overlong_idempotency_key_is_400(api, shop_files):
    response = upload(api, shop_files, key="k" * 256)
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "Idempotency-Key"
    assert not Cluster.objects.exists()


def test_a_first_upload_whose_analysis_failed_leaves_a_cluster_without_a_head(
    in_worker, api, shop_files, client_for, owner, monkeypatch
):
    cluster_id = upload(api, shop_files).json()["id"]
    monkeypatch.setattr(engine, "evaluate", boom)
    analysis.clear()
    tasks.analyse_revision.call(Revision.objects.get().pk)
    monkeypatch.undo()
    page = client_for(owner).get(f"/clusters/{cluster_id}/").content.decode()
    assert "could not be analysed: RuntimeError: the engine gave up" in page
    assert "The cluster has no analysed revision" in page
    assert "This cluster has no revision yet." in page
    [summary] = api.get("/api/clusters/").json()["clusters"]
    assert (summary["id"], summary["revision"], summary["status"]) == (cluster_id, 0, "")
    assert api.get(f"/api/clusters/{cluster_id}/connections").status_code == 404


def test_a_worker_forgets_the_queries_debug_logged_as_it_starts_a_task(settings):
    # With DEBUG on (`make run`), Django logs every query of a connection and clears the log
    # at each request; a worker answers none, so it clears it at each task.
    result = tasks.analyse_revision.enqueue(12345)
    settings.DEBUG = True
    for _ in range(50):
        Revision.objects.count()
    assert len(connection.queries_log) >= 50
    task_started.send(sender=object, task_result=result)
    assert len(connection.queries_log) <= 2  # the sweep's own query, made after the reset


def test_once_a_child_is_derived_its_parent_state_is_let_go(
    shop_cluster, api, django_capture_on_commit_callbacks
):
    # At 50,000 pods a state is ~300 MB: the parent's is not needed once the child's impact
    # is stored. Its graph index stays, and its state comes back from its rows on demand.
    parent = shop_cluster.head
    analysis.state(parent).conn  # noqa: B018 (as an edit's preview leaves it)
    analysis.flow_index(parent)
    kept = analysis._states._items
    assert (parent.pk, parent.created) in kept
    with django_capture_on_commit_callbacks(execute=True):
        response = api.put(
            f"/api/clusters/{shop_cluster.pk}/policies/shop/backend-from-frontend",
            OPEN_BACKEND,
            content_type="application/yaml",
        )
    assert response.status_code == 200
    child = shop_cluster.head
    assert child.number == 2
    assert (parent.pk, parent.created) not in kept
    assert (child.pk, child.created) in kept
    assert child.impact["summary"]
    assert analysis.state(parent).conn.flows()  # read again from its rows
