"""The one writer of revisions: create, upload, edit, delete, revert, demo, API.

Every change makes a new Revision in one transaction, so a failed write stores nothing and
history is never overwritten. Writers hand in the new snapshot and, when they have it, its
evaluation and its impact against the parent; what a revision derives (its graph, its impact)
is computed once, when it is written, and stored.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from . import analysis, engine, tasks
from .engine.merge import merge_snapshots
from .errors import InputErrors, storable
from .models import Cluster, IdempotencyKey, Namespace, Policy, Revision, Workload
from .snapshots import (
    AnyPolicy,
    Origins,
    all_policies,
    namespace_rows,
    parse_manifests,
    policy_key,
    policy_rows,
    workload_rows,
)

__all__ = [
    "DEMO_CLUSTER_NAME",
    "DEMO_DIR",
    "Edit",
    "IdempotencyKeyReused",
    "create_cluster",
    "demo_files",
    "load_demo",
    "locked_head",
    "new_cluster",
    "replayed",
    "revert_to",
    "settled_head",
    "upload_revision",
    "write_edit",
]

logger = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_CLUSTER_NAME = "demo-shop"


def locked_head(cluster: Cluster) -> Revision | None:
    """The cluster's head (its latest revision whose analysis did not fail), with the cluster
    locked until the transaction ends.

    Locking the cluster row serialises concurrent changes to one cluster (PostgreSQL); SQLite
    serialises all writers anyway. The unique (cluster, number) constraint is the backstop.
    """
    Cluster.objects.select_for_update().filter(pk=cluster.pk).first()
    return cluster.head


def settled_head(cluster: Cluster) -> Revision | None:
    """The cluster's head, once an analysis of it that died (its worker killed mid-task) is
    marked failed: then the revision before it is the head again."""
    while (head := cluster.head) is not None and head.is_analysing:
        if tasks.settle(head).is_analysing:
            break
    return head


def _next_revision(
    cluster: Cluster,
    head: Revision | None,
    author: AbstractBaseUser | None,
    message: str,
    diagnostics: Iterable[dict[str, object]],
    impact: dict[str, object] | None = None,
    status: Revision.Status = Revision.Status.READY,
) -> Revision:
    """The revision after `head`, numbered after every revision of the cluster (a failed
    one included: numbers stay unique and increasing)."""
    latest = cluster.revisions.aggregate(number=Max("number"))["number"] or 0
    pending = status != Revision.Status.READY
    return Revision.objects.create(
        cluster=cluster,
        number=latest + 1,
        parent=head,
        status=status,
        progress=0 if pending else 100,
        step=Revision.Status.PENDING.label if pending else "",
        author=author,
        message=storable(message[:500]),
        diagnostics=storable(list(diagnostics)),
        impact=impact,
    )


def _copy_rows(
    model: type[Namespace | Workload | Policy],
    source: Revision,
    target: Revision,
    without: Collection[tuple[str, str]] = (),
) -> None:
    """Copy a revision's rows of one table to another revision inside the database.

    An edit changes a policy or two of thousands: copying the rest row by row through Python
    would cost more than the edit itself.
    """
    quote = connection.ops.quote_name
    columns = [
        f.column for f in model._meta.concrete_fields if f.column not in ("id", "revision_id")
    ]
    names = ", ".join(quote(c) for c in columns)
    table = quote(model._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({quote('revision_id')}, {names}) "
        f"SELECT %s, {names} FROM {table} WHERE {quote('revision_id')} = %s"
    )
    params: list[object] = [target.pk, source.pk]
    # A few exclusions go in the query; thousands (an edit of every policy) would pass
    # SQLite's limit on expression depth, so they are deleted from the copy instead.
    few = len(without) <= 50
    for namespace, name in without if few else ():
        sql += f" AND NOT ({quote('namespace')} = %s AND {quote('name')} = %s)"
        params += [namespace, name]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    if not few:
        by_namespace: dict[str, list[str]] = {}
        for namespace, name in without:
            by_namespace.setdefault(namespace, []).append(name)
        for namespace, names in by_namespace.items():
            for i in range(0, len(names), 500):
                model.objects.filter(
                    revision=target, namespace=namespace, name__in=names[i : i + 500]
                ).delete()


def _store(revision: Revision, snapshot: engine.Snapshot, origins: Origins | None = None) -> None:
    """Write a whole snapshot as the rows of `revision`."""
    Namespace.objects.bulk_create(namespace_rows(revision, snapshot))
    Workload.objects.bulk_create(workload_rows(revision, snapshot.workloads))
    Policy.objects.bulk_create(policy_rows(revision, all_policies(snapshot), origins))


def _derive(
    revision: Revision,
    snapshot: engine.Snapshot,
    conn: engine.Connectivity | None,
    parent: Revision | None,
) -> None:
    """Once a small revision is committed: derive its graph and impact in this request. A
    failure here loses nothing: the graph is then built on first view, and history says the
    impact is unknown."""
    try:
        tasks.derive(revision, snapshot, conn, parent)
    except Exception:
        logger.exception("could not derive the graph or impact of revision %s", revision.pk)


def _in_worker(snapshot: engine.Snapshot) -> bool:
    """Whether a snapshot is large enough to be analysed by a worker rather than inline."""
    size = len(snapshot.workloads) + len(snapshot.policies)
    return size >= settings.NETVIZ_ANALYSE_INLINE_BELOW


def _write(
    cluster: Cluster,
    author: AbstractBaseUser | None,
    message: str,
    snapshot: engine.Snapshot,
    *,
    head: Revision | None,
    warnings: Iterable[dict[str, object]] = (),
    origins: Origins | None = None,
) -> Revision:
    """Store a whole snapshot as the revision after `head` (call inside a transaction, with
    `head` from locked_head())."""
    diagnostics = [*warnings, *(d.as_dict() for d in snapshot.diagnostics)]
    if not _in_worker(snapshot):
        revision = _next_revision(cluster, head, author, message, diagnostics)
        _store(revision, snapshot, origins)
        transaction.on_commit(lambda: _derive(revision, snapshot, None, head), robust=True)
        return revision
    revision = _next_revision(
        cluster, head, author, message, diagnostics, status=Revision.Status.PENDING
    )
    _store(revision, snapshot, origins)
    # Enqueued in this transaction: the task row commits with the revision or not at all, so
    # a stored revision always has its analysis coming, and none runs for one never stored.
    tasks.enqueue(revision)
    # This process keeps the snapshot it parsed, for an edit or a look before the worker ends.
    transaction.on_commit(lambda: analysis.remember(revision, snapshot), robust=True)
    return revision


def create_cluster(
    owner: AbstractBaseUser,
    name: str,
    snapshot: engine.Snapshot,
    *,
    message: str = "",
    warnings: Iterable[dict[str, object]] = (),
) -> Cluster:
    """Create a cluster whose first revision holds `snapshot`."""
    return new_cluster(owner, name, snapshot, message=message, warnings=warnings).cluster


def new_cluster(
    owner: AbstractBaseUser,
    name: str,
    snapshot: engine.Snapshot,
    *,
    message: str = "",
    warnings: Iterable[dict[str, object]] = (),
    idempotency_key: str = "",
    fingerprint: str = "",
) -> Revision:
    """Create a cluster whose first revision holds `snapshot`; returns that revision.

    With an `idempotency_key`, the key is stored in the same transaction, with the request's
    `fingerprint`; when the owner already used it (two copies of one request raced past
    `replayed()`), nothing is stored and the revision the first copy stored is returned
    (IdempotencyKeyReused when that copy was another request). Expired keys are pruned first.
    """
    try:
        with transaction.atomic():
            record = None
            if idempotency_key:
                # An indexed delete of what expired, so the table stays the size of a day's
                # keys; and an expired key of this user's is free again.
                IdempotencyKey.objects.filter(created__lt=_key_cutoff()).delete()
                # First, so that a racing copy of the request stops here, before any row.
                record = IdempotencyKey.objects.create(
                    user=owner, key=idempotency_key, fingerprint=fingerprint
                )
            cluster = Cluster.objects.create(owner=owner, name=name)
            revision = _write(
                cluster, owner, message or "Initial upload", snapshot, head=None, warnings=warnings
            )
            if record is not None:
                record.cluster, record.revision = cluster, revision
                record.save(update_fields=["cluster", "revision"])
            return revision
    except IntegrityError:
        earlier = replayed(owner, idempotency_key, fingerprint) if idempotency_key else None
        if earlier is None:
            raise
        return earlier


class IdempotencyKeyReused(Exception):
    """An `Idempotency-Key` sent again with a different request than the one it stored."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"the Idempotency-Key {key!r} was already used for a different request; "
            "send a new key for a new upload"
        )


