"""Warnings: located, naming the object, for policies that are valid but suspicious."""

from __future__ import annotations

from .helpers import pod, policy, snap


def _warnings(*docs: str) -> list[tuple[int, str, str, str]]:
    return [(d.location.line, d.location.path, d.subject, d.message) for d in snap(*docs).warnings]


def test_policy_selecting_no_pod() -> None:
    got = _warnings(pod("a"), policy("p", "podSelector: {matchLabels: {app: ghost}}"))
    assert got == [
        (
            13,
            "spec.podSelector",
            "NetworkPolicy default/p",
            "spec.podSelector app=ghost selects no pod in namespace default: the policy has no"
            " effect",
        )
    ]


def test_peer_selector_matching_nothing() -> None:
    got = _warnings(
        pod("a"),
        policy(
            "p", "podSelector: {}\ningress:\n- from:\n  - podSelector: {matchLabels: {app: nope}}"
        ),
    )
    assert got == [
        (
            22,
            "spec.ingress[0].from[0]",
            "NetworkPolicy default/p",
            "spec.ingress[0].from[0] matches no pod (podSelector app=nope)",
        )
    ]


def test_named_port_no_destination_declares() -> None:
    got = _warnings(
        pod("a", ports="http:80/TCP"),
        policy("p", "podSelector: {}\ningress:\n- ports: [{port: htpp}]"),
    )
    assert len(got) == 1
    line, path, _, message = got[0]
    assert (line, path) == (25, "spec.ingress[0].ports[0].port")
    assert "named port 'htpp' (TCP) is declared by no selected pod" in message


def test_ip_block_containing_known_pod_ips() -> None:
    text = pod("a") + "status:\n  podIP: 10.1.2.3\n"
    got = _warnings(
        text, policy("p", "podSelector: {}\ningress:\n- from:\n  - ipBlock: {cidr: 10.0.0.0/8}")
    )
    assert len(got) == 1
    assert got[0][1] == "spec.ingress[0].from[0].ipBlock"
    assert "contains the pod IPs of default/a[Pod]" in got[0][3]


def test_a_clean_policy_has_no_warning() -> None:
    assert (
        _warnings(
            pod("a", ports="http:80/TCP"),
            policy("p", "podSelector: {}\ningress:\n- ports: [{port: http}]"),
        )
        == []
    )
