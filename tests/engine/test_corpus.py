"""The shared corpus: every case gives exactly its expected connectivity.

Runs the real corpus in ../shared/corpus (or where NETVIZ_CORPUS points) through the same
writer as `analyze --format json`, and compares with the corpus' own semantic checker.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from policies.engine import ManifestErrors, evaluate, explain, load_paths
from policies.engine.cli import focus
from policies.engine.formats import to_json_dict
from policies.engine.intervals import PortSet

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("NETVIZ_CORPUS", REPO.parent / "shared" / "corpus"))
CASES = sorted(p.parent for p in (CORPUS / "cases").glob("*/expected.json"))

pytestmark = pytest.mark.skipif(not CASES, reason=f"no corpus at {CORPUS}")


def _checker():
    spec = importlib.util.spec_from_file_location("corpus_check", CORPUS / "check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _flows_for(case: Path, flags: dict):
    snapshot = load_paths([case / "input"])
    flows = evaluate(snapshot).flows()
    conn = PortSet.parse(flags["focus_conn"]) if flags.get("focus_conn") else None
    return snapshot, focus(
        flows,
        flags.get("focus_workloads") or [],
        flags.get("focus_workload_peers") or [],
        flags.get("focus_direction") or None,
        conn,
    )


# Cases whose input the API server refuses (a policy named with '_', which is not an RFC 1123
# subdomain): kubectl apply rejects them, and so does the loader, at the name.
REFUSED = {
    "example_pods_w_same_owner_and_labels_gap_with_good_match_expression",
    "example_pods_w_same_owner_and_labels_gap_with_policy_selector_not_in_gap",
}
ACCEPTED = [c for c in CASES if c.name not in REFUSED]


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.name in REFUSED],
    ids=[c.name for c in CASES if c.name in REFUSED],
)
def test_case_the_api_server_would_refuse_is_a_located_error(case: Path) -> None:
    with pytest.raises(ManifestErrors) as caught:
        load_paths([case / "input"])
    assert {e.location.path for e in caught.value.errors} == {"metadata.name"}


@pytest.mark.parametrize("case", ACCEPTED, ids=[c.name for c in ACCEPTED])
def test_case_gives_exactly_the_expected_connectivity(case: Path) -> None:
    expected = json.loads((case / "expected.json").read_text())
    _, flows = _flows_for(case, expected.get("flags", {}))
    actual = to_json_dict(flows)["connections"]
    diffs = _checker().compare(expected["connections"], actual)
    assert diffs == [], "\n".join(diffs[:20])


SMALL = [
    c for c in ACCEPTED if len(json.loads((c / "expected.json").read_text())["connections"]) < 60
]


@pytest.mark.parametrize("case", SMALL, ids=[c.name for c in SMALL])
def test_explain_agrees_with_the_class_evaluation_on_every_workload_pair(case: Path) -> None:
    # explain.py evaluates one pair straight from the spec; connectivity.py by classes.
    snapshot = load_paths([case / "input"])
    got = {(f.src.id, f.dst.id): f.ports for f in evaluate(snapshot).flows()}
    for src in snapshot.workloads:
        for dst in snapshot.workloads:
            if src is dst:
                continue
            allowed = explain(snapshot, src, dst).allowed
            assert got.get((src.id, dst.id), PortSet.none()) == allowed, (src.id, dst.id)
