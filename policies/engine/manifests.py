"""Manifests → Snapshot: parse, validate with located errors, and gather the model.

Validation follows what the API server accepts for networking.k8s.io/v1 NetworkPolicy
(pkg/apis/networking/validation): anything kubectl would refuse is an error here, located at
its file, line and field path; everything else loads.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from . import validation
from .errors import ManifestError, ManifestErrors
from .gcpause import gc_paused
from .lint import lint
from .model import (
    ACCEPT,
    ADMIN,
    BASELINE,
    DENY,
    EGRESS,
    INGRESS,
    PASS,
    PROTOCOLS,
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterRule,
    ClusterSubject,
    ContainerPort,
    Diagnostic,
    IPBlock,
    Labels,
    LabelSelector,
    Location,
    Namespace,
    NetworkPolicy,
    Peer,
    PolicyPort,
    Requirement,
    Rule,
    Snapshot,
    Workload,
)
from .yamlio import Document, LineDict, LineList, parse_documents

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["MANIFEST_SUFFIXES", "WORKLOAD_KINDS", "assemble", "load_documents", "load_paths"]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
WORKLOAD_KINDS = (
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
)
# The kinds whose controllers own pods; a Pod's controlling owner of another kind is ignored.
_POD_CONTROLLERS = frozenset(WORKLOAD_KINDS) - {"Pod"}
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
# (kind, API group) of the cluster-scoped policies of the Admin and Baseline tiers, and the
# dialect each is written in: "anp"/"banp" (v1alpha1: Allow, `ports`), "cnp" (v1alpha2:
# `spec.tier`, Accept, `protocols`), "eks" (`spec.tier`, Accept, v1alpha1-style `ports`).
CLUSTER_POLICY_KINDS = {
    ("AdminNetworkPolicy", "policy.networking.k8s.io"): "anp",
    ("BaselineAdminNetworkPolicy", "policy.networking.k8s.io"): "banp",
    ("ClusterNetworkPolicy", "policy.networking.k8s.io"): "cnp",
    ("ClusterNetworkPolicy", "networking.k8s.aws"): "eks",
}
_ACTIONS = {
    "anp": {"Allow": ACCEPT, "Deny": DENY, "Pass": PASS},
    "banp": {"Allow": ACCEPT, "Deny": DENY},
    "cnp": {"Accept": ACCEPT, "Deny": DENY, "Pass": PASS},
    "eks": {"Accept": ACCEPT, "Deny": DENY, "Pass": PASS},
}
_INGRESS_PEERS = ("namespaces", "pods")
_EGRESS_PEERS = ("namespaces", "pods", "networks", "nodes", "domainNames")


def load_paths(paths: Iterable[str | os.PathLike[str]]) -> Snapshot:
    """Every .yaml/.yml/.json file under the given paths (recursively) → Snapshot."""
    from pathlib import Path  # here: `netviz analyze` of a plain folder never loads pathlib

    files: list[tuple[str, bytes]] = []
    errors: list[ManifestError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MANIFEST_SUFFIXES
            )
            files.extend((str(p), p.read_bytes()) for p in found)
        elif path.is_file():
            files.append((str(path), path.read_bytes()))
        else:
            errors.append(ManifestError("no such file or directory", Location(str(path))))
    if errors:
        raise ManifestErrors(errors)
    return load_documents(files)


@gc_paused
def load_documents(files: Iterable[tuple[str, str | bytes]]) -> Snapshot:
    """(file name, content) pairs → Snapshot; raises ManifestErrors listing every error."""
    loader = _Loader()
    for name, content in files:
        loader.add_file(name, content)
    return loader.finish()


def assemble(
    namespaces: Iterable[Namespace],
    workloads: Iterable[Workload],
    policies: Iterable[NetworkPolicy],
    diagnostics: Iterable[Diagnostic] = (),
    cluster_policies: Iterable[ClusterNetworkPolicy] = (),
) -> Snapshot:
    """A snapshot from parts (for example stored rows): adds the namespaces that are used
    but not defined, and the linter's warnings. Cluster policies (Admin and Baseline tiers)
    belong to no namespace."""
    by_name = {ns.name: ns for ns in namespaces}
    workloads = tuple(workloads)
    policies = tuple(policies)
    for name in sorted({w.namespace for w in workloads} | {p.namespace for p in policies}):
        if name not in by_name:
            by_name[name] = Namespace(name, ((NAMESPACE_LABEL, name),), None, defined=False)
    snapshot = Snapshot(
        namespaces=tuple(sorted(by_name.values(), key=lambda n: n.name)),
        workloads=tuple(sorted(workloads, key=lambda w: w.id)),
        policies=tuple(sorted(policies, key=lambda p: p.id)),
        diagnostics=tuple(diagnostics),
        cluster_policies=tuple(sorted(cluster_policies, key=lambda p: p.id)),
    )
    return Snapshot(
        snapshot.namespaces,
        snapshot.workloads,
        snapshot.policies,
        snapshot.diagnostics + tuple(lint(snapshot)),
        snapshot.cluster_policies,
    )


def _fmt_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


class _Obj:
    """One manifest object being read: where it is, and how to locate its fields."""

    def __init__(self, loader: _Loader, file: str, root: LineDict, base: str, subject: str):
        self.loader = loader
        self.file = file
        self.root = root
        self.base = base  # path prefix for List items, e.g. "items[3]"
        self.subject = subject

    def loc(self, container: Any, key: str | int | None, path: str) -> Location:
        # Called for every rule, peer and port: the common case (a LineDict or LineList, no
        # List prefix) takes the fewest steps.
        lines = getattr(container, "lines", None)
        if lines is None:
            line = getattr(container, "line", 0)
        else:
            line = container.line
            if key is not None:
                if isinstance(lines, dict):
                    line = lines.get(key, line)
                elif isinstance(key, int) and key < len(lines):
                    line = lines[key]
        if self.base:
            path = _fmt_path(self.base, path) if path else self.base
        return Location(self.file, line, path)

    def item_loc(self, seq: list, i: int, path: str) -> Location:
        """loc() of a list's item: the item's own line, in fewer steps for the common case (a
        LineList from the reader, outside a `kind: List`)."""
        if not self.base and type(seq) is LineList and i < len(seq.lines):
            return Location(self.file, seq.lines[i], path)
        return self.loc(seq, i, path)

    def error(self, container: Any, key: str | int | None, path: str, message: str) -> None:
        self.loader.errors.append(
            ManifestError(message, self.loc(container, key, path), self.subject)
        )

    def warn(self, container: Any, key: str | int | None, path: str, message: str) -> None:
        self.loader.diagnostics.append(
            Diagnostic("warning", message, self.loc(container, key, path), self.subject)
        )

    # typed field access ---------------------------------------------------------------------
    def mapping(self, parent: Any, key: str, path: str, required: bool = False) -> dict | None:
        value = parent.get(key) if isinstance(parent, dict) else None
        if value is None:
            if required:
                self.error(parent, key, path, "is required")
            return None
        if not isinstance(value, dict):
            self.error(parent, key, path, f"must be a mapping, got {_kind_of(value)}")
            return None
        return value

    def sequence(self, parent: Any, key: str, path: str) -> list | None:
        value = parent.get(key) if isinstance(parent, dict) else None
        if value is None:
            return None
        if not isinstance(value, list):
            self.error(parent, key, path, f"must be a list, got {_kind_of(value)}")
            return None
        return value

    def string(self, parent: Any, key: str, path: str, required: bool = False) -> str | None:
        value = parent.get(key) if isinstance(parent, dict) else None
        if value is None:
            if required:
                self.error(parent, key, path, "is required")
            return None
        if not isinstance(value, str):
            self.error(parent, key, path, f"must be a string, got {_kind_of(value)}")
            return None
        return value

    def labels(self, parent: Any, key: str, path: str) -> Labels:
        value = self.mapping(parent, key, path)
        if not value:
            return ()
        out = []
        for k, v in value.items():
            if not isinstance(k, str) or not isinstance(v, str):
                self.error(value, k, f"{path}.{k}", "label keys and values must be strings")
                continue
            if problem := validation.label_key(k) or validation.label_value(v):
                self.error(value, k, f"{path}.{k}", problem)
                continue
            out.append((k, v))
        return tuple(sorted(out))


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null" if value is None else type(value).__name__


class _Loader:
    def __init__(self) -> None:
        self.errors: list[ManifestError] = []
        self.diagnostics: list[Diagnostic] = []
        self.namespaces: dict[str, Namespace] = {}
        self.workloads: dict[str, Workload] = {}
        self.owned_labels: dict[str, tuple[Labels, str]] = {}
        self.policies: dict[str, NetworkPolicy] = {}
        self.cluster_policies: dict[str, ClusterNetworkPolicy] = {}
        # Selectors read without a problem, by what they say (see _selector_key): a cluster
        # repeats the same few (`{}`, `app: web`, `kubernetes.io/metadata.name: x`) thousands
        # of times, and one shared object also makes the evaluation's selector lookups cheap.
        self.selectors: dict[tuple, LabelSelector] = {}
        self.ip_blocks: dict[tuple, IPBlock] = {}  # likewise, by cidr and except

    def note(self, severity: str, message: str, location: Location, subject: str = "") -> None:
        self.diagnostics.append(Diagnostic(severity, message, location, subject))

    def add_file(self, name: str, content: str | bytes) -> None:
        if isinstance(content, bytes):
            try:
                content = content.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = content[: exc.start].count(b"\n") + 1
                self.errors.append(ManifestError("is not UTF-8 text", Location(name, line)))
                return
        try:
            docs = parse_documents(content, name)
        except ManifestError as exc:
            self.errors.append(exc)
            return
        except ValueError:
            # Python refuses to read an integer of more than 4,300 digits (CVE-2020-10735).
            self.errors.append(_huge_number(name, content))
            return
        is_manifest = [
            isinstance(d.value, dict) and "kind" in d.value and "apiVersion" in d.value
            for d in docs
        ]
        if not any(is_manifest):
            self.note(
                "warning",
                "file skipped: not a Kubernetes manifest (no document has apiVersion and kind)",
                Location(name, docs[0].line if docs else 0),
            )
            return
        for doc, manifest in zip(docs, is_manifest, strict=True):
            if manifest:
                self.add_object(name, doc.value, doc, "")
            elif doc.value is not None:
                self.note(
                    "warning",
                    "document skipped: not a Kubernetes object (no apiVersion and kind)",
                    Location(name, doc.line),
                )

    def add_object(self, file: str, obj: LineDict, doc: Document | None, base: str) -> None:
        kind = obj.get("kind")
        if not isinstance(kind, str):
            self.errors.append(
                ManifestError(
                    "kind must be a string", Location(file, obj.line, _fmt_path(base, "kind"))
                )
            )
            return
        if kind == "List" or (kind.endswith("List") and isinstance(obj.get("items"), list)):
            items = obj.get("items")
            if items is None:
                return
            if not isinstance(items, list):
                self.errors.append(
                    ManifestError(
                        "items must be a list", Location(file, obj.line, _fmt_path(base, "items"))
                    )
                )
                return
            for i, item in enumerate(items):
                path = _fmt_path(_fmt_path(base, "items"), i)
                if not isinstance(item, dict):
                    self.errors.append(
                        ManifestError(
                            "must be a Kubernetes object", Location(file, items.lines[i], path)
                        )
                    )
                    continue
                if "kind" not in item and kind.endswith("List") and kind != "List":
                    item["kind"] = kind[: -len("List")]  # `kubectl get pods -o json` may omit it
                self.add_object(file, item, None, path)
            return
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        subject = f"{kind} {name}" if isinstance(name, str) else kind
        o = _Obj(self, file, obj, base, subject)
        api = obj.get("apiVersion")
        group = api.split("/", 1)[0] if isinstance(api, str) and "/" in api else ""
        dialect = CLUSTER_POLICY_KINDS.get((kind, group))
        if kind == "NetworkPolicy":
            policy = self.read_policy(o, obj, doc)
            if policy is not None:
                self.add_policy(policy)
        elif dialect is not None:
            cluster_policy = self.read_cluster_policy(o, obj, doc, kind, dialect)
            if cluster_policy is not None:
                self.add_cluster_policy(cluster_policy)
        elif kind == "Namespace":
            self.read_namespace(o, obj)
        elif kind in WORKLOAD_KINDS:
            self.read_workload(o, obj, kind)
        else:
            self.note(
                "info", f"kind {kind} is not used by the analysis", o.loc(obj, None, ""), subject
            )

    # metadata -------------------------------------------------------------------------------
    def read_meta(self, o: _Obj, obj: dict) -> tuple[str, str, dict] | None:
        meta = o.mapping(obj, "metadata", "metadata", required=True)
        if meta is None:
            return None
        name = o.string(meta, "name", "metadata.name", required=True)
        if name is None:
            return None
        namespace = o.string(meta, "namespace", "metadata.namespace") or "default"
        # Namespaces are RFC 1123 labels; object names subdomains (which rules out '/').
        rule = validation.dns1123_label if obj.get("kind") == "Namespace" else None
        problems = []
        for key, value, check, limit in (
            ("name", name, rule or validation.dns1123_subdomain, validation.DNS1123_SUBDOMAIN_MAX),
            ("namespace", namespace, validation.dns1123_label, validation.DNS1123_LABEL_MAX),
        ):
            if unusable := validation.storable_name(value, limit):
                problems.append((key, unusable))
            elif problem := check(value):
                # The API server would refuse it; the answer for it is still well defined.
                o.warn(meta, key, f"metadata.{key}", f"{problem}; kubectl apply would refuse it")
        for key, problem in problems:
            o.error(meta, key, f"metadata.{key}", problem)
        return None if problems else (name, namespace, meta)

    def read_namespace(self, o: _Obj, obj: dict) -> None:
        got = self.read_meta(o, obj)
        if got is None:
            return
        name, _, meta = got
        labels = dict(o.labels(meta, "labels", "metadata.labels"))
        labels[NAMESPACE_LABEL] = name  # set by the API server on every namespace
        self.namespaces[name] = Namespace(name, tuple(sorted(labels.items())), o.loc(obj, None, ""))

    # workloads ------------------------------------------------------------------------------
    def read_workload(self, o: _Obj, obj: dict, kind: str) -> None:
        got = self.read_meta(o, obj)
        if got is None:
            return
        name, namespace, meta = got
        spec = o.mapping(obj, "spec", "spec")
        location = o.loc(obj, None, "")
        if kind == "Pod":
            labels = o.labels(meta, "labels", "metadata.labels")
            ports = self.read_ports(o, spec, "spec")
            ips = _pod_ips(obj.get("status"))
            owner = _controller_owner(meta)
            if not self.valid_pod_refs(o, obj, meta, ips):
                return
            if owner is not None:
                owner_name, owner_kind = owner
                self.add_owned_pod(
                    Workload(
                        namespace, owner_name, owner_kind or kind, labels, ports, 1, location, ips
                    ),
                    name,
                )
            else:
                self.add_workload(Workload(namespace, name, kind, labels, ports, 1, location, ips))
            return
        template_path = "spec.template"
        holder = spec
        if kind == "CronJob":
            job = o.mapping(spec, "jobTemplate", "spec.jobTemplate") if spec else None
            holder = o.mapping(job, "spec", "spec.jobTemplate.spec") if job else None
            template_path = "spec.jobTemplate.spec.template"
        template = o.mapping(holder, "template", template_path) if holder else None
        tmeta = o.mapping(template, "metadata", f"{template_path}.metadata") if template else None
        labels = o.labels(tmeta, "labels", f"{template_path}.metadata.labels") if tmeta else ()
        ports = self.read_ports(
            o, template.get("spec") if template else None, f"{template_path}.spec"
        )
        replicas = 1
        if spec and kind in ("Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"):
            raw = spec.get("replicas", 1)
            if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
                if problem := validation.int32(raw, 0):
                    o.error(spec, "replicas", "spec.replicas", problem)
                replicas = raw
            elif raw is not None:
                # The replica count changes no policy's meaning: warn and count one.
                o.warn(
                    spec,
                    "replicas",
                    "spec.replicas",
                    f"must be a whole number, got {_kind_of(raw)}; counted as 1",
                )
        self.add_workload(Workload(namespace, name, kind, labels, ports, replicas, location))

    def valid_pod_refs(self, o: _Obj, obj: dict, meta: dict, ips: tuple[str, ...]) -> bool:
        """Whether a pod's controller reference (its name and kind become a workload's) and
        its IPs are what the API server would accept; errors for those that are not."""
        ok = True
        owners = meta.get("ownerReferences")
        for i, owner in enumerate(owners if isinstance(owners, list) else ()):
            if not (isinstance(owner, dict) and owner.get("controller") is True):
                continue
            path = f"metadata.ownerReferences[{i}]"
            for key, check in (
                ("name", validation.dns1123_subdomain),
                ("kind", validation.kind_name),
            ):
                value = owner.get(key)
                if isinstance(value, str) and value and (problem := check(value)):
                    o.error(owner, key, f"{path}.{key}", problem)
                    ok = False
        for ip in ips:
            if problem := validation.ip_address(ip):
                o.error(obj, "status", "status.podIPs", problem)
                ok = False
        return ok

    def read_ports(self, o: _Obj, pod_spec: Any, path: str) -> tuple[ContainerPort, ...]:
        if not isinstance(pod_spec, dict):
            return ()
        out: list[ContainerPort] = []
        containers = o.sequence(pod_spec, "containers", f"{path}.containers") or []
        for ci, container in enumerate(containers):
            if not isinstance(container, dict):
                continue
            # (the paths are only spelled out for a warning or an error: most ports have none)
            ports = container.get("ports")
            if ports is not None and not isinstance(ports, list):
                ports = o.sequence(container, "ports", f"{path}.containers[{ci}].ports")
            for pi, port in enumerate(ports or ()):
                # A container port is a workload field: one that is unusable is skipped with a
                # warning (the pod simply does not declare it), never a failed load.
                if not isinstance(port, dict):
                    ppath = f"{path}.containers[{ci}].ports[{pi}]"
                    o.warn(container.get("ports"), pi, ppath, "must be a mapping; port skipped")
                    continue
                number = port.get("containerPort")
                if (
                    not isinstance(number, int)
                    or isinstance(number, bool)
                    or not 1 <= number <= 65535
                ):
                    ppath = f"{path}.containers[{ci}].ports[{pi}]"
                    o.warn(
                        port if "containerPort" in port else container.get("ports"),
                        "containerPort" if "containerPort" in port else pi,
                        f"{ppath}.containerPort",
                        "must be a port number 1-65535"
                        + (
                            ""
                            if "containerPort" in port
                            else f" (keys: {', '.join(map(str, port))})"
                        )
                        + "; port skipped",
                    )
                    continue
                protocol = port.get("protocol", "TCP")
                if protocol not in PROTOCOLS:
                    o.warn(
                        port,
                        "protocol",
                        f"{path}.containers[{ci}].ports[{pi}].protocol",
                        f"{protocol!r} is not TCP, UDP or SCTP; port skipped",
                    )
                    continue
                pname = port.get("name")
                if isinstance(pname, str) and (problem := validation.port_name(pname)):
                    o.error(port, "name", f"{path}.containers[{ci}].ports[{pi}].name", problem)
                    continue
                out.append(
                    ContainerPort(number, protocol, pname if isinstance(pname, str) else None)
                )
        return tuple(out)

    def add_workload(self, workload: Workload) -> None:
        if workload.id in self.workloads:
            first = self.workloads[workload.id]
            self.note(
                "warning",
                f"{workload.id} is defined again; the later definition wins, as with kubectl apply"
                f" (first at {first.location})",
                workload.location or Location(""),
                workload.id,
            )
        self.workloads[workload.id] = workload

    def add_owned_pod(self, workload: Workload, pod_name: str) -> None:
        """Pods of one controller are one workload; the first pod's labels stand for all."""
        existing = self.workloads.get(workload.id)
        if existing is None:
            self.workloads[workload.id] = workload
            self.owned_labels[workload.id] = (workload.labels, pod_name)
            return
        first_labels, first_pod = self.owned_labels.get(workload.id, (existing.labels, "?"))
        if workload.labels != first_labels:
            self.note(
                "warning",
                f"pod {pod_name} has other labels than pod {first_pod} of the same owner;"
                f" {workload.id} is analysed with the labels of {first_pod}",
                workload.location or Location(""),
                workload.id,
            )
        ports = existing.ports + tuple(p for p in workload.ports if p not in existing.ports)
        self.workloads[workload.id] = Workload(
            existing.namespace,
            existing.name,
            existing.kind,
            existing.labels,
            ports,
            existing.replicas + 1,
            existing.location,
            existing.pod_ips + workload.pod_ips,
        )

    # policies -------------------------------------------------------------------------------
    def add_policy(self, policy: NetworkPolicy) -> None:
        if policy.id in self.policies:
            first = self.policies[policy.id]
            self.note(
                "warning",
                f"NetworkPolicy {policy.id} is defined again; the later definition wins, as with"
                f" kubectl apply (first at {first.location})",
                policy.location or Location(""),
                f"NetworkPolicy {policy.id}",
            )
        self.policies[policy.id] = policy

    def read_policy(self, o: _Obj, obj: LineDict, doc: Document | None) -> NetworkPolicy | None:
        errors_before = len(self.errors)
        got = self.read_meta(o, obj)
        spec = o.mapping(obj, "spec", "spec")
        spec = spec if spec is not None else {}
        pod_selector = self.read_selector(o, spec, "podSelector", "spec.podSelector")
        declared = o.sequence(spec, "policyTypes", "spec.policyTypes")
        types: list[str] = []
        for i, t in enumerate(declared or []):
            if t not in (INGRESS, EGRESS):
                o.error(declared, i, f"spec.policyTypes[{i}]", f"{t!r} is not Ingress or Egress")
            elif t not in types:
                types.append(t)
        ingress = self.read_rules(o, spec, "ingress", "from")
        egress = self.read_rules(o, spec, "egress", "to")
        if len(self.errors) > errors_before or got is None:
            return None
        name, namespace, _ = got
        if not declared:
            # API server defaulting: Ingress always, Egress only when egress rules are given
            # (an empty `egress: []` adds nothing).
            types = [INGRESS] + ([EGRESS] if egress else [])
        source = doc.text if doc is not None else _dump(obj)
        return NetworkPolicy(
            namespace=namespace,
            name=name,
            pod_selector=pod_selector or LabelSelector(),
            policy_types=tuple(t for t in (INGRESS, EGRESS) if t in types),
            ingress=tuple(ingress),
            egress=tuple(egress),
            location=o.loc(obj, None, ""),
            declared_policy_types=bool(declared),
            source=source,
        )

    # cluster policies (Admin and Baseline tiers) ---------------------------------------------
    def add_cluster_policy(self, policy: ClusterNetworkPolicy) -> None:
        first = self.cluster_policies.get(policy.id)
        if first is not None:
            self.note(
                "warning",
                f"{policy.id} is defined again; the later definition wins, as with kubectl"
                f" apply (first at {first.location})",
                policy.location or Location(""),
                policy.id,
            )
        self.cluster_policies[policy.id] = policy

    def read_cluster_policy(
        self, o: _Obj, obj: LineDict, doc: Document | None, kind: str, dialect: str
    ) -> ClusterNetworkPolicy | None:
        errors_before = len(self.errors)
        meta = o.mapping(obj, "metadata", "metadata", required=True)
        name = o.string(meta, "name", "metadata.name", required=True) if meta else None
        if meta is not None and meta.get("namespace") is not None:
            o.warn(
                meta,
                "namespace",
                "metadata.namespace",
                f"{kind} is cluster-scoped: metadata.namespace is ignored",
            )
        spec = o.mapping(obj, "spec", "spec", required=True)
        spec = spec if spec is not None else {}
        priority: int | None = None
        if dialect == "banp":
            tier = BASELINE
            if name is not None and name != "default":
                o.error(
                    meta,
                    "name",
                    "metadata.name",
                    f"must be 'default', got {name!r} (BaselineAdminNetworkPolicy is a singleton)",
                )
        else:
            tier = ADMIN
            if dialect != "anp":
                tier = o.string(spec, "tier", "spec.tier", required=True) or ADMIN
                if tier not in (ADMIN, BASELINE):
                    o.error(spec, "tier", "spec.tier", f"{tier!r} is not Admin or Baseline")
            raw = spec.get("priority")
            if raw is None:
                o.error(spec, "priority", "spec.priority", "is required")
            elif isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 1000:
                o.error(
                    spec,
                    "priority",
                    "spec.priority",
                    f"must be a whole number 0-1000, got {_kind_of(raw)}",
                )
            else:
                priority = raw
        subject = self.read_subject(o, spec)
        ingress = self.read_cluster_rules(o, spec, "ingress", dialect)
        egress = self.read_cluster_rules(o, spec, "egress", dialect)
        if len(self.errors) > errors_before or name is None or subject is None:
            return None
        return ClusterNetworkPolicy(
            name=name,
            kind=kind,
            tier=tier,
            priority=priority,
            subject=subject,
            ingress=tuple(ingress),
            egress=tuple(egress),
            api_version=str(obj.get("apiVersion")),
            location=o.loc(obj, None, ""),
            source=doc.text if doc is not None else _dump(obj),
        )

    def read_subject(self, o: _Obj, spec: dict) -> ClusterSubject | None:
        subject = o.mapping(spec, "subject", "spec.subject", required=True)
        if subject is None:
            return None
        set_fields = [k for k in ("namespaces", "pods") if subject.get(k) is not None]
        if len(set_fields) != 1:
            o.error(
                spec,
                "subject",
                "spec.subject",
                "must set exactly one of namespaces or pods"
                + (f", got {' and '.join(set_fields)}" if set_fields else ""),
            )
            return None
        if set_fields == ["namespaces"]:
            ns = self.read_selector(o, subject, "namespaces", "spec.subject.namespaces")
            return ClusterSubject(ns or LabelSelector(), None) if ns is not None else None
        got = self.read_namespaced_pods(o, subject, "pods", "spec.subject.pods")
        return ClusterSubject(*got) if got is not None else None

    def read_namespaced_pods(
        self, o: _Obj, parent: dict, key: str, path: str
    ) -> tuple[LabelSelector, LabelSelector] | None:
        """`pods: {namespaceSelector, podSelector}` → (namespace selector, pod selector)."""
        pods = o.mapping(parent, key, path)
        if pods is None:
            return None
        ns = self.read_selector(o, pods, "namespaceSelector", f"{path}.namespaceSelector")
        pod = self.read_selector(o, pods, "podSelector", f"{path}.podSelector")
        # Both default to the empty selector (every namespace, every pod), as the Go types
        # read a missing one, and as the real ANP examples rely on.
        return ns or LabelSelector(), pod or LabelSelector()

    def read_cluster_rules(self, o: _Obj, spec: dict, direction: str, dialect: str) -> list:
        rules = o.sequence(spec, direction, f"spec.{direction}") or []
        peers_key = "from" if direction == "ingress" else "to"
        actions = _ACTIONS[dialect]
        out = []
        for i, rule in enumerate(rules):
            rpath = f"spec.{direction}[{i}]"
            if not isinstance(rule, dict):
                o.error(rules, i, rpath, f"must be a mapping, got {_kind_of(rule)}")
                continue
            errors_before = len(self.errors)
            name = o.string(rule, "name", f"{rpath}.name") or ""
            action = o.string(rule, "action", f"{rpath}.action", required=True)
            if action is not None and action not in actions:
                o.error(
                    rule,
                    "action",
                    f"{rpath}.action",
                    f"{action!r} is not {' or '.join(actions)}",
                )
            raw_peers = o.sequence(rule, peers_key, f"{rpath}.{peers_key}")
            if raw_peers == [] or rule.get(peers_key) is None:
                o.error(
                    rule,
                    peers_key if peers_key in rule else None,
                    f"{rpath}.{peers_key}",
                    "must list at least one peer",
                )
            peers = []
            for j, peer in enumerate(raw_peers or []):
                parsed = self.read_cluster_peer(
                    o, raw_peers, j, peer, f"{rpath}.{peers_key}[{j}]", direction
                )
                if parsed is not None:
                    peers.append(parsed)
            if dialect == "cnp":
                ports = self.read_protocols(o, rule, f"{rpath}.protocols")
            else:
                ports = self.read_admin_ports(o, rule, f"{rpath}.ports")
            if len(self.errors) > errors_before or action is None:
                continue
            external = [p for p in peers if p.kind in ("networks", "nodes", "domainNames")]
            for port in ports:
                if isinstance(port.port, str) and external:
                    loc = port.location or o.loc(rules, i, rpath)
                    self.note(
                        "warning",
                        f"named port {port.port!r} beside a {external[0].kind} peer: only pods"
                        " have named ports, so this port matches nothing outside the cluster",
                        loc,
                        o.subject,
                    )
            out.append(
                ClusterRule(
                    actions[action], tuple(peers), tuple(ports), name, o.loc(rules, i, rpath)
                )
            )
        return out

    def read_cluster_peer(
        self, o: _Obj, seq: list, j: int, peer: Any, path: str, direction: str
    ) -> ClusterPeer | None:
        if not isinstance(peer, dict):
            o.error(seq, j, path, f"must be a mapping, got {_kind_of(peer)}")
            return None
        known = _INGRESS_PEERS if direction == "ingress" else _EGRESS_PEERS
        set_fields = [k for k in known if peer.get(k) is not None]
        loc = o.loc(seq, j, path)
        if len(set_fields) > 1:
            o.error(seq, j, path, f"must set exactly one peer field, got {', '.join(set_fields)}")
            return None
        if not set_fields:
            other = [str(k) for k in peer if k not in known]
            what = f" (unknown: {', '.join(other)})" if other else ""
            self.note(
                "warning",
                f"{path} sets none of {', '.join(known)}{what}: an invalid peer fails closed,"
                " so it matches nothing in an Allow/Accept rule and makes a Deny or Pass rule"
                " deny everything",
                loc,
                o.subject,
            )
            return ClusterPeer("", location=loc)
        kind = set_fields[0]
        fpath = f"{path}.{kind}"
        if kind == "namespaces":
            ns = self.read_selector(o, peer, "namespaces", fpath)
            return ClusterPeer(kind, namespace_selector=ns or LabelSelector(), location=loc)
        if kind == "pods":
            got = self.read_namespaced_pods(o, peer, "pods", fpath)
            if got is None:
                return None
            return ClusterPeer(kind, namespace_selector=got[0], pod_selector=got[1], location=loc)
        if kind == "networks":
            raw_nets = o.sequence(peer, "networks", fpath)
            nets = raw_nets or []
            good = []
            for i, cidr in enumerate(nets):
                try:
                    if not isinstance(cidr, str) or "/" not in cidr:
                        raise ValueError
                    ipaddress.ip_network(cidr.strip(), strict=False)
                except ValueError:
                    o.error(nets, i, f"{fpath}[{i}]", f"{cidr!r} is not a valid CIDR")
                    continue
                good.append(cidr.strip())
            if raw_nets == []:
                o.error(peer, "networks", fpath, "must list at least one CIDR")
            return ClusterPeer(kind, networks=tuple(good), location=loc)
        # nodes and domainNames: experimental; loaded, shown, not evaluated
        self.note(
            "warning",
            f"{kind} peers are experimental and not evaluated: netviz counts them as matching"
            " nothing, and explain shows their rules as undecidable",
            Location(loc.file, loc.line, fpath),
            o.subject,
        )
        if kind == "nodes":
            nodes = self.read_selector(o, peer, "nodes", fpath)
            return ClusterPeer(kind, node_selector=nodes, location=loc)
        names = o.sequence(peer, "domainNames", fpath) or []
        if not all(isinstance(n, str) for n in names):
            o.error(peer, "domainNames", fpath, "must be a list of domain names")
            return None
        return ClusterPeer(kind, domain_names=tuple(names), location=loc)

    def read_admin_ports(self, o: _Obj, rule: dict, path: str) -> list[PolicyPort]:
        """v1alpha1 `ports` (also EKS): portNumber, portRange or namedPort per entry."""
        raw = o.sequence(rule, "ports", path)
        if raw is None:
            return []
        if not raw:
            # Valid in v1alpha1 (no minimum), and a list of no ports matches no port; kept as
            # one backward range, which resolves to nothing.
            o.warn(rule, "ports", path, "lists no port: this rule matches nothing")
            return [PolicyPort("TCP", 1, 0, o.loc(rule, "ports", path))]
        out = []
        for j, entry in enumerate(raw):
            epath = f"{path}[{j}]"
            if not isinstance(entry, dict):
                o.error(raw, j, epath, f"must be a mapping, got {_kind_of(entry)}")
                continue
            fields = [
                k for k in ("portNumber", "portRange", "namedPort") if entry.get(k) is not None
            ]
            if len(fields) != 1:
                o.error(raw, j, epath, "must set exactly one of portNumber, portRange or namedPort")
                continue
            kind = fields[0]
            loc = o.loc(entry, kind, f"{epath}.{kind}")
            if kind == "namedPort":
                name = entry[kind]
                if not isinstance(name, str) or not _valid_port_name(name):
                    o.error(entry, kind, f"{epath}.{kind}", f"{name!r} is not a valid port name")
                    continue
                out.append(PolicyPort("", name, None, loc))
                continue
            body = o.mapping(entry, kind, f"{epath}.{kind}")
            if body is None:
                continue
            protocol = body.get("protocol") or "TCP"
            if protocol not in PROTOCOLS:
                o.error(
                    body,
                    "protocol",
                    f"{epath}.{kind}.protocol",
                    f"{protocol!r} is not TCP, UDP or SCTP",
                )
                continue
            if kind == "portNumber":
                number = self.port_number(o, body, "port", f"{epath}.{kind}.port")
                if number is not None:
                    out.append(PolicyPort(protocol, number, None, loc))
            else:
                got = self.port_range(o, body, f"{epath}.{kind}", strict=False)
                if got is not None:
                    out.append(PolicyPort(protocol, got[0], got[1], loc))
        return out

    def read_protocols(self, o: _Obj, rule: dict, path: str) -> list[PolicyPort]:
        """v1alpha2 `protocols`: tcp/udp/sctp with a destinationPort, or destinationNamedPort."""
        raw = o.sequence(rule, "protocols", path)
        if raw is None:
            return []
        if not raw:
            o.error(
                rule, "protocols", path, "must list at least one protocol (leave it out for all)"
            )
        out = []
        keys = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP", "destinationNamedPort": ""}
        for j, entry in enumerate(raw):
            epath = f"{path}[{j}]"
            if not isinstance(entry, dict):
                o.error(raw, j, epath, f"must be a mapping, got {_kind_of(entry)}")
                continue
            fields = [k for k in keys if entry.get(k) is not None]
            if len(fields) != 1:
                o.error(
                    raw, j, epath, "must set exactly one of tcp, udp, sctp or destinationNamedPort"
                )
                continue
            kind = fields[0]
            fpath = f"{epath}.{kind}"
            loc = o.loc(entry, kind, fpath)
            if kind == "destinationNamedPort":
                name = entry[kind]
                if not isinstance(name, str) or not _valid_port_name(name):
                    o.error(entry, kind, fpath, f"{name!r} is not a valid port name")
                    continue
                out.append(PolicyPort("", name, None, loc))
                continue
            body = o.mapping(entry, kind, fpath)
            dest = o.mapping(body, "destinationPort", f"{fpath}.destinationPort", required=True)
            if dest is None:
                continue
            dpath = f"{fpath}.destinationPort"
            given = [k for k in ("number", "range") if dest.get(k) is not None]
            if len(given) != 1:
                o.error(body, "destinationPort", dpath, "must set exactly one of number or range")
                continue
            if given == ["number"]:
                number = self.port_number(o, dest, "number", f"{dpath}.number")
                if number is not None:
                    out.append(PolicyPort(keys[kind], number, None, loc))
            else:
                rng = o.mapping(dest, "range", f"{dpath}.range")
                got = self.port_range(o, rng, f"{dpath}.range") if rng is not None else None
                if got is not None:
                    out.append(PolicyPort(keys[kind], got[0], got[1], loc))
        return out

    def port_number(self, o: _Obj, parent: dict, key: str, path: str) -> int | None:
        value = parent.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            what = (
                "is required"
                if value is None
                else f"must be a port number 1-65535, got {_kind_of(value)}"
            )
            o.error(parent, key, path, what)
            return None
        return value

    def port_range(
        self, o: _Obj, body: dict, path: str, strict: bool = True
    ) -> tuple[int, int] | None:
        """(start, end). A range running backwards is an error where the API validates it
        (v1alpha2); v1alpha1 does not, and there it loads, warned, matching no port (as
        netpol-analyzer reads it)."""
        start = self.port_number(o, body, "start", f"{path}.start")
        end = self.port_number(o, body, "end", f"{path}.end")
        if start is None or end is None:
            return None
        if start > end:
            if strict:
                o.error(body, "end", f"{path}.end", f"{end} must not be below start {start}")
                return None
            o.warn(body, "end", f"{path}.end", f"{end} is below start {start}: matches no port")
        return start, end

    def read_selector(self, o: _Obj, parent: Any, key: str, path: str) -> LabelSelector | None:
        value = o.mapping(parent, key, path)
        if value is None:
            return None
        cache_key = _selector_key(value)
        if cache_key is not None and (known := self.selectors.get(cache_key)) is not None:
            return known
        errors_before, notes_before = len(self.errors), len(self.diagnostics)
        selector = self.parse_selector(o, value, path)
        if (
            cache_key is not None
            and len(self.errors) == errors_before
            and len(self.diagnostics) == notes_before
        ):
            self.selectors[cache_key] = selector
        return selector

    def known_selector(self, value: Any) -> LabelSelector | None:
        """The selector already read from a mapping saying the same, if any (no path needed)."""
        if isinstance(value, dict) and (key := _selector_key(value)) is not None:
            return self.selectors.get(key)
        return None

    def parse_selector(self, o: _Obj, value: dict, path: str) -> LabelSelector:
        labels = o.labels(value, "matchLabels", f"{path}.matchLabels")
        reqs: list[Requirement] = []
        exprs = o.sequence(value, "matchExpressions", f"{path}.matchExpressions") or []
        for i, expr in enumerate(exprs):
            epath = f"{path}.matchExpressions[{i}]"
            if not isinstance(expr, dict):
                o.error(exprs, i, epath, "must be a mapping with key, operator and values")
                continue
            k = o.string(expr, "key", f"{epath}.key", required=True)
            op = o.string(expr, "operator", f"{epath}.operator", required=True)
            values = expr.get("values")
            if values is None:
                values = []
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                o.error(expr, "values", f"{epath}.values", "must be a list of strings")
                continue
            if k is None or op is None:
                continue
            if op not in OPERATORS:
                o.error(
                    expr,
                    "operator",
                    f"{epath}.operator",
                    f"{op!r} is not In, NotIn, Exists or DoesNotExist",
                )
                continue
            if op in ("In", "NotIn") and not values:
                o.error(expr, "values", f"{epath}.values", f"must not be empty with operator {op}")
                continue
            if op in ("Exists", "DoesNotExist") and values:
                o.error(expr, "values", f"{epath}.values", f"must be empty with operator {op}")
                continue
            bad = [
                (f"{epath}.{where}", problem)
                for where, problem in (
                    ("key", validation.label_key(k)),
                    *((f"values[{n}]", validation.label_value(v)) for n, v in enumerate(values)),
                )
                if problem
            ]
            for where, problem in bad:
                o.error(expr, where.rpartition(".")[2].partition("[")[0], where, problem)
            if bad:
                continue
            reqs.append(Requirement(k, op, tuple(values)))
        return LabelSelector(labels, tuple(reqs))

    def read_rules(self, o: _Obj, spec: dict, direction: str, peers_key: str) -> list[Rule]:
        rules = o.sequence(spec, direction, f"spec.{direction}") or []
        out = []
        for i, rule in enumerate(rules):
            rpath = f"spec.{direction}[{i}]"
            if rule is None:
                rule = {}  # `- {}` and a bare `-` both allow everything
            if not isinstance(rule, dict):
                o.error(rules, i, rpath, f"must be a mapping, got {_kind_of(rule)}")
                continue
            peers = []
            raw_peers = rule.get(peers_key)
            if raw_peers is not None and not isinstance(raw_peers, list):
                raw_peers = o.sequence(rule, peers_key, f"{rpath}.{peers_key}")  # says why
            for j, peer in enumerate(raw_peers or ()):
                parsed = self.read_peer(o, raw_peers, j, peer, f"{rpath}.{peers_key}[{j}]")
                if parsed is not None:
                    peers.append(parsed)
            ports = []
            raw_ports = rule.get("ports")
            if raw_ports is not None and not isinstance(raw_ports, list):
                raw_ports = o.sequence(rule, "ports", f"{rpath}.ports")
            for j, port in enumerate(raw_ports or ()):
                parsed_port = self.read_policy_port(o, raw_ports, j, port, f"{rpath}.ports[{j}]")
                if parsed_port is not None:
                    ports.append(parsed_port)
            out.append(Rule(tuple(peers), tuple(ports), o.item_loc(rules, i, rpath)))
        return out

    def read_peer(self, o: _Obj, seq: list, j: int, peer: Any, path: str) -> Peer | None:
        if not isinstance(peer, dict):
            o.error(seq, j, path, f"must be a mapping, got {_kind_of(peer)}")
            return None
        # (an absent field reads as None without a word: its path is only spelled out when
        # the field is there)
        pod_selector = ns_selector = raw_block = None
        if (raw := peer.get("podSelector")) is not None:
            pod_selector = self.known_selector(raw) or self.read_selector(
                o, peer, "podSelector", f"{path}.podSelector"
            )
        if (raw := peer.get("namespaceSelector")) is not None:
            ns_selector = self.known_selector(raw) or self.read_selector(
                o, peer, "namespaceSelector", f"{path}.namespaceSelector"
            )
        ip_block = None
        if peer.get("ipBlock") is not None:
            raw_block = o.mapping(peer, "ipBlock", f"{path}.ipBlock")
        if raw_block is not None:
            ip_block = self.read_ip_block(o, raw_block, f"{path}.ipBlock")
            if pod_selector is not None or ns_selector is not None:
                o.error(
                    seq, j, path, "ipBlock cannot be combined with podSelector or namespaceSelector"
                )
                return None
            if ip_block is None:
                return None
        elif pod_selector is None and ns_selector is None:
            o.error(seq, j, path, "must specify a peer: podSelector, namespaceSelector or ipBlock")
            return None
        return Peer(pod_selector, ns_selector, ip_block, o.item_loc(seq, j, path))

    def read_ip_block(self, o: _Obj, block: dict, path: str) -> IPBlock | None:
        # The same few blocks (`0.0.0.0/0` except the private ranges) recur in many policies,
        # and parsing addresses is slow: one read per distinct block that reads cleanly.
        cidr, excepts = block.get("cidr"), block.get("except")
        key = None
        if type(cidr) is str and (
            excepts is None or (isinstance(excepts, list) and all(type(e) is str for e in excepts))
        ):
            key = (cidr, tuple(excepts) if excepts is not None else None)
            if (known := self.ip_blocks.get(key)) is not None:
                return known
        errors_before = len(self.errors)
        got = self.parse_ip_block(o, block, path)
        if key is not None and got is not None and len(self.errors) == errors_before:
            self.ip_blocks[key] = got
        return got

    def parse_ip_block(self, o: _Obj, block: dict, path: str) -> IPBlock | None:
        cidr = o.string(block, "cidr", f"{path}.cidr", required=True)
        if cidr is None:
            return None
        if problem := validation.cidr(cidr):
            o.error(block, "cidr", f"{path}.cidr", problem)
            return None
        net = ipaddress.ip_network(cidr.strip(), strict=False)
        excepts = o.sequence(block, "except", f"{path}.except") or []
        good = []
        for i, ex in enumerate(excepts):
            if problem := validation.cidr(str(ex)):
                o.error(excepts, i, f"{path}.except[{i}]", problem)
                continue
            sub = ipaddress.ip_network(str(ex).strip(), strict=False)
            if sub.version != net.version or not sub.subnet_of(net) or sub == net:  # type: ignore[arg-type]
                o.error(
                    excepts, i, f"{path}.except[{i}]", f"{ex} must be a strict subset of {cidr}"
                )
                continue
            good.append(str(ex).strip())
        return IPBlock(cidr.strip(), tuple(good))

    def read_policy_port(
        self, o: _Obj, seq: list, j: int, port: Any, path: str
    ) -> PolicyPort | None:
        if not isinstance(port, dict):
            o.error(seq, j, path, f"must be a mapping, got {_kind_of(port)}")
            return None
        protocol = port.get("protocol", "TCP")
        if protocol is None:
            protocol = "TCP"
        if protocol not in PROTOCOLS:
            o.error(port, "protocol", f"{path}.protocol", f"{protocol!r} is not TCP, UDP or SCTP")
            return None
        number = port.get("port")
        end = port.get("endPort")
        # (a tuple, not `int | str`, which builds a union object at every call: once per port)
        if isinstance(number, bool) or (number is not None and not isinstance(number, (int, str))):
            o.error(
                port,
                "port",
                f"{path}.port",
                f"must be a port number or name, got {_kind_of(number)}",
            )
            return None
        if isinstance(number, int) and not 1 <= number <= 65535:
            o.error(port, "port", f"{path}.port", f"{number} is not within 1-65535")
            return None
        if isinstance(number, str) and not _valid_port_name(number):
            o.error(
                port,
                "port",
                f"{path}.port",
                f"{number!r} is not a valid port name (1-15 lowercase letters, digits and '-',"
                " at least one letter)",
            )
            return None
        if end is not None:
            if isinstance(end, bool) or not isinstance(end, int):
                o.error(
                    port,
                    "endPort",
                    f"{path}.endPort",
                    f"must be a port number, got {_kind_of(end)}",
                )
                return None
            if number is None:
                o.error(port, "endPort", f"{path}.endPort", "needs a port to start the range")
                return None
            if isinstance(number, str):
                o.warn(
                    port,
                    "endPort",
                    f"{path}.endPort",
                    f"endPort is ignored with the named port {number!r} (it only ranges numbers)",
                )
                end = None
            elif not number <= end <= 65535:
                o.error(port, "endPort", f"{path}.endPort", f"{end} must be within {number}-65535")
                return None
        return PolicyPort(protocol, number, end, o.loc(port, "port", f"{path}.port"))


