"""The cluster-wide tiers (Admin -> NetworkPolicy -> Baseline -> default allow), rule by rule.

Each scenario is written once in a neutral form and loaded in both API versions:
v1alpha1 (AdminNetworkPolicy / BaselineAdminNetworkPolicy, `ports`, Allow) and v1alpha2
(ClusterNetworkPolicy with `spec.tier`, `protocols`, Accept). Every test also holds explain
to the class evaluation on every pair of its cluster.
"""

from __future__ import annotations

import dataclasses
import random
import sys
from pathlib import Path

import pytest
import yaml

from policies.engine import ManifestErrors, diff, evaluate, explain, load_paths, reevaluate
from policies.engine.intervals import PortSet
from policies.engine.model import Snapshot

from .helpers import ALL, INTERNET, ns, pod, policy, snap

V1, V2 = "v1alpha1", "v1alpha2"
BOTH = pytest.mark.parametrize("api", [V1, V2])
A, B, C = "x/a[Pod]", "y/b[Pod]", "y/c[Pod]"


def _port(spec, api: str) -> dict:
    """('TCP', 80), ('UDP', (1000, 2000)) or ('named', 'dns') in the dialect of `api`."""
    protocol, value = spec
    if protocol == "named":
        return {"namedPort": value} if api == V1 else {"destinationNamedPort": value}
    if api == V1:
        if isinstance(value, tuple):
            return {"portRange": {"protocol": protocol, "start": value[0], "end": value[1]}}
        return {"portNumber": {"protocol": protocol, "port": value}}
    dest = (
        {"range": {"start": value[0], "end": value[1]}}
        if isinstance(value, tuple)
        else {"number": value}
    )
    return {protocol.lower(): {"destinationPort": dest}}


def rule(action: str, *peers: dict, ports=(), name: str = "") -> dict:
    """A rule in the neutral form: action Accept/Deny/Pass, peers as the API writes them."""
    return {"name": name, "action": action, "peers": list(peers), "ports": list(ports)}


