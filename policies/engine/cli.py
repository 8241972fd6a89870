"""The command line: `netviz analyze` and `netviz diff`, shared with manage.py's commands.

This module imports only the engine (no Django, no networkx), so a CI run of
`netviz analyze` pays no framework start-up; what only `diff` or `--explain` need is imported
when they run. The console script (`console()`) also keeps the cyclic garbage collector off for
the whole run and leaves without tearing the heap down once its output is flushed.
"""

from __future__ import annotations

import argparse
import gc
import os
import posixpath
import stat
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO, TextIO

from .connectivity import Flow, evaluate
from .errors import ManifestError, ManifestErrors
from .formats import FORMATS, write
from .intervals import PortSet
from .kustomize import KUSTOMIZATION_NAMES, prepare_folder, prepare_kustomization
from .manifests import MANIFEST_SUFFIXES, load_documents
from .model import Location, Snapshot

__all__ = [
    "add_analyze_arguments",
    "build_parser",
    "focus",
    "load_inputs",
    "main",
    "reader_gone",
    "run_analyze",
]

EXIT_OK, EXIT_INPUT = 0, 2
# The API's `?format=grouped`: the whole answer at the size of its groups (an open cluster of
# 10,000 pods is 10^8 flows, and a few lines grouped).
GROUPED = "grouped"


