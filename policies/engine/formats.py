"""Writers for the analysis: txt, json, csv, md and dot.

Each writer streams: it takes the flows as an iterable and writes them to a text stream as
they come, so a million-flow answer never exists twice in memory (once as flows, once as
text).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TextIO

from .connectivity import Connectivity, Endpoint, Flow
from .intervals import PortSet

__all__ = ["FORMATS", "flow_record", "render", "to_json_dict", "write"]

FORMATS = ("txt", "json", "csv", "md", "dot")


def flow_record(flow: Flow) -> dict[str, object]:
    return {"src": flow.src.id, "dst": flow.dst.id, "conns": flow.ports.to_conns()}


def to_json_dict(conn: Connectivity | Iterable[Flow]) -> dict[str, object]:
    """The `analyze --format json` contract: {"connections": [{"src", "dst", "conns"}]}."""
    flows = conn.flows() if isinstance(conn, Connectivity) else conn
    return {"connections": [flow_record(f) for f in flows]}


# Texts are kept by the identity of the port set (its own hash is a Python call), the object
# pinned in the entry so that its id cannot be freed and reused while the entry lives. A
# --focus-conn narrowing makes a new port set per flow: past this many objects, texts are
# kept by value only, so that memory stays bounded by the distinct values.
_PINNED = 4096


def _txt(flows: Iterable[Flow], out: TextIO) -> None:
    pinned: dict[int, tuple[PortSet, str]] = {}
    by_value: dict[PortSet, str] = {}

    def records() -> Iterator[str]:
        for f in flows:
            ports = f.ports
            got = pinned.get(id(ports))
            if got is not None:
                text = got[1]
            else:
                text = by_value.get(ports)
                if text is None:
                    text = by_value[ports] = str(ports)
                if len(pinned) < _PINNED:
                    pinned[id(ports)] = (ports, text)
            yield f"{f.src.id} => {f.dst.id} : {text}\n"

    _chunked(out, records(), "")


def _json(flows: Iterable[Flow], out: TextIO) -> None:
    # One record per line. Endpoint ids and port sets repeat across many flows, so each is
    # encoded once, and the records go out joined in chunks: a million-flow answer is then
    # string joins, not a million dumps() calls or write() calls. Endpoints are kept by
    # identity too (pinned: a run has a bounded number of them).
    pinned: dict[int, tuple[PortSet, str]] = {}
    by_value: dict[PortSet, str] = {}
    # per destination: (it, {id(pinned port set): its record's tail}, the dst part of a tail)
    tails: dict[int, tuple[Endpoint, dict[int, str], str]] = {}

    def records() -> Iterator[str]:
        src = head = None
        for f in flows:
            if f.src is not src:  # flows come sorted by source: one per run of them
                src = f.src
                head = f'{{"src": {json.dumps(src.id)}, "dst": '
            dst, ports = f.dst, f.ports
            t = tails.get(id(dst))
            if t is None:
                t = tails[id(dst)] = (dst, {}, f'{json.dumps(dst.id)}, "conns": ')
            tail = t[1].get(id(ports))
            if tail is None:
                got = pinned.get(id(ports))
                if got is not None:
                    tail = t[1][id(ports)] = t[2] + got[1]
                else:
                    text = by_value.get(ports)
                    if text is None:
                        text = by_value[ports] = json.dumps(ports.to_conns()) + "}"
                    if len(pinned) < _PINNED:
                        pinned[id(ports)] = (ports, text)
                    tail = t[2] + text
            yield head + tail  # type: ignore[operator]

    out.write('{"connections": [')
    out.write("\n]}\n" if _chunked(out, records(), ",\n  ", "\n  ") else "]}\n")


_CHUNK = 8192  # records per write


def _chunked(out: TextIO, records: Iterator[str], separator: str, first: str = "") -> bool:
    """Writes the records joined by `separator` (`first` before the first one), a chunk at a
    time; False when there were none."""
    chunk = list(islice(records, _CHUNK))
    if not chunk:
        return False
    out.write(first + separator.join(chunk))
    while chunk := list(islice(records, _CHUNK)):
        out.write(separator + separator.join(chunk))
    return True


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