def tier_policy(
    api: str, tier: str, name: str, subject: dict, priority: int = 10, ingress=(), egress=()
) -> str:
    """One cluster policy as YAML in the dialect of `api`."""
    spec: dict = {}
    if api == V1:
        kind = "AdminNetworkPolicy" if tier == "Admin" else "BaselineAdminNetworkPolicy"
        header = {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": kind}
        if tier == "Admin":
            spec["priority"] = priority
        else:
            name = "default"
    else:
        header = {"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy"}
        spec.update(tier=tier, priority=priority)
    spec["subject"] = subject
    for direction, rules, key in (("ingress", ingress, "from"), ("egress", egress, "to")):
        if not rules:
            continue
        out = []
        for r in rules:
            action = "Allow" if api == V1 and r["action"] == "Accept" else r["action"]
            written = {"name": r["name"] or f"r{len(out)}", "action": action, key: r["peers"]}
            if r["ports"]:
                written["ports" if api == V1 else "protocols"] = [_port(p, api) for p in r["ports"]]
            out.append(written)
        spec[direction] = out
    return yaml.safe_dump({**header, "metadata": {"name": name}, "spec": spec}, sort_keys=False)


def ns_sel(**labels: str) -> dict:
    return {"namespaces": {"matchLabels": labels}}


def pods_sel(namespace: dict | None = None, **labels: str) -> dict:
    return {"pods": {"namespaceSelector": namespace or {}, "podSelector": {"matchLabels": labels}}}


ALL_NS: dict = {"namespaces": {}}


def cluster(*extra: str) -> list[str]:
    """Namespaces x (a) and y (b, c); pods expose named ports."""
    return [
        ns("x", team="front"),
        ns("y", team="back"),
        pod("a", ns="x", ports="http:80/TCP"),
        pod("b", ns="y", ports="http:8080/TCP,dns:53/UDP"),
        pod("c", ns="y", ports="http:80/TCP"),
        *extra,
    ]


def agreed(*docs: str) -> dict[tuple[str, str], str]:
    """{(src, dst): ports} of every flow, after checking explain on every pair and range."""
    snapshot = snap(*docs)
    conn = evaluate(snapshot)
    got = {(f.src.id, f.dst.id): f.ports for f in conn.flows()}
    for s in snapshot.workloads:
        for d in snapshot.workloads:
            if s is not d:
                assert got.get((s.id, d.id), PortSet.none()) == explain(snapshot, s, d).allowed
        for ep in conn.external_endpoints:
            out = explain(snapshot, s, ep.addresses).allowed
            into = explain(snapshot, ep.addresses, s).allowed
            assert got.get((s.id, ep.id), PortSet.none()) == out, (s.id, ep.id)
            assert got.get((ep.id, s.id), PortSet.none()) == into, (ep.id, s.id)
    return {k: str(v) for k, v in got.items()}


ALLOW_B_FROM_A = policy(
    "b-in",
    "podSelector: {matchLabels: {app: b}}\ningress:\n- from: [{namespaceSelector: {}}]",
    ns="y",
)


# ---- the pipeline ----------------------------------------------------------------------------


@BOTH
def test_an_admin_deny_wins_over_a_network_policy_that_allows(api) -> None:
    deny = tier_policy(
        api, "Admin", "deny", ns_sel(team="back"), ingress=[rule("Deny", ns_sel(team="front"))]
    )
    got = agreed(*cluster(ALLOW_B_FROM_A, deny))
    assert (A, B) not in got
    assert (A, C) not in got  # c is a subject too
    assert got[(C, B)] == ALL  # y -> y is not named by the rule: NetworkPolicy allows


@BOTH
def test_an_admin_accept_wins_over_network_policy_isolation(api) -> None:
    isolate = policy("deny-all", "podSelector: {}\npolicyTypes: [Ingress]", ns="y")
    accept = tier_policy(
        api, "Admin", "accept", ns_sel(team="back"),
        ingress=[rule("Accept", ns_sel(team="front"), ports=[("TCP", 80)])],
    )  # fmt: skip
    got = agreed(*cluster(isolate, accept))
    assert got[(A, B)] == "TCP 80"
    assert (INTERNET, B) not in got  # not named: NetworkPolicy isolation denies


@BOTH
def test_admin_pass_hands_the_ports_to_the_network_policy_that_isolates(api) -> None:
    only_udp = policy(
        "b-in", "podSelector: {matchLabels: {app: b}}\ningress:\n- ports: [{port: 53, protocol: UDP}]", ns="y"
    )  # fmt: skip
    admin = tier_policy(
        api, "Admin", "pass-then-deny", ns_sel(team="back"),
        ingress=[rule("Pass", ns_sel(team="front"), ports=[("UDP", 53)]), rule("Deny", ns_sel(team="front"))],
    )  # fmt: skip
    got = agreed(*cluster(only_udp, admin))
    assert got[(A, B)] == "UDP 53"  # passed, then allowed by the NetworkPolicy
    assert got[(A, C)] == "UDP 53"  # passed; nothing isolates c: default allow


@BOTH
def test_admin_pass_with_no_network_policy_isolating_goes_on_to_baseline(api) -> None:
    admin = tier_policy(
        api, "Admin", "pass", ns_sel(team="back"), ingress=[rule("Pass", ns_sel(team="front"))]
    )
    baseline = tier_policy(
        api, "Baseline", "base", ns_sel(team="back"),
        ingress=[rule("Deny", ns_sel(team="front"), ports=[("TCP", 80)])],
    )  # fmt: skip
    got = agreed(*cluster(admin, baseline))
    assert (A, C) not in got or "TCP 80" not in got[(A, C)]
    assert got[(A, C)] == "TCP 1-79,81-65535,UDP 1-65535,SCTP 1-65535"


@BOTH
def test_a_network_policy_that_isolates_overrides_the_baseline(api) -> None:
    baseline = tier_policy(api, "Baseline", "base", ALL_NS, ingress=[rule("Deny", ALL_NS)])
    got = agreed(*cluster(ALLOW_B_FROM_A, baseline))
    assert got[(A, B)] == ALL  # b is isolated by b-in, which allows every namespace
    assert (A, C) not in got  # c is not isolated: the baseline denies


@BOTH
def test_no_tier_deciding_means_default_allow(api) -> None:
    admin = tier_policy(
        api, "Admin", "unrelated", ns_sel(team="none"), ingress=[rule("Deny", ALL_NS)]
    )
    got = agreed(*cluster(admin))
    assert got[(A, B)] == ALL
    assert got[(INTERNET, A)] == ALL


@BOTH
def test_a_connection_needs_both_sides_egress_deny_at_the_source(api) -> None:
    admin = tier_policy(
        api, "Admin", "no-out", ns_sel(team="front"),
        egress=[rule("Deny", pods_sel(app="b"), ports=[("TCP", 8080)])],
    )  # fmt: skip
    got = agreed(*cluster(admin))
    assert got[(A, B)] == "TCP 1-8079,8081-65535,UDP 1-65535,SCTP 1-65535"
    assert got[(C, B)] == ALL  # c is not a subject


@BOTH
def test_subject_pods_selects_by_namespace_and_pod_labels(api) -> None:
    admin = tier_policy(
        api, "Admin", "only-c", pods_sel({"matchLabels": {"team": "back"}}, app="c"),
        ingress=[rule("Deny", ALL_NS)],
    )  # fmt: skip
    got = agreed(*cluster(admin))
    assert (A, C) not in got
    assert (B, C) not in got
    assert got[(A, B)] == ALL


# ---- order within a tier ---------------------------------------------------------------------


@BOTH
def test_lower_priority_value_runs_first(api) -> None:
    deny = tier_policy(api, "Admin", "deny", ALL_NS, priority=20, ingress=[rule("Deny", ALL_NS)])
    accept = tier_policy(
        api, "Admin", "accept", ALL_NS, priority=10, ingress=[rule("Accept", ns_sel(team="front"))]
    )
    got = agreed(*cluster(deny, accept))
    assert got[(A, B)] == ALL
    assert (B, C) not in got


@BOTH
def test_rules_run_in_written_order_the_first_match_decides(api) -> None:
    first_deny = tier_policy(
        api, "Admin", "p", ALL_NS,
        ingress=[rule("Deny", ns_sel(team="front"), ports=[("TCP", 80)]), rule("Accept", ns_sel(team="front"))],
    )  # fmt: skip
    got = agreed(*cluster(first_deny))
    assert got[(A, C)] == "TCP 1-79,81-65535,UDP 1-65535,SCTP 1-65535"
    swapped = tier_policy(
        api, "Admin", "p", ALL_NS,
        ingress=[rule("Accept", ns_sel(team="front")), rule("Deny", ns_sel(team="front"), ports=[("TCP", 80)])],
    )  # fmt: skip
    assert agreed(*cluster(swapped))[(A, C)] == ALL


def test_equal_priorities_are_ordered_by_name_and_a_disagreement_is_warned() -> None:
    # The API leaves the order open; kube-network-policies and Calico take the name.
    a_deny = tier_policy(
        V2, "Admin", "a-deny", ALL_NS, priority=5, ingress=[rule("Deny", ns_sel(team="front"))]
    )
    b_accept = tier_policy(
        V2, "Admin", "b-accept", ALL_NS, priority=5, ingress=[rule("Accept", ns_sel(team="front"))]
    )
    docs = cluster(b_accept, a_deny)
    assert (A, B) not in agreed(*docs)
    warnings = [str(w) for w in snap(*docs).warnings]
    assert any("equal priority 5" in w and "a-deny" in w and "b-accept" in w for w in warnings)


def test_equal_priorities_that_agree_or_do_not_overlap_are_not_warned() -> None:
    one = tier_policy(
        V2, "Admin", "one", ALL_NS, priority=5, ingress=[rule("Deny", ns_sel(team="front"))]
    )
    two = tier_policy(
        V2, "Admin", "two", ALL_NS, priority=5, ingress=[rule("Deny", ns_sel(team="front"))]
    )
    three = tier_policy(
        V2, "Admin", "three", ns_sel(team="none"), priority=5, ingress=[rule("Accept", ALL_NS)]
    )
    warnings = [str(w) for w in snap(*cluster(one, two, three)).warnings]
    assert not any("equal priority" in w for w in warnings)


def test_pass_in_the_baseline_tier_leaves_it_for_default_allow() -> None:
    baseline = tier_policy(
        V2, "Baseline", "base", ALL_NS,
        ingress=[rule("Pass", ns_sel(team="front")), rule("Deny", ALL_NS)],
    )  # fmt: skip
    got = agreed(*cluster(baseline))
    assert got[(A, B)] == ALL  # passed: nothing after the Baseline tier denies
    assert (B, C) not in got


def test_two_baseline_policies_run_by_priority() -> None:
    deny = tier_policy(V2, "Baseline", "deny", ALL_NS, priority=2, ingress=[rule("Deny", ALL_NS)])
    accept = tier_policy(
        V2, "Baseline", "accept", ALL_NS, priority=1, ingress=[rule("Accept", ns_sel(team="front"))]
    )
    got = agreed(*cluster(deny, accept))
    assert got[(A, B)] == ALL
    assert (B, C) not in got


# ---- per-direction isolation, selectors, peers -----------------------------------------------


@BOTH
def test_an_egress_only_network_policy_does_not_isolate_ingress(api) -> None:
    egress_only = policy("out", "podSelector: {}\npolicyTypes: [Egress]\negress:\n- {}", ns="y")
    admin = tier_policy(api, "Admin", "pass", ALL_NS, ingress=[rule("Pass", ns_sel(team="front"))])
    baseline = tier_policy(
        api, "Baseline", "base", ALL_NS, ingress=[rule("Deny", ns_sel(team="front"))]
    )
    got = agreed(*cluster(egress_only, admin, baseline))
    # ingress of b: passed by Admin, not isolated by the egress-only policy: Baseline denies
    assert (A, B) not in got
    assert got[(B, A)] == ALL


@BOTH
def test_match_labels_null_selects_everything(api) -> None:
    admin = tier_policy(
        api, "Admin", "deny", {"namespaces": {"matchLabels": None}},
        ingress=[rule("Deny", {"namespaces": {"matchLabels": None}})],
    )  # fmt: skip
    got = agreed(*cluster(admin))
    assert not any(dst in (A, B, C) and src in (A, B, C) for src, dst in got)


@BOTH
def test_a_peer_with_no_field_is_warned_and_an_accept_rule_matches_nothing_there(api) -> None:
    isolate = policy("deny-all", "podSelector: {}\npolicyTypes: [Ingress]", ns="y")
    admin = tier_policy(api, "Admin", "bad", ALL_NS, ingress=[rule("Accept", {"unknownPeer": {}})])
    docs = cluster(isolate, admin)
    assert (A, B) not in agreed(*docs)
    assert any("sets none of namespaces, pods" in str(w) for w in snap(*docs).warnings)


@BOTH
def test_a_deny_or_pass_rule_with_an_invalid_peer_fails_closed_and_denies_everything(api) -> None:
    # The API: "For Deny and Pass rules, fail closed means: treat the rule as a Deny all rule".
    accept_later = tier_policy(
        api, "Admin", "z", ALL_NS, priority=50, ingress=[rule("Accept", ALL_NS)]
    )
    bad = tier_policy(api, "Admin", "bad", ns_sel(team="back"), ingress=[rule("Pass", {})])
    got = agreed(*cluster(bad, accept_later))
    assert (A, B) not in got
    assert (INTERNET, B) not in got
    assert got[(B, A)] == ALL


@BOTH
def test_named_ports_resolve_on_the_destination_pod_with_its_own_protocol(api) -> None:
    admin = tier_policy(
        api, "Admin", "dns-only", ns_sel(team="back"),
        ingress=[rule("Accept", ns_sel(team="front"), ports=[("named", "dns")]), rule("Deny", ns_sel(team="front"))],
    )  # fmt: skip
    got = agreed(*cluster(admin))
    assert got[(A, B)] == "UDP 53"  # b declares dns as 53/UDP
    assert (A, C) not in got  # c declares no port named dns


@BOTH
def test_port_ranges_are_inclusive(api) -> None:
    admin = tier_policy(
        api, "Admin", "range", ns_sel(team="back"),
        ingress=[rule("Accept", ns_sel(team="front"), ports=[("TCP", (8000, 8080))]), rule("Deny", ALL_NS)],
    )  # fmt: skip
    assert agreed(*cluster(admin))[(A, B)] == "TCP 8000-8080"


@BOTH
def test_networks_speak_of_external_addresses(api) -> None:
    admin = tier_policy(
        api, "Admin", "no-metadata", ALL_NS,
        egress=[rule("Deny", {"networks": ["169.254.169.254/32"]}), rule("Accept", {"networks": ["0.0.0.0/0"]})],
    )  # fmt: skip
    got = agreed(*cluster(admin))
    assert (A, "169.254.169.254-169.254.169.254") not in got
    assert got[(A, "0.0.0.0-169.254.169.253,169.254.169.255-255.255.255.255")] == ALL
    assert got[(A, B)] == ALL  # 0.0.0.0/0 names no pod: pod IPs are unknown, as with ipBlocks


def test_a_named_port_beside_networks_is_warned_and_matches_no_external_address() -> None:
    admin = tier_policy(
        V2, "Admin", "named-out", ALL_NS,
        egress=[rule("Accept", {"networks": ["10.0.0.0/8"]}, pods_sel(app="b"), ports=[("named", "dns")]), rule("Deny", ALL_NS)],
    )  # fmt: skip
    docs = cluster(admin)
    got = agreed(*docs)
    assert got[(A, B)] == "UDP 53"
    assert not any(dst.startswith("10.") for src, dst in got if src == A)
    assert any("named port 'dns' beside a networks peer" in str(w) for w in snap(*docs).warnings)


@BOTH
def test_nodes_and_domain_names_are_loaded_warned_and_shown_as_undecidable(api) -> None:
    admin = tier_policy(
        api, "Admin", "exp", ALL_NS,
        egress=[rule("Accept", {"domainNames": ["*.example.com"]}), rule("Deny", {"nodes": {}}), rule("Deny", {"networks": ["0.0.0.0/0"]})],
    )  # fmt: skip
    docs = cluster(admin)
    got = agreed(*docs)
    assert (A, INTERNET) not in got  # counted as no match: the networks Deny decides
    warnings = [str(w) for w in snap(*docs).warnings]
    assert sum("experimental and not evaluated" in w for w in warnings) == 2
    e = explain(snap(*docs), "x/a", "8.8.8.8")
    assert [d.rule_index for d in e.undecidable] == [0, 1]
    assert "undecidable" in e.text()
    assert explain(snap(*docs), "x/a", "y/b").undecidable == ()  # neither names a pod


# ---- loading -----------------------------------------------------------------------------------


def test_cluster_policies_are_cluster_scoped_and_no_namespace_is_invented() -> None:
    admin = tier_policy(V2, "Admin", "p", ALL_NS, ingress=[rule("Deny", ALL_NS)])
    with_ns = admin.replace(
        "metadata:\n  name: p", "metadata:\n  name: p\n  namespace: kube-system"
    )
    s = snap(pod("a", ns="x"), with_ns)
    assert [n.name for n in s.namespaces] == ["x"]
    assert [p.id for p in s.cluster_policies] == ["ClusterNetworkPolicy/p"]
    assert any("cluster-scoped: metadata.namespace is ignored" in str(w) for w in s.warnings)


def test_eks_cluster_network_policy_loads_with_v1alpha1_style_ports() -> None:
    eks = """
    apiVersion: networking.k8s.aws/v1alpha1
    kind: ClusterNetworkPolicy
    metadata: {name: dns}
    spec:
      tier: Admin
      priority: 1
      subject: {namespaces: {}}
      egress:
      - {name: dns, action: Accept, to: [{namespaces: {}}], ports: [{portNumber: {protocol: UDP, port: 53}}]}
      - {name: rest, action: Deny, to: [{namespaces: {}}]}
    """
    got = agreed(*cluster(eks))
    assert got[(A, B)] == got[(A, C)] == "UDP 53"
    assert got[(A, INTERNET)] == ALL  # the Deny names namespaces only


def test_other_cluster_network_policy_apis_stay_unknown_kinds() -> None:
    antrea = "apiVersion: crd.antrea.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: x}\nspec: {}\n"
    s = snap(pod("a"), antrea)
    assert s.cluster_policies == ()
    assert any("not used by the analysis" in d.message for d in s.notes)


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        # priority outside 0-1000
        ("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: p}\nspec:\n  priority: 1001\n  subject: {namespaces: {}}\n", "test.yaml:5 spec.priority: must be a whole number 0-1000"),
        # an action v1alpha1 does not know
        ("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: p}\nspec:\n  priority: 1\n  subject: {namespaces: {}}\n  ingress:\n  - action: Accept\n    from: [{namespaces: {}}]\n", "spec.ingress[0].action: 'Accept' is not Allow or Deny or Pass"),
        # BANP is a singleton named default, and has no Pass
        ("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: mine}\nspec:\n  subject: {namespaces: {}}\n", "metadata.name: must be 'default'"),
        ("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n  subject: {namespaces: {}}\n  egress:\n  - action: Pass\n    to: [{namespaces: {}}]\n", "spec.egress[0].action: 'Pass' is not Allow or Deny"),
        # a subject sets exactly one field
        ("apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: p}\nspec:\n  tier: Admin\n  priority: 1\n  subject: {namespaces: {}, pods: {podSelector: {}}}\n", "spec.subject: must set exactly one of namespaces or pods, got namespaces and pods"),
        # tier is Admin or Baseline
        ("apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: p}\nspec:\n  tier: Emergency\n  priority: 1\n  subject: {namespaces: {}}\n", "spec.tier: 'Emergency' is not Admin or Baseline"),
        # from must list a peer
        ("apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: p}\nspec:\n  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  ingress:\n  - action: Deny\n    from: []\n", "spec.ingress[0].from: must list at least one peer"),
        # a CIDR that is none
        ("apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: p}\nspec:\n  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  egress:\n  - action: Deny\n    to: [{networks: [300.0.0.0/8]}]\n", "spec.egress[0].to[0].networks[0]: '300.0.0.0/8' is not a valid CIDR"),
        # a protocol entry needs its destinationPort
        ("apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: p}\nspec:\n  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n    protocols: [{tcp: {}}]\n", "spec.egress[0].protocols[0].tcp.destinationPort: is required"),
        # a range runs upwards
        ("apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: p}\nspec:\n  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n    protocols: [{udp: {destinationPort: {range: {start: 90, end: 80}}}}]\n", "range.end: 80 must not be below start 90"),
        # two fields in one peer
        ("apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: p}\nspec:\n  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  egress:\n  - action: Deny\n    to: [{namespaces: {}, networks: [10.0.0.0/8]}]\n", "spec.egress[0].to[0]: must set exactly one peer field, got namespaces, networks"),
    ],
)  # fmt: skip
def test_invalid_cluster_policies_are_located_errors(doc: str, where: str) -> None:
    with pytest.raises(ManifestErrors) as info:
        snap(doc)
    assert where in str(info.value)