def add_analyze_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="manifest files or folders (Kustomize folders are rendered); - reads standard input",
    )
    parser.add_argument(
        "--kustomize",
        action="append",
        default=[],
        metavar="PATH",
        help="render this kustomization folder (repeatable); without it every top-level one is",
    )
    parser.add_argument(
        "--format",
        choices=(*FORMATS, GROUPED),
        default="txt",
        help="output format; grouped: alike workloads as groups, the connections between them",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    parser.add_argument(
        "--focus-workload",
        action="append",
        default=[],
        metavar="NAME",
        help="only flows of this workload (name or ns/name; repeatable or comma-separated)",
    )
    parser.add_argument(
        "--focus-workload-peer",
        action="append",
        default=[],
        metavar="NAME",
        help="with --focus-workload: only flows whose other side is this workload",
    )
    parser.add_argument(
        "--focus-direction",
        choices=("ingress", "egress"),
        help="with --focus-workload: only flows into (ingress) or out of (egress) it",
    )
    parser.add_argument(
        "--focus-conn",
        metavar="CONN",
        help="only flows allowing this connection, e.g. tcp-80 or udp-53",
    )
    parser.add_argument(
        "--explain", action="store_true", help="print why each focused pair is allowed or denied"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print warnings")


def _names(values: Sequence[str]) -> list[str]:
    """Repeated options and comma-separated lists both name several workloads."""
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def _matches_name(ep_id: str, names: Sequence[str]) -> bool:
    """`name`, `ns/name` or the full `ns/name[Kind]` all name a workload."""
    if "[" not in ep_id:
        return False
    base = ep_id.split("[", 1)[0]
    short = base.split("/", 1)[1]
    return any(n in (ep_id, base, short) for n in names)


def focus(
    flows: Iterable[Flow],
    workloads: Sequence[str] = (),
    peers: Sequence[str] = (),
    direction: str | None = None,
    conn: PortSet | None = None,
) -> Iterator[Flow]:
    """The flows the --focus-* options keep (conns narrowed to --focus-conn).

    As in netpol-analyzer, peers and direction apply only together with focus workloads.
    """
    workloads, peers = _names(workloads), _names(peers)
    for f in flows:
        if workloads:
            as_src = _matches_name(f.src.id, workloads)
            as_dst = _matches_name(f.dst.id, workloads)
            if direction == "ingress":
                keep, other = as_dst, f.src.id
            elif direction == "egress":
                keep, other = as_src, f.dst.id
            else:
                keep = as_src or as_dst
                other = f.dst.id if as_src else f.src.id
            if not keep:
                continue
            if peers and not _matches_name(other, peers):
                continue
        if conn is not None:
            narrowed = f.ports & conn
            if not narrowed:
                continue
            f = Flow(f.src, f.dst, narrowed)
        yield f


def _print_errors(exc: ManifestErrors, stderr: TextIO) -> None:
    for error in exc.errors:
        print(f"error: {error}", file=stderr)
    print(f"{len(exc.errors)} error(s); nothing analysed", file=stderr)


def load_inputs(
    paths: Sequence[str],
    kustomize: Sequence[str] = (),
    stdin: BinaryIO | None = None,
    notes: list[str] | None = None,
) -> Snapshot:
    """Files, folders (Kustomize ones rendered) and `-` (standard input) → Snapshot.

    A `--kustomize` folder that no PATH holds is analysed on its own. What was rendered is
    appended to `notes`; raises ManifestErrors with every located error.
    """
    files: list[tuple[str, str | bytes]] = []
    errors: list[ManifestError] = []
    diagnostics = []
    extra: list[str] = []
    if kustomize:
        from pathlib import Path

        folders = [Path(p).resolve() for p in paths if p != "-" and Path(p).is_dir()]
        extra = [
            k
            for k in kustomize
            if not any(f == Path(k).resolve() or f in Path(k).resolve().parents for f in folders)
        ]
    for raw in [*paths, *extra]:
        if raw == "-":
            data = (stdin or sys.stdin.buffer).read()
            files.append(("<stdin>", data))
            continue
        if raw and not kustomize and os.path.isdir(raw):
            plain = _plain_folder(raw)
            if plain is not None:
                files += plain
                continue
        # Kustomize folders, single files, and what is neither (pathlib is loaded here, not
        # at start-up: a plain folder does without it, ~3.5 ms).
        from pathlib import Path

        path = Path(raw)
        if path.is_dir():
            try:
                # A kustomization folder is read with the bases it includes, wherever they are
                # (`overlays/prod` names `../../base`).
                if raw in extra or any((path / n).is_file() for n in KUSTOMIZATION_NAMES):
                    tree = prepare_kustomization(path)
                else:
                    tree = prepare_folder(path, raw.rstrip("/") or raw, kustomize, render_all=True)
            except ManifestErrors as exc:
                errors.extend(exc.errors)
                continue
            files += [(n, c) for n, c in tree.files if n.lower().endswith(MANIFEST_SUFFIXES)]
            files += tree.objects
            diagnostics += tree.diagnostics
            if notes is not None:
                notes += [f"rendered {r} with kubectl kustomize" for r in tree.rendered]
        elif path.is_file():
            files.append((str(path), path.read_bytes()))
        else:
            errors.append(ManifestError("no such file or directory", Location(str(path))))
    if errors:
        raise ManifestErrors(errors)
    snapshot = load_documents(files)
    if not diagnostics:
        return snapshot
    return Snapshot(
        snapshot.namespaces,
        snapshot.workloads,
        snapshot.policies,
        tuple(diagnostics) + snapshot.diagnostics,
        snapshot.cluster_policies,
    )


def _plain_folder(raw: str) -> list[tuple[str, bytes]] | None:
    """The manifest files of a folder holding no kustomization and no Helm chart, as
    kustomize.prepare_folder() would hand them on: every regular file (symbolic links are not
    followed) outside `.git*`, sorted as paths, named `raw/relative/path` normalised. None
    when an entry anywhere has a name that Kustomize or Helm reads (or that prepare_folder
    names specially): prepare_folder() then reads the folder itself.
    """
    found: list[tuple[list[str], str, str]] = []
    todo = [("", raw)]
    while todo:
        rel_dir, disk = todo.pop()
        try:
            entries = list(os.scandir(disk))
        except OSError:  # unreadable: skipped, as pathlib's rglob skips it
            continue
        for entry in entries:
            name = entry.name
            if name.startswith(".git"):
                continue
            if name in KUSTOMIZATION_NAMES or name == "Chart.yaml" or " (via " in name:
                return None
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                if entry.is_dir(follow_symlinks=False):
                    todo.append((rel, entry.path))
                elif entry.is_file(follow_symlinks=False) and name.lower().endswith(
                    MANIFEST_SUFFIXES
                ):
                    found.append((rel.split("/"), rel, entry.path))
            except OSError:
                continue
    shown = raw.rstrip("/") or raw
    out = []
    for _, rel, disk in sorted(found):  # pathlib orders paths part by part
        with open(disk, "rb") as fh:
            out.append((posixpath.normpath(posixpath.join(shown, rel)), fh.read()))
    return out


def run_analyze(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: BinaryIO | None = None
) -> int:
    """Loads, evaluates, filters and writes; returns the exit code."""
    kustomize = getattr(args, "kustomize", None) or []
    if not args.paths and not kustomize:
        print("error: give at least one PATH (or - for standard input) or --kustomize", file=stderr)
        return EXIT_INPUT
    focused = args.focus_workload or args.focus_workload_peer or args.focus_conn or args.explain
    if args.format == GROUPED and focused:
        print(
            "error: --format grouped lists the whole answer: it takes no --focus-* or --explain",
            file=stderr,
        )
        return EXIT_INPUT
    conn_filter = None
    if args.focus_conn:
        try:
            conn_filter = PortSet.parse(args.focus_conn)
        except ValueError as exc:
            print(f"error: --focus-conn {exc}", file=stderr)
            return EXIT_INPUT
    progress = _Progress(stderr, enabled=not args.quiet and stderr.isatty())
    progress.step("reading manifests")
    notes: list[str] = []
    try:
        snapshot = load_inputs(args.paths, kustomize, stdin, notes)
    except ManifestErrors as exc:
        progress.done()
        _print_errors(exc, stderr)
        return EXIT_INPUT
    if not args.quiet:
        for note in notes:
            print(f"note: {note}", file=stderr)
    if args.explain and (problem := _unknown_endpoint(snapshot, args)):
        progress.done()
        print(f"error: --explain: {problem}", file=stderr)
        return EXIT_INPUT
    progress.step(
        f"evaluating {len(snapshot.workloads)} workloads and {len(snapshot.policies)} policies"
    )
    conn = evaluate(snapshot)
    conn.class_pairs()
    progress.step("writing")
    flows = focus(
        conn.flows(),
        args.focus_workload,
        args.focus_workload_peer,
        args.focus_direction,
        conn_filter,
    )
    try:
        _write_output(args, snapshot, conn, flows, conn_filter, stdout)
    except BrokenPipeError:
        raise  # the reader went away: console() ends quietly
    except OSError as exc:  # a folder that does not exist, no permission, a full disk
        progress.done()
        where = args.output or "standard output"
        print(f"error: cannot write {where}: {exc.strerror or exc}", file=stderr)
        return EXIT_INPUT
    progress.done()
    if not args.quiet:
        for d in snapshot.diagnostics:
            if d.severity == "warning":
                print(f"warning: {d}", file=stderr)
    return EXIT_OK


def _unknown_endpoint(snapshot: Snapshot, args: argparse.Namespace) -> str | None:
    """Why a focus name --explain must find names no workload or address, if one does:
    said before anything is written, not as a traceback halfway through the output."""
    from .explain import find_endpoint

    for text in [*args.focus_workload, *args.focus_workload_peer]:
        try:
            find_endpoint(snapshot, text)
        except ValueError as exc:
            return str(exc)
    return None


def _is_regular_target(path: str) -> bool:
    """A regular file or a new one: never rename over a device such as /dev/null."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return True


class _Progress:
    """One status line on a terminal (never in a pipe or a CI log): what is being done."""

    def __init__(self, out: TextIO, enabled: bool) -> None:
        self.out, self.enabled = out, enabled
        self.started = time.perf_counter()

    def step(self, what: str) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self.started
            self.out.write(f"\r\033[K[{elapsed:5.1f}s] {what}…")
            self.out.flush()

    def done(self) -> None:
        if self.enabled:
            self.out.write("\r\033[K")
            self.out.flush()


def _write_output(args, snapshot, conn, flows, conn_filter, stdout: TextIO) -> None:
    if args.output and _is_regular_target(args.output):
        # Written beside the target and renamed over it, so a failure never leaves half a file
        # where the last good answer was (nor a half-written one beside it).
        partial = f"{args.output}.partial"
        try:
            with open(partial, "w", encoding="utf-8") as fh:
                _write(args, snapshot, conn, flows, conn_filter, fh)
            os.replace(partial, args.output)
        except BaseException:
            if os.path.lexists(partial):
                os.unlink(partial)
            raise
    elif args.output:  # a device or a pipe (-o /dev/null, -o /dev/stdout): write to it
        with open(args.output, "w", encoding="utf-8") as fh:
            _write(args, snapshot, conn, flows, conn_filter, fh)
    else:
        _write(args, snapshot, conn, flows, conn_filter, stdout)


def _write(args, snapshot, conn, flows, conn_filter, out: TextIO) -> None:
    if args.format == GROUPED:
        import json

        from .graph import FlowIndex

        # as the API's `?format=grouped` sends it
        out.write(json.dumps(FlowIndex.build(conn).grouped()) + "\n")
        return
    write(flows, args.format, out)
    if args.explain:
        from .explain import explain_text

        out.write(
            explain_text(snapshot, conn, args.focus_workload, args.focus_workload_peer, conn_filter)
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netviz", description="Kubernetes NetworkPolicy analysis")
    sub = parser.add_subparsers(dest="command", required=True)
    analyze = sub.add_parser("analyze", help="allowed connectivity of a set of manifests")
    add_analyze_arguments(analyze)
    d = sub.add_parser("diff", help="connectivity change between two sets of manifests")
    add_diff_arguments(d)
    return parser


def add_diff_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", metavar="OLD_PATH")
    parser.add_argument("new", metavar="NEW_PATH")
    parser.add_argument("--format", choices=("txt", "json", "md"), default="txt")
    parser.add_argument("-o", "--output", metavar="FILE")


def run_diff(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    import json

    from .diff import diff

    try:
        before = evaluate(load_inputs([args.old]))
        after = evaluate(load_inputs([args.new]))
    except ManifestErrors as exc:
        _print_errors(exc, stderr)
        return EXIT_INPUT
    change = diff(before, after)
    if args.format == "json":
        text = json.dumps(change.as_dict(), indent=2) + "\n"
    elif args.format == "md":
        rows = ["| change | src | dst | before | after |", "|---|---|---|---|---|"]
        rows += [f"| added | {f.src.id} | {f.dst.id} | | {f.ports} |" for f in change.added]
        rows += [f"| removed | {f.src.id} | {f.dst.id} | {f.ports} | |" for f in change.removed]
        rows += [
            f"| changed | {c.src.id} | {c.dst.id} | {c.before} | {c.after} |"
            for c in change.changed
        ]
        text = "\n".join(rows) + "\n"
    else:
        lines = [f"+ {f.src.id} => {f.dst.id} : {f.ports}" for f in change.added]
        lines += [f"- {f.src.id} => {f.dst.id} : {f.ports}" for f in change.removed]
        lines += [f"~ {c.src.id} => {c.dst.id} : {c.before} -> {c.after}" for c in change.changed]
        text = "\n".join(lines) + ("\n" if lines else "")
        text += f"{change.summary()} (added, removed, changed)\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        stdout.write(text)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "analyze":
        return run_analyze(args, sys.stdout, sys.stderr)
    return run_diff(args, sys.stdout, sys.stderr)


def reader_gone() -> int:
    """`... | head` closed the pipe: nothing more to say to anyone. Standard output goes to
    /dev/null, so that the interpreter's last flush does not raise again; the exit code."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1


def console() -> None:
    """The `netviz` console script: main() with the collector off, and no teardown.

    The engine makes no reference cycles, so the collector would only walk every live object
    again and again (the snapshot, the flows) and free nothing; at exit, tearing down millions
    of objects one by one is time spent on memory the OS reclaims at once.
    """
    gc.disable()
    try:
        code = main()
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = reader_gone()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    console()
