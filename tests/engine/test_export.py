"""Export: clean YAML for kubectl apply, verbatim when already clean, and the round trip."""

from __future__ import annotations

import io
import zipfile

import yaml

from policies.engine import evaluate, load_documents
from policies.engine.export import clean_policy_yaml, export_policies, export_zip

from .helpers import pod, policy, snap

SERVER_SIDE = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: p
  namespace: default
  uid: 1234
  resourceVersion: "99"
  generation: 3
  creationTimestamp: "2024-01-01T00:00:00Z"
  managedFields: [{manager: kubectl}]
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: "{}"
spec:
  podSelector: {}
status: {}
"""


def test_server_side_fields_are_removed() -> None:
    cleaned = yaml.safe_load(clean_policy_yaml(SERVER_SIDE))
    assert cleaned["metadata"] == {"name": "p", "namespace": "default"}
    assert "status" not in cleaned


def test_a_clean_policy_is_exported_verbatim_with_its_comments() -> None:
    text = "# why this exists\n" + policy("p", "podSelector: {}  # everything")
    assert clean_policy_yaml(text) == text


def test_round_trip_gives_the_same_connectivity() -> None:
    original = snap(
        pod("a"),
        pod("b"),
        policy("p", "podSelector: {matchLabels: {app: b}}\ningress:\n- ports: [{port: 80}]"),
        SERVER_SIDE.replace("name: p\n", "name: q\n"),
    )
    exported = export_policies(original.policies)
    workloads = "---\n".join([pod("a"), pod("b")])
    again = load_documents([("w.yaml", workloads), ("export.yaml", exported)])
    flows = lambda s: [(f.src.id, f.dst.id, str(f.ports)) for f in evaluate(s).flows()]  # noqa: E731
    assert flows(again) == flows(original)


def test_zip_has_one_file_per_namespace() -> None:
    s = snap(policy("a", "podSelector: {}", ns="n1"), policy("b", "podSelector: {}", ns="n2"))
    names = zipfile.ZipFile(io.BytesIO(export_zip(s.policies))).namelist()
    assert names == ["n1.yaml", "n2.yaml"]


ADMIN = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata:
  name: deny-web
  namespace: ignored
  uid: 42
spec:
  priority: 5  # runs early
  subject: {namespaces: {}}
  ingress:
  - {name: no-web, action: Deny, from: [{namespaces: {}}], ports: [{portNumber: {port: 80}}]}
status: {conditions: []}
"""
BASELINE = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: base
spec:
  tier: Baseline  # kept verbatim: nothing to clean
  priority: 1
  subject: {namespaces: {}}
  egress:
  - {action: Deny, to: [{networks: [169.254.169.254/32]}]}
"""


def test_cluster_policies_export_first_clean_and_without_a_namespace() -> None:
    s = load_documents(
        [
            ("a.yaml", ADMIN),
            ("b.yaml", BASELINE),
            ("c.yaml", pod("w") + "---\n" + policy("p", "podSelector: {}")),
        ]
    )
    text = export_policies((*s.policies, *s.cluster_policies))
    docs = list(yaml.safe_load_all(text))
    assert [d["kind"] for d in docs] == [
        "AdminNetworkPolicy",
        "ClusterNetworkPolicy",
        "NetworkPolicy",
    ]
    assert docs[0]["metadata"] == {"name": "deny-web"}
    assert "status" not in docs[0]
    assert "# kept verbatim: nothing to clean" in text
    again = load_documents([("x.yaml", text), ("w.yaml", pod("w"))])
    assert [p.id for p in again.cluster_policies] == [p.id for p in s.cluster_policies]


def test_zip_puts_cluster_policies_in_their_own_file() -> None:
    s = load_documents([("a.yaml", ADMIN), ("c.yaml", policy("p", "podSelector: {}", ns="shop"))])
    with zipfile.ZipFile(io.BytesIO(export_zip((*s.policies, *s.cluster_policies)))) as zf:
        assert sorted(zf.namelist()) == ["_cluster.yaml", "shop.yaml"]
        assert "AdminNetworkPolicy" in zf.read("_cluster.yaml").decode()