# ---- explain's chain -----------------------------------------------------------------------------


def test_explain_shows_the_tier_chain_of_each_side() -> None:
    admin = tier_policy(
        V2, "Admin", "pass-web", ns_sel(team="back"),
        ingress=[rule("Accept", ns_sel(team="front"), ports=[("TCP", 8080)], name="web"), rule("Pass", ns_sel(team="front"), name="rest")],
    )  # fmt: skip
    baseline = tier_policy(
        V2,
        "Baseline",
        "base",
        ALL_NS,
        priority=1,
        ingress=[rule("Deny", ns_sel(team="front"), name="deny")],
    )
    s = snap(*cluster(admin, baseline))
    e = explain(s, "x/a", "y/b")
    assert e.egress.chain == ()  # no cluster policy selects a's egress: plain text as before
    tiers = [step.tier for step in e.ingress.chain]
    assert tiers == ["Admin", "NetworkPolicy", "Baseline"]
    admin_step, np_step, base_step = e.ingress.chain
    assert [(d.label, d.action, str(d.ports)) for d in admin_step.decisions] == [
        ("ClusterNetworkPolicy/pass-web ingress[0] 'web'", "Accept", "TCP 8080"),
        (
            "ClusterNetworkPolicy/pass-web ingress[1] 'rest'",
            "Pass",
            "TCP 1-8079,8081-65535,UDP 1-65535,SCTP 1-65535",
        ),
    ]
    assert str(admin_step.accepted) == "TCP 8080"
    assert not np_step.isolated
    assert np_step.passed == admin_step.passed
    assert str(base_step.denied) == str(admin_step.passed)
    assert str(e.allowed) == "TCP 8080"
    text = e.text()
    assert "Admin tier: ClusterNetworkPolicy/pass-web" in text
    assert "NetworkPolicy: no policy isolates it -> goes on" in text
    assert "Baseline tier: ClusterNetworkPolicy/base" in text


