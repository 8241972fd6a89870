"""A worker that dies mid-analysis never leaves a revision "analysing" for good.

One test kills a real `manage.py db_worker` process with SIGKILL while it analyses, on a
database file of its own (so that the worker, the scripts that look at the result and this
test can all open it, whatever database the suite runs on). The others simulate the dead
task row (running for good, failed, gone) in the test database, and check the sweep a
worker runs when it starts a task, with a real worker loop.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import OperationalError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from policies import analysis, queries, revisions, snapshots, tasks
from policies.models import Revision
from tests.workers import run_worker

REPO = Path(__file__).resolve().parents[2]
PENDING, ANALYSING, READY, FAILED = (
    Revision.Status.PENDING,
    Revision.Status.ANALYSING,
    Revision.Status.READY,
    Revision.Status.FAILED,
)

# Stores the demo shop as revision 1 (analysed) and again as revision 2, pending, its task
# queued: what a large upload leaves for the worker.
SETUP = """
import json
from django.contrib.auth import get_user_model
from policies import revisions, snapshots, tasks
snapshot = snapshots.parse_manifests(revisions.demo_files())
ann = get_user_model().objects.create_user("ann", password="correct horse battery")
first = revisions.new_cluster(ann, "shop", snapshot)
tasks.analyse_revision.call(first.pk)
second = revisions.upload_revision(first.cluster, ann, snapshot, message="bigger")
print(json.dumps({"cluster": first.cluster_id, "revision": second.pk}))
"""

# A real worker whose evaluation takes a minute, so that it is surely killed mid-analysis.
SLOW_WORKER = """
import os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netviz.settings")
django.setup()
from policies import engine
real = engine.evaluate
def slow(*args, **kwargs):
    time.sleep(60)
    return real(*args, **kwargs)
engine.evaluate = slow
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", "db_worker", "--interval", "0.1", "--no-startup-delay"])
"""

# What the web app answers afterwards, through its views (as a logged-in ann).
LOOK = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
client = Client()
client.force_login(get_user_model().objects.get(username="ann"))
pk = {cluster}
status = client.get(f"/clusters/{{pk}}/revisions/2/status", headers={{"HX-Request": "true"}})
page = client.get(f"/clusters/{{pk}}/").content.decode()
graph = client.get(f"/clusters/{{pk}}/graph.json")
failed = client.get(f"/clusters/{{pk}}/revisions/2/graph.json")
print(json.dumps({{
    "refresh": status.headers.get("HX-Refresh"),
    "page_failed": 'data-testid="analysis-failed"' in page,
    "page": page,
    "graph": [graph.status_code, graph.json().get("revision")],
    "failed": [failed.status_code, failed.json()],
}}))
"""


def _manage(env: dict[str, str], *args: str, script: str = "") -> str:
    command = [sys.executable, "manage.py", *args]
    if script:
        command += ["-c", script]
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _row(db: Path, sql: str, *params: object) -> tuple:
    with sqlite3.connect(db, timeout=30) as connection:
        return connection.execute(sql, params).fetchone()


