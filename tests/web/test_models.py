"""policies.models: identities are database constraints; rows describe themselves."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from policies import models
from policies.models import ApiToken, Cluster, ClusterShare, Namespace, Policy, Revision, Workload

pytestmark = pytest.mark.django_db


def test_a_policy_is_unique_by_namespace_and_name_within_a_revision(shop_cluster):
    revision = shop_cluster.head
    existing = revision.policies.first()
    # PostgreSQL names the constraint in its message; SQLite names the columns.
    expected = r"policy_unique_revision_namespace_name|UNIQUE constraint failed: policies_policy"
    with pytest.raises(IntegrityError, match=expected), transaction.atomic():
        Policy.objects.create(
            revision=revision, namespace=existing.namespace, name=existing.name, yaml="x"
        )


def test_the_same_policy_may_exist_in_every_revision(shop_cluster, owner):
    second = Revision.objects.create(cluster=shop_cluster, number=2, author=owner)
    Policy.objects.create(revision=second, namespace="shop", name="default-deny", yaml="x")
    assert Policy.objects.filter(namespace="shop", name="default-deny").count() == 2


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        # two revisions of one cluster with the same number would make history ambiguous
        (Revision, {"number": 1}),
        # a namespace exists once per revision
        (Namespace, {"name": "shop"}),
        # a workload is identified by namespace, kind and name (the engine's endpoint id)
        (Workload, {"namespace": "shop", "name": "frontend", "kind": "Deployment"}),
    ],
)
def test_identity_constraints(shop_cluster, model, fields):
    parent = {"cluster": shop_cluster} if model is Revision else {"revision": shop_cluster.head}
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(**parent, **fields)


def test_cluster_names_are_unique_per_owner_not_globally(shop_cluster, owner, make_user):
    Cluster.objects.create(owner=make_user("someone"), name="shop")
    with pytest.raises(IntegrityError), transaction.atomic():
        Cluster.objects.create(owner=owner, name="shop")


def test_a_user_is_shared_a_cluster_once(shop_cluster, make_user):
    user = make_user("vera")
    ClusterShare.objects.create(cluster=shop_cluster, user=user, role="viewer")
    with pytest.raises(IntegrityError), transaction.atomic():
        ClusterShare.objects.create(cluster=shop_cluster, user=user, role="editor")


def test_token_hashes_are_unique(owner):
    ApiToken.objects.create(user=owner, name="a", token_hash="0" * 64, prefix="nvz_0")
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.create(user=owner, name="b", token_hash="0" * 64, prefix="nvz_0")


def test_head_is_the_highest_numbered_revision(shop_cluster, owner):
    assert shop_cluster.head.number == 1
    Revision.objects.create(cluster=shop_cluster, number=2, author=owner)
    assert shop_cluster.head.number == 2


def test_urls_and_names(shop_cluster):
    revision = shop_cluster.head
    workload = revision.workloads.get(name="frontend")
    assert shop_cluster.get_absolute_url() == f"/clusters/{shop_cluster.pk}/"
    assert revision.get_absolute_url() == f"/clusters/{shop_cluster.pk}/revisions/1/"
    assert str(revision) == "shop r1"
    assert workload.endpoint == str(workload) == "shop/frontend[Deployment]"
    assert str(revision.policies.get(name="default-deny")) == "shop/default-deny"


def test_every_model_has_a_docstring():
    documented = [
        m
        for m in vars(models).values()
        if isinstance(m, type)
        and issubclass(m, models.models.Model)
        and m.__module__ == models.__name__
    ]
    assert len(documented) == 9
    # Django writes a signature as the docstring of a model that has none.
    assert all(m.__doc__ and not m.__doc__.startswith(m.__name__ + "(") for m in documented)


def test_a_policy_validates_its_yaml_with_the_engine(shop_cluster):
    from django.core.exceptions import ValidationError

    policy = shop_cluster.head.policies.get(name="default-deny")
    policy.full_clean()
    policy.yaml = policy.yaml.replace("podSelector: {}", "podSelector: []")
    with pytest.raises(ValidationError, match="podSelector: must be a mapping"):
        policy.full_clean()
    policy.yaml = policy.yaml.replace("podSelector: []", "podSelector: {}")
    policy.name = "renamed"
    with pytest.raises(ValidationError, match="exactly one NetworkPolicy, shop/renamed"):
        policy.full_clean()