# ---- re-evaluation ---------------------------------------------------------------------------------


def _flows(conn) -> list:
    return [(f.src.id, f.dst.id, str(f.ports)) for f in conn.flows()]


def test_reevaluate_with_cluster_policies_equals_a_full_evaluation() -> None:
    admin = tier_policy(
        V2, "Admin", "p", ns_sel(team="back"),
        ingress=[rule("Deny", ns_sel(team="front"), ports=[("TCP", 80)])],
        egress=[rule("Deny", {"networks": ["10.0.0.0/8"]})],
    )  # fmt: skip
    baseline = tier_policy(V2, "Baseline", "b", ALL_NS, priority=1, ingress=[rule("Deny", ALL_NS)])
    before = snap(*cluster(ALLOW_B_FROM_A, admin, baseline))
    conn = evaluate(before)
    conn.class_pairs()
    p = before.cluster_policies[0]
    edited_admin = dataclasses.replace(
        p, ingress=(dataclasses.replace(p.ingress[0], action="Accept"),), priority=0
    )
    np = before.policies[0]
    edited_np = dataclasses.replace(np, ingress=())
    cases = [
        # an admin policy edited
        (before.policies, (edited_admin, before.cluster_policies[1])),
        # an admin policy removed
        (before.policies, (before.cluster_policies[1],)),
        # a NetworkPolicy edited beside unchanged cluster policies
        ((edited_np,), before.cluster_policies),
    ]
    for policies, cluster_policies in cases:
        after = Snapshot(before.namespaces, before.workloads, policies, (), cluster_policies)
        fast = reevaluate(conn, after)
        assert _flows(fast) == _flows(evaluate(after))
    # adding the first cluster policy to a cluster that had none
    plain = Snapshot(before.namespaces, before.workloads, before.policies)
    plain_conn = evaluate(plain)
    plain_conn.class_pairs()
    after = Snapshot(
        before.namespaces, before.workloads, before.policies, (), before.cluster_policies
    )
    assert _flows(reevaluate(plain_conn, after)) == _flows(evaluate(after))


