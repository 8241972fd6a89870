"""Deterministic synthetic clusters for the benchmarks.

    python benchmarks/generate.py SIZE OUTDIR

writes a directory of multi-document YAML files: `namespaces.yaml`, `system-workloads.yaml`
(CoreDNS, Prometheus) and, per namespace, `<ns>-workloads.yaml` and `<ns>-policies.yaml`.
The same SIZE always yields byte-identical files (the random generator is seeded with the size
name), so timings from different machines and commits compare the same input.

Every namespace gets a default deny and a DNS egress policy; every app gets one policy whose
rules depend on its tier and use what real clusters use: named ports, `matchExpressions`,
`endPort` ranges, egress `ipBlock`s with `except`, and cross-namespace peers
(namespaceSelector + podSelector). All objects are valid Kubernetes (DNS-1123 names, valid
label keys and values, ports 1-65535, endPort >= port) and are accepted by
network-config-analyzer, which the benchmark runs on the same files.
"""

import argparse
import random
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["SIZES", "SizeSpec", "Summary", "edit_one_policy", "generate"]

# The C emitter is ~10x faster, which matters at XL (tens of thousands of objects).
_Dumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Manifest = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SizeSpec:
    """The shape of one benchmark cluster."""

    namespaces: int
    apps_per_namespace: int
    pods: int  # total pods including the system ones; app replicas are apportioned to hit it
    unique_pods: bool = False  # one Pod object per pod, each with its own label set
    open_every: int = 0  # every n-th namespace gets no policy at all (0: none)


SIZES: dict[str, SizeSpec] = {
    "S": SizeSpec(namespaces=6, apps_per_namespace=12, pods=180),
    "M": SizeSpec(namespaces=20, apps_per_namespace=18, pods=900),
    "L": SizeSpec(namespaces=60, apps_per_namespace=38, pods=10_000),
    # No two pods share a label set, so label-equivalence classes cannot shrink the problem.
    "L-unique": SizeSpec(namespaces=60, apps_per_namespace=38, pods=10_000, unique_pods=True),
    # A fifth of the namespaces are not isolated at all: many more allowed flows.
    "L-open": SizeSpec(namespaces=60, apps_per_namespace=38, pods=10_000, open_every=5),
    "XL": SizeSpec(namespaces=200, apps_per_namespace=58, pods=50_000),
    # The common first upload: standalone pods and no policy yet, so everything is open.
    "L-open-pods": SizeSpec(
        namespaces=60, apps_per_namespace=38, pods=10_000, unique_pods=True, open_every=1
    ),
}


@dataclass(frozen=True, slots=True)
class Summary:
    """What one generation produced."""

    size: str
    namespaces: int
    pods: int
    workloads: int
    policies: int
    files: int

    def line(self) -> str:
        """The one-line summary printed by the command."""
        return (
            f"{self.size}: {self.pods} pods, {self.workloads} workloads, "
            f"{self.policies} policies, {self.namespaces} namespaces, {self.files} files"
        )


TEAMS = (
    "payments",
    "catalog",
    "search",
    "identity",
    "shipping",
    "ledger",
    "media",
    "growth",
    "support",
    "risk",
    "pricing",
    "reviews",
)
ENVS = ("prod", "staging", "dev")
# Tier of the i-th app in a namespace; APIs dominate, as in most service meshes.
TIER_PATTERN = ("web", "api", "api", "worker", "db", "cache", "api", "worker", "queue", "api")
STATEFUL_TIERS = frozenset({"db", "cache", "queue"})

# Container ports per tier: (name, number, protocol). Port names are what policies refer to.
_METRICS = ("metrics", 9090, "TCP")
TIER_PORTS: dict[str, tuple[tuple[str, int, str], ...]] = {
    "web": (("http", 8080, "TCP"), _METRICS),
    "api": (("http", 8080, "TCP"), ("grpc", 9000, "TCP"), _METRICS),
    "worker": (("health", 8081, "TCP"), _METRICS),
    "db": (("sql", 5432, "TCP"), ("metrics", 9187, "TCP")),
    "cache": (("redis", 6379, "TCP"), ("metrics", 9121, "TCP")),
    "queue": (("amqps", 5671, "TCP"), ("amqp", 5672, "TCP"), ("metrics", 15692, "TCP")),
}
# Documentation ranges (RFC 5737) stand in for external providers.
PROVIDER_CIDRS = ("198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24")
# Addresses inside the cluster network are excluded from "the internet".
PRIVATE_CIDRS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]

SYSTEM_PODS = 5  # coredns x2, metrics-server, prometheus, grafana


@dataclass(frozen=True, slots=True)
class _App:
    namespace: str
    name: str
    tier: str
    team: str
    track: str  # stable or canary; canaries are kept away from the databases
    replicas: int


