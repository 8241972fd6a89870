"""Policies → clean YAML for `kubectl apply`: one policy, a multi-document file, or a zip.

Server-side fields (status, managedFields, uid, resourceVersion, creationTimestamp,
generation, selfLink, the last-applied annotation) are dropped. A policy that has none of
them is exported exactly as the user wrote it, comments and key order included.
"""

from __future__ import annotations

import io
import zipfile
from collections import defaultdict
from collections.abc import Iterable

import yaml

from .model import NetworkPolicy
from .yamlio import parse_documents

__all__ = ["SERVER_FIELDS", "clean_policy_yaml", "export_policies", "export_zip"]

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


def _clean(obj: dict) -> bool:
    """Removes server-side fields in place; True when something was removed."""
    changed = obj.pop("status", None) is not None or "status" in obj
    meta = obj.get("metadata")
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


def clean_policy_yaml(source: str, name: str = "policy.yaml") -> str:
    """One policy's YAML without server-side fields (verbatim when it has none)."""
    docs = parse_documents(source, name)
    if not docs:
        return source
    obj = _plain(docs[0].value)
    if not _clean(obj):
        return source if source.endswith("\n") else source + "\n"
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


def export_policies(policies: Iterable[NetworkPolicy]) -> str:
    """Every policy as one multi-document YAML stream, sorted by namespace and name."""
    texts = [
        clean_policy_yaml(p.source, f"{p.namespace}/{p.name}.yaml").strip("\n")
        for p in sorted(policies, key=lambda p: (p.namespace, p.name))
    ]
    return "---\n" + "\n---\n".join(texts) + "\n" if texts else ""


def export_zip(policies: Iterable[NetworkPolicy]) -> bytes:
    """A zip with one multi-document file per namespace: `<namespace>.yaml`."""
    by_ns: dict[str, list[NetworkPolicy]] = defaultdict(list)
    for p in policies:
        by_ns[p.namespace].append(p)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for ns in sorted(by_ns):
            zf.writestr(f"{ns}.yaml", export_policies(by_ns[ns]))
    return buf.getvalue()