# ---- lint ------------------------------------------------------------------------------------------


def _warnings(*docs: str) -> list[str]:
    return [str(w) for w in snap(*docs).warnings]


@BOTH
def test_a_deny_shadowed_by_an_earlier_accept_is_warned(api) -> None:
    accept = tier_policy(
        api, "Admin", "open", ALL_NS, priority=1, ingress=[rule("Accept", ns_sel(team="front"))]
    )
    deny = tier_policy(
        api, "Admin", "close", ns_sel(team="back"), priority=2,
        ingress=[rule("Deny", ns_sel(team="front"), ports=[("TCP", 80)])],
    )  # fmt: skip
    warnings = _warnings(*cluster(accept, deny))
    assert any(
        "this Deny rule denies nothing" in w and "open spec.ingress[0]" in w for w in warnings
    )
    # the other way round, the Deny comes first and is not shadowed
    swapped = deny.replace("priority: 2", "priority: 0")
    assert not any("denies nothing" in w for w in _warnings(*cluster(accept, swapped)))


@BOTH
def test_a_rule_no_pod_can_match_and_an_empty_subject_are_warned(api) -> None:
    admin = tier_policy(
        api, "Admin", "p", ns_sel(team="none"), ingress=[rule("Deny", ns_sel(team="nobody"))]
    )
    warnings = _warnings(*cluster(admin))
    assert any("spec.subject selects no pod" in w for w in warnings)
    assert any("spec.ingress[0]: no pod matches any peer of this rule" in w for w in warnings)