def _key_cutoff():
    return timezone.now() - timedelta(seconds=settings.NETVIZ_IDEMPOTENCY_KEY_TTL)


def replayed(user: AbstractBaseUser, key: str, fingerprint: str = "") -> Revision | None:
    """The revision an upload with this `Idempotency-Key` stored for `user` (within the
    keys' lifetime), if any. Raises IdempotencyKeyReused when it was stored for a request
    whose `fingerprint` differs (keys stored before fingerprints were kept match any)."""
    record = (
        IdempotencyKey.objects.filter(
            user=user, key=key, revision__isnull=False, created__gte=_key_cutoff()
        )
        .select_related("revision__cluster")
        .first()
    )
    if record is None:
        return None
    if record.fingerprint and fingerprint and record.fingerprint != fingerprint:
        raise IdempotencyKeyReused(key)
    return record.revision


@transaction.atomic
def upload_revision(
    cluster: Cluster,
    author: AbstractBaseUser,
    snapshot: engine.Snapshot,
    *,
    message: str = "",
    warnings: Iterable[dict[str, object]] = (),
    merge: bool = False,
) -> Revision:
    """Replace a cluster's manifests with `snapshot`, as a new revision; or, with `merge`,
    apply it to the latest revision as `kubectl apply` would (the upload's objects replace
    those of the same identity, every other object stays)."""
    head = locked_head(cluster)
    if merge and head is not None:
        snapshot = merge_snapshots(analysis.state(head).snapshot, snapshot)
        message = message or "Merged uploaded manifests"
    return _write(
        cluster, author, message or "Uploaded manifests", snapshot, head=head, warnings=warnings
    )


