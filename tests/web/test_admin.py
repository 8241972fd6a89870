"""The Django admin lists and opens every model."""

from __future__ import annotations

import pytest

from policies.models import IdempotencyKey
from policies.tokens import create_token

pytestmark = pytest.mark.django_db

MODELS = (
    "cluster",
    "revision",
    "namespace",
    "workload",
    "policy",
    "clustershare",
    "apitoken",
    "idempotencykey",
)


@pytest.mark.parametrize("model", MODELS)
def test_every_model_has_an_admin_list_and_change_page(
    admin_client, shop_cluster, owner, make_user, model
):
    create_token(owner, "ci")
    shop_cluster.shares.create(user=make_user("vera"), role="viewer")
    objects = {
        "cluster": shop_cluster,
        "revision": shop_cluster.head,
        "namespace": shop_cluster.head.namespaces.first(),
        "workload": shop_cluster.head.workloads.first(),
        "policy": shop_cluster.head.policies.first(),
        "clustershare": shop_cluster.shares.first(),
        "apitoken": owner.api_tokens.first(),
        "idempotencykey": IdempotencyKey.objects.create(
            user=owner, key="retry-1", cluster=shop_cluster, revision=shop_cluster.head
        ),
    }
    assert admin_client.get(f"/admin/policies/{model}/").status_code == 200
    change = admin_client.get(f"/admin/policies/{model}/{objects[model].pk}/change/")
    assert change.status_code == 200


def test_the_token_hash_cannot_be_edited(admin_client, owner):
    row, _ = create_token(owner, "ci")
    page = admin_client.get(f"/admin/policies/apitoken/{row.pk}/change/").content.decode()
    assert 'name="token_hash"' not in page


@pytest.mark.parametrize("model", ["revision", "namespace", "workload", "policy"])
def test_history_cannot_be_changed_in_the_admin(admin_client, shop_cluster, model):
    head = shop_cluster.head
    rows = {
        "revision": head,
        "namespace": head.namespaces.first(),
        "workload": head.workloads.first(),
        "policy": head.policies.first(),
    }
    page = admin_client.get(f"/admin/policies/{model}/{rows[model].pk}/change/").content.decode()
    assert 'value="Save"' not in page  # (the cluster's own change page has one)
    assert admin_client.get(f"/admin/policies/{model}/add/").status_code == 403


def test_clusters_shares_and_tokens_stay_editable(admin_client, shop_cluster):
    page = admin_client.get(f"/admin/policies/cluster/{shop_cluster.pk}/change/")
    assert 'value="Save"' in page.content.decode()
