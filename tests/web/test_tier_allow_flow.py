"""allow-this-flow on a flow an Admin Deny blocks: the answer names the denying rule and offers
the Admin-tier Accept that works, in the denying policy's API version."""

from __future__ import annotations

import pytest
import yaml

from policies import changes, revisions, snapshots

pytestmark = pytest.mark.django_db

FE, BE = "shop/frontend[Deployment]", "shop/backend[Deployment]"


@pytest.fixture
def frozen(owner, web_data):
    files = [("tiers.yaml", (web_data / "tiers.yaml").read_bytes())]
    return revisions.create_cluster(owner, "tiers", snapshots.parse_manifests(files))


def test_the_suggestion_is_an_admin_accept_and_says_why(frozen):
    got = changes.suggest_allow_flow(frozen.head, FE, BE, "tcp-9090")
    [blocked] = got["blocked"]
    assert blocked["policy"] == "ClusterNetworkPolicy/freeze-backend"
    assert blocked["rule"] == "ClusterNetworkPolicy/freeze-backend ingress[0] 'deny-everyone'"
    assert blocked["fixed"] is True
    assert "a NetworkPolicy cannot allow it" in got["note"]
    fix = yaml.safe_load(got["yaml"].split("\n", 1)[1])
    assert fix["apiVersion"] == "policy.networking.k8s.io/v1alpha2"
    assert (fix["kind"], fix["spec"]["tier"], fix["spec"]["priority"]) == (
        "ClusterNetworkPolicy",
        "Admin",
        9,
    )
    # the preview shows the flow it opens, and only that one
    assert got["impact"]["added"] == [{"src": FE, "dst": BE, "conns": {"TCP": "9090"}}]
    assert got["impact"]["removed"] == []
    assert got["impact"]["changed"] == []


def test_the_editor_endpoint_answers_the_same(client_for, owner, frozen):
    answer = client_for(owner).get(
        f"/clusters/{frozen.pk}/editor/allow-flow", {"src": FE, "dst": BE, "conn": "tcp-9090"}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["blocked"][0]["tier"] == "Admin"
    assert "kind: ClusterNetworkPolicy" in body["yaml"]


def test_a_flow_without_tiers_keeps_its_old_answer(shop_cluster):
    got = changes.suggest_allow_flow(shop_cluster.head, "shop/backend", "shop/frontend", "tcp-8080")
    assert got["blocked"] == []
    assert got["note"] == ""