def test_a_worker_killed_mid_analysis_leaves_a_failed_revision_and_the_old_head(tmp_path):
    db = tmp_path / "netviz.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "NETVIZ_ANALYSE_INLINE_BELOW": "1",
        "NETVIZ_ANALYSIS_HEARTBEAT": "0.2",
        "NETVIZ_ANALYSIS_STALE_AFTER": "2",
        "DJANGO_SETTINGS_MODULE": "netviz.settings",
    }
    _manage(env, "migrate", "-v0")
    stored = json.loads(_manage(env, "shell", script=SETUP).strip().splitlines()[-1])
    revision_sql = "SELECT status, step, heartbeat FROM policies_revision WHERE id = ?"
    assert _row(db, revision_sql, stored["revision"])[0] == "pending"

    worker = subprocess.Popen(
        [sys.executable, "-c", SLOW_WORKER],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while _row(db, revision_sql, stored["revision"])[1] != "Evaluating the policies":
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the worker never started the analysis"
            time.sleep(0.05)
        # Alive: its heartbeat moves on while it evaluates.
        first_beat = _row(db, revision_sql, stored["revision"])[2]
        time.sleep(0.8)
        assert _row(db, revision_sql, stored["revision"])[2] > first_beat
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(30)
    assert worker.returncode == -signal.SIGKILL

    # What the kill left: the revision analysing, its task running, for good.
    assert _row(db, revision_sql, stored["revision"])[0] == "analysing"
    task_status = "SELECT status FROM django_tasks_database_dbtaskresult ORDER BY enqueued_at DESC"
    assert _row(db, task_status) == ("RUNNING",)

    time.sleep(2.5)  # longer than NETVIZ_ANALYSIS_STALE_AFTER without a heartbeat
    seen = json.loads(_manage(env, "shell", script=LOOK.format(**stored)).strip().splitlines()[-1])
    # The poll of the progress ends (the page reloads) and the page says what happened.
    assert seen["refresh"] == "true"
    assert seen["page_failed"]
    assert (
        "Revision 2 (“bigger”) could not be analysed: Its worker stopped while evaluating"
        in (seen["page"])
    )
    assert "The cluster stays at revision 1" in seen["page"]
    assert seen["graph"] == [200, 1]  # the previous head stays the head
    status, body = seen["failed"]
    assert status == 409
    assert body["status"] == "failed"
    assert body["error"].startswith(
        "Its worker stopped while evaluating the policies (killed or crashed): "
        "no sign of life for more than 2 s."
    )
    assert body["errors"][0]["message"].startswith("the analysis of revision 2 failed: ")
    assert _row(db, revision_sql, stored["revision"])[0] == "failed"


# --- simulated deaths, in the test database ----------------------------------------------------


@pytest.fixture
def pending(settings, shop_cluster, owner, shop_files) -> Revision:
    """Revision 2 of the shop, pending, with its task queued (revision 1 is the head)."""
    settings.NETVIZ_ANALYSE_INLINE_BELOW = 1
    settings.NETVIZ_ANALYSIS_STALE_AFTER = 60
    revision = revisions.upload_revision(
        shop_cluster, owner, snapshots.parse_manifests(shop_files), message="bigger"
    )
    revision.refresh_from_db()
    assert revision.task_id
    assert revision.status == PENDING
    return revision


def _claimed(revision: Revision, minutes_ago: float = 0, step: str = "Evaluating the policies"):
    """As a worker leaves the revision and its task when it dies at `step`."""
    when = timezone.now() - timedelta(minutes=minutes_ago)
    DBTaskResult.objects.filter(pk=revision.task_id).update(status="RUNNING", started_at=when)
    Revision.objects.filter(pk=revision.pk).update(
        status=ANALYSING, progress=35, step=step, heartbeat=when
    )
    revision.refresh_from_db()


@pytest.mark.django_db
def test_a_live_analysis_and_a_queued_one_are_left_alone(pending):
    assert tasks.settle(pending).status == PENDING  # waiting for a worker, however long
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(days=1))
    assert tasks.settle(pending).status == PENDING
    _claimed(pending, minutes_ago=0.5)  # its last heartbeat 30 s ago, under the 60 s
    assert tasks.settle(pending).status == ANALYSING
    assert tasks.sweep() == []


@pytest.mark.django_db
def test_a_silent_worker_fails_its_revision_and_the_head_goes_back(pending, shop_cluster):
    assert revisions.settled_head(shop_cluster) == pending
    _claimed(pending, minutes_ago=2, step="Building the graph")
    head = revisions.settled_head(shop_cluster)
    assert head.number == 1
    pending.refresh_from_db()
    assert (pending.status, pending.step) == (FAILED, "")
    assert pending.error == (
        "Its worker stopped while building the graph (killed or crashed): no sign of life for "
        "more than 60 s. Upload the manifests again to analyse them."
    )


