"""The JSON API: fixed URLs and shapes, token or session auth, nothing stored on bad input."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from policies import engine
from policies.engine import formats
from policies.models import ApiToken, Cluster, Namespace, Policy, Revision, Workload
from policies.tokens import create_token

pytestmark = pytest.mark.django_db

BACKEND_PORTS = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: backend-from-frontend
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: backend}
  policyTypes: [Ingress]
  ingress:
    - from:
        - podSelector:
            matchLabels: {app: frontend}
      ports:
        - {port: 9090, endPort: 9091}
"""


def rows() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Cluster, Revision, Namespace, Workload, Policy))


@pytest.fixture
def api(api_client_for, owner) -> Client:
    return api_client_for(owner)


def policy_url(cluster: Cluster, namespace: str = "shop", name: str = "backend-from-frontend"):
    return f"/api/clusters/{cluster.pk}/policies/{namespace}/{name}"


def test_list_clusters(api, shop_cluster):
    response = api.get("/api/clusters/")
    assert response.status_code == 200
    assert response.json() == {
        "clusters": [
            {
                "id": shop_cluster.pk,
                "name": "shop",
                "revision": 1,
                "namespaces": 1,
                "workloads": 2,
                "policies": 3,
                "updated": shop_cluster.head.created.isoformat(),
                "status": "ready",
            }
        ]
    }


def test_create_a_cluster_from_several_files_and_an_archive(api, owner, shop_files, web_data):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "more/pod.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: lone, namespace: shop}\nspec: {}\n",
        )
    uploads = [SimpleUploadedFile(n, c) for n, c in shop_files]
    uploads.append(SimpleUploadedFile("more.zip", buffer.getvalue()))
    response = api.post("/api/clusters/", {"name": "ci", "files": uploads})
    assert response.status_code == 201
    cluster = Cluster.objects.get(pk=response.json()["id"])
    assert response.json() == {"id": cluster.pk, "revision": 1, "status": "ready"}
    assert (cluster.owner, cluster.name) == (owner, "ci")
    assert cluster.head.workloads.count() == 3


def test_creating_from_bad_manifests_is_400_with_located_errors(api, web_data, shop_files):
    bad = (web_data / "invalid-policy.yaml").read_bytes()
    uploads = [SimpleUploadedFile(n, c) for n, c in [*shop_files, ("invalid-policy.yaml", bad)]]
    before = rows()
    response = api.post("/api/clusters/", {"name": "ci", "files": uploads})
    assert response.status_code == 400
    assert rows() == before
    assert response.json() == {
        "errors": [
            {
                "file": "invalid-policy.yaml",
                "line": 10,
                "path": "spec.ingress[0].ports[0].port",
                "message": "70000 is not within 1-65535",
            },
            {
                "file": "invalid-policy.yaml",
                "line": 14,
                "path": "spec.ingress[0].from[0].podSelector.matchExpressions[0].operator",
                "message": "'Sometimes' is not In, NotIn, Exists or DoesNotExist",
            },
        ]
    }


def test_creating_without_a_name_or_files_is_400(api):
    response = api.post("/api/clusters/", {})
    assert response.status_code == 400
    paths = {e["path"] for e in response.json()["errors"]}
    assert "name" in paths
    assert not Cluster.objects.exists()


def test_creating_over_the_size_limit_is_413(api, shop_files, settings):
    settings.NETVIZ_MAX_UPLOAD_BYTES = 100
    uploads = [SimpleUploadedFile(n, c) for n, c in shop_files]
    response = api.post("/api/clusters/", {"name": "ci", "files": uploads})
    assert response.status_code == 413
    assert "the limit is" in response.json()["errors"][0]["message"]
    assert not Cluster.objects.exists()


def streamed(response) -> dict:
    """The JSON of a streamed answer (it never sits whole in the server)."""
    assert response.streaming
    return json.loads(b"".join(response.streaming_content))


def test_connections_are_the_analyze_json_schema(api, shop_cluster, shop_files):
    response = api.get(f"/api/clusters/{shop_cluster.pk}/connections")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    expected = formats.to_json_dict(engine.evaluate(engine.load_documents(shop_files)))
    assert streamed(response) == expected
    assert expected == {
        "connections": [
            {
                "src": "shop/frontend[Deployment]",
                "dst": "shop/backend[Deployment]",
                "conns": {"TCP": "9090"},
            }
        ]
    }


