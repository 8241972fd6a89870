"""The web app's business logic: manifests in, revisions stored, snapshots and flows out.

Views and API handlers call these functions; the engine decides what manifests mean, this
module decides what gets stored. Every change makes a new Revision in one transaction, so a
failed upload or edit stores nothing and history is never overwritten.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery

from . import engine
from .engine import formats
from .engine.export import clean_policy_yaml
from .models import Cluster, Namespace, Policy, Revision, Workload
from .permissions import visible_clusters

__all__ = [
    "DEMO_CLUSTER_NAME",
    "ClusterSummary",
    "InputErrors",
    "cluster_summaries",
    "create_cluster",
    "delete_policy",
    "demo_files",
    "export_yaml",
    "load_demo",
    "parse_manifests",
    "parse_policies",
    "preview_policies",
    "revision_connectivity",
    "revision_counts",
    "revision_overview",
    "revision_snapshot",
    "save_policy",
    "upload_revision",
]

logger = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_CLUSTER_NAME = "demo-shop"


class InputErrors(Exception):
    """Located problems with what a user sent; nothing was stored.

    `errors` are dicts with `file`, `line`, `path` and `message` (the engine's diagnostic
    shape), whether they come from the engine, from unpacking an archive, or from a check here.
    """

    def __init__(self, errors: list[dict[str, object]]) -> None:
        super().__init__("\n".join(_describe(e) for e in errors))
        self.errors = errors

    @classmethod
    def single(cls, message: str, file: str = "", line: int = 0, path: str = "") -> InputErrors:
        return cls([_error(message, file, line, path)])


def _error(message: str, file: str = "", line: int = 0, path: str = "") -> dict[str, object]:
    return {
        "severity": "error",
        "file": file,
        "line": line,
        "path": path,
        "message": message,
        "subject": "",
    }


def _describe(error: dict[str, object]) -> str:
    where = f"{error.get('file', '')}:{error['line']}" if error.get("line") else error.get("file")
    path = f" {error['path']}" if error.get("path") else ""
    return f"{where}{path}: {error['message']}"


def _in_reading_order(errors: list[dict[str, object]]) -> list[dict[str, object]]:
    """Errors file by file (in the order the files came) and by line, as a person reads them."""
    files: dict[object, int] = {}
    for error in errors:
        files.setdefault(error["file"], len(files))
    return sorted(errors, key=lambda e: (files[e["file"]], e["line"] or 0))


def _location_fields(location: engine.Location | None) -> dict[str, object]:
    if location is None:
        return {"source_file": "", "line": 0}
    return {"source_file": location.file, "line": location.line}


# --- reading manifests -----------------------------------------------------------------------


def parse_manifests(files: Sequence[tuple[str, str | bytes]]) -> engine.Snapshot:
    """Parse uploaded manifests into a snapshot that can be stored.

    Raises InputErrors with the engine's located errors, or when nothing usable was found.
    """
    try:
        snapshot = engine.load_documents(files)
    except engine.ManifestErrors as exc:
        raise InputErrors(_in_reading_order(exc.as_dicts())) from exc
    # The engine keeps the last of two same-named objects (as kubectl apply would) and warns,
    # so identities in a snapshot are unique, as the database's constraints require.
    if not (snapshot.workloads or snapshot.policies or snapshot.namespaces):
        raise InputErrors.single("no namespaces, workloads or network policies found", "upload")
    return snapshot


def parse_policies(text: str | bytes, filename: str) -> tuple[engine.NetworkPolicy, ...]:
    """Parse a request body that must hold network policies and nothing else."""
    snapshot = parse_manifests([(filename, text)])
    others = [f"{w.kind} {w.namespace}/{w.name}" for w in snapshot.workloads] + [
        f"Namespace {ns.name}" for ns in snapshot.namespaces if ns.defined
    ]
    if others:
        raise InputErrors.single(
            "only NetworkPolicy objects are accepted here; found " + ", ".join(others), filename
        )
    if not snapshot.policies:
        raise InputErrors.single("no NetworkPolicy found", filename)
    return snapshot.policies


# --- snapshots of stored revisions -----------------------------------------------------------


def _engine_namespace(row: Namespace) -> engine.model.Namespace:
    return engine.model.Namespace(
        name=row.name,
        labels=tuple(sorted(row.labels.items())),
        location=engine.Location(row.source_file, row.line) if row.source_file else None,
        defined=row.defined,
    )


def _engine_workload(row: Workload) -> engine.Workload:
    return engine.Workload(
        namespace=row.namespace,
        name=row.name,
        kind=row.kind,
        labels=tuple(sorted(row.labels.items())),
        ports=tuple(
            engine.model.ContainerPort(p["port"], p.get("protocol", "TCP"), p.get("name"))
            for p in row.ports
        ),
        replicas=row.replicas,
        location=engine.Location(row.source_file, row.line) if row.source_file else None,
        pod_ips=tuple(row.pod_ips),
    )


def _engine_policies(rows: Sequence[Policy]) -> tuple[engine.NetworkPolicy, ...]:
    """Parse stored policy YAML back into engine policies.

    Each document is fed under its original file name, preceded by blank lines up to its
    original line, so that warnings about it point where the user wrote it.
    """
    files = [
        (row.source_file or f"{row.namespace}/{row.name}.yaml", _at_line(row.yaml, row.line))
        for row in rows
    ]
    if not files:
        return ()
    try:
        parsed = engine.load_documents(files).policies
    except engine.ManifestErrors as exc:
        # Stored YAML was valid when saved; only a stricter engine can reject it now.
        raise InputErrors(exc.as_dicts()) from exc
    # The padding above is for locations only: each policy's source stays the stored text.
    texts = {(row.namespace, row.name): row.yaml for row in rows}
    return tuple(
        dataclasses.replace(p, source=texts.get((p.namespace, p.name), p.source)) for p in parsed
    )


def _at_line(text: str, line: int) -> str:
    """`text` moved down so that its object starts at `line`, where it stood in its file.

    The stored text may begin with comments (they belong to the policy); the object itself
    starts at the first line that is neither blank nor a comment.
    """
    lead = 0
    for row in text.splitlines():
        if row.strip() and not row.lstrip().startswith(("#", "%")):
            break
        lead += 1
    return "\n" * max(line - 1 - lead, 0) + text


def _snapshot_parts(
    revision: Revision,
) -> tuple[list[engine.model.Namespace], list[engine.Workload], list[Policy]]:
    namespaces = [_engine_namespace(row) for row in revision.namespaces.filter(defined=True)]
    workloads = [_engine_workload(row) for row in revision.workloads.all()]
    return namespaces, workloads, list(revision.policies.all())


def revision_snapshot(revision: Revision) -> engine.Snapshot:
    """The engine's snapshot of a stored revision, built from its rows."""
    namespaces, workloads, policy_rows = _snapshot_parts(revision)
    return engine.assemble(namespaces, workloads, _engine_policies(policy_rows))