@BOTH
def test_a_named_port_no_destination_declares_is_warned(api) -> None:
    admin = tier_policy(
        api, "Admin", "p", ns_sel(team="back"), ingress=[rule("Accept", ALL_NS, ports=[("named", "grpc")])]
    )  # fmt: skip
    assert any(
        "named port 'grpc' is declared by no selected pod" in w for w in _warnings(*cluster(admin))
    )


def test_explain_chain_ends_in_the_network_policy_tier_when_one_isolates() -> None:
    only_udp = policy(
        "b-in", "podSelector: {matchLabels: {app: b}}\ningress:\n- ports: [{port: 53, protocol: UDP}]", ns="y"
    )  # fmt: skip
    admin = tier_policy(V1, "Admin", "pass", ALL_NS, ingress=[rule("Pass", ALL_NS)])
    baseline = tier_policy(V1, "Baseline", "base", ALL_NS, ingress=[rule("Accept", ALL_NS)])
    s = snap(*cluster(only_udp, admin, baseline))
    e = explain(s, "x/a", "y/b")
    assert [step.tier for step in e.ingress.chain] == ["Admin", "NetworkPolicy"]
    np_step = e.ingress.chain[1]
    assert np_step.isolated
    assert str(np_step.accepted) == "UDP 53"
    assert str(e.allowed) == "UDP 53"
    assert "NetworkPolicy: isolated by y/b-in (decides everything left)" in e.text()
    assert "Allow" in explain(s, "x/a", "y/c").text()  # v1alpha1 spells Accept as Allow


