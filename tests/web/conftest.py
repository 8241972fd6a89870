"""Fixtures for the web tests: users, a stored cluster, role-holders, API clients."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client

from policies import revisions, snapshots
from policies.models import Cluster, ClusterShare
from policies.tokens import create_token

ROLES = ("owner", "editor", "viewer", "stranger")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    # The production hasher is slow on purpose; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def web_data(data_dir: Path) -> Path:
    return data_dir / "web"


@pytest.fixture
def shop_files(web_data: Path) -> list[tuple[str, bytes]]:
    """The small shop: a namespace, two deployments and three policies, in two files."""
    return [(name, (web_data / name).read_bytes()) for name in ("shop.yaml", "shop-policies.yaml")]


@pytest.fixture
def make_user(django_user_model) -> Callable[..., AbstractBaseUser]:
    def make(username: str, password: str = "correct horse battery") -> AbstractBaseUser:
        return django_user_model.objects.create_user(username=username, password=password)

    return make


@pytest.fixture
def owner(make_user) -> AbstractBaseUser:
    return make_user("olivia")


@pytest.fixture
def shop_cluster(owner, shop_files) -> Cluster:
    """The shop, stored as olivia's cluster "shop" (revision 1)."""
    return revisions.create_cluster(owner, "shop", snapshots.parse_manifests(shop_files))


@pytest.fixture
def users_by_role(owner, shop_cluster, make_user) -> dict[str, AbstractBaseUser]:
    """The owner of the shop cluster, an editor, a viewer, and a stranger with no access."""
    editor, viewer, stranger = make_user("eddie"), make_user("vera"), make_user("stan")
    ClusterShare.objects.create(cluster=shop_cluster, user=editor, role="editor")
    ClusterShare.objects.create(cluster=shop_cluster, user=viewer, role="viewer")
    return {"owner": owner, "editor": editor, "viewer": viewer, "stranger": stranger}


@pytest.fixture
def client_for() -> Callable[[AbstractBaseUser], Client]:
    """A browser-like client logged in as a user (session auth, CSRF not enforced)."""

    def make(user: AbstractBaseUser) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def api_client_for() -> Callable[[AbstractBaseUser], Client]:
    """A script-like client that authenticates with a fresh Bearer token, and enforces CSRF."""

    def make(user: AbstractBaseUser) -> Client:
        _, token = create_token(user, "tests")
        return Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {token}"})

    return make
