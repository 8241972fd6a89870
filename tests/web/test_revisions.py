"""policies.revisions and policies.snapshots: what gets stored for an upload or an edit, and
what is read back."""

from __future__ import annotations

import pytest

from policies import analysis, changes, engine, queries, revisions, snapshots
from policies.engine import formats
from policies.engine.connectivity import Connectivity
from policies.errors import InputErrors
from policies.models import Cluster, Namespace, Policy, Revision, Workload

pytestmark = pytest.mark.django_db

NEW_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: {namespace}
spec:
  podSelector:
    matchLabels: {{app: backend}}
  ingress:
    - ports: [{{port: 9090}}]
"""


def connections(files) -> dict:
    return formats.to_json_dict(engine.evaluate(engine.load_documents(files)))


def row_counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Cluster, Revision, Namespace, Workload, Policy))


def save_policy(cluster, user, namespace, name, text):
    """As the API's PUT saves one policy: the text must be exactly the policy the URL names."""
    revision, _, created = changes.apply_edit(
        cluster, user, text, expect=(namespace, name), filename=f"{namespace}/{name}.yaml"
    )
    return revision, created


def test_invalid_manifests_raise_every_error_located(web_data):
    text = (web_data / "invalid-policy.yaml").read_bytes()
    with pytest.raises(InputErrors) as caught:
        snapshots.parse_manifests([("invalid-policy.yaml", text)])
    located = {(e["file"], e["line"], e["path"]) for e in caught.value.errors}
    assert located == {
        ("invalid-policy.yaml", 10, "spec.ingress[0].ports[0].port"),
        (
            "invalid-policy.yaml",
            14,
            "spec.ingress[0].from[0].podSelector.matchExpressions[0].operator",
        ),
    }


def test_an_upload_without_any_kubernetes_object_is_an_error():
    with pytest.raises(InputErrors, match="no namespaces, workloads or network"):
        snapshots.parse_manifests([("notes.yaml", "just: a mapping\n")])


def test_create_cluster_stores_every_object_of_the_first_revision(shop_cluster, owner):
    revision = shop_cluster.head
    assert (revision.number, revision.author, revision.parent) == (1, owner, None)
    assert [ns.name for ns in revision.namespaces.all()] == ["shop"]
    assert revision.namespaces.get().labels == {
        "kubernetes.io/metadata.name": "shop",
        "team": "web",
    }
    frontend = revision.workloads.get(name="frontend")
    assert (frontend.kind, frontend.replicas, frontend.source_file, frontend.line) == (
        "Deployment",
        2,
        "shop.yaml",
        9,
    )
    assert frontend.labels == {"app": "frontend", "tier": "web"}
    assert frontend.ports == [{"port": 8080, "protocol": "TCP", "name": "http"}]
    assert sorted(revision.policies.values_list("name", flat=True)) == [
        "backend-from-frontend",
        "default-deny",
        "frontend-to-backend",
    ]


def test_policy_yaml_is_kept_verbatim_with_its_comments(shop_cluster, shop_files):
    stored = shop_cluster.head.policies.get(name="default-deny").yaml
    assert stored.startswith("# Deny everything in shop, then let the frontend reach")
    assert stored in shop_files[1][1].decode()


def stored(revision: Revision) -> dict:
    """The connections of a revision as its stored graph index lists them."""
    return {"connections": list(analysis.flow_index(revision).connections())}


def test_a_stored_revision_evaluates_like_the_files_it_came_from(shop_cluster, shop_files):
    assert stored(shop_cluster.head) == connections(shop_files)
    assert stored(shop_cluster.head) == {
        "connections": [
            {
                "src": "shop/frontend[Deployment]",
                "dst": "shop/backend[Deployment]",
                "conns": {"TCP": "9090"},
            }
        ]
    }


def test_a_corpus_case_round_trips_through_the_database(owner, corpus_cases):
    folder = corpus_cases / "onlineboutique_workloads" / "input"
    files = [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]
    cluster = revisions.create_cluster(owner, "boutique", snapshots.parse_manifests(files))
    revision = cluster.head
    assert queries.revision_counts(revision) == {"namespaces": 5, "workloads": 12, "policies": 11}
    assert stored(revision) == connections(files)


def test_connectivity_is_computed_once_per_revision(shop_cluster, monkeypatch):
    first = stored(shop_cluster.head)
    analysis.clear()  # a new process: only the database remembers
    monkeypatch.setattr(Connectivity, "__init__", lambda *a: pytest.fail("evaluated again"))
    fresh = Revision.objects.get(pk=shop_cluster.head.pk)
    assert stored(fresh) == first


def test_upload_revision_replaces_the_manifests_and_keeps_history(shop_cluster, owner, web_data):
    snapshot = snapshots.parse_manifests([("shop.yaml", (web_data / "shop.yaml").read_bytes())])
    revision = revisions.upload_revision(shop_cluster, owner, snapshot, message="no policies")
    assert (revision.number, revision.parent.number, revision.message) == (2, 1, "no policies")
    assert revision.policies.count() == 0
    assert Revision.objects.get(cluster=shop_cluster, number=1).policies.count() == 3


def test_save_policy_adds_a_new_policy_as_a_new_revision(shop_cluster, owner):
    text = NEW_POLICY.format(namespace="shop", name="backend-port")
    revision, created = save_policy(shop_cluster, owner, "shop", "backend-port", text)
    assert created
    assert (revision.number, revision.parent.number, revision.author) == (2, 1, owner)
    assert revision.message == "Edited shop/backend-port"
    assert revision.policies.count() == 4
    assert revision.policies.get(name="backend-port").yaml == text
    # the first revision is untouched; workloads and namespaces were copied
    assert shop_cluster.revisions.get(number=1).policies.count() == 3
    assert revision.workloads.count() == 2
    assert revision.namespaces.count() == 1


