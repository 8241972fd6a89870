"""What a revision derives once it is written, in the request or in a worker.

`derive()` computes it: the revision's state from its rows (or the snapshot its writer had),
its evaluation, its graph's flow index (stored), then its impact against its parent. Small
revisions derive in the request that wrote them (`revisions` calls `derive()` once the
transaction commits); large uploads are stored `pending` with the task below enqueued in the
same transaction, and a worker (`manage.py db_worker`, django-tasks-db) runs it: it records
its progress on the revision as it goes, so that any web process can show it, and marks the
revision ready, or failed with its error, at the end. A failed revision never becomes the
cluster's head (see `Cluster.head`).
"""

from __future__ import annotations

import logging

from django.tasks import task

from . import analysis, engine
from .models import Revision

__all__ = ["analyse_revision", "derive"]

logger = logging.getLogger(__name__)

# The steps of an analysis and how far along each starts (the graph is ready at the end of
# "Building the graph"; the impact against the parent comes after, and the page need not
# wait for it).
STEPS = {
    "read": (5, "Reading the stored manifests"),
    "evaluate": (35, "Evaluating the policies"),
    "graph": (65, "Building the graph"),
}


def _record(revision: Revision, **fields: object) -> None:
    """Store fields of the revision's analysis state at once (the worker runs outside any
    transaction, so pollers see each step as it starts)."""
    Revision.objects.filter(pk=revision.pk).update(**fields)
    for name, value in fields.items():
        setattr(revision, name, value)


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
                    step=STEPS["read"][1])  # fmt: skip
        state = analysis.state(revision)
        if report:
            _record(revision, progress=STEPS["evaluate"][0], step=STEPS["evaluate"][1])
        state.conn  # noqa: B018 (evaluates, and keeps the evaluation)
        if report:
            _record(revision, progress=STEPS["graph"][0], step=STEPS["graph"][1])
        analysis.flow_index(revision)
        if revision.impact is None and parent is not None:
            _impact(revision, parent)
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
        # The graph first: once it is stored the page can show it; the impact against the
        # parent (history's counts) is written right after.
        impact_pending = revision.impact is None and revision.parent is not None
        derive(revision, report=True)
        _record(revision, status=Revision.Status.READY, progress=100, step="", error="")
        if impact_pending and revision.impact is None:
            _impact(revision, revision.parent)
    except Exception as exc:
        logger.exception("the analysis of revision %s failed", revision.pk)
        _record(
            revision,
            status=Revision.Status.FAILED,
            step="",
            error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        )
    return revision.status
