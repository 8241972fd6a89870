"""The NetworkPolicy v1 semantics, rule by rule, on small manifests of our own."""

from __future__ import annotations

import pytest

from policies.engine import evaluate

from .helpers import ALL, INTERNET, conns, ns, pod, policy, snap

A, B, C = "default/a[Pod]", "default/b[Pod]", "default/c[Pod]"


def test_no_policy_means_everything_is_allowed_including_external_addresses() -> None:
    got = conns(pod("a"), pod("b"))
    assert got == {
        (A, B): ALL,
        (B, A): ALL,
        (A, INTERNET): ALL,
        (B, INTERNET): ALL,
        (INTERNET, A): ALL,
        (INTERNET, B): ALL,
    }


def test_a_workload_has_no_flow_to_itself_but_two_of_one_class_talk() -> None:
    got = conns(pod("a", labels={"app": "x"}), pod("b", labels={"app": "x"}))
    assert (A, A) not in got
    assert got[(A, B)] == ALL


def test_ingress_isolation_needs_a_selecting_policy_with_ingress_type() -> None:
    deny = policy("deny", "podSelector: {matchLabels: {app: b}}\npolicyTypes: [Ingress]")
    got = conns(pod("a"), pod("b"), deny)
    assert (A, B) not in got
    assert (INTERNET, B) not in got
    assert got[(B, A)] == ALL  # egress of b is not isolated
    assert got[(INTERNET, A)] == ALL


def test_egress_only_policy_leaves_ingress_open() -> None:
    deny = policy("deny-out", "podSelector: {matchLabels: {app: a}}\npolicyTypes: [Egress]")
    got = conns(pod("a"), pod("b"), deny)
    assert (A, B) not in got
    assert (A, INTERNET) not in got
    assert got[(B, A)] == ALL
    assert got[(INTERNET, A)] == ALL


@pytest.mark.parametrize(
    ("spec", "egress_isolated"),
    [
        # no policyTypes, no egress section: Ingress only
        ("podSelector: {}", False),
        # no policyTypes, egress rules present: Ingress and Egress
        ("podSelector: {}\negress:\n- to: [{podSelector: {matchLabels: {app: b}}}]", True),
        # no policyTypes and an empty egress list: the API server adds only Ingress
        ("podSelector: {}\negress: []", False),
        # an empty policyTypes list is defaulted like an absent one
        ("podSelector: {}\npolicyTypes: []", False),
        # explicit Egress with no egress rules: deny all egress
        ("podSelector: {}\npolicyTypes: [Egress]", True),
    ],
)
def test_effective_policy_types_follow_the_api_server_defaults(spec, egress_isolated) -> None:
    conn = evaluate(snap(pod("a"), pod("b"), policy("p", spec)))
    a = next(w for w in conn.snapshot.workloads if w.name == "a")
    assert conn.isolation(a)[1] is egress_isolated


def test_a_flow_needs_the_source_egress_and_the_destination_ingress() -> None:
    out = policy(
        "a-out",
        """
        podSelector: {matchLabels: {app: a}}
        policyTypes: [Egress]
        egress:
        - to: [{podSelector: {matchLabels: {app: b}}}]
          ports: [{port: 80}, {port: 443}]
        """,
    )
    into = policy(
        "b-in",
        """
        podSelector: {matchLabels: {app: b}}
        ingress:
        - from: [{podSelector: {matchLabels: {app: a}}}]
          ports: [{port: 443}, {port: 8443}]
        """,
    )
    assert conns(pod("a"), pod("b"), out, into)[(A, B)] == "TCP 443"


def test_allowances_of_several_policies_are_unioned() -> None:
    p1 = policy("p1", "podSelector: {}\ningress:\n- ports: [{port: 80}]")
    p2 = policy("p2", "podSelector: {}\ningress:\n- ports: [{port: 81, protocol: UDP}]")
    assert conns(pod("a"), pod("b"), p1, p2)[(A, B)] == "TCP 80,UDP 81"


def test_empty_pod_selector_selects_every_pod_in_its_namespace_only() -> None:
    deny = policy("deny", "podSelector: {}\npolicyTypes: [Ingress]")
    other = pod("o", ns="other")
    got = conns(pod("a"), pod("b"), other, deny)
    assert (A, B) not in got
    assert got[(A, "other/o[Pod]")] == ALL


