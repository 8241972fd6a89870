"""Label selector matching (metav1.LabelSelector semantics)."""

from __future__ import annotations

from collections.abc import Mapping

from .model import LabelSelector, Requirement

__all__ = ["format_selector", "matches", "requirement_matches"]


def requirement_matches(req: Requirement, labels: Mapping[str, str]) -> bool:
    """One matchExpressions entry against a label map.

    NotIn and DoesNotExist match a pod that lacks the key altogether (Kubernetes semantics).
    """
    op = req.operator
    if op == "In":
        return req.key in labels and labels[req.key] in req.values
    if op == "NotIn":
        return req.key not in labels or labels[req.key] not in req.values
    if op == "Exists":
        return req.key in labels
    if op == "DoesNotExist":
        return req.key not in labels
    raise ValueError(f"unknown operator {op!r}")  # validated at load time


def matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """True when every matchLabels pair and every matchExpressions entry holds (AND)."""
    for key, value in selector.match_labels:
        if labels.get(key) != value:
            return False
    return all(requirement_matches(req, labels) for req in selector.match_expressions)


def format_selector(selector: LabelSelector | None) -> str:
    """kubectl-style text: `app=web,tier in (api,front),!legacy`; `{}` selects everything."""
    if selector is None:
        return "(absent)"
    parts = [f"{k}={v}" for k, v in selector.match_labels]
    for req in selector.match_expressions:
        values = ",".join(req.values)
        parts.append(
            {
                "In": f"{req.key} in ({values})",
                "NotIn": f"{req.key} notin ({values})",
                "Exists": req.key,
                "DoesNotExist": f"!{req.key}",
            }[req.operator]
        )
    return ",".join(parts) if parts else "{} (everything)"
