"""What a revision derives once it is written, in the request or in a worker.

`derive()` computes it: the revision's state from its rows (or the snapshot its writer had),
its evaluation, its graph's flow index (stored), then its impact against its parent. Small
revisions derive in the request that wrote them (`revisions` calls `derive()` once the
transaction commits); large uploads are stored `pending` with the task below enqueued in the
same transaction, and a worker (`manage.py db_worker`, django-tasks-db) runs it: it records
its progress on the revision as it goes, so that any web process can show it, and marks the
revision ready, or failed with its error, at the end. A failed revision never becomes the
cluster's head (see `Cluster.head`).

A worker can die mid-analysis (killed, out of memory, its machine gone) and leave the revision
"analysing" with its task row "running" for good. So the worker beats: every few seconds
while it analyses, a thread stamps the revision's `heartbeat`. `settle()` marks a revision
failed, with the reason, when its worker fell silent for longer than
`NETVIZ_ANALYSIS_STALE_AFTER` seconds, or its task failed, finished without it, or was lost;
the previous revision then stays the head. Pages and the API settle the revision they show
when they look at it, and every worker sweeps all revisions when it starts a task. A worker
that was only slow finds its revision failed at its next step and stops there.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import connections, reset_queries
from django.db.models import QuerySet
from django.dispatch import receiver
from django.tasks import TaskResult, TaskResultStatus, task
from django.tasks.exceptions import TaskResultDoesNotExist
from django.tasks.signals import task_started
from django.utils import timezone

from . import analysis, engine
from .models import Revision

__all__ = ["analyse_revision", "derive", "enqueue", "settle", "sweep"]

logger = logging.getLogger(__name__)

# The steps of an analysis and how far along each starts (the graph is ready at the end of
# "Building the graph"; the impact against the parent comes after, and the page need not
# wait for it).
STEPS = {
    "read": (5, "Reading the stored manifests"),
    "evaluate": (35, "Evaluating the policies"),
    "graph": (65, "Building the graph"),
}


LIVE = (Revision.Status.PENDING, Revision.Status.ANALYSING)


class Abandoned(Exception):
    """The revision was marked failed while this worker analysed it (it was silent too
    long, see `settle`): its result would contradict what users were told, so it stops."""


def _record(revision: Revision, **fields: object) -> None:
    """Store fields of the revision's analysis state at once (the worker runs outside any
    transaction, so pollers see each step as it starts). Raises Abandoned when the revision
    is no longer pending or analysing."""
    if not Revision.objects.filter(pk=revision.pk, status__in=LIVE).update(**fields):
        raise Abandoned(revision.pk)
    for name, value in fields.items():
        setattr(revision, name, value)


def heartbeat_interval() -> float:
    return float(getattr(settings, "NETVIZ_ANALYSIS_HEARTBEAT", 5))


def stale_after() -> float:
    """Seconds without a heartbeat after which an analysis is taken for dead (many beats:
    a busy machine may delay one, never a dozen)."""
    return float(getattr(settings, "NETVIZ_ANALYSIS_STALE_AFTER", 60))


class _Heartbeat:
    """Stamps the revision's `heartbeat` every few seconds from a thread, while the worker
    analyses it (the analysis itself may spend a minute in one step at 50,000 pods)."""

    def __init__(self, revision: Revision) -> None:
        self._pk = revision.pk
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="analysis-heartbeat", daemon=True)

    def _beat(self) -> None:
        live = Revision.objects.filter(pk=self._pk, status=Revision.Status.ANALYSING)
        try:
            while not self._stop.wait(heartbeat_interval()):
                try:
                    if not live.update(heartbeat=timezone.now()):
                        return  # no longer analysing: nothing left to vouch for
                except Exception:
                    # A missed beat (the database locked past its timeout) must neither stop
                    # the analysis nor the beats after it.
                    logger.warning("a heartbeat of revision %s failed", self._pk, exc_info=True)
        finally:
            connections.close_all()  # this thread's own connection

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _impact(revision: Revision, parent: Revision) -> None:
    """Store the revision's impact against its parent; a failure only leaves it unknown."""
    try:
        change = engine.diff(analysis.state(parent).conn, analysis.state(revision).conn)
        revision.impact = analysis.impact_record(change)
        Revision.objects.filter(pk=revision.pk).update(impact=revision.impact)
    except Exception:
        logger.exception("could not compute the impact of revision %s", revision.pk)


def derive(
    revision: Revision,
    snapshot: engine.Snapshot | None = None,
    conn: engine.Connectivity | None = None,
    parent: Revision | None = None,
    *,
    report: bool = False,
) -> None:
    """Compute and store what `revision` derives: its graph index, then (when its writer
    had none) its impact against `parent`.

    `snapshot` and `conn` are what the writer already had (None: read from the rows,
    evaluate). With `report`, each step is recorded on the revision as it starts. Raises
    when the graph cannot be built; the impact is best effort.
    """
    if snapshot is not None:
        analysis.remember(revision, snapshot, conn)
    try:
        if report:
            _record(revision, status=Revision.Status.ANALYSING, progress=STEPS["read"][0],
                    step=STEPS["read"][1], heartbeat=timezone.now())  # fmt: skip
        state = analysis.state(revision)
        if report:
            _record(revision, progress=STEPS["evaluate"][0], step=STEPS["evaluate"][1],
                    heartbeat=timezone.now())  # fmt: skip
        state.conn  # noqa: B018 (evaluates, and keeps the evaluation)
        if report:
            _record(revision, progress=STEPS["graph"][0], step=STEPS["graph"][1],
                    heartbeat=timezone.now())  # fmt: skip
        analysis.flow_index(revision)
        if revision.impact is None and parent is not None:
            _impact(revision, parent)
        if parent is not None:
            # Its child's impact is stored: the parent is history now (its state is read
            # again from its rows if someone compares with it).
            analysis.forget(parent)
    finally:
        if conn is not None:
            # An evaluation derived from the parent's keeps it for the diff and the graph;
            # past those, holding it would keep every ancestor's evaluation alive.
            conn.base = None