def _huge_number(file: str, text: str) -> ManifestError:
    found = re.search(r"\d{4000,}", text)
    line = text.count("\n", 0, found.start()) + 1 if found else 0
    return ManifestError("a number has more digits than any field can hold", Location(file, line))


def _is_object(value: Any) -> bool:
    return isinstance(value, dict) and "kind" in value and "apiVersion" in value


def _selector_key(value: dict) -> tuple | None:
    """Everything read_selector reads from a selector mapping, as a hashable key; None when
    it holds anything else than strings where strings belong (then it is read, not cached).

    Only selectors read without a problem are cached under their key, so a key made of
    strings can only ever equal another made of the same strings: no non-string value
    compares equal to a string.
    """
    labels = value.get("matchLabels")
    if labels is None:
        label_key: tuple = ()
    elif isinstance(labels, dict):
        label_key = tuple(labels.items())
        for k, v in label_key:
            if type(k) is not str or type(v) is not str:
                return None
    else:
        return None
    exprs = value.get("matchExpressions")
    if exprs is None:
        return (label_key, None)
    if not isinstance(exprs, list):
        return None
    expr_key = []
    for expr in exprs:
        if not isinstance(expr, dict):
            return None
        values = expr.get("values")
        if values is not None:
            if not isinstance(values, list) or any(type(v) is not str for v in values):
                return None
            values = tuple(values)
        k, op = expr.get("key"), expr.get("operator")
        if type(k) is not str or type(op) is not str:
            return None
        expr_key.append((k, op, values))
    return (label_key, tuple(expr_key))


