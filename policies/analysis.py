"""What the engine says about a stored revision, computed once and kept.

A revision never changes once written, so everything derived from it can be kept: its
snapshot and evaluation in this process (a small memo, since a few thousand workloads take
tens of megabytes) and its graph index in the database, from which every view and the
connections API are answered.
Any process can rebuild all of it from the revision's rows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import engine
from .engine.gcpause import paused_gc
from .engine.graph import FlowIndex
from .models import Revision, RevisionGraph
from .snapshots import revision_snapshot

__all__ = [
    "CACHE_VERSION",
    "State",
    "clear",
    "flow_index",
    "forget",
    "impact_record",
    "remember",
    "state",
]

CACHE_VERSION = 5  # of RevisionGraph's layout: bump when it changes, older rows are rebuilt
IMPACT_SAMPLE = 20  # flows of each kind kept on a revision with its impact counts


class _Memo:
    """The last few values computed per revision, in this process.

    Safe because a revision never changes once stored. The key includes the creation time so
    that a database which reuses primary keys (tests flush and restart them) never serves a
    value computed for another revision.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def _store(self, key: tuple, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def put(self, revision: Revision, value: Any) -> None:
        with self._lock:
            self._store((revision.pk, revision.created), value)

    def get(self, revision: Revision, make: Callable[[], Any]) -> Any:
        key = (revision.pk, revision.created)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: two threads may both compute it, both get it right
        with self._lock:
            self._store(key, value)
        return value

    def drop(self, revision: Revision) -> None:
        with self._lock:
            self._items.pop((revision.pk, revision.created), None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class State:
    """A revision's engine snapshot, with its evaluation made on first use."""

    snapshot: engine.Snapshot
    _conn: engine.Connectivity | None = None
    _workloads: dict[str, engine.Workload] = field(default_factory=dict)

    @property
    def conn(self) -> engine.Connectivity:
        if self._conn is None:
            self._conn = engine.evaluate(self.snapshot)
        return self._conn

    def workload(self, ident: str) -> engine.Workload | None:
        if not self._workloads:
            self._workloads = {w.id: w for w in self.snapshot.workloads}
        return self._workloads.get(ident)


# Three: the head, its parent (for an impact) and the revision someone is looking at.
_states = _Memo(3)
_indexes = _Memo(4)


def state(revision: Revision) -> State:
    """The engine's view of a stored revision (parsing it again costs ~2 s at 2,400 policies)."""
    return _states.get(revision, lambda: State(revision_snapshot(revision)))


def remember(revision: Revision, snapshot: engine.Snapshot, conn=None) -> None:
    """Keep the snapshot (and evaluation) a writer made `revision` from, so that nobody
    parses or evaluates it again in this process."""
    _states.put(revision, State(snapshot, conn))


def forget(revision: Revision) -> None:
    """Let go of the state kept for `revision` (its graph index stays): at 50,000 pods a
    state is ~300 MB, and a parent's is not needed once its child's impact is stored."""
    _states.drop(revision)


def clear() -> None:
    """Forget everything kept in this process (the database keeps what matters)."""
    _states.clear()
    _indexes.clear()


def _stored_index(revision: Revision) -> FlowIndex:
    data = (
        RevisionGraph.objects.filter(revision=revision, version=CACHE_VERSION)
        .values_list("data", flat=True)
        .first()
    )
    if data is not None:
        return FlowIndex.from_dict(data)
    index = FlowIndex.build(state(revision).conn)
    with paused_gc():  # a megabyte of JSON at a few thousand workloads: no cyclic garbage
        RevisionGraph.objects.update_or_create(
            revision=revision, defaults={"version": CACHE_VERSION, "data": index.to_dict()}
        )
    return index


def flow_index(revision: Revision) -> FlowIndex:
    """The revision's graph index: from this process, from the database, or built and stored."""
    return _indexes.get(revision, lambda: _stored_index(revision))


def impact_record(change: engine.ConnectivityDiff) -> dict[str, Any]:
    """What a revision keeps of its change against its parent: counts, the one-line summary
    and a bounded sample of each kind of change (the full diff is on the compare page)."""
    sample = engine.ConnectivityDiff(
        change.added[:IMPACT_SAMPLE], change.removed[:IMPACT_SAMPLE], change.changed[:IMPACT_SAMPLE]
    )
    return {
        "summary": change.summary(),
        "added": len(change.added),
        "removed": len(change.removed),
        "changed": len(change.changed),
        "sample": sample.as_dict(),
    }
