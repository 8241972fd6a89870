"""Why one flow is allowed or denied: placeholder until the explain module lands."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Explanation", "explain"]


@dataclass(frozen=True, slots=True)
class Explanation:
    allowed: bool


def explain(*args, **kwargs):  # pragma: no cover
    raise NotImplementedError