@task()
def analyse_revision(revision_id: int) -> str:
    """Analyse a stored revision in a worker: progress as it goes, then ready or failed.

    Returns the revision's final status. Running it again for a revision already finished
    does nothing (a worker may be restarted midway; the revision's state says what is left).
    """
    revision = Revision.objects.select_related("parent").filter(pk=revision_id).first()
    if revision is None or revision.status in (Revision.Status.READY, Revision.Status.FAILED):
        return revision.status if revision else "missing"
    try:
        with _Heartbeat(revision):
            # The graph first: once it is stored the page can show it; the impact against
            # the parent (history's counts) is written right after.
            impact_pending = revision.impact is None and revision.parent is not None
            derive(revision, report=True)
            _record(revision, status=Revision.Status.READY, progress=100, step="", error="")
        if impact_pending and revision.impact is None:
            _impact(revision, revision.parent)
        if revision.parent is not None:
            analysis.forget(revision.parent)
    except Abandoned:
        logger.warning("revision %s was marked failed while being analysed", revision.pk)
        return Revision.Status.FAILED
    except Exception as exc:
        logger.exception("the analysis of revision %s failed", revision.pk)
        try:
            _record(
                revision,
                status=Revision.Status.FAILED,
                step="",
                error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
            )
        except Abandoned:
            return Revision.Status.FAILED
    return revision.status


def enqueue(revision: Revision) -> None:
    """Queue the analysis of a pending revision (inside the transaction that stores it) and
    keep the task's id on it, so that `settle` can ask how the task went."""
    result = analyse_revision.enqueue(revision.pk)
    revision.task_id = str(result.id)
    Revision.objects.filter(pk=revision.pk).update(task_id=revision.task_id)


# --- analyses whose worker died ---------------------------------------------------------------


def _task(revision: Revision) -> TaskResult | None:
    """The revision's task; None when its row is gone (pruned or lost)."""
    try:
        return analyse_revision.get_result(revision.task_id)
    except TaskResultDoesNotExist:
        return None


def _lost(revision: Revision) -> str:
    """Why the analysis of a revision still said to be under way will never end ("" when it
    may yet end)."""
    if not revision.is_analysing:
        return ""
    limit = timedelta(seconds=stale_after())
    now = timezone.now()
    if revision.task_id:  # (revisions stored before task ids were kept have none)
        result = _task(revision)
        if result is None:
            return "Its analysis task was lost (its row in the task queue is gone)."
        if result.status == TaskResultStatus.FAILED:
            return "Its worker stopped with an error before the analysis ended."
        if result.status == TaskResultStatus.SUCCESSFUL:
            return "Its worker ended the task without finishing the analysis."
        started = result.started_at
        if (
            revision.status == Revision.Status.PENDING
            and result.status == TaskResultStatus.RUNNING
            and started is not None
            and now - started > limit
        ):
            return "Its worker stopped (killed or crashed) as it took the task."
    if revision.status != Revision.Status.ANALYSING:
        return ""  # waiting for a worker: the queue may be long
    seen = revision.heartbeat
    if seen is not None and now - seen <= limit:
        return ""
    where = f" while {revision.step[:1].lower()}{revision.step[1:]}" if revision.step else ""
    return (
        f"Its worker stopped{where} (killed or crashed): no sign of life for more than "
        f"{stale_after():g} s."
    )


def settle(revision: Revision) -> Revision:
    """Mark `revision` failed, with the reason, when its analysis will never end (see
    `_lost`); returns it, up to date. Cheap for a revision that is ready or failed."""
    reason = _lost(revision)
    if reason:
        error = f"{reason} Upload the manifests again to analyse them."
        if Revision.objects.filter(pk=revision.pk, status__in=LIVE).update(
            status=Revision.Status.FAILED, step="", error=error
        ):
            logger.warning("revision %s marked failed: %s", revision.pk, reason)
        revision.refresh_from_db(fields=["status", "progress", "step", "error", "heartbeat"])
    return revision


def sweep(limit: int = 100, clusters: QuerySet | None = None) -> list[int]:
    """Settle every revision (of `clusters`, when given) whose analysis looks dead (bounded:
    a backlog of pending revisions costs one task lookup each); returns the ids of those
    marked failed."""
    cutoff = timezone.now() - timedelta(seconds=stale_after())
    suspects = Revision.objects.filter(status__in=LIVE).exclude(
        status=Revision.Status.ANALYSING, heartbeat__gte=cutoff
    )
    if clusters is not None:
        suspects = suspects.filter(cluster__in=clusters)
    return [r.pk for r in suspects.order_by("pk")[:limit] if not settle(r).is_analysing]


@receiver(task_started)
def _sweep_on_task_start(sender: object, **kwargs: object) -> None:
    """When a worker starts a task (a restarted worker, its first): settle what died.

    Also forgets the queries the last task logged: with DEBUG on (`make run`), Django keeps
    a connection's last 9,000 queries, and resets them at each request, which a worker never
    answers (it grew by 40 MB over 500 uploads of S that way)."""
    reset_queries()
    try:
        sweep()
    except Exception:
        logger.exception("the sweep of dead analyses failed")
