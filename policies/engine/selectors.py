"""Label selector matching (metav1.LabelSelector semantics)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

from .model import LabelSelector, Requirement

__all__ = ["format_selector", "matches", "parse_selector", "requirement_matches"]


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


_KEY = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9.]*[A-Za-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"


@cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """`key in (a,b)`, `key=value` and `key`/`!key`, compiled on first use: only text
    selectors (the web's filters) need them, not `netviz analyze` (~1 ms of its start-up)."""
    return (
        re.compile(rf"(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)"),
        re.compile(rf"(?P<key>{_KEY})\s*(?P<op>==|!=|=)\s*(?P<value>{_VALUE})"),
        re.compile(rf"(?P<not>!?)\s*(?P<key>{_KEY})"),
    )


def _split_requirements(text: str) -> list[str]:
    """Split at the commas that separate requirements, not those inside `in (a,b)`."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            if depth > 1:
                raise ValueError(f"unexpected '(' at character {i + 1}")
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unmatched ')' at character {i + 1}")
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise ValueError("missing ')' to close the value list")
    parts.append(text[start:])
    return parts


def parse_selector(text: str) -> LabelSelector:
    """A kubectl-style label selector: `app=web,tier in (front,api),!legacy`.

    Supports `key=value` (or `==`), `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key`
    and `!key`, with Kubernetes' meanings: `!=` and `notin` also match pods without the key.
    Raises ValueError naming the requirement it could not read.
    """
    match_labels: list[tuple[str, str]] = []
    expressions: list[Requirement] = []
    set_pattern, compare_pattern, exists_pattern = _patterns()
    for raw in _split_requirements(text):
        part = raw.strip()
        if not part:
            raise ValueError("empty requirement: two commas in a row, or one at an end")
        if m := set_pattern.fullmatch(part):
            values = tuple(v.strip() for v in m["values"].split(","))
            bad = [v for v in values if not re.fullmatch(_VALUE, v) or not v]
            if bad:
                raise ValueError(f"{part!r}: {bad[0]!r} is not a label value")
            operator = "In" if m["op"] == "in" else "NotIn"
            expressions.append(Requirement(m["key"], operator, values))
        elif m := compare_pattern.fullmatch(part):
            if m["op"] == "!=":
                expressions.append(Requirement(m["key"], "NotIn", (m["value"],)))
            else:
                match_labels.append((m["key"], m["value"]))
        elif m := exists_pattern.fullmatch(part):
            expressions.append(Requirement(m["key"], "DoesNotExist" if m["not"] else "Exists"))
        else:
            raise ValueError(
                f"{part!r}: expected key=value, key!=value, key in (a,b), key notin (a,b),"
                " key or !key"
            )
    return LabelSelector(tuple(match_labels), tuple(expressions))