def test_rule_without_from_allows_every_source_and_every_address() -> None:
    allow = policy("allow", "podSelector: {}\ningress:\n- {}")
    got = conns(pod("a"), pod("b", ns="other"), allow)
    assert got[("other/b[Pod]", A)] == ALL
    assert got[(INTERNET, A)] == ALL


def test_empty_from_list_is_the_same_as_an_absent_one() -> None:
    allow = policy("allow", "podSelector: {}\ningress:\n- from: []\n  ports: [{port: 80}]")
    got = conns(pod("a"), pod("b", ns="other"), allow)
    assert got[("other/b[Pod]", A)] == "TCP 80"
    assert got[(INTERNET, A)] == "TCP 80"


def test_empty_ingress_list_denies_all_ingress() -> None:
    deny = policy("deny", "podSelector: {}\ningress: []")
    assert conns(pod("a"), pod("b"), deny).get((A, B)) is None


def test_pod_selector_alone_means_the_policys_own_namespace() -> None:
    allow = policy(
        "allow", "podSelector: {matchLabels: {app: a}}\ningress:\n- from: [{podSelector: {}}]"
    )
    got = conns(pod("a"), pod("b"), pod("x", ns="other"), allow)
    assert got[(B, A)] == ALL
    assert ("other/x[Pod]", A) not in got
    assert (INTERNET, A) not in got


def test_namespace_selector_alone_selects_all_pods_of_matching_namespaces() -> None:
    allow = policy(
        "allow",
        "podSelector: {matchLabels: {app: a}}\ningress:\n"
        "- from: [{namespaceSelector: {matchLabels: {team: blue}}}]",
    )
    got = conns(
        ns("blue", team="blue"), ns("red", team="red"), pod("a"), pod("x", ns="blue"),
        pod("y", ns="red"), pod("b"), allow,
    )  # fmt: skip
    assert got[("blue/x[Pod]", A)] == ALL
    assert ("red/y[Pod]", A) not in got
    assert (B, A) not in got


def test_empty_namespace_selector_selects_every_namespace() -> None:
    allow = policy(
        "allow", "podSelector: {matchLabels: {app: a}}\ningress:\n- from: [{namespaceSelector: {}}]"
    )
    got = conns(pod("a"), pod("x", ns="n1"), pod("b"), allow)
    assert got[("n1/x[Pod]", A)] == ALL
    assert got[(B, A)] == ALL
    assert (INTERNET, A) not in got  # selectors never match external addresses


def test_namespace_and_pod_selector_in_one_peer_are_anded() -> None:
    allow = policy(
        "allow",
        """
        podSelector: {matchLabels: {app: a}}
        ingress:
        - from:
          - namespaceSelector: {matchLabels: {team: blue}}
            podSelector: {matchLabels: {role: client}}
        """,
    )
    got = conns(
        ns("blue", team="blue"), pod("a"),
        pod("c1", ns="blue", labels={"role": "client"}), pod("s1", ns="blue", labels={"role": "x"}),
        pod("c2", labels={"role": "client"}), allow,
    )  # fmt: skip
    assert got[("blue/c1[Pod]", A)] == ALL
    assert ("blue/s1[Pod]", A) not in got
    assert ("default/c2[Pod]", A) not in got


def test_namespace_and_pod_selector_in_two_peers_are_ored() -> None:
    allow = policy(
        "allow",
        """
        podSelector: {matchLabels: {app: a}}
        ingress:
        - from:
          - namespaceSelector: {matchLabels: {team: blue}}
          - podSelector: {matchLabels: {role: client}}
        """,
    )
    got = conns(
        ns("blue", team="blue"), pod("a"), pod("s1", ns="blue", labels={"role": "x"}),
        pod("c2", labels={"role": "client"}), allow,
    )  # fmt: skip
    assert ("blue/s1[Pod]", A) in got
    assert ("default/c2[Pod]", A) in got


