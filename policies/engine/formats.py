"""Writers for the analysis: txt, json, csv, md and dot.

Each writer streams: it takes the flows as an iterable and writes them to a text stream as
they come, so a million-flow answer never exists twice in memory (once as flows, once as
text).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from typing import TextIO

from .connectivity import Connectivity, Flow

__all__ = ["FORMATS", "flow_record", "render", "to_json_dict", "write"]

FORMATS = ("txt", "json", "csv", "md", "dot")


def flow_record(flow: Flow) -> dict[str, object]:
    return {"src": flow.src.id, "dst": flow.dst.id, "conns": flow.ports.to_conns()}


def to_json_dict(conn: Connectivity | Iterable[Flow]) -> dict[str, object]:
    """The `analyze --format json` contract: {"connections": [{"src", "dst", "conns"}]}."""
    flows = conn.flows() if isinstance(conn, Connectivity) else conn
    return {"connections": [flow_record(f) for f in flows]}


def _txt(flows: Iterable[Flow], out: TextIO) -> None:
    out.writelines(f"{f.src.id} => {f.dst.id} : {f.ports}\n" for f in flows)


def _json(flows: Iterable[Flow], out: TextIO) -> None:
    # One record per line. Endpoint ids and port sets repeat across many flows, so each is
    # encoded once; a million-flow answer is then string joins, not a million dumps() calls.
    ids: dict[str, str] = {}
    conns: dict[object, str] = {}

    def encoded(f: Flow) -> str:
        src = ids.get(f.src.id) or ids.setdefault(f.src.id, json.dumps(f.src.id))
        dst = ids.get(f.dst.id) or ids.setdefault(f.dst.id, json.dumps(f.dst.id))
        c = conns.get(f.ports)
        if c is None:
            c = conns[f.ports] = json.dumps(f.ports.to_conns())
        return f'{{"src": {src}, "dst": {dst}, "conns": {c}}}'

    out.write('{"connections": [')
    separator = "\n  "
    for f in flows:
        out.write(separator + encoded(f))
        separator = ",\n  "
    out.write("\n]}\n" if separator != "\n  " else "]}\n")


def _csv(flows: Iterable[Flow], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["src", "dst", "conn"])
    writer.writerows([f.src.id, f.dst.id, str(f.ports)] for f in flows)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _md(flows: Iterable[Flow], out: TextIO) -> None:
    out.write("| src | dst | conn |\n|-----|-----|------|\n")
    out.writelines(
        f"| {_md_cell(f.src.id)} | {_md_cell(f.dst.id)} | {_md_cell(str(f.ports))} |\n"
        for f in flows
    )


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot(flows: Iterable[Flow], out: TextIO) -> None:
    flows = list(flows)  # the clusters (namespaces) come before the edges
    namespaces: dict[str, set[str]] = {}
    external: set[str] = set()
    for f in flows:
        for ep in (f.src, f.dst):
            if ep.workload is None:
                external.add(ep.id)
            else:
                namespaces.setdefault(ep.workload.namespace, set()).add(ep.id)
    lines = ["digraph netviz {", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    for i, ns in enumerate(sorted(namespaces)):
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f"    label={_dot_id(ns)};")
        lines.extend(f"    {_dot_id(ep)};" for ep in sorted(namespaces[ns]))
        lines.append("  }")
    lines.extend(f"  {_dot_id(ep)} [shape=ellipse];" for ep in sorted(external))
    lines.extend(
        f"  {_dot_id(f.src.id)} -> {_dot_id(f.dst.id)} [label={_dot_id(str(f.ports))}];"
        for f in flows
    )
    lines.append("}")
    out.write("\n".join(lines) + "\n")


_WRITERS: dict[str, Callable[[Iterable[Flow], TextIO], None]] = {
    "txt": _txt,
    "json": _json,
    "csv": _csv,
    "md": _md,
    "dot": _dot,
}


def write(flows: Iterable[Flow], fmt: str, out: TextIO) -> None:
    """Writes the flows in one of FORMATS to `out`, as they come."""
    try:
        writer = _WRITERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
    writer(flows, out)


def render(flows: Iterable[Flow], fmt: str) -> str:
    """The flows in one of FORMATS, as one string."""
    buf = io.StringIO()
    write(flows, fmt, buf)
    return buf.getvalue()