def test_connections_of_a_corpus_case(api, owner, corpus_cases):
    folder = corpus_cases / "onlineboutique_workloads" / "input"
    pairs = [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]
    uploads = [SimpleUploadedFile(n, c) for n, c in pairs]
    created = api.post("/api/clusters/", {"name": "boutique", "files": uploads}).json()
    response = api.get(f"/api/clusters/{created['id']}/connections")
    expected = formats.to_json_dict(engine.evaluate(engine.load_documents(pairs)))
    assert streamed(response) == expected
    assert len(expected["connections"]) > 10
    # the grouped form says the same, compactly
    grouped = api.get(f"/api/clusters/{created['id']}/connections?format=grouped").json()
    assert expand(grouped) == {(c["src"], c["dst"]): c["conns"] for c in expected["connections"]}


def expand(grouped: dict) -> dict:
    """The grouped form's connections, member by member."""
    members = {g["id"]: g["members"] for g in grouped["groups"]}
    out = {}
    for c in grouped["connections"]:
        for src in members.get(c["src"], [c["src"]]):
            for dst in members.get(c["dst"], [c["dst"]]):
                if src != dst:
                    out[(src, dst)] = c["conns"]
    return out


def test_an_open_cluster_is_one_group_per_namespace_in_the_grouped_form(api, owner):
    pods = "\n---\n".join(
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: ns{i % 2}}}"
        for i in range(40)
    )
    created = api.post("/api/clusters/", {"name": "open", "manifests": pods}).json()
    url = f"/api/clusters/{created['id']}/connections"
    grouped = api.get(url + "?format=grouped").json()
    assert sorted(len(g["members"]) for g in grouped["groups"]) == [20, 20]
    assert len(grouped["connections"]) == 2 * 2 + 2 * 2  # ns↔ns, each ns ↔ the internet
    flows = streamed(api.get(url))["connections"]
    assert len(flows) == 40 * 39 + 2 * 40
    assert expand(grouped) == {(c["src"], c["dst"]): c["conns"] for c in flows}


def test_an_unknown_connections_format_is_400(api, shop_cluster):
    response = api.get(f"/api/clusters/{shop_cluster.pk}/connections?format=xml")
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "format"


