"""The shared corpus: every case gives exactly its expected connectivity.

Runs the real corpus in ../shared/corpus (or where NETVIZ_CORPUS points) through the same
writer as `analyze --format json`, and compares with the corpus' own semantic checker:
`cases/` (NetworkPolicy v1) and `admin-cases/` (with the cluster-wide Admin and Baseline
tiers), every folder with an expected.json.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
import yaml

from policies.engine import evaluate, explain, load_documents, load_paths
from policies.engine.cli import focus
from policies.engine.formats import to_json_dict
from policies.engine.intervals import PortSet

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("NETVIZ_CORPUS", REPO.parent / "shared" / "corpus"))
CASES = sorted(p.parent for p in (CORPUS / "cases").glob("*/expected.json"))
ADMIN_CASES = sorted(p.parent for p in (CORPUS / "admin-cases").glob("*/expected.json"))
ALL_CASES = CASES + ADMIN_CASES


def _case_id(case: Path) -> str:
    return f"{case.parent.name}/{case.name}"


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


@pytest.mark.parametrize("case", ALL_CASES, ids=[_case_id(c) for c in ALL_CASES])
def test_case_gives_exactly_the_expected_connectivity(case: Path) -> None:
    expected = json.loads((case / "expected.json").read_text())
    _, flows = _flows_for(case, expected.get("flags", {}))
    actual = to_json_dict(flows)["connections"]
    diffs = _checker().compare(expected["connections"], actual)
    assert diffs == [], "\n".join(diffs[:20])


SMALL = [
    c for c in ALL_CASES if len(json.loads((c / "expected.json").read_text())["connections"]) < 60
]


@pytest.mark.parametrize("case", SMALL, ids=[_case_id(c) for c in SMALL])
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


@pytest.mark.parametrize("case", SMALL, ids=[_case_id(c) for c in SMALL])
def test_explain_agrees_with_the_class_evaluation_on_external_ranges(case: Path) -> None:
    # networks (and ipBlocks) cut the address space; each range is explained on its own
    snapshot = load_paths([case / "input"])
    conn = evaluate(snapshot)
    got = {(f.src.id, f.dst.id): f.ports for f in conn.flows()}
    for w in snapshot.workloads:
        for ep in conn.external_endpoints:
            assert (
                got.get((w.id, ep.id), PortSet.none()) == explain(snapshot, w, ep.addresses).allowed
            )
            assert (
                got.get((ep.id, w.id), PortSet.none()) == explain(snapshot, ep.addresses, w).allowed
            )


# The same scenarios written as ClusterNetworkPolicy: v1alpha2 (`protocols`, Accept) and EKS's
# networking.k8s.aws/v1alpha1 (v1alpha1-style `ports`, Accept); the answers must not change.
def _port_to_protocol(port: dict) -> dict:
    if "namedPort" in port:
        return {"destinationNamedPort": port["namedPort"]}
    if "portNumber" in port:
        body = port["portNumber"]
        dest = {"number": body["port"]}
    else:
        body = port["portRange"]
        dest = {"range": {"start": body["start"], "end": body["end"]}}
    return {(body.get("protocol") or "TCP").lower(): {"destinationPort": dest}}


def _as_cluster_network_policy(obj: dict, dialect: str) -> dict:
    if obj.get("kind") not in ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy"):
        return obj
    spec = dict(obj["spec"])
    admin = obj["kind"] == "AdminNetworkPolicy"
    spec["tier"] = "Admin" if admin else "Baseline"
    spec["priority"] = spec.get("priority", 0) if admin else 0
    for direction in ("ingress", "egress"):
        rules = []
        for rule in spec.get(direction) or []:
            rule = dict(rule)
            rule["action"] = "Accept" if rule["action"] == "Allow" else rule["action"]
            if dialect == "v1alpha2" and "ports" in rule:
                rule["protocols"] = [_port_to_protocol(p) for p in rule.pop("ports")]
            rules.append(rule)
        if rules:
            spec[direction] = rules
    api = (
        "policy.networking.k8s.io/v1alpha2"
        if dialect == "v1alpha2"
        else "networking.k8s.aws/v1alpha1"
    )
    return {
        "apiVersion": api,
        "kind": "ClusterNetworkPolicy",
        "metadata": obj["metadata"],
        "spec": spec,
    }


def _rewritten(case: Path, dialect: str) -> list[tuple[str, str]]:
    files = []
    for path in sorted((case / "input").rglob("*")):
        if path.suffix not in (".yaml", ".yml", ".json"):
            continue
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        docs = [_as_cluster_network_policy(d, dialect) for d in docs]
        files.append((str(path), yaml.safe_dump_all(docs, sort_keys=False)))
    return files


@pytest.mark.parametrize("dialect", ["v1alpha2", "eks"])
@pytest.mark.parametrize("case", ADMIN_CASES, ids=[c.name for c in ADMIN_CASES])
def test_admin_case_written_as_cluster_network_policy_gives_the_same_connectivity(
    case: Path, dialect: str
) -> None:
    expected = json.loads((case / "expected.json").read_text())
    flags = expected.get("flags", {})
    snapshot = load_documents(_rewritten(case, dialect))
    assert not any(p.kind != "ClusterNetworkPolicy" for p in snapshot.cluster_policies)
    conn = PortSet.parse(flags["focus_conn"]) if flags.get("focus_conn") else None
    flows = focus(
        evaluate(snapshot).flows(),
        flags.get("focus_workloads") or [],
        flags.get("focus_workload_peers") or [],
        flags.get("focus_direction") or None,
        conn,
    )
    diffs = _checker().compare(expected["connections"], to_json_dict(flows)["connections"])
    assert diffs == [], "\n".join(diffs[:20])
