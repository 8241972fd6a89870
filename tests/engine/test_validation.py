"""Names and values are checked as the API server checks them, each a located error."""

from __future__ import annotations

import sys

import pytest

from policies.engine import ManifestErrors, load_documents
from policies.engine import validation as v


@pytest.mark.parametrize(
    ("check", "value", "ok"),
    [
        (v.dns1123_subdomain, "web.shop-1", True),  # dots and dashes inside
        (v.dns1123_subdomain, "a" * 253, True),  # the longest name
        (v.dns1123_subdomain, "a" * 254, False),  # one too long
        (v.dns1123_subdomain, "a/b", False),  # '/' would split the URL of the policy
        (v.dns1123_subdomain, "Web", False),  # uppercase
        (v.dns1123_subdomain, "a_b", False),  # underscore
        (v.dns1123_subdomain, "-a", False),  # starts with a dash
        (v.dns1123_subdomain, "a\0b", False),  # NUL, which PostgreSQL cannot hold
        (v.dns1123_subdomain, "a\n", False),  # a trailing newline ($ would let it through)
        (v.dns1123_subdomain, "", False),  # empty
        (v.dns1123_label, "a" * 63, True),  # the longest namespace
        (v.dns1123_label, "a" * 64, False),  # one too long
        (v.dns1123_label, "a.b", False),  # namespaces have no dots
        (v.label_key, "app", True),  # a plain key
        (v.label_key, "app.kubernetes.io/name", True),  # a prefixed key
        (v.label_key, "A_b.c-D", True),  # keys may hold uppercase, '_' and '.'
        (v.label_key, "/name", False),  # an empty prefix
        (v.label_key, "x/", False),  # an empty name
        (v.label_key, "a" * 64, False),  # the name part is over 63
        (v.label_key, "UPPER.example/name", False),  # the prefix is a DNS subdomain
        (v.label_value, "", True),  # empty values are allowed
        (v.label_value, "v1.2_3-x", True),  # the value characters
        (v.label_value, "a" * 64, False),  # over 63
        (v.label_value, "a b", False),  # a space
        (v.label_value, "x\0", False),  # NUL
        (v.kind_name, "Deployment", True),  # a kind
        (v.kind_name, "K" * 64, False),  # over 63
        (v.kind_name, "Deploy-ment", False),  # a dash
        (v.port_name, "http", True),  # a port name
        (v.port_name, "a--b", False),  # two dashes in a row
        (v.port_name, "80", False),  # no letter
        (v.cidr, "10.0.0.0/8", True),  # IPv4
        (v.cidr, "10.1.2.3/8", True),  # host bits set: the API server accepts it
        (v.cidr, "fd00::/8", True),  # IPv6
        (v.cidr, "fe80::1%eth0/64", False),  # a zone: the API server refuses it
        (v.cidr, "10.0.0.0", False),  # no prefix length
        (v.cidr, "10.0.0.0/33", False),  # prefix too long
        (v.cidr, "10.0.0.0/+8", False),  # a sign in the prefix
        (v.ip_address, "10.0.0.1", True),  # an address
        (v.ip_address, "fe80::1%eth0", False),  # a zone
    ],
)
def test_values_are_checked_as_the_api_server_checks_them(check, value, ok):
    assert (check(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [(0, True), (2**31 - 1, True), (2**31, False), (-1, False), (99999999999, False)],
)
def test_replicas_must_fit_in_an_int32(value, ok):
    assert (v.int32(value, 0) is None) is ok


def test_a_long_bad_value_is_not_echoed_whole():
    message = v.dns1123_subdomain("x" * 100_000)
    assert message is not None
    assert len(message) < 200


POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: {namespace}
spec:
  podSelector:
    matchLabels:
      {key}: {value}
  ingress:
    - from:
        - ipBlock:
            cidr: {cidr}
"""

GOOD = {"name": "p", "namespace": "shop", "key": "app", "value": "web", "cidr": "10.0.0.0/8"}


def errors_of(text: str) -> list[str]:
    try:
        load_documents([("p.yaml", text)])
    except ManifestErrors as exc:
        return [str(e) for e in exc.errors]
    return []


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        # the name with '/', which saved but could never be opened again
        ("name", "a/b", "p.yaml:4 metadata.name: 'a/b' cannot name an object"),
        ("name", "n" * 254, "p.yaml:4 metadata.name: 'nnnn"),
        ("namespace", "x/y", "p.yaml:5 metadata.namespace: 'x/y' cannot name an object"),
        ("namespace", "n" * 64, "p.yaml:5 metadata.namespace: 'nnn"),
        # a "\0" escape in a label value
        ("value", '"a\\0b"', "p.yaml:9 spec.podSelector.matchLabels.app: 'a\\x00b' is not"),
        ("key", "bad key", "p.yaml:9 spec.podSelector.matchLabels.bad key: 'bad key' is not"),
        ("cidr", "fe80::1%eth0/64", "p.yaml:13 spec.ingress[0].from[0].ipBlock.cidr: 'fe80"),
    ],
)
def test_a_bad_name_or_value_is_a_located_error(field, value, expected):
    errors = errors_of(POLICY.format(**{**GOOD, field: value}))
    assert len(errors) == 1
    assert errors[0].startswith(expected)


def test_the_good_policy_loads():
    assert errors_of(POLICY.format(**GOOD)) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        # names the API server refuses but the reference analyzers read (the corpus has
        # policies named with '_'): analysed as written, with a warning naming the rule
        ("name", "allow_all"),
        ("namespace", "Prod"),
    ],
)
def test_a_name_kubectl_would_refuse_is_analysed_with_a_warning(field, value):
    snapshot = load_documents([("p.yaml", POLICY.format(**{**GOOD, field: value}))])
    [policy] = snapshot.policies
    assert getattr(policy, field) == value
    [warning] = [w for w in snapshot.warnings if w.location.path == f"metadata.{field}"]
    assert "kubectl apply would refuse it" in warning.message


def test_match_expression_keys_and_values_are_label_syntax():
    text = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p}
spec:
  podSelector:
    matchExpressions:
      - {key: "a b", operator: Exists}
      - {key: app, operator: In, values: [ok, "not ok"]}
"""
    errors = errors_of(text)
    assert [e.split(": ")[0] for e in errors] == [
        "p.yaml:7 spec.podSelector.matchExpressions[0].key",
        "p.yaml:8 spec.podSelector.matchExpressions[1].values[1]",
    ]


WORKLOADS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 99999999999
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: c
          ports: [{containerPort: 80, name: "a--b"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  ownerReferences:
    - {kind: "KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK", name: web, controller: true}
status: {podIP: "10.0.0.1%eth0"}
---
apiVersion: v1
kind: Namespace
metadata: {name: "kube/system"}
"""


def test_workload_fields_that_a_database_column_holds_are_checked():
    paths = [e.split(": ")[0] for e in errors_of(WORKLOADS)]
    assert paths == [
        "p.yaml:11 spec.template.spec.containers[0].ports[0].name",
        "p.yaml:5 spec.replicas",
        "p.yaml:18 metadata.ownerReferences[0].kind",
        "p.yaml:19 status.podIPs",
        "p.yaml:23 metadata.name",
    ]


def test_checks_remember_short_values_and_never_keep_long_ones():
    # The loader checks the same label keys and namespace names again and again, so the
    # checks remember them; a web process lives long, so a hostile megabyte value is checked
    # (the same answer) without being kept.
    long_value = "x" * 100_000 + "-"
    before = sys.getrefcount(long_value)
    for _ in range(2):
        assert v.label_value(long_value) == v.label_value.__wrapped__(long_value)
        assert v.label_key(long_value) == v.label_key.__wrapped__(long_value)
        assert v.storable_name(long_value, 253) == v.storable_name.__wrapped__(long_value, 253)
        assert v.dns1123_label(long_value) == v.dns1123_label.__wrapped__(long_value)
    assert sys.getrefcount(long_value) == before
    short = "".join(["team-", "short-value-", "for-the-memo"])  # a fresh object
    before = sys.getrefcount(short)
    assert v.label_value(short) is None
    remembered = sys.getrefcount(short)
    assert remembered > before  # the memo holds it
    assert v.label_value(short) is None
    assert sys.getrefcount(short) == remembered  # and found it there, not stored again
    assert v.storable_name("a b", 253) is not None  # a space: refused, memo or not
    assert v.storable_name("a b", 253) == v.storable_name.__wrapped__("a b", 253)
