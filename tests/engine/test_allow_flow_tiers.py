"""allow-this-flow on a flow a cluster tier denies: a NetworkPolicy cannot help there, so the
plan names the denying rule and writes a policy of the same kind and API version that accepts
the flow one priority ahead of it; applied, it allows exactly the flow asked for."""

from __future__ import annotations

import pytest
import yaml

from policies.engine import evaluate, explain
from policies.engine.intervals import PortSet
from policies.engine.synthesis import allow_flow_plan

from .helpers import policy, snap
from .test_tiers import ALL_NS, V1, V2, cluster, pods_sel, rule, tier_policy

EKS = "eks"
A, B, C = "x/a[Pod]", "y/b[Pod]", "y/c[Pod]"


def tiered(api: str, tier: str, name: str, subject: dict, priority: int = 10, **rules) -> str:
    """tier_policy, plus EKS's ClusterNetworkPolicy (v1alpha1-style ports, Accept)."""
    if api != EKS:
        return tier_policy(api, tier, name, subject, priority, **rules)
    doc = yaml.safe_load(tier_policy(V1, "Admin", name, subject, priority, **rules))
    doc.update(apiVersion="networking.k8s.aws/v1alpha1", kind="ClusterNetworkPolicy")
    doc["spec"] = {"tier": tier, **doc["spec"]}
    for direction in ("ingress", "egress"):
        for r in doc["spec"].get(direction, []):
            r["action"] = "Accept" if r["action"] == "Allow" else r["action"]
    return yaml.safe_dump(doc, sort_keys=False)


def plan_for(docs: list[str], src: str, dst: str, asked: str | None):
    snapshot = snap(*docs)
    conn = evaluate(snapshot)
    by_id = {w.id: w for w in snapshot.workloads}
    e = explain(snapshot, by_id[src], by_id[dst], asked)
    return snapshot, conn, allow_flow_plan(snapshot, conn, e, by_id[src], by_id[dst])


def flows(docs: list[str]) -> dict[tuple[str, str], PortSet]:
    return {(f.src.id, f.dst.id): f.ports for f in evaluate(snap(*docs)).flows()}


def check_applied(docs: list[str], texts, src: str, dst: str, asked: str) -> None:
    """With the plan's policies added, src -> dst is allowed on `asked`, and nothing else
    changed but that flow."""
    before, after = flows(docs), flows([*docs, *texts])
    assert not (PortSet.parse(asked) - after[(src, dst)])
    assert {k: v for k, v in after.items() if k != (src, dst)} == {
        k: v for k, v in before.items() if k != (src, dst)
    }


@pytest.mark.parametrize("api", [V1, V2, EKS])
def test_an_admin_deny_gets_an_admin_accept_ahead_of_it(api: str) -> None:
    # y's pods deny everyone in the Admin tier; a NetworkPolicy would change nothing.
    docs = cluster(
        tiered(api, "Admin", "freeze", pods_sel(app="b"), priority=10,
               ingress=[rule("Deny", ALL_NS, name="deny-everyone")]),
        policy("allow-a", "podSelector: {}\ningress:\n- {}", ns="y"),
    )  # fmt: skip
    _, _, plan = plan_for(docs, A, B, "tcp-8080")
    [block] = plan.blocks
    assert block.direction == "Ingress"
    assert block.policy.name == "freeze"
    assert "ingress[0] 'deny-everyone'" in block.message
    assert "a NetworkPolicy cannot allow it" in block.message
    [text] = plan.texts  # the tier policy only: the ingress side needs no NetworkPolicy
    fix = yaml.safe_load(text.split("\n", 1)[1])
    assert fix["kind"] == block.policy.kind
    assert fix["apiVersion"] == block.policy.api_version
    assert fix["spec"]["priority"] == 9
    check_applied(docs, plan.texts, A, B, "TCP 8080")


@pytest.mark.parametrize("api", [V1, V2])
def test_an_admin_deny_at_the_source_and_a_networkpolicy_at_the_destination(api: str) -> None:
    # a's egress is denied in the Admin tier; y isolates ingress and names no one.
    docs = cluster(
        tiered(api, "Admin", "no-out", pods_sel(app="a"), priority=50,
               egress=[rule("Deny", ALL_NS)]),
        policy("deny-in", "podSelector: {}\npolicyTypes: [Ingress]", ns="y"),
    )  # fmt: skip
    _, _, plan = plan_for(docs, A, C, "tcp-80")
    assert [b.direction for b in plan.blocks] == ["Egress"]
    kinds = [yaml.safe_load(t.split("\n", 1)[1])["kind"] for t in plan.texts]
    assert kinds[0] == "NetworkPolicy"  # the destination's ingress, as before
    assert len(kinds) == 2
    check_applied(docs, plan.texts, A, C, "TCP 80")


@pytest.mark.parametrize("api", [V1, V2])
def test_an_admin_pass_leaves_the_fix_to_networkpolicy(api: str) -> None:
    docs = cluster(
        tiered(api, "Admin", "pass", pods_sel(app="b"), ingress=[rule("Pass", ALL_NS)]),
        policy("deny-in", "podSelector: {}\npolicyTypes: [Ingress]", ns="y"),
    )
    _, _, plan = plan_for(docs, A, B, "tcp-8080")
    assert plan.blocks == ()
    [text] = plan.texts
    assert "kind: NetworkPolicy" in text
    check_applied(docs, plan.texts, A, B, "TCP 8080")


def test_a_deny_at_priority_zero_points_to_its_rule() -> None:
    docs = cluster(
        tiered(V2, "Admin", "first", pods_sel(app="b"), priority=0, ingress=[rule("Deny", ALL_NS)])
    )
    _, _, plan = plan_for(docs, A, B, "tcp-8080")
    [block] = plan.blocks
    assert block.fix == ""
    assert plan.texts == ()
    assert "priority 0" in block.message
    assert "edit its rule" in block.message


def test_a_baseline_deny_gets_a_baseline_accept_ahead_of_it() -> None:
    docs = cluster(
        tiered(V2, "Baseline", "base-deny", pods_sel(app="b"), priority=500,
               ingress=[rule("Deny", ALL_NS)]),
    )  # fmt: skip
    _, _, plan = plan_for(docs, A, B, "tcp-8080")
    [block] = plan.blocks
    assert "(Baseline tier)" in block.message
    [text] = plan.texts
    fix = yaml.safe_load(text.split("\n", 1)[1])
    assert fix["spec"]["tier"] == "Baseline"
    assert fix["spec"]["priority"] == 499
    check_applied(docs, plan.texts, A, B, "TCP 8080")


def test_a_baseline_admin_network_policy_deny_cannot_be_outranked_in_its_tier() -> None:
    docs = cluster(
        tiered(V1, "Baseline", "default", pods_sel(app="b"), ingress=[rule("Deny", ALL_NS)])
    )
    _, _, plan = plan_for(docs, A, B, "tcp-8080")
    [block] = plan.blocks
    assert block.fix == ""
    assert "singleton" in block.message
