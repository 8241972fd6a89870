"""Cluster-wide policies are listed with their tier and priority, in evaluation order: the
Admin tier by priority then name, NetworkPolicies, then the Baseline tier."""

from __future__ import annotations

import importlib
import re

import pytest
import yaml

from policies import changes, queries, revisions, snapshots
from policies.models import Policy

pytestmark = pytest.mark.django_db


def cnp(name: str, tier: str, priority: int) -> dict:
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name},
        "spec": {
            "tier": tier,
            "priority": priority,
            "subject": {"namespaces": {}},
            "ingress": [{"name": "r", "action": "Pass", "from": [{"namespaces": {}}]}],
        },
    }


ANP = {
    "apiVersion": "policy.networking.k8s.io/v1alpha1",
    "kind": "AdminNetworkPolicy",
    "metadata": {"name": "anp-alpha"},
    "spec": {
        "priority": 20,
        "subject": {"namespaces": {}},
        "ingress": [{"name": "r", "action": "Pass", "from": [{"namespaces": {}}]}],
    },
}
BANP = {
    "apiVersion": "policy.networking.k8s.io/v1alpha1",
    "kind": "BaselineAdminNetworkPolicy",
    "metadata": {"name": "default"},
    "spec": {
        "subject": {"namespaces": {}},
        "ingress": [{"name": "r", "action": "Allow", "from": [{"namespaces": {}}]}],
    },
}
NP = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "deny", "namespace": "shop"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
}

# Evaluation order: Admin by priority, equal priorities by name whatever the kind; then the
# NetworkPolicies; then Baseline by priority, the BaselineAdminNetworkPolicy (none) last.
EXPECTED = [
    ("ClusterNetworkPolicy", "zeta-first", "Admin", 5),
    ("AdminNetworkPolicy", "anp-alpha", "Admin", 20),
    ("ClusterNetworkPolicy", "beta", "Admin", 20),
    ("ClusterNetworkPolicy", "gamma", "Admin", 300),
    ("shop", "deny", "NetworkPolicy", None),
    ("ClusterNetworkPolicy", "base-low", "Baseline", 1),
    ("ClusterNetworkPolicy", "base-high", "Baseline", 900),
    ("BaselineAdminNetworkPolicy", "default", "Baseline", None),
]


@pytest.fixture
def tiers_cluster(owner):
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        cnp("gamma", "Admin", 300),
        cnp("base-high", "Baseline", 900),
        BANP,
        NP,
        cnp("beta", "Admin", 20),
        ANP,
        cnp("base-low", "Baseline", 1),
        cnp("zeta-first", "Admin", 5),
    ]
    text = yaml.safe_dump_all(docs, sort_keys=False).encode()
    return revisions.create_cluster(owner, "listing", snapshots.parse_manifests([("t.yaml", text)]))


def test_rows_store_tier_and_priority(tiers_cluster):
    rows = Policy.objects.filter(revision=tiers_cluster.head)
    got = {(r.namespace, r.name): (r.tier, r.priority) for r in rows}
    assert got == {(ns, name): (tier, prio) for ns, name, tier, prio in EXPECTED}


def test_the_policy_table_lists_in_evaluation_order(tiers_cluster):
    page = queries.table_page(tiers_cluster.head, "policies")
    assert [(p.namespace, p.name, p.tier, p.priority) for p in page] == EXPECTED


def test_the_cluster_page_shows_tier_and_priority(client_for, owner, tiers_cluster):
    html = client_for(owner).get(f"/clusters/{tiers_cluster.pk}/").content.decode()
    table = html[html.index('id="policy-table"') :]
    names = re.findall(r'data-policy-row="([^"]+)"', table)
    assert names == [f"{ns}/{name}" for ns, name, _, _ in EXPECTED]
    assert '<td data-tier="Admin">Admin <span class="muted">· priority 5</span></td>' in table
    assert '<td data-tier="NetworkPolicy">NetworkPolicy</td>' in table


def test_the_editor_index_lists_admin_first_and_baseline_last(client_for, owner, tiers_cluster):
    html = client_for(owner).get(f"/clusters/{tiers_cluster.pk}/").content.decode()
    index = html[html.index('id="policy-index"') :]
    index = index[: index.index("</section>")]
    listed = re.findall(r'data-policy="([^"]+)"', index)
    assert listed == [f"{ns}/{name}" for ns, name, _, _ in EXPECTED]
    admin = index[index.index('data-testid="policy-index-admin"') :]
    assert "priority 5" in admin
    assert index.index('data-testid="policy-index-admin"') < index.index("shop/deny")
    assert index.index('data-testid="policy-index-baseline"') > index.index("shop/deny")


def test_an_edit_keeps_tier_and_priority_current(owner, tiers_cluster):
    row = Policy.objects.get(revision=tiers_cluster.head, name="gamma")
    text = row.yaml.replace("priority: 300", "priority: 1")
    key = ("ClusterNetworkPolicy", "gamma")
    revisions_before = tiers_cluster.revisions.count()
    changes.apply_edit(tiers_cluster, owner, text, base_number=1, original=key)
    tiers_cluster.refresh_from_db()
    assert tiers_cluster.revisions.count() == revisions_before + 1
    page = queries.table_page(tiers_cluster.head, "policies")
    assert [(p.name, p.priority) for p in page][:2] == [("gamma", 1), ("zeta-first", 5)]
    # rows copied unchanged into the new revision keep their derived columns
    assert Policy.objects.get(revision=tiers_cluster.head, name="beta").priority == 20


def test_export_lists_cluster_policies_first_in_evaluation_order(tiers_cluster):
    # Cluster-scoped policies stay together at the top of the stream (as in the zip's
    # _cluster.yaml), in the order they are evaluated; the NetworkPolicies follow.
    text = changes.export_yaml(tiers_cluster.head)
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(text) if d]
    cluster = [name for _, name, tier, _ in EXPECTED if tier != "NetworkPolicy"]
    assert names == [*cluster, "deny"]


@pytest.mark.parametrize(
    ("kind", "spec", "expected"),
    [
        ("AdminNetworkPolicy", {"priority": 7}, ("Admin", 7)),
        ("BaselineAdminNetworkPolicy", {}, ("Baseline", None)),
        ("ClusterNetworkPolicy", {"tier": "Baseline", "priority": 3}, ("Baseline", 3)),
        ("ClusterNetworkPolicy", {"tier": "Admin", "priority": "high"}, ("Admin", None)),
        # rows stored before the columns are read back as the loader would have kept them
        ("ClusterNetworkPolicy", "not a mapping", ("Admin", None)),
    ],
)
def test_the_migration_derives_tier_and_priority_of_stored_rows(kind, spec, expected):
    migration = importlib.import_module("policies.migrations.0005_policy_tier_priority")
    text = yaml.safe_dump({"kind": kind, "metadata": {"name": "x"}, "spec": spec})
    assert migration._tier_and_priority(kind, text) == expected