@dataclass(frozen=True, slots=True)
class _Namespace:
    name: str
    team: str
    env: str
    partners: tuple[str, ...]  # teams whose APIs this namespace's APIs talk to
    isolated: bool


def _meta(name: str, namespace: str | None = None, **labels: str) -> Manifest:
    meta: Manifest = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    return meta


def _namespace_manifest(name: str, **labels: str) -> Manifest:
    # kubernetes.io/metadata.name is set by the API server on every namespace; writing it out
    # makes the files look like `kubectl get -o yaml` output and helps older analyzers.
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _meta(name, **labels, **{"kubernetes.io/metadata.name": name}),
    }


def _container(name: str, ports: tuple[tuple[str, int, str], ...]) -> Manifest:
    return {
        "name": name,
        "image": f"registry.example.com/bench/{name}:1.0.0",
        "ports": [
            {"name": port_name, "containerPort": number, "protocol": protocol}
            for port_name, number, protocol in ports
        ],
    }


def _pod_labels(app: _App) -> dict[str, str]:
    return {"app": app.name, "tier": app.tier, "team": app.team, "track": app.track}


def _workload_manifests(app: _App, unique_pods: bool) -> Iterator[Manifest]:
    labels = _pod_labels(app)
    pod_spec = {"containers": [_container(app.tier, TIER_PORTS[app.tier])]}
    if unique_pods:
        # Bare Pods, each with a label no other pod has: every pod is its own class.
        for index in range(app.replicas):
            pod_name = f"{app.name}-{index}"
            yield {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": _meta(pod_name, app.namespace, **labels, **{"pod-id": pod_name}),
                "spec": pod_spec,
            }
        return
    kind = "StatefulSet" if app.tier in STATEFUL_TIERS else "Deployment"
    spec: Manifest = {
        "replicas": app.replicas,
        "selector": {"matchLabels": {"app": app.name}},
        "template": {"metadata": {"labels": labels}, "spec": pod_spec},
    }
    if kind == "StatefulSet":
        spec = {"serviceName": app.name, **spec}
    yield {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": _meta(app.name, app.namespace),
        "spec": spec,
    }


def _simple_deployment(name: str, namespace: str, labels: dict[str, str], port: int) -> Manifest:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, namespace),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, **labels}},
                "spec": {"containers": [_container(name, (("http", port, "TCP"),))]},
            },
        },
    }


def _system_workloads() -> list[Manifest]:
    # metrics-server and grafana are there so that the DNS and scrape peers' podSelectors
    # actually narrow their namespaces, as they do in real clusters.
    platform = {"tier": "platform", "team": "platform"}
    coredns_labels = {
        "k8s-app": "kube-dns",
        "app": "coredns",
        "tier": "platform",
        "team": "platform",
    }
    prometheus_labels = {"app": "prometheus", "tier": "platform", "team": "platform"}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta("coredns", "kube-system"),
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                "template": {
                    "metadata": {"labels": coredns_labels},
                    "spec": {
                        "containers": [
                            _container(
                                "coredns",
                                (
                                    ("dns", 53, "UDP"),
                                    ("dns-tcp", 53, "TCP"),
                                    ("metrics", 9153, "TCP"),
                                ),
                            )
                        ]
                    },
                },
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": _meta("prometheus", "monitoring"),
            "spec": {
                "serviceName": "prometheus",
                "replicas": 1,
                "selector": {"matchLabels": {"app": "prometheus"}},
                "template": {
                    "metadata": {"labels": prometheus_labels},
                    "spec": {"containers": [_container("prometheus", (("http", 9090, "TCP"),))]},
                },
            },
        },
        _simple_deployment("metrics-server", "kube-system", platform, 10250),
        _simple_deployment("grafana", "monitoring", platform, 3000),
    ]


def _policy(name: str, namespace: str, spec: Manifest) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, namespace),
        "spec": spec,
    }


def _in(key: str, *values: str) -> Manifest:
    return {"key": key, "operator": "In", "values": list(values)}


def _ports(*names: str) -> list[Manifest]:
    return [{"port": name} for name in names]


def _range(port: int, end_port: int) -> list[Manifest]:
    return [{"protocol": "TCP", "port": port, "endPort": end_port}]


_SCRAPE_PEER: Manifest = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app": "prometheus"}},
}
_SCRAPE_RULE: Manifest = {"from": [_SCRAPE_PEER], "ports": _ports("metrics")}


def _namespace_policies(ns: _Namespace) -> list[Manifest]:
    deny = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns_peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }
    dns = {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [dns_peer],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }
        ],
    }
    return [_policy("default-deny", ns.name, deny), _policy("allow-dns", ns.name, dns)]


