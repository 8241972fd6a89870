"""Lists and counts the pages show: read-only queries, no engine."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, F, OuterRef, Q, QuerySet, Subquery, When

from . import tasks
from .models import Cluster, Namespace, Policy, Revision, Workload
from .permissions import visible_clusters
from .snapshots import text_line

__all__ = [
    "ClusterSummary",
    "cluster_summaries",
    "history",
    "in_evaluation_order",
    "policy_index",
    "revision_counts",
    "revision_overview",
    "table_page",
    "warnings_in_policies",
]


def revision_counts(revision: Revision) -> dict[str, int]:
    """How many namespaces, workloads and policies a revision holds."""
    return {
        "namespaces": revision.namespaces.count(),
        "workloads": revision.workloads.count(),
        "policies": revision.policies.count(),
    }


NETWORK_POLICY = "NetworkPolicy"  # Policy.tier of the namespaced kind


def in_evaluation_order(rows: QuerySet[Policy]) -> QuerySet[Policy]:
    """Policies in the order a connection meets them: the Admin tier by priority then name,
    NetworkPolicies by namespace and name, then the Baseline tier by priority (a
    BaselineAdminNetworkPolicy, which has none, last) then name. Equal priorities go by name,
    as the engine breaks the tie (`ClusterNetworkPolicy.precedence`)."""
    cluster = ~Q(tier=NETWORK_POLICY)
    return rows.order_by(
        Case(When(tier="Admin", then=0), When(tier="Baseline", then=2), default=1),
        F("priority").asc(nulls_last=True),
        Case(When(cluster, then=F("name")), default=F("namespace")),
        Case(When(cluster, then=F("namespace")), default=F("name")),
    )


ROWS_PER_PAGE = 50
# The tables of the cluster page and the query parameter of each one's page.
TABLES = {"namespaces": "npage", "workloads": "wpage", "policies": "ppage", "warnings": "xpage"}


def table_page(revision: Revision, table: str, number: object = 1) -> Page:
    """One page of a table of the cluster page: its rows are all a page ever holds, so the
    page stays small whatever the size of the cluster."""
    if table == "namespaces":
        rows: object = revision.namespaces.all()
    elif table == "workloads":
        rows = revision.workloads.all()
    elif table == "policies":
        # a row shows its policy's YAML when opened (fetched then): the page carries none
        rows = in_evaluation_order(revision.policies.defer("yaml"))
    else:
        rows = [d for d in revision.diagnostics if d.get("severity") == "warning"]
    page = Paginator(rows, ROWS_PER_PAGE).get_page(number)
    if table == "warnings":
        page.object_list = warnings_in_policies(revision, list(page.object_list))
    return page


def warnings_in_policies(revision: Revision, warnings: list[dict]) -> list[dict]:
    """Copies of `warnings` with, for each located inside a policy of the revision, that
    policy (`policy`, "namespace/name" as the editor opens it) and the line of its text the
    warning is on (`policy_line`). Found by location (file and line), which every warning
    has, rather than by subject, which names a policy without its namespace when the loader
    wrote it."""
    files = {w["file"] for w in warnings if w.get("file") and w.get("line")}
    lines: dict[str, list[int]] = {}  # per file, the first line of each policy, in order
    keys: dict[str, list[tuple[str, str]]] = {}
    for file, line, namespace, name in (
        revision.policies.filter(source_file__in=files)
        .order_by("source_file", "line")
        .values_list("source_file", "line", "namespace", "name")
    ):
        lines.setdefault(file, []).append(line)
        keys.setdefault(file, []).append((namespace, name))
    candidates: dict[int, tuple[str, str]] = {}  # index in `warnings` → the policy before it
    for i, w in enumerate(warnings):
        file = w.get("file", "")
        at = bisect_right(lines.get(file, ()), w.get("line") or 0)
        if at:
            candidates[i] = keys[file][at - 1]
    rows = {}
    if candidates:
        wanted = Q()
        for namespace, name in set(candidates.values()):
            wanted |= Q(namespace=namespace, name=name)
        rows = {(p.namespace, p.name): p for p in revision.policies.filter(wanted)}
    out = []
    for i, w in enumerate(warnings):
        row = rows.get(candidates.get(i, ("", "")))
        line = text_line(row, w["line"]) if row is not None else 0
        found = {"policy": f"{row.namespace}/{row.name}", "policy_line": line} if line else {}
        out.append({**w, **found})
    return out


INDEX_INLINE = 300  # policies; above, the editor's index lists a namespace's when it is opened


def policy_index(revision: Revision, namespace: str | None = None) -> dict[str, object]:
    """The editor's index of policies, names only: all of them for a small cluster (or of one
    `namespace`), else the namespaces and their counts, each listed when opened. Cluster-wide
    policies are listed apart, with their priority, in evaluation order: the Admin tier's
    before the NetworkPolicies and the Baseline tier's after them."""
    names = revision.policies.values("namespace", "name")
    if namespace is not None:
        return {"policy_names": list(names.filter(namespace=namespace))}
    tiered = list(
        in_evaluation_order(revision.policies.exclude(tier=NETWORK_POLICY)).values(
            "namespace", "name", "tier", "priority"
        )
    )
    tiers = {
        "admin_policies": [p for p in tiered if p["tier"] == "Admin"],
        "baseline_policies": [p for p in tiered if p["tier"] == "Baseline"],
    }
    names = names.filter(tier=NETWORK_POLICY)
    count = revision.policies.count()
    if count <= INDEX_INLINE:
        return {"policy_names": list(names), **tiers}
    counts = names.order_by("namespace").values("namespace").annotate(n=Count("pk"))
    return {"policy_names": [], "policy_namespaces": list(counts), **tiers}