def test_namespace_used_but_not_defined_has_only_its_name_label() -> None:
    allow = policy(
        "allow",
        "podSelector: {matchLabels: {app: a}}\ningress:\n- from:\n"
        "  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ghost}}",
    )
    s = snap(pod("a"), pod("g", ns="ghost"), allow)
    ghost = next(n for n in s.namespaces if n.name == "ghost")
    assert ghost.labels == (("kubernetes.io/metadata.name", "ghost"),)
    assert not ghost.defined
    assert ("ghost/g[Pod]", A) in {(f.src.id, f.dst.id) for f in evaluate(s).flows()}


def test_defined_namespace_gets_the_metadata_name_label_automatically() -> None:
    s = snap(ns("shop", team="t"))
    assert dict(s.namespaces[0].labels) == {"team": "t", "kubernetes.io/metadata.name": "shop"}


def test_ip_block_with_except_cuts_the_address_space() -> None:
    out = policy(
        "out",
        """
        podSelector: {}
        policyTypes: [Egress]
        egress:
        - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
          ports: [{port: 443}]
        """,
    )
    got = conns(pod("a"), out)
    inside = "10.0.0.0-10.0.255.255,10.2.0.0-10.255.255.255"
    outside = "0.0.0.0-9.255.255.255,10.1.0.0-10.1.255.255,11.0.0.0-255.255.255.255"
    # External endpoints are the ranges every policy treats alike, the same in all flows.
    assert got == {(A, inside): "TCP 443", (inside, A): ALL, (outside, A): ALL}


def test_ipv6_ip_blocks_are_modelled_next_to_ipv4() -> None:
    into = policy(
        "in",
        """
        podSelector: {}
        ingress:
        - from: [{ipBlock: {cidr: "2001:db8::/32", except: ["2001:db8:1::/48"]}}]
          ports: [{port: 443}]
        """,
    )
    got = conns(pod("a"), into)
    ingress = {src: c for (src, dst), c in got.items() if dst == A}
    assert ingress == {
        "2001:db8::-2001:db8:0:ffff:ffff:ffff:ffff:ffff,"
        "2001:db8:2::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff": "TCP 443"
    }
    # egress is open, so every address of both families is reachable
    assert any(dst.startswith("0.0.0.0-") for (src, dst) in got if src == A)
    assert any("::-" in dst for (src, dst) in got if src == A)


def test_ip_blocks_never_match_pods() -> None:
    into = policy(
        "in",
        "podSelector: {matchLabels: {app: a}}\ningress:\n- from: [{ipBlock: {cidr: 0.0.0.0/0}}]",
    )
    got = conns(pod("a"), pod("b"), into)
    assert (B, A) not in got
    assert got[(INTERNET, A)] == ALL


def test_named_port_resolves_against_the_destination_containers() -> None:
    into = policy("in", "podSelector: {}\ningress:\n- ports: [{port: http}]")
    got = conns(pod("a", ports="http:8080/TCP"), pod("b", ports="http:9090/TCP"), into)
    assert got[(A, B)] == "TCP 9090"
    assert got[(B, A)] == "TCP 8080"


def test_named_port_with_the_wrong_protocol_allows_nothing() -> None:
    into = policy("in", "podSelector: {}\ningress:\n- ports: [{port: dns, protocol: TCP}]")
    got = conns(pod("a"), pod("b", ports="dns:53/UDP"), into)
    assert (A, B) not in got


def test_named_port_in_egress_resolves_against_each_destination() -> None:
    out = policy(
        "out",
        "podSelector: {matchLabels: {app: a}}\npolicyTypes: [Egress]\negress:\n"
        "- ports: [{port: metrics}]",
    )
    got = conns(pod("a"), pod("b", ports="metrics:9100/TCP"), pod("c"), out)
    assert got[(A, B)] == "TCP 9100"
    assert (A, C) not in got
    assert (A, INTERNET) not in got


def test_end_port_allows_a_range() -> None:
    into = policy("in", "podSelector: {}\ningress:\n- ports: [{port: 32000, endPort: 32768}]")
    assert conns(pod("a"), pod("b"), into)[(A, B)] == "TCP 32000-32768"


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        ("{port: 53, protocol: UDP}", "UDP 53"),  # UDP
        ("{port: 3868, protocol: SCTP}", "SCTP 3868"),  # SCTP
        ("{port: 80}", "TCP 80"),  # TCP is the default protocol
        ("{protocol: UDP}", "UDP 1-65535"),  # a protocol without port: all its ports
    ],
)
def test_protocols(port: str, expected: str) -> None:
    into = policy("in", f"podSelector: {{}}\ningress:\n- ports: [{port}]")
    assert conns(pod("a"), pod("b"), into)[(A, B)] == expected