def revision_connectivity(revision: Revision) -> dict[str, object]:
    """The `analyze --format json` result for a revision, computed once and cached on it."""
    if revision.connectivity is None:
        data = formats.to_json_dict(engine.evaluate(revision_snapshot(revision)))
        # A revision's content never changes, so the cache never goes stale; update() keeps
        # concurrent readers from overwriting anything but this one derived field.
        Revision.objects.filter(pk=revision.pk).update(connectivity=data)
        revision.connectivity = data
    return revision.connectivity


def export_yaml(revision: Revision) -> str:
    """The revision's policies as one multi-document YAML stream, ready for kubectl apply.

    Each policy is as the user wrote it (comments kept), less any server-side fields
    (status, managedFields, uid, ...) a `kubectl get -o yaml` export carried.
    """
    documents = [
        clean_policy_yaml(row.yaml, f"{row.namespace}/{row.name}.yaml").strip("\n")
        for row in revision.policies.order_by("namespace", "name")
    ]
    return "---\n" + "\n---\n".join(documents) + "\n" if documents else ""


# --- writing revisions -----------------------------------------------------------------------


def _store(
    revision: Revision,
    snapshot: engine.Snapshot,
    origins: dict[tuple[str, str], tuple[str, int]] | None = None,
) -> None:
    """Write a snapshot's objects as the rows of `revision`.

    `origins` maps a policy's (namespace, name) to the file and line it came from when the
    snapshot was rebuilt from stored rows rather than parsed from the user's files.
    """
    origins = origins or {}
    Namespace.objects.bulk_create(
        Namespace(
            revision=revision,
            name=ns.name,
            labels=dict(ns.labels),
            defined=ns.defined,
            **_location_fields(ns.location),
        )
        for ns in snapshot.namespaces
    )
    Workload.objects.bulk_create(
        Workload(
            revision=revision,
            namespace=w.namespace,
            name=w.name,
            kind=w.kind,
            labels=dict(w.labels),
            ports=[{"port": p.port, "protocol": p.protocol, "name": p.name} for p in w.ports],
            replicas=w.replicas,
            pod_ips=list(w.pod_ips),
            **_location_fields(w.location),
        )
        for w in snapshot.workloads
    )
    policies = []
    for p in snapshot.policies:
        fields = _location_fields(p.location)
        if (p.namespace, p.name) in origins:
            fields["source_file"], fields["line"] = origins[(p.namespace, p.name)]
        policies.append(
            Policy(
                revision=revision,
                namespace=p.namespace,
                name=p.name,
                kind=getattr(p, "kind", "NetworkPolicy"),
                yaml=p.source,
                **fields,
            )
        )
    Policy.objects.bulk_create(policies)


