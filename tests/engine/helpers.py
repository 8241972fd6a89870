"""Small helpers shared by the engine tests: manifests in, a {(src, dst): conns} map out."""

from __future__ import annotations

import textwrap

import pytest

from policies.engine import evaluate, load_documents, yamlio
from policies.engine.model import Snapshot
from policies.engine.yamlio import parse_documents_native, parse_documents_python

# Both YAML readers, for tests that must hold for each (the native one where it was built).
READERS = [
    pytest.param(parse_documents_python, id="python"),
    pytest.param(
        parse_documents_native,
        id="native",
        marks=pytest.mark.skipif(yamlio._fastyaml is None, reason="native reader not built"),
    ),
]


def snap(*docs: str, file: str = "test.yaml") -> Snapshot:
    """A snapshot from YAML documents written inline (dedented, joined with ---)."""
    text = "\n---\n".join(textwrap.dedent(d).strip("\n") for d in docs) + "\n"
    return load_documents([(file, text)])


def conns(*docs: str) -> dict[tuple[str, str], str]:
    """{(src, dst): str(ports)} of every allowed flow."""
    return {(f.src.id, f.dst.id): str(f.ports) for f in evaluate(snap(*docs)).flows()}


def pod(name: str, ns: str = "default", labels: dict | None = None, ports: str = "") -> str:
    """A Pod manifest; ports like 'http:80/TCP,dns:53/UDP' (name optional)."""
    labels = labels if labels is not None else {"app": name}
    label_text = "".join(f"\n    {k}: {v!r}" for k, v in labels.items()) or " {}"
    port_text = ""
    for spec in filter(None, ports.split(",")):
        pname, _, rest = spec.rpartition(":")
        number, _, proto = rest.partition("/")
        port_text += f"\n      - containerPort: {number}\n        protocol: {proto or 'TCP'}"
        if pname:
            port_text += f"\n        name: {pname}"
    if port_text:
        port_text = "\n    ports:" + port_text
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
        f"  labels:{label_text}\nspec:\n  containers:\n  - name: c\n    image: x{port_text}\n"
    )


def ns(name: str, **labels: str) -> str:
    label_text = "".join(f"\n    {k}: {v!r}" for k, v in labels.items()) or " {}"
    return f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:{label_text}\n"


def policy(name: str, spec: str, ns: str = "default") -> str:
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    return (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{body}\n"
    )


ALL = "All Connections"
INTERNET = "0.0.0.0-255.255.255.255"
