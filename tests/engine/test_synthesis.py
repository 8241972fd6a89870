"""New policies: templates load cleanly, and "allow this flow" allows exactly that flow."""

from __future__ import annotations

import pytest

from policies.engine import diff, evaluate, load_documents
from policies.engine.intervals import PortSet
from policies.engine.synthesis import TEMPLATES, allow_flow, render_template

from .helpers import ns, pod, policy, snap


@pytest.mark.parametrize(
    "template",
    sorted(t for t in TEMPLATES if "-" in t and t.split("-")[0] not in ("admin", "baseline")),
)
def test_every_template_is_a_valid_policy(template: str) -> None:
    s = load_documents([("t.yaml", render_template(template, "shop", peer="ops", port=8443))])
    (p,) = s.policies
    assert p.namespace == "shop"


def test_allow_this_flow_allows_that_flow_and_nothing_else() -> None:
    docs = [
        ns("app"), ns("db"),
        pod("web", ns="app"), pod("job", ns="app"), pod("pg", ns="db", ports="pg:5432/TCP"), pod("cache", ns="db"),
        policy("deny", "podSelector: {}\npolicyTypes: [Ingress, Egress]", ns="db"),
        policy("deny", "podSelector: {}\npolicyTypes: [Ingress, Egress]", ns="app"),
    ]  # fmt: skip
    before = snap(*docs)
    conn = evaluate(before)
    web = next(w for w in before.workloads if w.name == "web")
    pg = next(w for w in before.workloads if w.name == "pg")
    new = allow_flow(before, conn, web, pg, PortSet.parse("tcp-5432"))
    assert len(new) == 2  # both sides are isolated
    after = snap(*docs, *new)
    change = diff(conn, evaluate(after))
    assert [(f.src.id, f.dst.id, str(f.ports)) for f in change.added] == [
        ("app/web[Pod]", "db/pg[Pod]", "TCP 5432")
    ]
    assert not change.removed
    assert not change.changed


def test_allow_this_flow_needs_nothing_when_no_side_is_isolated() -> None:
    s = snap(pod("a"), pod("b"))
    a, b = s.workloads
    assert allow_flow(s, evaluate(s), a, b, PortSet.parse("tcp-80")) == []


@pytest.mark.parametrize(
    "template", ["admin-isolate-namespace", "admin-allow-dns", "baseline-deny-all"]
)
def test_the_cluster_tier_templates_load_as_cluster_policies(template) -> None:
    from policies.engine import load_documents
    from policies.engine.synthesis import render_template

    text = render_template(template, "shop")
    snapshot = load_documents([("t.yaml", text)])
    [policy] = snapshot.cluster_policies
    assert policy.kind == "ClusterNetworkPolicy"
    assert not snapshot.policies
