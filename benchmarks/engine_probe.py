"""Engine-only timing for one cluster, run by run.py in a fresh process per measurement.

    python benchmarks/engine_probe.py DIR [EDITED_DIR]

Loads DIR (untimed), then times `evaluate` plus making every flow (none kept), and prints one JSON
object: seconds, flow count and the process's peak RSS at that point. EDITED_DIR, the same
cluster with one policy changed, feeds the re-evaluation hook below.
"""

import json
import resource
import sys
from time import perf_counter
from typing import Any

from policies.engine import Snapshot, connectivity, diff, evaluate, load_paths


def _peak_kb() -> int:
    # ru_maxrss is in kilobytes on Linux; the probe is its own process, so this is its peak.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def probe(cluster: str, edited: str | None) -> dict[str, Any]:
    """Measure one cluster; the result is what the probe prints."""
    t0 = perf_counter()
    snapshot = load_paths([cluster])
    t1 = perf_counter()
    conn = evaluate(snapshot)
    t2 = perf_counter()
    # Every flow is made, one at a time, as the writers and the connections API take them;
    # none is kept (an open cluster of 10,000 pods has 10^8).
    flows = sum(1 for _ in conn.flows())
    t3 = perf_counter()
    result: dict[str, Any] = {
        "load_s": t1 - t0,
        "evaluate_s": t2 - t1,
        "flows_s": t3 - t2,
        "engine_s": t3 - t1,
        "flows": flows,
        # Taken before the hook, so that the engine column is not inflated by a second snapshot.
        "peak_kb": _peak_kb(),
        "reeval_s": None,
        "reeval": "n/a (not implemented)",
    }

    # ---- re-evaluation after editing one policy -------------------------------------------
    # What the editor's impact preview does: the edited policy replaces its old version, every
    # other policy stays the same object, and `reevaluate` reuses the work done for `conn`;
    # timed up to the impact (the diff), which is what the preview shows.
    if edited is None:
        result["reeval"] = "n/a (no edited cluster given)"
    else:
        edited_policies = {p.id: p for p in load_paths([edited]).policies}
        # Same text, same policy (the copy lives in another folder, so locations differ).
        policies = tuple(
            p if p.source == edited_policies[p.id].source else edited_policies[p.id]
            for p in snapshot.policies
        )
        after = Snapshot(snapshot.namespaces, snapshot.workloads, policies)
        t4 = perf_counter()
        change = diff(conn, connectivity.reevaluate(conn, after))
        result["reeval_s"] = perf_counter() - t4
        result["reeval"] = f"impact {change.summary()}"
    # ---- end of hook ---------------------------------------------------------------------
    return result


def main(argv: list[str]) -> int:
    """Command line: print the measurement of argv[0] (and argv[1], the edited copy)."""
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(probe(argv[0], argv[1] if len(argv) == 2 else None)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
