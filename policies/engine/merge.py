"""Uploads into an existing cluster: what a replacing upload drops, and the `kubectl apply`-like
merge that keeps it.

Identity is what the API server keys objects by: a namespace by name, a workload and a policy
by namespace, name and kind, a cluster-scoped policy by kind and name.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lint import lint
from .manifests import assemble
from .model import Snapshot

__all__ = ["Dropped", "dropped", "merge_snapshots"]


@dataclass(frozen=True, slots=True)
class Dropped:
    """What a snapshot has that its replacement no longer has, by kind of object."""

    namespaces: tuple[str, ...] = ()
    workloads: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.namespaces or self.workloads or self.policies)

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "namespaces": list(self.namespaces),
            "workloads": list(self.workloads),
            "policies": list(self.policies),
        }


def _policy_ids(snapshot: Snapshot) -> set[str]:
    return {p.id for p in snapshot.policies} | {p.id for p in snapshot.cluster_policies}


def dropped(before: Snapshot, after: Snapshot) -> Dropped:
    """The namespaces, workloads and policies of `before` that `after` lacks (sorted)."""
    return Dropped(
        tuple(sorted({n.name for n in before.namespaces} - {n.name for n in after.namespaces})),
        tuple(sorted({w.id for w in before.workloads} - {w.id for w in after.workloads})),
        tuple(sorted(_policy_ids(before) - _policy_ids(after))),
    )


def merge_snapshots(base: Snapshot, upload: Snapshot) -> Snapshot:
    """`base` with `upload` applied as `kubectl apply` would: every object of the upload
    replaces the object of the same identity, every other object of `base` stays.

    The diagnostics are the upload's own (its loader's) and the linter's on the result.
    """
    namespaces = {n.name: n for n in base.namespaces if n.defined}
    namespaces.update((n.name, n) for n in upload.namespaces if n.defined)
    workloads = {w.id: w for w in base.workloads}
    workloads.update((w.id, w) for w in upload.workloads)
    policies = {p.id: p for p in base.policies}
    policies.update((p.id, p) for p in upload.policies)
    cluster_policies = {p.id: p for p in base.cluster_policies}
    cluster_policies.update((p.id, p) for p in upload.cluster_policies)
    linted = set(lint(upload))  # assemble() lints the merged whole again
    return assemble(
        namespaces.values(),
        workloads.values(),
        policies.values(),
        [d for d in upload.diagnostics if d not in linted],
        cluster_policies.values(),
    )
