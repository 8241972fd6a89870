"""The graph JSON says which tier decided each edge (engine/tiers_flows.py), on clusters with
cluster-wide policies only."""

from __future__ import annotations

import pytest

from policies import revisions, snapshots

pytestmark = pytest.mark.django_db

FE, BE = "shop/frontend[Deployment]", "shop/backend[Deployment]"
PROM = "monitoring/prometheus[Deployment]"


@pytest.fixture
def every_tier(owner, web_data):
    files = [("tiers-accept.yaml", (web_data / "tiers-accept.yaml").read_bytes())]
    return revisions.create_cluster(owner, "every-tier", snapshots.parse_manifests(files))


def graph(client, cluster, **query) -> dict:
    answer = client.get(f"/clusters/{cluster.pk}/graph.json", query)
    assert answer.status_code == 200
    return answer.json()


def by_pair(data: dict) -> dict[tuple[str, str], dict]:
    return {(e["data"]["source"], e["data"]["target"]): e["data"] for e in data["edges"]}


def test_each_edge_names_the_tier_that_accepted_it(client_for, owner, every_tier):
    data = graph(client_for(owner), every_tier, group="none")
    assert data["tiered"] is True
    edges = by_pair(data)
    assert edges[(PROM, BE)]["tier"] == "admin"
    assert edges[(PROM, BE)]["tiers"] == {"egress": ["default"], "ingress": ["Admin"]}
    assert edges[(FE, BE)]["tier"] == "policy"
    assert edges[(FE, BE)]["tiers"]["ingress"] == ["NetworkPolicy"]
    assert edges[(BE, FE)]["tier"] == "baseline"
    assert edges[(BE, FE)]["tiers"]["ingress"] == ["Baseline"]
    assert (FE, PROM) in edges
    assert edges[(FE, PROM)]["tier"] == "policy"


def test_aggregated_edges_carry_the_tiers_of_their_flows(client_for, owner, every_tier):
    edges = by_pair(graph(client_for(owner), every_tier, group="ns"))
    assert edges[("ns:monitoring", "ns:shop")]["tier"] == "admin"
    assert edges[("ns:shop", "ns:monitoring")]["tier"] == "policy"


def test_a_cluster_without_cluster_policies_sends_no_tier(client_for, owner, shop_cluster):
    data = graph(client_for(owner), shop_cluster, group="none")
    assert data["tiered"] is False
    assert data["edges"]
    assert all("tier" not in e["data"] for e in data["edges"])