def test_export_is_multi_document_yaml_of_the_current_policies(api, shop_cluster):
    response = api.get(f"/api/clusters/{shop_cluster.pk}/export.yaml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    text = response.content.decode()
    policies = engine.load_documents([("export.yaml", text)]).policies
    assert sorted(p.name for p in policies) == [
        "backend-from-frontend",
        "default-deny",
        "frontend-to-backend",
    ]


def test_get_one_policy_returns_its_yaml(api, shop_cluster):
    response = api.get(policy_url(shop_cluster))
    assert response.status_code == 200
    assert "name: backend-from-frontend" in response.content.decode()
    assert api.get(policy_url(shop_cluster, name="nope")).status_code == 404


def test_put_replaces_a_policy_as_a_new_revision(api, shop_cluster):
    response = api.put(policy_url(shop_cluster), BACKEND_PORTS, content_type="application/yaml")
    assert response.status_code == 200
    assert response.json() == {"revision": 2}
    assert shop_cluster.head.policies.get(name="backend-from-frontend").yaml == BACKEND_PORTS
    conns = streamed(api.get(f"/api/clusters/{shop_cluster.pk}/connections"))["connections"]
    assert conns[0]["conns"] == {"TCP": "9090-9091"}


def test_put_creates_a_new_policy(api, shop_cluster):
    body = BACKEND_PORTS.replace("name: backend-from-frontend", "name: extra")
    response = api.put(policy_url(shop_cluster, name="extra"), body, content_type="text/plain")
    assert response.status_code == 201
    assert response.json() == {"revision": 2}
    assert shop_cluster.head.policies.count() == 4


@pytest.mark.parametrize(
    ("body", "path"),
    [
        # invalid: a port out of range, located in the body
        (BACKEND_PORTS.replace("port: 9090, endPort: 9091", "port: 99999"), "ports[0].port"),
        # valid, but the body names another policy than the URL
        (BACKEND_PORTS.replace("namespace: shop", "namespace: prod"), "metadata.namespace"),
        (BACKEND_PORTS.replace("name: backend-from-frontend", "name: other"), "metadata.name"),
    ],
)
def test_put_with_a_bad_body_is_400_and_stores_nothing(api, shop_cluster, body, path):
    before = rows()
    response = api.put(policy_url(shop_cluster), body, content_type="application/yaml")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert set(error) == {"file", "line", "path", "message"}
    assert error["path"].endswith(path)
    assert error["line"] > 0
    assert rows() == before


def test_delete_removes_a_policy_as_a_new_revision(api, shop_cluster):
    response = api.delete(policy_url(shop_cluster))
    assert response.status_code == 200
    assert response.json() == {"revision": 2}
    assert not shop_cluster.head.policies.filter(name="backend-from-frontend").exists()
    assert api.delete(policy_url(shop_cluster)).status_code == 404
    assert shop_cluster.head.number == 2


def test_preview_shows_the_change_and_saves_nothing(api, shop_cluster):
    before = rows()
    response = api.post(
        f"/api/clusters/{shop_cluster.pk}/preview", BACKEND_PORTS, content_type="application/yaml"
    )
    assert response.status_code == 200
    assert response.json() == {
        "added": [],
        "removed": [],
        "changed": [
            {
                "src": "shop/frontend[Deployment]",
                "dst": "shop/backend[Deployment]",
                "before": {"TCP": "9090"},
                "after": {"TCP": "9090-9091"},
            }
        ],
    }
    assert rows() == before


def test_preview_of_an_invalid_body_is_400(api, shop_cluster):
    response = api.post(
        f"/api/clusters/{shop_cluster.pk}/preview", "kind: [", content_type="application/yaml"
    )
    assert response.status_code == 400
    assert "invalid YAML" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no credentials at all
        {"Authorization": "Bearer nvz_not-a-real-token"},  # unknown token
        {"Authorization": "Basic b2xpdmlhOnB3"},  # another scheme
        {"Authorization": "Bearer"},  # no token
    ],
)
def test_requests_without_valid_credentials_get_401_json(shop_cluster, headers):
    client = Client(headers=headers)
    for url in ("/api/clusters/", f"/api/clusters/{shop_cluster.pk}/connections"):
        response = client.get(url)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="netviz"'
        assert response.json()["errors"][0]["message"]


def test_a_token_records_when_it_was_last_used(api, owner):
    assert ApiToken.objects.get(user=owner).last_used is None
    api.get("/api/clusters/")
    assert ApiToken.objects.get(user=owner).last_used is not None


def test_a_revoked_token_stops_working(api, owner):
    ApiToken.objects.filter(user=owner).delete()
    assert api.get("/api/clusters/").status_code == 401


def test_a_token_of_a_deactivated_user_stops_working(api, owner):
    owner.is_active = False
    owner.save()
    assert api.get("/api/clusters/").status_code == 401


def test_bearer_writes_need_no_csrf_token(api, shop_cluster):
    # `api` enforces CSRF checks like a real browser would; the token makes them moot.
    assert api.delete(policy_url(shop_cluster)).status_code == 200


def test_session_writes_still_need_the_csrf_token(owner, shop_cluster):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.get("/api/clusters/").status_code == 200  # reads need no token
    response = client.delete(policy_url(shop_cluster))
    assert response.status_code == 403
    assert "CSRF" in response.json()["errors"][0]["message"]
    page = client.get(f"/clusters/{shop_cluster.pk}/")  # sets the CSRF cookie
    token = page.cookies["csrftoken"].value
    response = client.delete(policy_url(shop_cluster), headers={"X-CSRFToken": token})
    assert response.status_code == 200


def test_the_stored_token_is_only_a_hash(owner):
    row, token = create_token(owner, "ci")
    assert token.startswith("nvz_")
    assert len(token) > 40
    assert token not in (row.token_hash, row.prefix)
    assert len(row.token_hash) == 64
    assert row.prefix == token[:10]


def test_unknown_methods_are_405(api, shop_cluster):
    assert api.delete("/api/clusters/").status_code == 405
    assert api.get(f"/api/clusters/{shop_cluster.pk}/preview").status_code == 405


# --- the base revision: the same conflict check as the editor --------------------------------


