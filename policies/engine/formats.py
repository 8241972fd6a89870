"""Writers for the analysis: txt, json, csv, md and dot."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from .connectivity import Connectivity, Flow

__all__ = ["FORMATS", "flow_record", "render", "to_json_dict"]

FORMATS = ("txt", "json", "csv", "md", "dot")


def flow_record(flow: Flow) -> dict[str, object]:
    return {"src": flow.src.id, "dst": flow.dst.id, "conns": flow.ports.to_conns()}


def to_json_dict(conn: Connectivity | Iterable[Flow]) -> dict[str, object]:
    """The `analyze --format json` contract: {"connections": [{"src", "dst", "conns"}]}."""
    flows = conn.flows() if isinstance(conn, Connectivity) else conn
    return {"connections": [flow_record(f) for f in flows]}


def _txt(flows: list[Flow]) -> str:
    return "".join(f"{f.src.id} => {f.dst.id} : {f.ports}\n" for f in flows)


def _json(flows: list[Flow]) -> str:
    # One record per line. Endpoint ids and port sets repeat across many flows, so each is
    # encoded once; a million-flow answer is then string joins, not a million dumps() calls.
    ids: dict[str, str] = {}
    conns: dict[int, str] = {}
    records = []
    for f in flows:
        src = ids.get(f.src.id) or ids.setdefault(f.src.id, json.dumps(f.src.id))
        dst = ids.get(f.dst.id) or ids.setdefault(f.dst.id, json.dumps(f.dst.id))
        c = conns.get(id(f.ports))
        if c is None:
            c = conns[id(f.ports)] = json.dumps(f.ports.to_conns())
        records.append(f'{{"src": {src}, "dst": {dst}, "conns": {c}}}')
    if not records:
        return '{"connections": []}\n'
    return '{"connections": [\n  ' + ",\n  ".join(records) + "\n]}\n"


def _csv(flows: list[Flow]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["src", "dst", "conn"])
    for f in flows:
        writer.writerow([f.src.id, f.dst.id, str(f.ports)])
    return buf.getvalue()


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _md(flows: list[Flow]) -> str:
    lines = ["| src | dst | conn |", "|-----|-----|------|"]
    lines += [
        f"| {_md_cell(f.src.id)} | {_md_cell(f.dst.id)} | {_md_cell(str(f.ports))} |" for f in flows
    ]
    return "\n".join(lines) + "\n"


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot(flows: list[Flow]) -> str:
    namespaces: dict[str, set[str]] = {}
    external: set[str] = set()
    for f in flows:
        for ep in (f.src, f.dst):
            if ep.workload is None:
                external.add(ep.id)
            else:
                namespaces.setdefault(ep.workload.namespace, set()).add(ep.id)
    out = ["digraph netviz {", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    for i, ns in enumerate(sorted(namespaces)):
        out.append(f"  subgraph cluster_{i} {{")
        out.append(f"    label={_dot_id(ns)};")
        for ep in sorted(namespaces[ns]):
            out.append(f"    {_dot_id(ep)};")
        out.append("  }")
    for ep in sorted(external):
        out.append(f"  {_dot_id(ep)} [shape=ellipse];")
    for f in flows:
        out.append(f"  {_dot_id(f.src.id)} -> {_dot_id(f.dst.id)} [label={_dot_id(str(f.ports))}];")
    out.append("}")
    return "\n".join(out) + "\n"


_WRITERS = {"txt": _txt, "json": _json, "csv": _csv, "md": _md, "dot": _dot}


def render(flows: Iterable[Flow], fmt: str) -> str:
    """The flows in one of FORMATS."""
    try:
        writer = _WRITERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
    return writer(list(flows))