def _locked_head(cluster: Cluster) -> Revision | None:
    """The cluster's latest revision, with the cluster locked until the transaction ends.

    Locking the cluster row serialises concurrent changes to one cluster (PostgreSQL); SQLite
    serialises all writers anyway. The unique (cluster, number) constraint is the backstop.
    """
    Cluster.objects.select_for_update().filter(pk=cluster.pk).first()
    return cluster.revisions.order_by("-number").first()


def _next_revision(
    cluster: Cluster,
    author: AbstractBaseUser | None,
    message: str,
    diagnostics: list[dict[str, object]],
    head: Revision | None = None,
) -> Revision:
    """Create the revision that follows `head` (by default the locked latest one).

    Call inside a transaction; pass `head` only when it came from `_locked_head()` in it.
    """
    if head is None:
        head = _locked_head(cluster)
    return Revision.objects.create(
        cluster=cluster,
        number=head.number + 1 if head else 1,
        parent=head,
        author=author,
        message=message[:500],
        diagnostics=diagnostics,
    )


def _diagnostics(
    snapshot: engine.Snapshot, extra: Iterable[dict[str, object]] = ()
) -> list[dict[str, object]]:
    return [*extra, *(d.as_dict() for d in snapshot.diagnostics)]


def _write_revision(
    cluster: Cluster,
    author: AbstractBaseUser | None,
    message: str,
    snapshot: engine.Snapshot,
    *,
    head: Revision | None = None,
    origins: dict[tuple[str, str], tuple[str, int]] | None = None,
    warnings: Iterable[dict[str, object]] = (),
    conn: engine.Connectivity | None = None,
) -> Revision:
    """Store `snapshot` as the revision after `head`, and precompute its graph once committed.

    Call inside a transaction; pass `head` only when it came from `_locked_head()` in it.
    """
    revision = _next_revision(cluster, author, message, _diagnostics(snapshot, warnings), head)
    _store(revision, snapshot, origins)
    transaction.on_commit(lambda: warm_caches(revision, snapshot, conn))
    return revision


