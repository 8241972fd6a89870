"""Who may do what with a cluster: owner, editor, viewer, stranger — pages and API alike."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from policies.models import ClusterShare
from policies.permissions import Access, access_for

from .conftest import ROLES

pytestmark = pytest.mark.django_db

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
"""

# A stranger learns nothing, not even that the cluster exists (404); someone who may see it
# but not do this gets 403.
READ = {"owner": 200, "editor": 200, "viewer": 200, "stranger": 404}
WRITE = {"owner": 200, "editor": 200, "viewer": 403, "stranger": 404}
REDIRECT_ON_WRITE = {"owner": 302, "editor": 302, "viewer": 403, "stranger": 404}
OWNER_ONLY = {"owner": 302, "editor": 403, "viewer": 403, "stranger": 404}


def test_access_levels(users_by_role, shop_cluster):
    levels = {role: access_for(user, shop_cluster) for role, user in users_by_role.items()}
    assert levels == {
        "owner": Access.OWN,
        "editor": Access.EDIT,
        "viewer": Access.VIEW,
        "stranger": Access.NONE,
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/clusters/{pk}/", READ),
        ("/clusters/{pk}/revisions/1/", READ),
        ("/clusters/{pk}/upload/", {**WRITE}),
    ],
)
def test_pages(client_for, users_by_role, shop_cluster, role, url, expected):
    response = client_for(users_by_role[role]).get(url.format(pk=shop_cluster.pk))
    assert response.status_code == expected[role]


@pytest.mark.parametrize("role", ROLES)
def test_upload_into_the_cluster(client_for, users_by_role, shop_cluster, shop_files, role):
    uploads = [SimpleUploadedFile(n, c) for n, c in shop_files]
    client = client_for(users_by_role[role])
    response = client.post(f"/clusters/{shop_cluster.pk}/upload/", {"files": uploads})
    assert response.status_code == REDIRECT_ON_WRITE[role]
    assert shop_cluster.revisions.count() == (2 if response.status_code == 302 else 1)


@pytest.mark.parametrize("role", ROLES)
def test_sharing_is_for_the_owner(client_for, users_by_role, shop_cluster, make_user, role):
    make_user("newcomer")
    client = client_for(users_by_role[role])
    url = f"/clusters/{shop_cluster.pk}/shares/"
    response = client.post(url, {"username": "newcomer", "role": "editor"})
    assert response.status_code == OWNER_ONLY[role]
    share = ClusterShare.objects.get(user=users_by_role["viewer"])
    response = client.post(f"/clusters/{shop_cluster.pk}/shares/{share.pk}/delete/")
    assert response.status_code == OWNER_ONLY[role]


@pytest.mark.parametrize("role", ROLES)
def test_the_share_form_is_shown_to_the_owner_only(client_for, users_by_role, shop_cluster, role):
    response = client_for(users_by_role[role]).get(f"/clusters/{shop_cluster.pk}/")
    if role == "stranger":
        assert response.status_code == 404
        return
    assert ('data-testid="share-panel"' in response.content.decode()) == (role == "owner")
    assert ('data-testid="upload-form"' in response.content.decode()) == (role != "viewer")


@pytest.mark.parametrize("role", ROLES)
def test_the_cluster_list_shows_only_visible_clusters(
    client_for, users_by_role, shop_cluster, role
):
    page = client_for(users_by_role[role]).get("/").content.decode()
    assert (f'href="/clusters/{shop_cluster.pk}/"' in page) == (role != "stranger")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "url", "expected"),
    [
        ("get", "/api/clusters/{pk}/connections", READ),
        ("get", "/api/clusters/{pk}/export.yaml", READ),
        ("get", "/api/clusters/{pk}/policies/shop/default-deny", READ),
        # a preview stores nothing, so whoever may read the cluster may preview an edit
        ("post", "/api/clusters/{pk}/preview", READ),
        ("put", "/api/clusters/{pk}/policies/shop/default-deny", WRITE),
        ("delete", "/api/clusters/{pk}/policies/shop/default-deny", WRITE),
    ],
)
def test_api(api_client_for, users_by_role, shop_cluster, role, method, url, expected):
    client = api_client_for(users_by_role[role])
    kwargs = (
        {"data": POLICY, "content_type": "application/yaml"} if method in ("put", "post") else {}
    )
    response = getattr(client, method)(url.format(pk=shop_cluster.pk), **kwargs)
    assert response.status_code == expected[role]
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/json"
        assert response.json()["errors"][0]["message"]
    if expected[role] != 200:
        assert shop_cluster.revisions.count() == 1


@pytest.mark.parametrize("role", ROLES)
def test_api_list_shows_only_visible_clusters(api_client_for, users_by_role, shop_cluster, role):
    listed = api_client_for(users_by_role[role]).get("/api/clusters/").json()["clusters"]
    assert ([c["id"] for c in listed] == [shop_cluster.pk]) == (role != "stranger")


def test_a_cluster_that_does_not_exist_is_404_like_a_hidden_one(api_client_for, owner):
    response = api_client_for(owner).get("/api/clusters/999/connections")
    assert response.status_code == 404
