"""Every limit the loader checks against the database that stores it: a value at the limit is
stored and can be opened, edited and deleted again; one past it is a located error and
nothing is stored. Runs on SQLite and on PostgreSQL (`make test` runs the suite on both)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from policies.models import Cluster, Namespace, Policy, Workload

LONG_NAME = "n" * 253  # RFC 1123 subdomain
LONG_NAMESPACE = "s" * 63  # RFC 1123 label
LONG_KEY = "k" * 253 + "/" + "k" * 63  # DNS prefix and name of a label key
LONG_VALUE = "v" * 63
LONG_KIND = "K" * 63
MAX_INT32 = 2**31 - 1


def manifests(
    name: str = LONG_NAME,
    namespace: str = LONG_NAMESPACE,
    key: str = LONG_KEY,
    value: str = LONG_VALUE,
    replicas: int = MAX_INT32,
    owner_kind: str = LONG_KIND,
) -> str:
    return f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {namespace}
  labels: {{"{key}": "{value}"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  replicas: {replicas}
  template:
    metadata: {{labels: {{"{key}": "{value}"}}}}
    spec: {{containers: [{{name: c, ports: [{{containerPort: 65535, name: abcdefghijklmno}}]}}]}}
---
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{app: owned}}
  ownerReferences: [{{kind: {owner_kind}, name: {name}, controller: true}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  podSelector: {{matchLabels: {{"{key}": "{value}"}}}}
  ingress: [{{from: [{{ipBlock: {{cidr: "10.0.0.0/8", except: ["10.1.0.0/16"]}}}}]}}]
"""


@pytest.fixture
def api(api_client_for, owner):
    return api_client_for(owner)


def _upload(api, name: str, text: str):
    files = [SimpleUploadedFile("limits.yaml", text.encode())]
    return api.post("/api/clusters/", {"name": name, "files": files})


@pytest.mark.django_db(transaction=True)
def test_values_at_every_limit_are_stored_and_can_be_opened_edited_and_deleted(api):
    response = _upload(api, "limits", manifests())
    assert response.status_code == 201, response.content
    cluster = Cluster.objects.get(pk=response.json()["id"])
    revision = cluster.head
    assert Namespace.objects.get(revision=revision, name=LONG_NAMESPACE).labels == {
        LONG_KEY: LONG_VALUE,
        "kubernetes.io/metadata.name": LONG_NAMESPACE,
    }
    deployment = Workload.objects.get(revision=revision, kind="Deployment")
    assert (deployment.name, deployment.replicas) == (LONG_NAME, MAX_INT32)
    # a pod whose controller is no workload controller stands alone (its owner's kind was
    # still checked to fit its column)
    assert Workload.objects.filter(revision=revision, kind="Pod", name=LONG_NAME).exists()
    assert Policy.objects.get(revision=revision).name == LONG_NAME

    url = f"/api/clusters/{cluster.pk}/policies/{LONG_NAMESPACE}/{LONG_NAME}"
    got = api.get(url)
    assert got.status_code == 200
    edited = got.content.decode().replace("10.1.0.0/16", "10.2.0.0/16")
    put = api.put(url, edited.encode(), "application/yaml", headers={"If-Match": got["ETag"]})
    assert put.status_code == 200, put.content
    assert api.delete(url).status_code == 200
    assert api.get(url).status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"name": "n" * 254}, "metadata.name"),  # names: 253
        ({"name": "a/b"}, "metadata.name"),  # '/' would split the policy's URL
        ({"namespace": "s" * 64}, "metadata.name"),  # namespaces: 63 (the Namespace's name)
        ({"key": "k" * 254 + "/k"}, "metadata.labels"),  # a label key's prefix: 253
        ({"key": "k" * 64}, "metadata.labels"),  # a label key's name: 63
        ({"value": "v" * 64}, "metadata.labels"),  # label values: 63
        ({"value": "a\\0b"}, "metadata.labels"),  # a "\0" escape: no NUL in PostgreSQL
        ({"name": "a b"}, "metadata.name"),  # a name no URL or `namespace/name` key holds
        ({"replicas": MAX_INT32 + 1}, "spec.replicas"),  # an int32 column
        ({"replicas": 99999999999}, "spec.replicas"),  # the value
        ({"owner_kind": "K" * 64}, "metadata.ownerReferences[0].kind"),  # kinds: 63
    ],
)
def test_a_value_past_a_limit_is_a_located_error_and_nothing_is_stored(api, change, path):
    response = _upload(api, "past", manifests(**change))
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert any(e["path"].startswith(path) and e["line"] > 0 for e in errors), errors
    assert not Cluster.objects.filter(name="past").exists()
    assert not Workload.objects.exists()