def _valid_port_name(name: str) -> bool:
    # IANA_SVC_NAME, as the API server checks it (the one check, memoised, of validation)
    return validation.port_name(name) is None


def _controller_owner(meta: dict) -> tuple[str, str] | None:
    owners = meta.get("ownerReferences")
    if not isinstance(owners, list):
        return None
    for owner in owners:
        if isinstance(owner, dict) and owner.get("controller") is True:
            name = owner.get("name")
            kind = owner.get("kind")
            # Only a workload controller makes pods one workload; a pod controlled by anything
            # else (a static pod owned by its Node, an operator's custom resource) stands alone.
            # A reference without a kind is taken as a controller, as the reference analyzer
            # (netpol-analyzer) does.
            if not isinstance(name, str) or not name:
                return None
            if not isinstance(kind, str) or not kind:
                return name, ""
            return (name, kind) if kind in _POD_CONTROLLERS else None
    return None


def _pod_ips(status: Any) -> tuple[str, ...]:
    if not isinstance(status, dict):
        return ()
    ips = []
    for entry in status.get("podIPs") or []:
        if isinstance(entry, dict) and isinstance(entry.get("ip"), str):
            ips.append(entry["ip"])
    if not ips and isinstance(status.get("podIP"), str):
        ips.append(status["podIP"])
    return tuple(ips)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _dump(obj: Any) -> str:
    import yaml  # only for objects read without their text (kind: List items); 19 ms to import

    return yaml.safe_dump(_plain(obj), sort_keys=False, default_flow_style=False)


def _finish(loader: _Loader) -> Snapshot:
    if loader.errors:
        raise ManifestErrors(loader.errors, tuple(loader.diagnostics))
    return assemble(
        loader.namespaces.values(),
        loader.workloads.values(),
        loader.policies.values(),
        loader.diagnostics,
        loader.cluster_policies.values(),
    )


_Loader.finish = _finish  # type: ignore[attr-defined]


def iter_manifest_files(root: Path) -> Iterator[Path]:
    """Manifest files under a folder, sorted (used by tools that list inputs)."""
    return iter(sorted(p for p in root.rglob("*") if p.suffix.lower() in MANIFEST_SUFFIXES))