def test_policies_of_another_namespace_do_not_isolate() -> None:
    deny = policy("deny", "podSelector: {}\npolicyTypes: [Ingress, Egress]", ns="other")
    assert conns(pod("a"), pod("b"), deny)[(A, B)] == ALL


def test_pods_owned_by_a_controller_are_one_workload_named_after_the_owner() -> None:
    text = """
    apiVersion: v1
    kind: Pod
    metadata:
      name: web-7d9f-abc
      labels: {app: web}
      ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f, controller: true}]
    spec: {containers: [{name: c, image: x}]}
    """
    s = snap(text, text.replace("web-7d9f-abc", "web-7d9f-def"), pod("b"))
    ids = sorted(w.id for w in s.workloads)
    assert ids == ["default/b[Pod]", "default/web-7d9f[ReplicaSet]"]
    assert next(w for w in s.workloads if w.kind == "ReplicaSet").replicas == 2


@pytest.mark.parametrize(
    ("kind", "spec"),
    [
        ("Deployment", "replicas: 3\n  template:"),
        ("ReplicaSet", "replicas: 3\n  template:"),
        ("StatefulSet", "replicas: 3\n  template:"),
        ("DaemonSet", "template:"),
        ("Job", "template:"),
        ("ReplicationController", "replicas: 3\n  template:"),
        ("CronJob", "schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      template:"),
    ],
)
def test_every_workload_kind_reads_its_pod_template(kind: str, spec: str) -> None:
    indent = "  " * (spec.count("\n") + 2)
    template = (
        f"\n{indent}metadata: {{labels: {{app: w}}}}\n{indent}spec:\n{indent}  containers:\n"
        f"{indent}  - {{name: c, image: x, ports: [{{containerPort: 80, name: http}}]}}"
    )
    text = f"apiVersion: apps/v1\nkind: {kind}\nmetadata: {{name: w}}\nspec:\n  {spec}{template}\n"
    (w,) = snap(text).workloads
    assert w.id == f"default/w[{kind}]"
    assert dict(w.labels) == {"app": "w"}
    assert w.ports[0].name == "http"
    assert w.ports[0].port == 80


def test_classes_share_one_evaluation_but_keep_their_workloads() -> None:
    pods = [pod(f"p{i}", labels={"app": "same"}) for i in range(20)]
    conn = evaluate(snap(*pods))
    assert len(conn._classes) == 1
    assert sum(1 for f in conn.flows() if not f.src.is_external and not f.dst.is_external) == 380


def test_reevaluation_after_an_edit_equals_a_full_evaluation() -> None:
    import dataclasses

    from policies.engine import reevaluate
    from policies.engine.model import PolicyPort, Snapshot

    docs = [
        pod("a"), pod("b", ports="http:80/TCP"), pod("c", ns="o"),
        policy("b-in", "podSelector: {matchLabels: {app: b}}\ningress:\n- from: [{podSelector: {matchLabels: {app: a}}}]\n  ports: [{port: http}]"),
        policy("a-out", "podSelector: {matchLabels: {app: a}}\npolicyTypes: [Egress]\negress:\n- to: [{namespaceSelector: {}}]\n- to: [{ipBlock: {cidr: 10.0.0.0/8}}]"),
    ]  # fmt: skip
    before = snap(*docs)
    conn = evaluate(before)
    conn.class_pairs()
    edited = dataclasses.replace(
        before.policies[1],
        ingress=(
            dataclasses.replace(before.policies[1].ingress[0], ports=(PolicyPort("TCP", 81),)),
        ),
    )
    after = Snapshot(before.namespaces, before.workloads, (before.policies[0], edited))
    fast = reevaluate(conn, after)
    assert fast.base is conn  # the classes were reused
    flows = lambda c: [(f.src.id, f.dst.id, str(f.ports)) for f in c.flows()]  # noqa: E731
    assert flows(fast) == flows(evaluate(after))
    assert ("default/a[Pod]", "default/b[Pod]", "TCP 81") in flows(fast)
