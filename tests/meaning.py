"""What a loaded policy means, apart from where and how it was written: two readings of the
same policy (an upload and the CLI, a stored text read again) compare equal through it."""

from __future__ import annotations

import dataclasses


def bare(value):
    """A policy's meaning: every field but where it was written and its text."""
    if dataclasses.is_dataclass(value):
        return tuple(
            (f.name, bare(getattr(value, f.name)))
            for f in dataclasses.fields(value)
            if f.name not in ("location", "source")
        )
    if isinstance(value, tuple):
        return tuple(bare(v) for v in value)
    return value
