"""Workload fields that cannot change a policy's meaning warn and load; policy fields stay strict."""

from __future__ import annotations

import pytest

from policies.engine import ManifestErrors, load_documents

from .helpers import conns, policy, snap


def _warnings(snapshot) -> list[str]:
    return [str(d) for d in snapshot.diagnostics if d.severity == "warning"]


def test_a_port_entry_without_container_port_is_skipped_with_a_located_warning():
    s = snap(
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: web, labels: {app: web}}
        spec:
          containers:
            - name: web
              image: nginx
              ports:
                - containerport: 80
                - containerPort: 8080
                  name: http
        """,
        file="web.yaml",
    )
    (web,) = s.workloads
    assert [p.port for p in web.ports] == [8080]
    assert (
        "web.yaml:9 spec.containers[0].ports[0].containerPort: must be a port number 1-65535 "
        "(keys: containerport); port skipped (Pod web)"
    ) in _warnings(s)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        # out of range
        ("- containerPort: 70000", "must be a port number 1-65535; port skipped"),
        # a string where a number belongs
        ("- containerPort: http", "must be a port number 1-65535; port skipped"),
        # an unknown protocol
        ("- {containerPort: 80, protocol: ICMP}", "'ICMP' is not TCP, UDP or SCTP; port skipped"),
        # not a mapping at all
        ("- 80", "must be a mapping; port skipped"),
    ],
)
def test_unusable_container_ports_warn_and_the_load_goes_on(entry, message):
    s = snap(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n"
        f"  - name: c\n    ports:\n    {entry}\n"
    )
    assert [w.name for w in s.workloads] == ["a"]
    assert any(message in w for w in _warnings(s))


def test_a_bad_replica_count_warns_and_counts_one():
    s = snap(
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          replicas: many
          template: {metadata: {labels: {app: d}}}
        """
    )
    (d,) = s.workloads
    assert d.replicas == 1
    assert any(
        "spec.replicas: must be a whole number, got string 'many'; counted as 1" in w
        for w in _warnings(s)
    )


def test_a_static_pod_owned_by_its_node_stands_alone():
    pods = [
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: kube-apiserver-{node}
          namespace: kube-system
          labels: {{component: kube-apiserver}}
          ownerReferences:
            - {{apiVersion: v1, kind: Node, name: {node}, controller: true}}
        """
        for node in ("node-a", "node-b")
    ]
    s = snap(*pods)
    assert [w.id for w in s.workloads] == [
        "kube-system/kube-apiserver-node-a[Pod]",
        "kube-system/kube-apiserver-node-b[Pod]",
    ]


def test_pods_of_a_workload_controller_are_still_one_workload():
    pods = [
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: web-{i}
          labels: {{app: web}}
          ownerReferences:
            - {{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9, controller: true}}
        """
        for i in range(2)
    ]
    (w,) = snap(*pods).workloads
    assert (w.id, w.replicas) == ("default/web-7d9[ReplicaSet]", 2)


def test_policy_fields_stay_strict_errors():
    with pytest.raises(ManifestErrors) as info:
        load_documents([("p.yaml", policy("p", "podSelector: {}\ningress:\n- ports: [{port: 0}]"))])
    assert info.value.errors


def test_a_skipped_port_changes_nothing_a_policy_can_see():
    # The misspelled entry names no port, so a rule on the named port allows nothing either way.
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {app: a}}\nspec:\n  containers:\n"
        "  - name: c\n    ports:\n    - {containerport: 80, name: http}\n"
    )
    rule = "podSelector: {}\ningress:\n- ports: [{port: http}]"
    assert ("0.0.0.0-255.255.255.255", "default/a[Pod]") not in conns(pod, policy("p", rule))
