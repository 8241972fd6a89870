"""Cluster-wide policy tiers in the web app: stored, evaluated, explained, edited, exported."""

from __future__ import annotations

import pytest
import yaml

from policies import analysis, changes, revisions, snapshots
from policies.models import Policy

pytestmark = pytest.mark.django_db

FE, BE = "shop/frontend[Deployment]", "shop/backend[Deployment]"
CNP = ("ClusterNetworkPolicy", "freeze-backend")


@pytest.fixture
def tiered(owner, web_data):
    files = [("tiers.yaml", (web_data / "tiers.yaml").read_bytes())]
    return revisions.create_cluster(owner, "tiers", snapshots.parse_manifests(files))


def flows(revision) -> dict:
    return {(c["src"], c["dst"]): c["conns"] for c in analysis.flow_index(revision).connections()}


def test_a_cluster_policy_is_stored_under_its_kind_and_read_back(tiered):
    row = Policy.objects.get(revision=tiered.head, kind="ClusterNetworkPolicy")
    assert (row.namespace, row.name) == CNP
    assert row.yaml.startswith("apiVersion: policy.networking.k8s.io/v1alpha2")
    analysis.clear()
    snapshot = snapshots.revision_snapshot(tiered.head)
    assert [p.id for p in snapshot.cluster_policies] == ["ClusterNetworkPolicy/freeze-backend"]


def test_an_admin_deny_wins_over_a_networkpolicy_accept(tiered):
    assert (FE, BE) not in flows(tiered.head)


def test_the_inspector_shows_the_tier_chain(client_for, owner, tiered):
    page = client_for(owner).get(
        f"/clusters/{tiered.pk}/explain/",
        {"src": FE, "dst": BE, "port": "TCP 9090"},
        headers={"HX-Request": "true"},
    )
    text = page.content.decode()
    assert 'data-testid="tier-chain-ingress"' in text
    assert "ClusterNetworkPolicy/freeze-backend ingress[0] &#x27;deny-everyone&#x27;" in text
    assert '<span class="badge">Deny</span>' in text


def test_editing_a_cluster_policy_previews_and_saves_like_any_policy(tiered, owner):
    text = Policy.objects.get(revision=tiered.head, name="freeze-backend").yaml
    relaxed = text.replace("action: Deny", "action: Pass")
    check = changes.check_edit(tiered.head, relaxed, CNP)
    assert check.valid
    assert check.policies == [CNP]
    assert check.impact["added"] == [{"src": FE, "dst": BE, "conns": {"TCP": "9090"}}]
    revision, edit, created = changes.apply_edit(
        tiered, owner, relaxed, base_number=1, original=CNP
    )
    assert not created
    assert (FE, BE) in flows(revision)
    assert revision.impact["summary"] == edit.change.summary() == "+1 -0 ~0"


def test_the_api_puts_and_deletes_a_cluster_policy_by_kind_and_name(api_client_for, owner, tiered):
    api = api_client_for(owner)
    url = f"/api/clusters/{tiered.pk}/policies/ClusterNetworkPolicy/freeze-backend"
    text = api.get(url).content.decode()
    relaxed = text.replace("action: Deny", "action: Pass")
    response = api.put(url, relaxed, "application/yaml", headers={"If-Match": '"1"'})
    assert response.json() == {"revision": 2}
    assert api.delete(url, headers={"If-Match": '"2"'}).json() == {"revision": 3}
    assert not Policy.objects.filter(revision=tiered.head, kind="ClusterNetworkPolicy").exists()


def test_export_puts_cluster_policies_first_without_a_namespace(tiered):
    documents = list(yaml.safe_load_all(changes.export_yaml(tiered.head)))
    assert [d["kind"] for d in documents] == ["ClusterNetworkPolicy", "NetworkPolicy"]
    assert "namespace" not in documents[0]["metadata"]
