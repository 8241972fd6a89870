"""explain: which side allows or blocks a flow, and which policies and rules decide."""

from __future__ import annotations

import pytest

from policies.engine import explain

from .helpers import pod, policy, snap


@pytest.fixture
def cluster():
    return snap(
        pod("web"), pod("db"), pod("batch"),
        policy("db-in", "podSelector: {matchLabels: {app: db}}\ningress:\n- from: [{podSelector: {matchLabels: {app: web}}}]\n  ports: [{port: 5432}]"),
        policy("batch-out", "podSelector: {matchLabels: {app: batch}}\npolicyTypes: [Egress]\negress:\n- to: [{ipBlock: {cidr: 10.0.0.0/8}}]"),
    )  # fmt: skip


def test_allowed_names_the_rule_that_allows(cluster) -> None:
    e = explain(cluster, "web", "db", "tcp-5432")
    assert e.is_allowed
    assert [r.label for r in e.ingress.rules] == ["default/db-in rule 0"]
    assert e.verdict() == "ALLOWED: default/web[Pod] => default/db[Pod] on TCP 5432"


def test_denied_by_port(cluster) -> None:
    e = explain(cluster, "web", "db", "tcp-80")
    assert not e.is_allowed
    assert [s.direction for s in e.blocking_sides] == ["Ingress"]
    assert "blocked by the destination's ingress" in e.verdict()


def test_denied_by_the_destinations_ingress(cluster) -> None:
    e = explain(cluster, "batch", "db")
    assert not e.is_allowed
    assert [p.id for p in e.ingress.policies] == ["default/db-in"]
    assert e.ingress.rules == ()


def test_denied_by_the_sources_egress(cluster) -> None:
    e = explain(cluster, "batch", "web", "tcp-80")
    assert not e.is_allowed
    assert [s.direction for s in e.blocking_sides] == ["Egress"]
    assert [p.id for p in e.egress.policies] == ["default/batch-out"]
    assert "blocked by the source's egress" in e.verdict()


def test_default_allow_when_nothing_isolates(cluster) -> None:
    e = explain(cluster, "db", "web", "udp-53")
    assert e.is_allowed
    assert not e.egress.isolated
    assert not e.ingress.isolated
    assert "not isolated" in e.text()


def test_external_addresses(cluster) -> None:
    e = explain(cluster, "batch", "10.1.2.3")
    assert e.is_allowed
    assert not e.ingress.applicable
    assert not explain(cluster, "batch", "8.8.8.8").is_allowed


def test_unknown_endpoint_is_a_clear_error(cluster) -> None:
    with pytest.raises(ValueError, match="neither a workload nor an IP"):
        explain(cluster, "nobody", "db")