def test_snapshots_built_the_old_way_have_no_cluster_policies() -> None:
    from policies.engine import assemble

    s = snap(*cluster())
    assert Snapshot(s.namespaces, s.workloads, s.policies).cluster_policies == ()
    assert assemble(s.namespaces, s.workloads, s.policies).cluster_policies == ()


def test_cluster_policies_for_names_the_policies_whose_subject_selects_a_workload() -> None:
    admin = tier_policy(V2, "Admin", "in-only", ns_sel(team="back"), ingress=[rule("Deny", ALL_NS)])
    base = tier_policy(V2, "Baseline", "out", ALL_NS, egress=[rule("Deny", ALL_NS)])
    s = snap(*cluster(admin, base))
    conn = evaluate(s)
    b = next(w for w in s.workloads if w.name == "b")
    ingress, egress = conn.cluster_policies_for(b)
    assert [p.name for p in ingress] == ["in-only"]
    assert [p.name for p in egress] == ["out"]


# ---- a generated cluster: the class evaluation against explain, and against itself ------------

GUARDRAILS = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: guardrails}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {}}
  ingress:
  - {name: monitoring, action: Accept, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}], protocols: [{tcp: {destinationPort: {range: {start: 9000, end: 9100}}}}]}
  - {name: pass-dns, action: Pass, from: [{namespaces: {}}], protocols: [{udp: {destinationPort: {number: 53}}}]}
  egress:
  - {name: no-metadata, action: Deny, to: [{networks: [169.254.169.254/32]}]}
  - {name: no-telnet, action: Deny, to: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {number: 23}}}]}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {matchLabels: {env: prod}}}
  ingress:
  - {name: same-env, action: Allow, from: [{namespaces: {matchLabels: {env: prod}}}]}
  - {name: others, action: Deny, from: [{namespaces: {}}]}
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        from generate import generate
    finally:
        sys.path.pop(0)
    out = tmp_path_factory.mktemp("s-cluster")
    generate("S", out)
    (out / "zz-guardrails.yaml").write_text(GUARDRAILS)
    return load_paths([out])