@dataclass
class Edit:
    """Policies changed or removed on top of a head revision, as a change path made them.

    `after` and `conn` are the head's snapshot and evaluation with the edit applied; `change`
    is the impact against the head (all computed for the preview, and reused here).
    """

    head: Revision
    changed: tuple[AnyPolicy, ...]
    removed: frozenset[tuple[str, str]]
    after: engine.Snapshot
    conn: engine.Connectivity
    change: engine.ConnectivityDiff
    diagnostics: list[dict[str, object]] = field(default_factory=list)


def write_edit(cluster: Cluster, author: AbstractBaseUser, message: str, edit: Edit) -> Revision:
    """Store an edit as the revision after its head (inside the caller's transaction, with
    the head locked). Unchanged rows are copied in the database; nothing is parsed again."""
    head = edit.head
    revision = _next_revision(
        cluster, head, author, message, edit.diagnostics, analysis.impact_record(edit.change)
    )
    # Namespaces are few, and an edit may add or drop one that only its policies implied.
    Namespace.objects.bulk_create(namespace_rows(revision, edit.after))
    _copy_rows(Workload, head, revision)
    touched = edit.removed | {policy_key(p) for p in edit.changed}
    _copy_rows(Policy, head, revision, without=touched)
    Policy.objects.bulk_create(policy_rows(revision, edit.changed))
    after, conn = edit.after, edit.conn
    transaction.on_commit(lambda: _derive(revision, after, conn, head), robust=True)
    return revision


def revert_to(cluster: Cluster, author: AbstractBaseUser, number: int) -> Revision:
    """A new revision whose content is that of revision `number` (history is kept).

    The rows are copied in the database. A large revision is analysed by a worker, as an
    upload of its size is (reading and evaluating it again takes seconds at 50,000 pods), and
    so is any revert while the head is being analysed (its impact needs the head's
    evaluation, which the worker has); otherwise it is analysed here, once committed.
    """
    with transaction.atomic():
        head = locked_head(cluster)
        target = cluster.revisions.get(number=number)
        size = target.workloads.count() + target.policies.count()
        queued = size >= settings.NETVIZ_ANALYSE_INLINE_BELOW or (
            head is not None and head.is_analysing
        )
        revision = _next_revision(
            cluster,
            head,
            author,
            f"Reverted to revision {number}",
            target.diagnostics,
            status=Revision.Status.PENDING if queued else Revision.Status.READY,
        )
        for model in (Namespace, Workload, Policy):
            _copy_rows(model, target, revision)
        if queued:
            tasks.enqueue(revision)  # committed with the revision, or not at all
            return revision
        state = analysis.state(target)
        transaction.on_commit(
            lambda: _derive(revision, state.snapshot, state.conn, head), robust=True
        )
    return revision


def demo_files() -> list[tuple[str, bytes]]:
    """The demo shop's manifests, as (file name, content) pairs."""
    return [(f"demo/{path.name}", path.read_bytes()) for path in sorted(DEMO_DIR.glob("*.yaml"))]


def load_demo(user: AbstractBaseUser, name: str = DEMO_CLUSTER_NAME) -> Cluster:
    """Load the demo shop for `user`: a new cluster, or a new revision of theirs of that name."""
    files = demo_files()
    if not files:
        raise InputErrors.single("no demo manifests found", str(DEMO_DIR))
    snapshot = parse_manifests(files)
    existing = Cluster.objects.filter(owner=user, name=name).first()
    if existing is not None:
        upload_revision(existing, user, snapshot, message="Reloaded the demo manifests")
        return existing
    return create_cluster(user, name, snapshot, message="Demo manifests")
