"""Lists and counts the pages show: read-only queries, no engine."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, F, OuterRef, Subquery

from .models import Cluster, Namespace, Policy, Revision, Workload
from .permissions import visible_clusters

__all__ = [
    "ClusterSummary",
    "cluster_summaries",
    "history",
    "revision_counts",
    "revision_overview",
]


def revision_counts(revision: Revision) -> dict[str, int]:
    """How many namespaces, workloads and policies a revision holds."""
    return {
        "namespaces": revision.namespaces.count(),
        "workloads": revision.workloads.count(),
        "policies": revision.policies.count(),
    }


def revision_overview(cluster: Cluster, revision: Revision | None) -> dict[str, object]:
    """What the cluster page shows of one revision (the rows, its warnings, the history), and
    the latest revision when its analysis failed after the head's."""
    head = cluster.head
    history = list(cluster.revisions.select_related("author").order_by("-number")[:50])
    latest = history[0] if history else None
    failed = (
        latest
        if latest is not None
        and latest.status == Revision.Status.FAILED
        and (head is None or latest.number > head.number)
        else None
    )
    if revision is None:
        return {
            "cluster": cluster,
            "revision": None,
            "head": head,
            "history": history,
            "failed": failed,
        }
    namespaces = list(revision.namespaces.all())
    workloads = list(revision.workloads.all())
    policies = list(revision.policies.all())
    return {
        "cluster": cluster,
        "revision": revision,
        "head": head,
        "is_head": head is not None and head.pk == revision.pk,
        "history": history,
        "failed": failed if failed is not None and failed.pk != revision.pk else None,
        "namespaces": namespaces,
        "workloads": workloads,
        "policies": policies,
        "warnings": [d for d in revision.diagnostics if d.get("severity") == "warning"],
        "notes": [d for d in revision.diagnostics if d.get("severity") == "info"],
    }


# --- lists -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    """One line of the cluster list: the cluster and counts of its latest revision."""

    cluster: Cluster
    revision: int
    namespaces: int
    workloads: int
    policies: int
    updated: datetime | None
    status: str = ""  # of the latest revision's analysis ("" for a cluster without one)

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.cluster.pk,
            "name": self.cluster.name,
            "revision": self.revision,
            "namespaces": self.namespaces,
            "workloads": self.workloads,
            "policies": self.policies,
            "updated": self.updated.isoformat() if self.updated else None,
            "status": self.status,
        }


def cluster_summaries(user: AbstractBaseUser | AnonymousUser) -> list[ClusterSummary]:
    """Every cluster the user may see, with counts of its latest revision (four queries)."""
    latest = (
        Revision.objects.filter(cluster=OuterRef("pk"))
        .exclude(status=Revision.Status.FAILED)
        .order_by("-number")
    )
    clusters = list(
        visible_clusters(user)
        .select_related("owner")
        .annotate(head_id=Subquery(latest.values("pk")[:1]))
    )
    heads = {
        r.pk: r
        for r in Revision.objects.filter(pk__in=[c.head_id for c in clusters]).only(
            "pk", "number", "created", "status"
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
                status=head.status if head else "",
            )
        )
    return summaries


def history(cluster: Cluster) -> list[Revision]:
    """Every revision of a cluster, newest first, with the impact each stored when written."""
    # The parent's number alone: a joined parent row would bring its diagnostics along.
    revisions = cluster.revisions.select_related("author").defer("diagnostics")
    return list(revisions.annotate(parent_number=F("parent__number")).order_by("-number"))
