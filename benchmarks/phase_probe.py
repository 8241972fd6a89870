"""Where `netviz analyze DIR --format json` spends its CPU time, phase by phase.

    python benchmarks/phase_probe.py DIR

Does what the console script does (collector off, the same calls in the same order) in a fresh
process, and prints one JSON object of CPU milliseconds: the interpreter's start-up (the CPU
time the process had used when this file began), imports, YAML (yamlio.parse_documents, inside
load_inputs), reading files + validation + lint (the rest of load_inputs), evaluation, and the
flows with the JSON writer.
"""

import gc
import time

_START = time.process_time()  # the interpreter's own start-up, before any line of ours ran
gc.disable()

import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

_t0 = time.process_time()
from policies.engine import manifests, yamlio  # noqa: E402
from policies.engine.cli import load_inputs  # noqa: E402  (what the console script imports)
from policies.engine.connectivity import evaluate  # noqa: E402
from policies.engine.formats import write  # noqa: E402

_IMPORTS = time.process_time() - _t0


def probe(cluster: str) -> dict[str, float]:
    """CPU ms per phase of one analyze run over `cluster`."""
    yaml_s = 0.0
    parse = manifests.parse_documents

    def timed_parse(text: str, file: str) -> list[yamlio.Document]:
        nonlocal yaml_s
        t = time.process_time()
        try:
            return parse(text, file)
        finally:
            yaml_s += time.process_time() - t

    manifests.parse_documents = timed_parse
    t0 = time.process_time()
    snapshot = load_inputs([cluster])  # as `analyze DIR` reads it
    t1 = time.process_time()
    conn = evaluate(snapshot)
    conn.class_pairs()
    t2 = time.process_time()
    write(conn.flows(), "json", io.StringIO())
    t3 = time.process_time()
    return {
        "interpreter_ms": _START * 1000,
        "imports_ms": _IMPORTS * 1000,
        "yaml_ms": yaml_s * 1000,
        "validate_ms": (t1 - t0 - yaml_s) * 1000,
        "evaluate_ms": (t2 - t1) * 1000,
        "json_ms": (t3 - t2) * 1000,
        "total_ms": time.process_time() * 1000,
        "reader": getattr(yamlio, "READER", "pyyaml"),  # READER: since the native reader
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    print(json.dumps(probe(sys.argv[1])))