def test_save_policy_replaces_a_same_named_policy(shop_cluster, owner):
    text = NEW_POLICY.format(namespace="shop", name="default-deny")
    revision, created = save_policy(shop_cluster, owner, "shop", "default-deny", text)
    assert not created
    assert revision.policies.count() == 3
    assert revision.policies.get(name="default-deny").yaml == text
    assert (
        "Deny everything"
        in shop_cluster.revisions.get(number=1).policies.get(name="default-deny").yaml
    )


def test_unchanged_policies_keep_pointing_at_their_original_file_and_line(shop_cluster, owner):
    before = {p.name: (p.source_file, p.line) for p in shop_cluster.head.policies.all()}
    text = NEW_POLICY.format(namespace="shop", name="default-deny")
    revision, _ = save_policy(shop_cluster, owner, "shop", "default-deny", text)
    after = {p.name: (p.source_file, p.line) for p in revision.policies.all()}
    assert after["frontend-to-backend"] == before["frontend-to-backend"]
    assert after["default-deny"] == ("shop/default-deny.yaml", 1)


def test_warnings_of_a_rebuilt_revision_point_at_the_users_file_and_line(owner):
    cluster = revisions.load_demo(owner)
    [warning] = cluster.head.warnings
    assert (warning["file"], warning["line"]) == ("demo/policies-backend.yaml", 144)
    text = NEW_POLICY.format(namespace="shop-data", name="extra")
    revision, _ = save_policy(cluster, owner, "shop-data", "extra", text)
    # the policy is re-read from the database, yet its warning is where the user wrote it
    assert ("demo/policies-backend.yaml", 144) in [
        (w["file"], w["line"]) for w in revision.warnings
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # the URL names the policy; the body must agree
        (NEW_POLICY.format(namespace="other", name="p"), "metadata.namespace"),
        (NEW_POLICY.format(namespace="shop", name="q"), "metadata.name"),
        # one policy per PUT
        (
            NEW_POLICY.format(namespace="shop", name="p")
            + "---\n"
            + NEW_POLICY.format(namespace="shop", name="r"),
            "exactly one policy",
        ),
        # workloads are uploaded, not PUT as policies
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: shop}\n", "only NetworkPolicy"),
        ("kind: [unclosed\n", "invalid YAML"),
    ],
)
def test_save_policy_rejects_a_body_that_is_not_that_one_policy(
    shop_cluster, owner, body, expected
):
    before = row_counts()
    with pytest.raises(InputErrors) as caught:
        save_policy(shop_cluster, owner, "shop", "p", body)
    assert any(expected in f"{e['path']} {e['message']}" for e in caught.value.errors)
    assert row_counts() == before


def test_delete_policy_removes_it_in_a_new_revision(shop_cluster, owner):
    revision = changes.delete_policy(shop_cluster, owner, "shop", "default-deny")
    assert revision.number == 2
    assert not revision.policies.filter(name="default-deny").exists()
    assert revision.policies.count() == 2
    assert shop_cluster.revisions.get(number=1).policies.filter(name="default-deny").exists()


def test_deleting_a_missing_policy_stores_nothing(shop_cluster, owner):
    before = row_counts()
    with pytest.raises(changes.NoSuchPolicy):
        changes.delete_policy(shop_cluster, owner, "shop", "nope")
    assert row_counts() == before


def test_preview_reports_the_change_and_saves_nothing(shop_cluster):
    before = row_counts()
    allow_all = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""
    change = changes.preview_text(shop_cluster.head, allow_all).change.as_dict()
    assert row_counts() == before
    assert change["removed"] == []
    # without egress isolation the frontend and backend may now reach the outside world
    assert {"src": "shop/backend[Deployment]", "dst": "0.0.0.0-255.255.255.255"} in [
        {"src": f["src"], "dst": f["dst"]} for f in change["added"]
    ]


def test_export_yaml_holds_each_policy_as_written(shop_cluster, shop_files):
    exported = changes.export_yaml(shop_cluster.head)
    assert exported.startswith("---\n")
    assert exported.count("kind: NetworkPolicy") == 3
    assert "# Deny everything in shop" in exported
    again = engine.load_documents([("export.yaml", exported)])
    assert {p.id for p in again.policies} == {
        p.id for p in engine.load_documents(shop_files).policies
    }


def test_cluster_summaries_count_the_latest_revision(shop_cluster, owner, make_user):
    changes.delete_policy(shop_cluster, owner, "shop", "default-deny")
    [summary] = queries.cluster_summaries(owner)
    assert summary.as_dict() == {
        "id": shop_cluster.pk,
        "name": "shop",
        "revision": 2,
        "namespaces": 1,
        "workloads": 2,
        "policies": 2,
        "updated": shop_cluster.head.created.isoformat(),
        "status": "ready",
    }
    assert queries.cluster_summaries(make_user("stranger")) == []


def test_load_demo_loads_the_demo_shop(owner):
    cluster = revisions.load_demo(owner)
    assert cluster.name == "demo-shop"
    assert queries.revision_counts(cluster.head) == {
        "namespaces": 5,
        "workloads": 14,
        "policies": 19,
    }
    # loading it again makes a new revision, not a second cluster
    assert revisions.load_demo(owner).pk == cluster.pk
    assert cluster.head.number == 2


@pytest.mark.django_db(transaction=True)
def test_a_new_revisions_graph_is_computed_when_it_is_committed(owner, shop_files) -> None:
    from policies.models import RevisionGraph

    cluster = revisions.create_cluster(owner, "warm", snapshots.parse_manifests(shop_files))
    assert RevisionGraph.objects.filter(revision=cluster.head).exists()
