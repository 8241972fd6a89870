"""Rows ↔ engine objects: the only module that converts between the two.

Inbound, text the user sent becomes an engine `Snapshot` (or policies); a stored revision's
rows become the snapshot it was made from. Outbound, a snapshot becomes unsaved rows of a
revision. Policies are stored as the YAML the user wrote, so reading them back parses it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from . import engine
from .errors import InputErrors
from .models import Namespace, Policy, Revision, Workload

__all__ = [
    "AnyPolicy",
    "Origins",
    "all_policies",
    "namespace_rows",
    "parse_manifests",
    "parse_policies",
    "policy_key",
    "policy_rows",
    "revision_snapshot",
    "snapshot_from_rows",
    "text_line",
    "workload_rows",
]

# Where a policy's row says it came from, by (namespace, name): kept when a snapshot is written
# again, so that the new row still points at the user's original file and line.
Origins = dict[tuple[str, str], tuple[str, int]]

# A policy of either scope, and its key in rows and URLs: a NetworkPolicy is (namespace, name);
# a cluster-scoped one (Admin/Baseline tier) is (kind, name). Kinds are capitalised and
# namespaces never are, so the two cannot meet; and "<kind>/<name>" is the engine's own id.
AnyPolicy = engine.NetworkPolicy | engine.ClusterNetworkPolicy


def policy_key(policy: AnyPolicy) -> tuple[str, str]:
    """The (namespace, name) a policy is stored and addressed under."""
    if isinstance(policy, engine.ClusterNetworkPolicy):
        return policy.kind, policy.name
    return policy.namespace, policy.name


def all_policies(snapshot: engine.Snapshot) -> tuple[AnyPolicy, ...]:
    """Every policy of a snapshot, namespaced and cluster-scoped."""
    return (*snapshot.policies, *snapshot.cluster_policies)


# --- text in ---------------------------------------------------------------------------------


def parse_manifests(files: Sequence[tuple[str, str | bytes]]) -> engine.Snapshot:
    """Parse uploaded manifests into a snapshot that can be stored.

    Raises InputErrors with the engine's located errors, or when nothing usable was found.
    """
    try:
        snapshot = engine.load_documents(files)
    except engine.ManifestErrors as exc:
        raise InputErrors.from_manifests(exc) from exc
    # The engine keeps the last of two same-named objects (as kubectl apply would) and warns,
    # so identities in a snapshot are unique, as the database's constraints require.
    if not (all_policies(snapshot) or snapshot.workloads or snapshot.namespaces):
        raise InputErrors.single("no namespaces, workloads or network policies found", "upload")
    return snapshot


def parse_policies(text: str | bytes, filename: str) -> engine.Snapshot:
    """Parse a text that must hold network policies and nothing else.

    Returns the snapshot of the text alone (its policies and the loader's warnings).
    """
    try:
        snapshot = engine.load_documents([(filename, text)])
    except engine.ManifestErrors as exc:
        raise InputErrors.from_manifests(exc) from exc
    others = [
        InputErrors.single(
            f"only NetworkPolicy objects are accepted here, not {w.kind} {w.namespace}/{w.name}",
            filename,
            w.location.line if w.location else 0,
            "kind",
        ).errors[0]
        for w in snapshot.workloads
    ]
    if others:
        raise InputErrors(others)
    if not all_policies(snapshot):
        raise InputErrors.single("no NetworkPolicy found", filename, 1)
    return snapshot


# --- rows in ---------------------------------------------------------------------------------


def _location(row: Namespace | Workload) -> engine.Location | None:
    return engine.Location(row.source_file, row.line) if row.source_file else None


def _engine_namespace(row: Namespace) -> engine.Namespace:
    return engine.Namespace(
        name=row.name,
        labels=tuple(sorted(row.labels.items())),
        location=_location(row),
        defined=row.defined,
    )


def _engine_workload(row: Workload) -> engine.Workload:
    return engine.Workload(
        namespace=row.namespace,
        name=row.name,
        kind=row.kind,
        labels=tuple(sorted(row.labels.items())),
        ports=tuple(
            engine.ContainerPort(p["port"], p.get("protocol", "TCP"), p.get("name"))
            for p in row.ports
        ),
        replicas=row.replicas,
        location=_location(row),
        pod_ips=tuple(row.pod_ips),
    )


def _lead(text: str) -> int:
    """How many lines of `text` come before its object: blank lines and comments, which the
    stored text keeps (they belong to the policy)."""
    lead = 0
    for row in text.splitlines():
        if row.strip() and not row.lstrip().startswith(("#", "%")):
            break
        lead += 1
    return lead


def text_line(row: Policy, file_line: int) -> int:
    """The line of a policy row's stored text that is line `file_line` of the file it came
    from (the text starts where _files_at_lines puts it), or 0 when that line is not in it:
    a warning located in the user's file opens the editor at its line."""
    start = row.line - _lead(row.yaml)  # the file's line of the text's first line
    line = file_line - start + 1
    return line if row.line and 1 <= line <= row.yaml.count("\n") + 1 else 0


def _files_at_lines(rows: Sequence[Policy]) -> list[tuple[str, str]]:
    """The stored policies as files in which each object starts at the line where it stood
    in the user's file, so that what the engine says about it points there.

    The policies of one file go back into one text, in their order, separated by `---` and
    blank lines where the file had other objects: padding each policy on its own would make
    the parser read thousands of blank lines per policy (millions at 2,400 policies).
    """
    by_file: dict[str, list[Policy]] = {}
    for row in rows:
        by_file.setdefault(row.source_file or f"{row.namespace}/{row.name}.yaml", []).append(row)
    files = []
    for name, group in by_file.items():
        parts: list[str] = []
        at = 1  # the line the next part would start on, in the text being built
        for row in sorted(group, key=lambda r: r.line):
            text = row.yaml if row.yaml.endswith("\n") else row.yaml + "\n"
            start = max(row.line - _lead(text), 1)  # where the stored text must start
            if parts and start <= at:
                # No room for the `---` before it (rows not laid out as a file had them):
                # it starts a file of its own, under the same name.
                files.append((name, "".join(parts)))
                parts, at = [], 1
            parts.append("\n" * (start - at - 1) + "---\n" if parts else "\n" * (start - 1))
            parts.append(text)
            at = start + text.count("\n")
        files.append((name, "".join(parts)))
    return files


def _engine_policies(rows: Sequence[Policy]) -> engine.Snapshot:
    """Parse stored policy YAML back into engine policies of both scopes (a snapshot holding
    only them), each located where the user wrote it (see _files_at_lines)."""
    if not rows:
        return engine.Snapshot()
    try:
        parsed = engine.load_documents(_files_at_lines(rows))
    except engine.ManifestErrors as exc:
        # Stored YAML was valid when saved; only a stricter engine can reject it now.
        raise InputErrors.from_manifests(exc) from exc
    # The padding above is for locations only: each policy's source stays the stored text.
    texts = {(row.namespace, row.name): row.yaml for row in rows}

    def kept(p: AnyPolicy) -> AnyPolicy:
        return dataclasses.replace(p, source=texts.get(policy_key(p), p.source))

    return engine.Snapshot(
        policies=tuple(kept(p) for p in parsed.policies),
        cluster_policies=tuple(kept(p) for p in parsed.cluster_policies),
    )


def snapshot_from_rows(
    namespaces: Iterable[Namespace], workloads: Iterable[Workload], policies: Sequence[Policy]
) -> engine.Snapshot:
    """The engine's snapshot of stored rows (also of a migration's historical models)."""
    parsed = _engine_policies(policies)
    return engine.assemble(
        [_engine_namespace(row) for row in namespaces if row.defined],
        [_engine_workload(row) for row in workloads],
        parsed.policies,
        cluster_policies=parsed.cluster_policies,
    )


def revision_snapshot(revision: Revision) -> engine.Snapshot:
    """The engine's snapshot of a stored revision, built from its rows."""
    return snapshot_from_rows(
        revision.namespaces.filter(defined=True),
        revision.workloads.all(),
        list(revision.policies.all()),
    )


# --- rows out --------------------------------------------------------------------------------


def _location_fields(location: engine.Location | None) -> dict[str, Any]:
    if location is None:
        return {"source_file": "", "line": 0}
    return {"source_file": location.file, "line": location.line}


def namespace_rows(revision: Revision, snapshot: engine.Snapshot) -> list[Namespace]:
    return [
        Namespace(
            revision=revision,
            name=ns.name,
            labels=dict(ns.labels),
            defined=ns.defined,
            **_location_fields(ns.location),
        )
        for ns in snapshot.namespaces
    ]


def workload_rows(revision: Revision, workloads: Iterable[engine.Workload]) -> list[Workload]:
    return [
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
        for w in workloads
    ]


def policy_rows(
    revision: Revision, policies: Iterable[AnyPolicy], origins: Origins | None = None
) -> list[Policy]:
    """Rows for policies of either scope (see policy_key); `origins` overrides where a policy
    came from (see Origins)."""
    origins = origins or {}
    rows = []
    for p in policies:
        fields = _location_fields(p.location)
        key = policy_key(p)
        if key in origins:
            fields["source_file"], fields["line"] = origins[key]
        rows.append(
            Policy(
                revision=revision,
                namespace=key[0],
                name=key[1],
                kind=getattr(p, "kind", "NetworkPolicy"),
                tier=getattr(p, "tier", "NetworkPolicy"),
                priority=getattr(p, "priority", None),
                yaml=p.source,
                **fields,
            )
        )
    return rows
