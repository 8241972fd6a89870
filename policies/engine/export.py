"""Policies → clean YAML for `kubectl apply`: one policy, a multi-document file, or a zip.

Server-side fields (status, managedFields, uid, resourceVersion, creationTimestamp,
generation, selfLink, the last-applied annotation) are dropped. A policy that has none of
them is exported exactly as the user wrote it, comments and key order included.

Cluster-scoped policies (AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy)
come first in a stream, lose a `metadata.namespace` the API server would ignore, and go to
`_cluster.yaml` in a zip (no namespace can be named so).
"""

from __future__ import annotations

import io
import zipfile
from collections import defaultdict
from collections.abc import Iterable

import yaml

from .model import ClusterNetworkPolicy, NetworkPolicy
from .yamlio import parse_documents

__all__ = [
    "CLUSTER_FILE",
    "SERVER_FIELDS",
    "clean_policy_yaml",
    "export_policies",
    "export_zip",
]

CLUSTER_FILE = "_cluster.yaml"

SERVER_FIELDS = (
    "managedFields",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "selfLink",
)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _clean(obj: dict, cluster_scoped: bool = False) -> bool:
    """Removes server-side fields in place; True when something was removed."""
    changed = obj.pop("status", None) is not None or "status" in obj
    meta = obj.get("metadata")
    if isinstance(meta, dict) and cluster_scoped and "namespace" in meta:
        del meta["namespace"]
        changed = True
    if isinstance(meta, dict):
        for key in SERVER_FIELDS:
            if key in meta:
                del meta[key]
                changed = True
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            del annotations[LAST_APPLIED]
            changed = True
            if not annotations:
                del meta["annotations"]
    return changed


def clean_policy_yaml(source: str, name: str = "policy.yaml", cluster_scoped: bool = False) -> str:
    """One policy's YAML without server-side fields (verbatim when it has none); a
    cluster-scoped one also without metadata.namespace."""
    docs = parse_documents(source, name)
    if not docs:
        return source
    obj = _plain(docs[0].value)
    if not _clean(obj, cluster_scoped):
        return source if source.endswith("\n") else source + "\n"
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


def _cluster_scoped(p: NetworkPolicy | ClusterNetworkPolicy) -> bool:
    # By the kind field, not the type: the web exports its stored rows as they are (a row has
    # namespace, name, kind and source), which spares it parsing every policy again.
    return getattr(p, "kind", "NetworkPolicy") != "NetworkPolicy"


def _name(p: NetworkPolicy | ClusterNetworkPolicy) -> str:
    return f"{p.kind}/{p.name}" if _cluster_scoped(p) else f"{p.namespace}/{p.name}"


def _order(p: NetworkPolicy | ClusterNetworkPolicy) -> tuple:
    if _cluster_scoped(p):
        # In evaluation order: Admin by priority then name, then Baseline (no priority: last).
        # A stored row carries tier and priority as columns, as the engine's object does.
        priority = getattr(p, "priority", None)
        tier = 0 if getattr(p, "tier", "Admin") == "Admin" else 1
        return (0, tier, 1001 if priority is None else priority, p.name, p.kind)
    return (1, p.namespace, p.name)


def export_policies(policies: Iterable[NetworkPolicy | ClusterNetworkPolicy]) -> str:
    """Every policy as one multi-document YAML stream: cluster-scoped ones first (in the
    order they are evaluated), then NetworkPolicies by namespace and name."""
    texts = [
        clean_policy_yaml(p.source, f"{_name(p)}.yaml", cluster_scoped=_cluster_scoped(p)).strip(
            "\n"
        )
        for p in sorted(policies, key=_order)
    ]
    return "---\n" + "\n---\n".join(texts) + "\n" if texts else ""


def export_zip(policies: Iterable[NetworkPolicy | ClusterNetworkPolicy]) -> bytes:
    """A zip with one multi-document file per namespace, `<namespace>.yaml`, and the
    cluster-scoped policies in `_cluster.yaml`."""
    by_file: dict[str, list] = defaultdict(list)
    for p in policies:
        name = CLUSTER_FILE if _cluster_scoped(p) else f"{p.namespace}.yaml"
        by_file[name].append(p)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(by_file):
            zf.writestr(name, export_policies(by_file[name]))
    return buf.getvalue()