@pytest.mark.parametrize(
    ("task_status", "reason"),
    [
        ("FAILED", "Its worker stopped with an error before the analysis ended."),
        ("SUCCESSFUL", "Its worker ended the task without finishing the analysis."),
        (None, "Its analysis task was lost (its row in the task queue is gone)."),
    ],
)
@pytest.mark.django_db
def test_a_task_that_failed_ended_or_was_lost_fails_its_revision(pending, task_status, reason):
    _claimed(pending)  # a fresh heartbeat: only the task row tells
    rows = DBTaskResult.objects.filter(pk=pending.task_id)
    if task_status is None:
        rows.delete()
    else:
        rows.update(status=task_status)
    assert tasks.settle(pending).status == FAILED
    assert pending.error.startswith(reason)


@pytest.mark.django_db
def test_a_worker_that_died_as_it_took_the_task_fails_its_revision(pending):
    DBTaskResult.objects.filter(pk=pending.task_id).update(
        status="RUNNING", started_at=timezone.now() - timedelta(minutes=5)
    )
    assert tasks.settle(pending).status == FAILED
    assert pending.error.startswith("Its worker stopped (killed or crashed) as it took the task.")


@pytest.mark.django_db
def test_a_worker_marked_dead_that_was_only_slow_stops_and_keeps_the_failure(pending, monkeypatch):
    # The sweep ran while this worker was in its evaluation: its next step finds it failed.
    build = analysis.flow_index

    def swept_meanwhile(revision):
        Revision.objects.filter(pk=revision.pk).update(status=FAILED, error="declared dead")
        return build(revision)

    monkeypatch.setattr(analysis, "flow_index", swept_meanwhile)
    assert tasks.analyse_revision.call(pending.pk) == FAILED
    pending.refresh_from_db()
    assert (pending.status, pending.error) == (FAILED, "declared dead")


def test_a_worker_starting_a_task_sweeps_the_analyses_that_died(
    transactional_db, settings, owner, shop_files
):
    settings.NETVIZ_ANALYSE_INLINE_BELOW = 1
    settings.NETVIZ_ANALYSIS_STALE_AFTER = 60
    snapshot = snapshots.parse_manifests(shop_files)
    dead = revisions.new_cluster(owner, "dead", snapshot)
    _claimed(dead, minutes_ago=10)  # its worker was killed ten minutes ago
    waiting = revisions.new_cluster(owner, "next", snapshot)
    analysis.clear()
    run_worker()  # a (re)started worker takes the next task, and sweeps first
    dead.refresh_from_db()
    waiting.refresh_from_db()
    assert (dead.status, waiting.status) == (FAILED, READY)
    assert dead.error.startswith("Its worker stopped while evaluating the policies")
    assert DBTaskResult.objects.get(pk=waiting.task_id).status == "SUCCESSFUL"


@pytest.mark.django_db
def test_the_cluster_list_settles_a_dead_head_for_clients_polling_it(
    pending, shop_cluster, owner, api_client_for
):
    api = api_client_for(owner)
    [listed] = api.get("/api/clusters/").json()["clusters"]
    assert (listed["revision"], listed["status"]) == (2, "pending")
    _claimed(pending, minutes_ago=5)
    [listed] = api.get("/api/clusters/").json()["clusters"]
    assert (listed["revision"], listed["status"]) == (1, "ready")
    [summary] = queries.cluster_summaries(owner)
    assert summary.failed is not None
    assert (summary.failed.number, summary.failed.error[:18]) == (2, "Its worker stopped")
    pending.refresh_from_db()
    assert pending.status == FAILED


def test_the_heartbeat_goes_on_after_a_beat_that_failed(
    transactional_db, settings, pending, monkeypatch
):
    # A beat that fails (the database locked past its timeout) must not end the beats: the
    # revision would then be taken for dead while its worker is still at it.
    settings.NETVIZ_ANALYSIS_HEARTBEAT = 0.05
    Revision.objects.filter(pk=pending.pk).update(status=ANALYSING, heartbeat=None)
    real_now, calls = timezone.now, []

    def flaky_now():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return real_now()

    monkeypatch.setattr(timezone, "now", flaky_now)
    with tasks._Heartbeat(pending):
        deadline = time.monotonic() + 10
        while Revision.objects.get(pk=pending.pk).heartbeat is None:
            assert time.monotonic() < deadline, "no heartbeat after the failed one"
            time.sleep(0.02)
    assert len(calls) >= 2
