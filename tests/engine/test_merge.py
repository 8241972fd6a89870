"""Uploads into a cluster: what a replace drops, and the kubectl-apply-like merge."""

from __future__ import annotations

from policies.engine.merge import dropped, merge_snapshots

from .helpers import pod, policy, snap


def test_dropped_lists_namespaces_workloads_and_policies_no_longer_present():
    before = snap(pod("a", ns="x"), pod("b", ns="y"), policy("p", "podSelector: {}"))
    after = snap(pod("a", ns="x"))
    change = dropped(before, after)
    assert change.as_dict() == {
        "namespaces": ["default", "y"],  # default held only the policy
        "workloads": ["y/b[Pod]"],
        "policies": ["default/p"],
    }
    assert not dropped(before, before)


def test_merge_replaces_same_identity_objects_and_keeps_the_others():
    base = snap(pod("a"), pod("b"), policy("p", "podSelector: {}"))
    upload = snap(pod("b", labels={"version": "2"}), pod("c"))
    merged = merge_snapshots(base, upload)
    assert [w.id for w in merged.workloads] == [
        "default/a[Pod]",
        "default/b[Pod]",
        "default/c[Pod]",
    ]
    assert dict(next(w for w in merged.workloads if w.name == "b").labels) == {"version": "2"}
    assert [p.id for p in merged.policies] == ["default/p"]


def test_merge_lints_the_result_once():
    base = snap(policy("p", "podSelector: {}\ningress:\n- ports: [{port: web}]"))
    upload = snap(pod("a"))
    merged = merge_snapshots(base, upload)
    messages = [d.message for d in merged.diagnostics]
    assert len(messages) == len(set(messages))