def warm_caches(revision: Revision, snapshot: engine.Snapshot, conn=None) -> None:
    """Compute the graph of a revision once it is committed, from the snapshot in hand, so
    that nobody waits for it on the first view (and a failure here loses nothing)."""
    from . import graphs  # graphs builds on this module; importing it at the top would cycle

    try:
        graphs.warm(revision, snapshot, conn)
    except Exception:  # the revision is stored; its graph is simply computed on first view
        logger.exception("could not precompute the graph of revision %s", revision.pk)


@transaction.atomic
def create_cluster(
    owner: AbstractBaseUser,
    name: str,
    snapshot: engine.Snapshot,
    *,
    message: str = "",
    warnings: Iterable[dict[str, object]] = (),
) -> Cluster:
    """Create a cluster whose first revision holds `snapshot`."""
    cluster = Cluster.objects.create(owner=owner, name=name)
    _write_revision(cluster, owner, message or "Initial upload", snapshot, warnings=warnings)
    return cluster


@transaction.atomic
def upload_revision(
    cluster: Cluster,
    author: AbstractBaseUser,
    snapshot: engine.Snapshot,
    *,
    message: str = "",
    warnings: Iterable[dict[str, object]] = (),
) -> Revision:
    """Replace a cluster's manifests with `snapshot`, as a new revision."""
    return _write_revision(
        cluster, author, message or "Uploaded manifests", snapshot, warnings=warnings
    )


def _edited_snapshot(
    head: Revision,
    changed: Iterable[engine.NetworkPolicy] = (),
    removed: Iterable[tuple[str, str]] = (),
) -> tuple[engine.Snapshot, dict[tuple[str, str], tuple[str, int]]]:
    """The head's snapshot with policies replaced, added or removed by (namespace, name).

    Also returns where each unchanged policy came from, so that its new row keeps pointing at
    the user's original file and line.
    """
    namespaces, workloads, rows = _snapshot_parts(head)
    replaced = {(p.namespace, p.name): p for p in changed}
    dropped = set(removed) | set(replaced)
    kept = [row for row in rows if (row.namespace, row.name) not in dropped]
    policies = [*_engine_policies(kept), *replaced.values()]
    origins = {(row.namespace, row.name): (row.source_file, row.line) for row in kept}
    return engine.assemble(namespaces, workloads, policies), origins


def save_policy(
    cluster: Cluster, author: AbstractBaseUser, namespace: str, name: str, text: str | bytes
) -> tuple[Revision, bool]:
    """Save one policy (new or replacing the same-named one) as a new revision.

    Returns the revision and whether the policy is new. The body must hold exactly one
    NetworkPolicy whose metadata names the same namespace and name as the request.
    """
    filename = f"{namespace}/{name}.yaml"
    policies = parse_policies(text, filename)
    if len(policies) != 1:
        raise InputErrors.single(
            f"expected exactly one NetworkPolicy, found {len(policies)}", filename
        )
    policy = policies[0]
    errors = []
    for field, expected, actual in (
        ("namespace", namespace, policy.namespace),
        ("name", name, policy.name),
    ):
        if actual != expected:
            line = policy.location.line if policy.location else 0
            errors.append(
                _error(
                    f"must be {expected!r} to match the URL, got {actual!r}",
                    filename,
                    line,
                    f"metadata.{field}",
                )
            )
    if errors:
        raise InputErrors(errors)
    with transaction.atomic():
        head = _locked_head(cluster)
        assert head is not None  # a cluster is created with its first revision
        created = not head.policies.filter(namespace=namespace, name=name).exists()
        snapshot, origins = _edited_snapshot(head, changed=[policy])
        revision = _write_revision(
            cluster,
            author,
            f"Saved policy {namespace}/{name}",
            snapshot,
            head=head,
            origins=origins,
        )
    return revision, created