def revision_overview(
    cluster: Cluster, revision: Revision | None, query: Mapping[str, str] | None = None
) -> dict[str, object]:
    """What the cluster page shows of one revision: a page of each table (`query` names the
    pages), the counts, the namespaces, its notes, the history, and the latest revision when
    its analysis failed after the head's."""
    head = cluster.head
    history = list(
        cluster.revisions.select_related("author").defer("diagnostics").order_by("-number")[:50]
    )
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
    query = query or {}
    pages = {t: table_page(revision, t, query.get(param)) for t, param in TABLES.items()}
    selected = query.get("policy", "")
    namespace, _, name = selected.partition("/")
    return {
        "cluster": cluster,
        "revision": revision,
        "head": head,
        "is_head": head is not None and head.pk == revision.pk,
        "history": history,
        "failed": failed if failed is not None and failed.pk != revision.pk else None,
        "namespaces": list(revision.namespaces.all()),
        **policy_index(revision),
        "selected_policy": revision.policies.filter(namespace=namespace, name=name).first()
        if name
        else None,
        "namespace_page": pages["namespaces"],
        "workload_page": pages["workloads"],
        "policy_page": pages["policies"],
        "warning_page": pages["warnings"],
        "workload_count": pages["workloads"].paginator.count,
        "policy_count": pages["policies"].paginator.count,
        "warning_count": pages["warnings"].paginator.count,
        # endpoints for the "why" form's suggestions (the graph's Find searches them all)
        "endpoint_hints": [
            w.endpoint for w in revision.workloads.only("namespace", "name", "kind")[:300]
        ],
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
    # The newest revision when its analysis failed after the head: the list page says so,
    # and why (the API's list keeps its shape: a client compares `revision` with its own).
    failed: Revision | None = None

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
    """Every cluster the user may see, with counts of its latest revision (five queries:
    the first settles analyses whose worker died, so that a client polling this list for a
    `ready` is told `failed` instead of `analysing` for good)."""
    tasks.sweep(clusters=visible_clusters(user))
    newest = Revision.objects.filter(cluster=OuterRef("pk")).order_by("-number")
    latest = newest.exclude(status=Revision.Status.FAILED)
    clusters = list(
        visible_clusters(user)
        .select_related("owner")
        .annotate(
            head_id=Subquery(latest.values("pk")[:1]), newest_id=Subquery(newest.values("pk")[:1])
        )
    )
    heads = {
        r.pk: r
        for r in Revision.objects.filter(
            pk__in={c.head_id for c in clusters} | {c.newest_id for c in clusters}
        ).only("pk", "number", "created", "status", "error")
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
                failed=heads[cluster.newest_id] if cluster.newest_id != cluster.head_id else None,
            )
        )
    return summaries


def history(cluster: Cluster) -> list[Revision]:
    """Every revision of a cluster, newest first, with the impact each stored when written."""
    # The parent's number alone: a joined parent row would bring its diagnostics along.
    revisions = cluster.revisions.select_related("author").defer("diagnostics")
    return list(revisions.annotate(parent_number=F("parent__number")).order_by("-number"))