@pytest.fixture
def two_clients(api_client_for, users_by_role) -> tuple[Client, Client]:
    """Two scripts with their own tokens: the owner's and an editor's."""
    return api_client_for(users_by_role["owner"]), api_client_for(users_by_role["editor"])


def test_get_tells_the_revision_a_policy_was_read_from(api, shop_cluster):
    assert api.get(policy_url(shop_cluster))["ETag"] == '"1"'


@pytest.mark.parametrize(
    "how",
    [
        # an ETag as GET returned it, a bare number, or the base_revision field
        {"headers": {"If-Match": '"1"'}},
        {"headers": {"If-Match": "1"}},
        {"query": "?base_revision=1"},
    ],
)
def test_a_put_from_a_stale_revision_is_409_and_stores_nothing(two_clients, shop_cluster, how):
    first, second = two_clients
    url = policy_url(shop_cluster)
    mine = BACKEND_PORTS.replace("9090, endPort: 9091", "8443")
    assert first.put(
        url, BACKEND_PORTS, "application/yaml", headers={"If-Match": '"1"'}
    ).json() == {"revision": 2}
    before = rows()
    response = second.put(
        url + how.get("query", ""), mine, "application/yaml", headers=how.get("headers", {})
    )
    assert response.status_code == 409
    conflict = response.json()["conflict"]
    assert conflict["head_revision"] == 2
    assert conflict["base_revision"] == 1
    assert conflict["author"] == "olivia"
    assert conflict["theirs"] == BACKEND_PORTS
    assert "+        - {port: 9090, endPort: 9091}" in conflict["diff"]
    assert rows() == before
    assert shop_cluster.head.policies.get(name="backend-from-frontend").yaml == BACKEND_PORTS


def test_a_put_from_the_head_or_without_a_base_applies(two_clients, shop_cluster):
    first, second = two_clients
    url = policy_url(shop_cluster)
    first.put(url, BACKEND_PORTS, "application/yaml")
    again = BACKEND_PORTS.replace("9090, endPort: 9091", "8443")
    response = second.put(url, again, "application/yaml", headers={"If-Match": '"2"'})
    assert response.json() == {"revision": 3}
    # without a base, the change applies to the head as it is (the documented default)
    response = first.put(url, BACKEND_PORTS, "application/yaml")
    assert response.json() == {"revision": 4}


def test_a_stale_base_is_no_conflict_for_a_policy_nobody_changed(two_clients, shop_cluster):
    first, second = two_clients
    first.put(policy_url(shop_cluster), BACKEND_PORTS, "application/yaml")
    other = BACKEND_PORTS.replace("name: backend-from-frontend", "name: extra")
    response = second.put(
        policy_url(shop_cluster, name="extra"), other, "application/yaml", headers={"If-Match": "1"}
    )
    assert (response.status_code, response.json()) == (201, {"revision": 3})


def test_a_delete_from_a_stale_revision_is_409(two_clients, shop_cluster):
    first, second = two_clients
    first.put(policy_url(shop_cluster), BACKEND_PORTS, "application/yaml")
    before = rows()
    response = second.delete(policy_url(shop_cluster), headers={"If-Match": '"1"'})
    assert response.status_code == 409
    assert response.json()["conflict"]["head_revision"] == 2
    assert rows() == before
    assert second.delete(policy_url(shop_cluster), headers={"If-Match": '"2"'}).status_code == 200


@pytest.mark.parametrize("base", ["banana", "0", "7"])
def test_a_base_that_is_no_revision_is_400(api, shop_cluster, base):
    before = rows()
    response = api.put(
        policy_url(shop_cluster), BACKEND_PORTS, "application/yaml", headers={"If-Match": base}
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["path"] == "base_revision"
    assert rows() == before


def test_the_api_and_the_editor_write_the_same_revision(api, client_for, owner, shop_cluster):
    api.put(policy_url(shop_cluster), BACKEND_PORTS, "application/yaml")
    client_for(owner).post(
        f"/clusters/{shop_cluster.pk}/editor/save",
        {"yaml": BACKEND_PORTS.replace("9091", "9092"), "base_revision": "2"},
    )
    by_api, by_editor = shop_cluster.revisions.filter(number__in=(2, 3)).order_by("number")
    assert by_api.message == by_editor.message == "Edited shop/backend-from-frontend"
    assert by_api.impact["summary"] == by_editor.impact["summary"] == "+0 -0 ~1"