def delete_policy(
    cluster: Cluster, author: AbstractBaseUser, namespace: str, name: str
) -> Revision | None:
    """Remove one policy as a new revision; None (and nothing stored) when there is no such."""
    with transaction.atomic():
        head = _locked_head(cluster)
        if head is None or not head.policies.filter(namespace=namespace, name=name).exists():
            return None
        snapshot, origins = _edited_snapshot(head, removed=[(namespace, name)])
        revision = _write_revision(
            cluster,
            author,
            f"Deleted policy {namespace}/{name}",
            snapshot,
            head=head,
            origins=origins,
        )
    return revision


def preview_policies(revision: Revision, text: str | bytes) -> dict[str, object]:
    """The connectivity change saving these policies would cause; stores nothing."""
    policies = parse_policies(text, "preview.yaml")
    before = revision_snapshot(revision)
    after, _ = _edited_snapshot(revision, changed=policies)
    return engine.diff(engine.evaluate(before), engine.evaluate(after)).as_dict()


def revision_counts(revision: Revision) -> dict[str, int]:
    """How many namespaces, workloads and policies a revision holds."""
    return {
        "namespaces": revision.namespaces.count(),
        "workloads": revision.workloads.count(),
        "policies": revision.policies.count(),
    }


def revision_overview(cluster: Cluster, revision: Revision | None) -> dict[str, object]:
    """What the cluster page shows of one revision (the rows, its warnings, the history)."""
    head = cluster.head
    history = list(cluster.revisions.select_related("author").order_by("-number")[:50])
    if revision is None:
        return {"cluster": cluster, "revision": None, "head": head, "history": history}
    namespaces = list(revision.namespaces.all())
    workloads = list(revision.workloads.all())
    policies = list(revision.policies.all())
    return {
        "cluster": cluster,
        "revision": revision,
        "head": head,
        "is_head": head is not None and head.pk == revision.pk,
        "history": history,
        "namespaces": namespaces,
        "workloads": workloads,
        "policies": policies,
        "warnings": [d for d in revision.diagnostics if d.get("severity") == "warning"],
        "notes": [d for d in revision.diagnostics if d.get("severity") == "info"],
    }


# --- lists and the demo ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    """One line of the cluster list: the cluster and counts of its latest revision."""

    cluster: Cluster
    revision: int
    namespaces: int
    workloads: int
    policies: int
    updated: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.cluster.pk,
            "name": self.cluster.name,
            "revision": self.revision,
            "namespaces": self.namespaces,
            "workloads": self.workloads,
            "policies": self.policies,
            "updated": self.updated.isoformat() if self.updated else None,
        }


def cluster_summaries(user: AbstractBaseUser | AnonymousUser) -> list[ClusterSummary]:
    """Every cluster the user may see, with counts of its latest revision (four queries)."""
    latest = Revision.objects.filter(cluster=OuterRef("pk")).order_by("-number")
    clusters = list(
        visible_clusters(user)
        .select_related("owner")
        .annotate(head_id=Subquery(latest.values("pk")[:1]))
    )
    heads = {
        r.pk: r
        for r in Revision.objects.filter(pk__in=[c.head_id for c in clusters]).only(
            "pk", "number", "created"
        )
    }

    def counts(model: type[Namespace | Workload | Policy]) -> Counter[int]:
        rows = model.objects.filter(revision_id__in=heads).values("revision_id")
        return Counter({r["revision_id"]: r["n"] for r in rows.annotate(n=Count("pk"))})

    namespaces, workloads, policies = counts(Namespace), counts(Workload), counts(Policy)
    summaries = []
    for cluster in clusters:
        head = heads.get(cluster.head_id)
        summaries.append(
            ClusterSummary(
                cluster=cluster,
                revision=head.number if head else 0,
                namespaces=namespaces[cluster.head_id],
                workloads=workloads[cluster.head_id],
                policies=policies[cluster.head_id],
                updated=head.created if head else cluster.created,
            )
        )
    return summaries


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
