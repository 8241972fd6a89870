"""Properties of the loader over generated input (hypothesis).

- Manifests generated from the schema (valid by construction) always load, and their
  policies survive export → load: the same policies, the same connectivity.
- Anything else, generated text, bytes or YAML of the wrong shapes, either loads or raises
  the loader's own located errors; never another exception.

The "ci" profile (the default) is derandomized, so `make test` runs the same examples every
time; HYPOTHESIS_PROFILE=dev explores new ones.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.engine import ManifestErrors, evaluate, load_documents
from policies.engine.diff import diff
from policies.engine.export import export_policies
from policies.engine.model import NetworkPolicy, Rule

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# --- valid manifests, from the schema -------------------------------------------------------------

dns_label = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?", fullmatch=True)
dns_subdomain = st.builds(
    lambda parts: ".".join(parts), st.lists(dns_label, min_size=1, max_size=3)
)
label_name = st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?", fullmatch=True)
label_key = st.one_of(label_name, st.builds(lambda p, n: f"{p}/{n}", dns_subdomain, label_name))
label_value = st.one_of(st.just(""), label_name)
labels = st.dictionaries(label_key, label_value, max_size=3)
port_name = st.from_regex(r"[a-z]([a-z0-9]{0,6}[a-z])?", fullmatch=True)
protocol = st.sampled_from(["TCP", "UDP", "SCTP"])


@st.composite
def match_expression(draw) -> dict:
    operator = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
    expression = {"key": draw(label_key), "operator": operator}
    if operator in ("In", "NotIn"):
        expression["values"] = draw(st.lists(label_value, min_size=1, max_size=3))
    return expression


@st.composite
def selector(draw) -> dict:
    out: dict = {}
    if draw(st.booleans()):
        out["matchLabels"] = draw(labels)
    if draw(st.booleans()):
        out["matchExpressions"] = draw(st.lists(match_expression(), max_size=2))
    return out


@st.composite
def cidr(draw) -> tuple[str, list[str]]:
    if draw(st.booleans()):
        prefix = draw(st.integers(8, 30))
        network = draw(st.ip_addresses(v=4).map(lambda a: f"{a}/{prefix}"))
        net = ipaddress.ip_network(network, strict=False)
        subnets = list(net.subnets(new_prefix=prefix + 2))[:2] if draw(st.booleans()) else []
        return str(net), [str(s) for s in subnets]
    prefix = draw(st.integers(16, 120))
    address = draw(st.ip_addresses(v=6))
    return f"{address}/{prefix}", []


@st.composite
def peer(draw) -> dict:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        block, excepts = draw(cidr())
        return {"ipBlock": {"cidr": block, **({"except": excepts} if excepts else {})}}
    out = {}
    if choice in (1, 3):
        out["podSelector"] = draw(selector())
    if choice in (2, 3):
        out["namespaceSelector"] = draw(selector())
    return out


@st.composite
def policy_port(draw) -> dict:
    out: dict = {}
    if draw(st.booleans()):
        out["protocol"] = draw(protocol)
    kind = draw(st.integers(0, 3))
    if kind == 1:
        out["port"] = draw(st.integers(1, 65535))
    elif kind == 2:
        start = draw(st.integers(1, 65000))
        out["port"], out["endPort"] = start, draw(st.integers(start, 65535))
    elif kind == 3:
        out["port"] = draw(port_name)
    return out


@st.composite
def rule(draw, peers_key: str) -> dict:
    out: dict = {}
    if draw(st.booleans()):
        out[peers_key] = draw(st.lists(peer(), max_size=3))
    if draw(st.booleans()):
        out["ports"] = draw(st.lists(policy_port(), max_size=3))
    return out


@st.composite
def network_policy(draw, namespaces: list[str]) -> dict:
    spec: dict = {"podSelector": draw(selector())}
    if draw(st.booleans()):
        spec["ingress"] = draw(st.lists(rule("from"), max_size=3))
    if draw(st.booleans()):
        spec["egress"] = draw(st.lists(rule("to"), max_size=3))
    if draw(st.booleans()):
        spec["policyTypes"] = draw(
            st.lists(st.sampled_from(["Ingress", "Egress"]), min_size=1, max_size=2, unique=True)
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": draw(dns_subdomain), "namespace": draw(st.sampled_from(namespaces))},
        "spec": spec,
    }


@st.composite
def workload(draw, namespaces: list[str]) -> dict:
    kind = draw(st.sampled_from(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"]))
    ports = draw(
        st.lists(
            st.builds(
                lambda n, p, name: {"containerPort": n, "protocol": p, "name": name},
                st.integers(1, 65535),
                protocol,
                port_name,
            ),
            max_size=3,
            unique_by=lambda p: p["name"],
        )
    )
    spec = {
        "template": {
            "metadata": {"labels": draw(labels)},
            "spec": {"containers": [{"name": "c", "image": "x", "ports": ports}]},
        }
    }
    if kind != "DaemonSet":
        spec["replicas"] = draw(st.integers(0, 2**31 - 1))
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": draw(dns_subdomain), "namespace": draw(st.sampled_from(namespaces))},
        "spec": spec,
    }


@st.composite
def manifests(draw) -> list[dict]:
    names = draw(st.lists(dns_label, min_size=1, max_size=3, unique=True))
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": draw(labels)}}
        for n in names
    ]
    workloads = draw(st.lists(workload(names), max_size=4))
    policies = draw(st.lists(network_policy(names), min_size=1, max_size=4))
    return namespaces + workloads + policies


def _write(objects: list[dict], as_json: bool) -> tuple[str, str]:
    if as_json:
        return "cluster.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    return "cluster.yaml", yaml.safe_dump_all(objects, sort_keys=False)


def _unlocated(policy: NetworkPolicy) -> NetworkPolicy:
    def rules(items: tuple[Rule, ...]) -> tuple[Rule, ...]:
        return tuple(
            dataclasses.replace(
                r,
                location=None,
                peers=tuple(dataclasses.replace(p, location=None) for p in r.peers),
            )
            for r in items
        )

    return dataclasses.replace(
        policy, location=None, source="", ingress=rules(policy.ingress), egress=rules(policy.egress)
    )


@given(manifests(), st.booleans())
def test_manifests_from_the_schema_always_load(objects, as_json):
    snapshot = load_documents([_write(objects, as_json)])
    assert snapshot.policies
    assert len(snapshot.namespaces) >= 1


@given(manifests())
def test_export_then_load_gives_the_same_policies_and_connectivity(objects):
    snapshot = load_documents([_write(objects, False)])
    exported = export_policies(snapshot.policies)
    again = load_documents([("exported.yaml", exported)])
    assert [_unlocated(p) for p in again.policies] == [_unlocated(p) for p in snapshot.policies]
    with_workloads = load_documents(
        [("workloads.yaml", yaml.safe_dump_all(
            [o for o in objects if o["kind"] != "NetworkPolicy"], sort_keys=False
        )), ("exported.yaml", exported)]
    )  # fmt: skip
    change = diff(evaluate(snapshot), evaluate(with_workloads))
    assert not change, change.summary()


# --- anything else: the loader's own errors, or a result ------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
shapes = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
KINDS = ["NetworkPolicy", "Namespace", "Pod", "Deployment", "CronJob", "List", "PodList", "Other"]
FIELDS = ["metadata", "spec", "items", "status", "name", "namespace", "labels", "podSelector",
          "ingress", "egress", "from", "to", "ports", "ipBlock", "cidr", "except", "template",
          "containers", "replicas", "ownerReferences", "matchLabels", "matchExpressions"]  # fmt: skip


@st.composite
def wrong_shapes(draw) -> dict:
    """A manifest skeleton whose fields hold whatever shapes, at the names the loader reads."""
    nested = st.recursive(
        shapes,
        lambda inner: st.dictionaries(st.sampled_from(FIELDS), inner, max_size=5),
        max_leaves=25,
    )
    obj = draw(st.dictionaries(st.sampled_from(FIELDS), nested, max_size=5))
    obj.update(apiVersion="v1", kind=draw(st.sampled_from(KINDS)))
    return obj


def _only_located_errors(files: list[tuple[str, str | bytes]]) -> None:
    try:
        load_documents(files)
    except ManifestErrors as exc:
        names = {name for name, _ in files}
        for error in exc.errors:
            assert error.location.file in names
            assert isinstance(error.message, str)
            assert error.message


@given(st.lists(wrong_shapes(), min_size=1, max_size=3))
def test_wrong_shapes_give_only_located_errors(objects):
    _only_located_errors([("shapes.yaml", yaml.safe_dump_all(objects, allow_unicode=True))])
    _only_located_errors(
        [("shapes.json", json.dumps({"kind": "List", "apiVersion": "v1", "items": objects}))]
    )


@given(st.text(max_size=300))
def test_any_text_gives_only_located_errors(text):
    _only_located_errors([("text.yaml", text)])


@given(st.binary(max_size=300))
def test_any_bytes_give_only_located_errors(data):
    _only_located_errors([("bytes.yaml", data)])
