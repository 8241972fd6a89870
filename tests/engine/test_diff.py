"""The connectivity diff: added, removed and changed flows, external ranges included."""

from __future__ import annotations

from policies.engine import diff, evaluate

from .helpers import INTERNET, pod, policy, snap

A, B = "default/a[Pod]", "default/b[Pod]"


def _diff(before: list[str], after: list[str]) -> dict:
    return diff(evaluate(snap(*before)), evaluate(snap(*after))).as_dict()


def test_no_change_is_an_empty_diff() -> None:
    d = diff(evaluate(snap(pod("a"), pod("b"))), evaluate(snap(pod("a"), pod("b"))))
    assert not d
    assert d.summary() == "+0 -0 ~0"


def test_a_default_deny_removes_flows() -> None:
    deny = policy("deny", "podSelector: {matchLabels: {app: b}}\npolicyTypes: [Ingress]")
    got = _diff([pod("a"), pod("b")], [pod("a"), pod("b"), deny])
    assert got["added"] == []
    assert got["changed"] == []
    assert {"src": A, "dst": B, "conns": "All Connections"} in got["removed"]
    assert {"src": INTERNET, "dst": B, "conns": "All Connections"} in got["removed"]


def test_narrowing_ports_is_a_change_and_reopening_is_an_addition() -> None:
    deny = policy("deny", "podSelector: {matchLabels: {app: b}}\npolicyTypes: [Ingress]")
    port80 = policy("p80", "podSelector: {matchLabels: {app: b}}\ningress:\n- ports: [{port: 80}]")
    got = _diff([pod("a"), pod("b")], [pod("a"), pod("b"), port80])
    assert {"src": A, "dst": B, "before": "All Connections", "after": {"TCP": "80"}} in got[
        "changed"
    ]
    got = _diff([pod("a"), pod("b"), deny], [pod("a"), pod("b"), deny, port80])
    assert {"src": A, "dst": B, "conns": {"TCP": "80"}} in got["added"]


def test_external_ranges_are_compared_address_by_address() -> None:
    deny_out = "podSelector: {matchLabels: {app: a}}\npolicyTypes: [Egress]\negress:\n"
    before = policy("out", deny_out + "- to: [{ipBlock: {cidr: 10.0.0.0/8}}]")
    after = policy("out", deny_out + "- to: [{ipBlock: {cidr: 10.0.0.0/9}}]")
    got = _diff([pod("a"), before], [pod("a"), after])
    assert got["removed"] == [
        {"src": A, "dst": "10.128.0.0-10.255.255.255", "conns": "All Connections"}
    ]
    assert got["added"] == []
    assert got["changed"] == []


def test_diff_after_reevaluation_equals_the_full_diff() -> None:
    import dataclasses

    from policies.engine import reevaluate
    from policies.engine.model import Snapshot

    docs = [
        pod("a"),
        pod("b"),
        pod("c"),
        policy(
            "b-in",
            "podSelector: {matchLabels: {app: b}}\ningress:\n- from: [{podSelector: {matchLabels: {app: a}}}]",
        ),
    ]
    before = snap(*docs)
    conn = evaluate(before)
    tightened = dataclasses.replace(before.policies[0], ingress=())
    after = Snapshot(before.namespaces, before.workloads, (tightened,))
    fast = diff(conn, reevaluate(conn, after)).as_dict()
    assert fast == diff(conn, evaluate(after)).as_dict()
    assert fast["removed"] == [{"src": A, "dst": B, "conns": "All Connections"}]
