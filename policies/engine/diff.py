"""The change in connectivity between two evaluations (an edit's impact)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

from .connectivity import Connectivity, Endpoint, Flow
from .intervals import IntervalSet, PortSet, format_ip_range

__all__ = ["ConnectivityDiff", "FlowChange", "diff"]


@dataclass(frozen=True, slots=True)
class FlowChange:
    """A pair whose allowed ports differ: before and after are both non-empty."""

    src: Endpoint
    dst: Endpoint
    before: PortSet
    after: PortSet

    def as_dict(self) -> dict[str, object]:
        return {
            "src": self.src.id,
            "dst": self.dst.id,
            "before": self.before.to_conns(),
            "after": self.after.to_conns(),
        }


@dataclass(frozen=True, slots=True)
class ConnectivityDiff:
    added: tuple[Flow, ...]
    removed: tuple[Flow, ...]
    changed: tuple[FlowChange, ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def as_dict(self) -> dict[str, object]:
        def rec(f: Flow) -> dict[str, object]:
            return {"src": f.src.id, "dst": f.dst.id, "conns": f.ports.to_conns()}

        return {
            "added": [rec(f) for f in self.added],
            "removed": [rec(f) for f in self.removed],
            "changed": [c.as_dict() for c in self.changed],
        }

    def summary(self) -> str:
        return f"+{len(self.added)} -{len(self.removed)} ~{len(self.changed)}"


def _split(flows):
    pairs: dict[tuple[str, str], Flow] = {}
    # (workload id, 'out' | 'in') -> [(addresses, ports)]
    external: dict[tuple[str, str], list[tuple[IntervalSet, PortSet]]] = defaultdict(list)
    workloads: dict[str, Endpoint] = {}
    for f in flows:
        if f.src.is_external:
            external[(f.dst.id, "in")].append((f.src.addresses, f.ports))
            workloads[f.dst.id] = f.dst
        elif f.dst.is_external:
            external[(f.src.id, "out")].append((f.dst.addresses, f.ports))
            workloads[f.src.id] = f.src
        else:
            pairs[(f.src.id, f.dst.id)] = f
    return pairs, external, workloads


def _ports_at(entries, point: int) -> PortSet:
    out = PortSet.none()
    for addresses, ports in entries:
        if point in addresses:
            out = out | ports
    return out


def diff(before: Connectivity, after: Connectivity) -> ConnectivityDiff:
    """Flows added, removed and changed from `before` to `after`.

    External ranges are compared address by address (the two sides may cut the address space
    differently), then merged back into ranges that changed alike.
    """
    # After an edit evaluated with reevaluate(), only the classes the edit touched can differ.
    touching = after.changed_since(before)
    b_pairs, b_ext, b_wl = _split(before.flows(touching))
    a_pairs, a_ext, a_wl = _split(after.flows(touching))
    added, removed, changed = [], [], []
    for key in sorted(set(b_pairs) | set(a_pairs)):
        b, a = b_pairs.get(key), a_pairs.get(key)
        if b is None and a is not None:
            added.append(a)
        elif a is None and b is not None:
            removed.append(b)
        elif a is not None and b is not None and a.ports != b.ports:
            changed.append(FlowChange(a.src, a.dst, b.ports, a.ports))
    workloads = {**b_wl, **a_wl}
    for key in sorted(set(b_ext) | set(a_ext)):
        wid, direction = key
        b_entries, a_entries = b_ext.get(key, []), a_ext.get(key, [])
        points = set()
        for addresses, _ in (*b_entries, *a_entries):
            for lo, hi in addresses.intervals:
                points.update((lo, hi + 1))
        bounds = sorted(points)
        runs: dict[tuple[PortSet, PortSet], list[tuple[int, int]]] = defaultdict(list)
        for lo, nxt in pairwise(bounds):
            bp, ap = _ports_at(b_entries, lo), _ports_at(a_entries, lo)
            if bp != ap:
                runs[(bp, ap)].append((lo, nxt - 1))
        wl = workloads[wid]
        for (bp, ap), ranges in runs.items():
            addresses = IntervalSet.of(ranges)
            ident = ",".join(format_ip_range(lo, hi) for lo, hi in addresses.intervals)
            ext = Endpoint(ident, None, addresses)
            src, dst = (wl, ext) if direction == "out" else (ext, wl)
            if not bp:
                added.append(Flow(src, dst, ap))
            elif not ap:
                removed.append(Flow(src, dst, bp))
            else:
                changed.append(FlowChange(src, dst, bp, ap))
    return ConnectivityDiff(tuple(added), tuple(removed), tuple(changed))