def test_generated_cluster_with_tiers_agrees_with_explain(generated) -> None:
    conn = evaluate(generated)
    got = {(f.src.id, f.dst.id): f.ports for f in conn.flows()}
    workloads = list(generated.workloads)
    rng = random.Random(14)
    pairs = [rng.sample(workloads, 2) for _ in range(400)]
    by_id = {w.id: w for w in workloads}
    pairs += [
        (by_id[s], by_id[d]) for s, d in rng.sample(sorted(got), 200) if s in by_id and d in by_id
    ]
    for s, d in pairs:
        assert got.get((s.id, d.id), PortSet.none()) == explain(generated, s, d).allowed, (
            s.id,
            d.id,
        )
    for w in rng.sample(workloads, 10):
        for ep in conn.external_endpoints:
            assert (
                got.get((w.id, ep.id), PortSet.none())
                == explain(generated, w, ep.addresses).allowed
            )
            assert (
                got.get((ep.id, w.id), PortSet.none())
                == explain(generated, ep.addresses, w).allowed
            )


def test_generated_cluster_reevaluated_after_edits_equals_a_full_evaluation(generated) -> None:
    conn = evaluate(generated)
    conn.class_pairs()
    admin = next(p for p in generated.cluster_policies if p.name == "guardrails")
    edited_admin = dataclasses.replace(admin, ingress=admin.ingress[1:])
    edited_np = dataclasses.replace(generated.policies[3], ingress=())
    for policies, cluster_policies in (
        (
            generated.policies,
            tuple(edited_admin if p is admin else p for p in generated.cluster_policies),
        ),
        (
            tuple(edited_np if p is generated.policies[3] else p for p in generated.policies),
            generated.cluster_policies,
        ),
    ):
        after = Snapshot(generated.namespaces, generated.workloads, policies, (), cluster_policies)
        fast = reevaluate(conn, after)
        assert fast.base is conn
        full = evaluate(after)
        assert _flows(fast) == _flows(full)
        assert diff(conn, fast).as_dict() == diff(conn, full).as_dict()


def test_networks_holding_a_known_pod_ip_are_warned() -> None:
    running = pod("a", ns="x") + "status:\n  podIP: 10.1.2.3\n"
    admin = tier_policy(
        V2, "Admin", "p", ALL_NS, egress=[rule("Deny", {"networks": ["10.0.0.0/8"]})]
    )
    warnings = _warnings(ns("x"), running, admin)
    assert any("networks contain the pod IPs of x/a[Pod]" in w for w in warnings)


def test_v1alpha1_backward_ranges_and_empty_ports_load_warned_and_match_nothing() -> None:
    # v1alpha1 validates neither; netpol-analyzer reads both as matching no port
    admin = """
    apiVersion: policy.networking.k8s.io/v1alpha1
    kind: AdminNetworkPolicy
    metadata: {name: odd}
    spec:
      priority: 1
      subject: {namespaces: {matchLabels: {team: back}}}
      ingress:
      - {name: backwards, action: Deny, from: [{namespaces: {}}], ports: [{portRange: {start: 10, end: 1}}, {portNumber: {port: 80}}]}
      - {name: none, action: Deny, from: [{namespaces: {}}], ports: []}
    """
    docs = cluster(admin)
    got = agreed(*docs)
    assert got[(A, C)] == "TCP 1-79,81-65535,UDP 1-65535,SCTP 1-65535"
    warnings = _warnings(*docs)
    assert any("spec.ingress[0].ports[0].portRange.end: 1 is below start 10" in w for w in warnings)
    assert any("spec.ingress[1].ports: lists no port" in w for w in warnings)