def _partner_peer(ns: _Namespace, tier: str) -> Manifest:
    """Pods of `tier` in namespaces of the same env owned by this team or a partner team."""
    return {
        "namespaceSelector": {
            "matchLabels": {"env": ns.env},
            "matchExpressions": [_in("team", ns.team, *ns.partners)],
        },
        "podSelector": {"matchLabels": {"tier": tier}},
    }


def _app_policy(app: _App, ns: _Namespace, rng: random.Random) -> Manifest:
    """One policy per app: who may call it and what it may call, by tier."""
    ingress: list[Manifest] = []
    egress: list[Manifest] = []
    tier = app.tier
    if tier == "web":
        internet = {"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_CIDRS}}
        ingress.append({"from": [internet], "ports": _ports("http")})
        egress.append(
            {"to": [{"podSelector": {"matchLabels": {"tier": "api"}}}], "ports": _ports("http")}
        )
    elif tier == "api":
        local = {"podSelector": {"matchExpressions": [_in("tier", "web", "api", "worker")]}}
        ingress.append({"from": [local], "ports": _ports("http", "grpc")})
        ingress.append({"from": [_partner_peer(ns, "api")], "ports": _ports("grpc")})
        # One rule per store tier, so that each named port exists on every pod its rule
        # selects (a name missing on some destinations is legal, but a lint finding).
        for store, ports in (("db", _ports("sql")), ("cache", _ports("redis"))):
            egress.append(
                {"to": [{"podSelector": {"matchLabels": {"tier": store}}}], "ports": ports}
            )
        queues = {"podSelector": {"matchExpressions": [_in("tier", "queue")]}}
        egress.append({"to": [queues], "ports": _range(5671, 5672)})
        egress.append({"to": [_partner_peer(ns, "api")], "ports": _ports("grpc")})
    elif tier == "worker":
        egress.append(
            {
                "to": [{"podSelector": {"matchLabels": {"tier": "queue"}}}],
                "ports": _range(5671, 5672),
            }
        )
        egress.append({"to": [_partner_peer(ns, "queue")], "ports": _range(5671, 5672)})
        egress.append(
            {"to": [{"podSelector": {"matchLabels": {"tier": "db"}}}], "ports": _ports("sql")}
        )
    elif tier == "db":
        clients = {
            "podSelector": {
                "matchExpressions": [
                    _in("tier", "api", "worker"),
                    {"key": "track", "operator": "NotIn", "values": ["canary"]},
                ]
            }
        }
        replicas = {"podSelector": {"matchLabels": {"app": app.name}}}
        ingress.append({"from": [clients, replicas], "ports": _ports("sql")})
        egress.append({"to": [replicas], "ports": _ports("sql")})
    elif tier == "cache":
        clients = {
            "podSelector": {
                "matchExpressions": [
                    _in("tier", "web", "api"),
                    {"key": "team", "operator": "Exists"},
                ]
            }
        }
        ingress.append({"from": [clients], "ports": _ports("redis")})
    elif tier == "queue":
        local = {"podSelector": {"matchExpressions": [_in("tier", "api", "worker")]}}
        ingress.append({"from": [local, _partner_peer(ns, "worker")], "ports": _range(5671, 5672)})
    # Calls out of the cluster: a provider range minus a subnet that must not be reached.
    if tier in ("api", "worker") and rng.random() < 0.4:
        cidr = rng.choice(PROVIDER_CIDRS)
        base = cidr.rsplit(".", 1)[0]
        except_ = [f"{base}.{rng.choice((0, 64, 128, 192))}/{rng.choice((26, 27, 28))}"]
        if tier == "api":
            ports = [{"protocol": "TCP", "port": 443}]
        else:
            start = rng.choice((8000, 8443, 9000))
            ports = [{"protocol": "TCP", "port": start, "endPort": start + rng.randint(1, 99)}]
        egress.append({"to": [{"ipBlock": {"cidr": cidr, "except": except_}}], "ports": ports})
    ingress.append(_SCRAPE_RULE)
    spec: Manifest = {"podSelector": {"matchLabels": {"app": app.name}}}
    spec["policyTypes"] = ["Ingress", "Egress"] if egress else ["Ingress"]
    spec["ingress"] = ingress
    if egress:
        spec["egress"] = egress
    return _policy(app.name, app.namespace, spec)


def _apportion(total: int, weights: list[int]) -> list[int]:
    """Split `total` into parts proportional to `weights`, each at least 1, summing exactly."""
    spare = total - len(weights)
    if spare < 0:
        raise ValueError(f"{total} pods cannot cover {len(weights)} apps")
    weight_sum = sum(weights)
    parts, running = [], 0
    for weight in weights:
        start = spare * running // weight_sum
        running += weight
        parts.append(1 + spare * running // weight_sum - start)
    return parts


def _layout(spec: SizeSpec, rng: random.Random) -> tuple[list[_Namespace], list[_App]]:
    namespaces = []
    for index in range(spec.namespaces):
        team = TEAMS[index % len(TEAMS)]
        env = ENVS[(index // len(TEAMS)) % len(ENVS)]
        partners = tuple(sorted(rng.sample([t for t in TEAMS if t != team], 2)))
        isolated = not (spec.open_every and index % spec.open_every == spec.open_every - 1)
        namespaces.append(_Namespace(f"{team}-{env}-{index:03d}", team, env, partners, isolated))
    slots = [(ns, i) for ns in namespaces for i in range(spec.apps_per_namespace)]
    replicas = _apportion(spec.pods - SYSTEM_PODS, [rng.choice((1, 1, 2, 3, 5)) for _ in slots])
    apps = []
    for (ns, i), count in zip(slots, replicas, strict=True):
        tier = TIER_PATTERN[i % len(TIER_PATTERN)]
        track = "canary" if rng.random() < 0.1 else "stable"
        apps.append(_App(ns.name, f"{ns.team}-{tier}-{i}", tier, ns.team, track, count))
    return namespaces, apps


def _write(path: Path, docs: list[Manifest]) -> None:
    with path.open("w", encoding="utf-8") as stream:
        yaml.dump_all(docs, stream, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def generate(size: str, outdir: Path) -> Summary:
    """Write the cluster of `size` (a key of SIZES) into `outdir`, replacing its YAML files."""
    spec = SIZES[size]
    rng = random.Random(f"netviz-bench-{size}")  # str seeds are stable across runs/versions
    namespaces, apps = _layout(spec, rng)
    outdir.mkdir(parents=True, exist_ok=True)
    for stale in outdir.glob("*.yaml"):
        stale.unlink()

    ns_docs = [
        _namespace_manifest("kube-system", team="platform", env="prod"),
        _namespace_manifest("monitoring", team="platform", env="prod"),
    ]
    ns_docs += [_namespace_manifest(ns.name, team=ns.team, env=ns.env) for ns in namespaces]
    _write(outdir / "namespaces.yaml", ns_docs)
    _write(outdir / "system-workloads.yaml", _system_workloads())
    files, workloads, policies = 2, 4, 0

    by_namespace: dict[str, list[_App]] = {}
    for app in apps:
        by_namespace.setdefault(app.namespace, []).append(app)
    for ns in namespaces:
        ns_apps = by_namespace[ns.name]
        docs = [doc for app in ns_apps for doc in _workload_manifests(app, spec.unique_pods)]
        _write(outdir / f"{ns.name}-workloads.yaml", docs)
        files += 1
        workloads += len(docs)
        if not ns.isolated:
            continue
        docs = _namespace_policies(ns) + [_app_policy(app, ns, rng) for app in ns_apps]
        _write(outdir / f"{ns.name}-policies.yaml", docs)
        files += 1
        policies += len(docs)
    pods = SYSTEM_PODS + sum(app.replicas for app in apps)
    return Summary(size, len(ns_docs), pods, workloads, policies, files)


def edit_one_policy(src: Path, dst: Path) -> str:
    """Copy cluster `src` to `dst` with one policy changed; return which one.

    Files are hard-linked except the one rewritten, so the copy is cheap at any size. The edit
    opens one more port (TCP 8443) in the first ingress rule of the first app policy: a small,
    local change, which is what an incremental re-evaluation should be fast at.
    """
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    policy_files = sorted(src.glob("*-policies.yaml"))
    if not policy_files:
        raise ValueError(f"{src} holds no policy file to edit")
    target = policy_files[0]
    for path in src.glob("*.yaml"):
        if path != target:
            (dst / path.name).hardlink_to(path)
    docs = list(yaml.load_all(target.read_text(encoding="utf-8"), Loader=_Loader))
    # The first two documents are the namespace-wide default deny and DNS policies.
    policy = next(doc for doc in docs if doc["spec"].get("ingress"))
    policy["spec"]["ingress"][0].setdefault("ports", []).append({"protocol": "TCP", "port": 8443})
    _write(dst / target.name, docs)
    return f"{policy['metadata']['namespace']}/{policy['metadata']['name']}"


def main(argv: list[str] | None = None) -> int:
    """Command line: generate one size into a directory and print a summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", choices=list(SIZES), help="cluster size")
    parser.add_argument("outdir", type=Path, help="directory for the YAML files")
    args = parser.parse_args(argv)
    summary = generate(args.size, args.outdir)
    print(f"{summary.line()} -> {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
