"""Nothing of an evaluation outlives it: a long-running server evaluates thousands of uploads."""

from __future__ import annotations

import gc

from policies.engine import NetworkPolicy, evaluate, reevaluate
from policies.engine.graph import FlowIndex

from .helpers import pod, policy, snap


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is kind)


def test_no_policy_survives_its_evaluation() -> None:
    before = _alive(NetworkPolicy)
    for n in range(3):
        blocked = policy(
            f"p{n}",
            "podSelector: {}\negress:\n- to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]",
        )
        conn = evaluate(snap(pod("a"), pod("b"), blocked))
        again = reevaluate(conn, snap(pod("a"), pod("b"), blocked.replace("10.1.", "10.2.")))
        FlowIndex.build(again).to_dict()
        del conn, again
    assert _alive(NetworkPolicy) == before
