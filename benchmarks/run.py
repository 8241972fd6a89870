"""Benchmarks: netviz end to end and engine-only, beside network-config-analyzer (NCA).

    .venv/bin/python benchmarks/run.py [--sizes S,M,L,L-unique,L-open,XL] [--skip-nca]
        [--skip-web] [--skip-soak] [--soak-uploads 500]

Generates each size into `.bench/<size>/` (reused while generate.py is unchanged), measures
wall time and peak RSS of every command in a fresh process, prints a table and writes it,
with the machine it ran on, the spread of the runs, the load on the machine and a CPU profile
of `analyze` by phase, to BENCHMARKS.md (keeping its hand-written "## Notes" section). Every
subprocess has a timeout; a timeout or a failure is reported in the table and the run goes on.
"""

import argparse
import dataclasses
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from time import perf_counter

import generate  # benchmarks/generate.py, beside this file
from web_probe import STREAM_SECONDS

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
PYTHON = Path(sys.executable)  # `make bench` runs us with .venv/bin/python
PROBE = Path(__file__).resolve().parent / "engine_probe.py"
PHASE_PROBE = Path(__file__).resolve().parent / "phase_probe.py"
PHASE_SIZES = ("M", "L")

NCA_PACKAGE = "network-config-analyzer==2.1.0"
NCA_VENV = BENCH / "nca-venv"
# NCA allots at most 10,000 pod peers (it models two pods per workload) and takes ~30 s at M
# already; L-unique exceeds the limit and L would take far longer, so it runs at S and M only.
NCA_SIZES = ("S", "M")

TIMEOUT_OURS = 120
TIMEOUT_NCA = 600
TIMEOUT_INSTALL = 600
TIME_BIN = Path("/usr/bin/time")
DEFAULT_SIZES = ("S", "M", "L", "L-unique", "L-open", "L-open-pods", "XL")


@dataclass(frozen=True, slots=True)
class Measurement:
    """One command run: wall seconds and peak RSS, or why there is no number."""

    seconds: float | None = None
    peak_mb: float | None = None
    error: str | None = None
    output: str = ""  # the command's stdout (the engine probe reports through it)
    spread: tuple[float, float] | None = None  # fastest and slowest of the runs
    cpu_seconds: float | None = None  # user + system: what a busy machine inflates least

    @property
    def ok(self) -> bool:
        return self.error is None


# Run inside a fresh interpreter when /usr/bin/time is missing: RUSAGE_CHILDREN is the peak of
# all children waited for so far, so each measurement needs a parent with no other children.
_RUSAGE_WRAPPER = """\
import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.write(f"Maximum resident set size (kbytes): {usage.ru_maxrss}\\n")
    out.write(f"User time (seconds): {usage.ru_utime}\\n")
    out.write(f"System time (seconds): {usage.ru_stime}\\n")
sys.exit(rc)
"""
_MAXRSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")
_CPU = re.compile(r"(?:User|System) time \(seconds\): ([\d.]+)")


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def measure(cmd: Sequence[str], timeout: float, env: dict[str, str] | None = None) -> Measurement:
    """Run `cmd` once in its own process group; time it and read its peak RSS."""
    with tempfile.TemporaryDirectory(prefix="netviz-bench-") as tmp:
        rss_file = Path(tmp, "rusage")
        if TIME_BIN.exists():
            wrapped = [str(TIME_BIN), "-v", "-o", str(rss_file), *cmd]
        else:
            wrapped = [str(PYTHON), "-c", _RUSAGE_WRAPPER, str(rss_file), *cmd]
        out_path, err_path = Path(tmp, "stdout"), Path(tmp, "stderr")
        with out_path.open("wb") as out, err_path.open("wb") as err:
            start = perf_counter()
            # A new session, so that a timeout can end the wrapper and the measured command
            # together (killing only the wrapper would leave the command running).
            proc = subprocess.Popen(
                wrapped, stdout=out, stderr=err, cwd=ROOT, env=env, start_new_session=True
            )
            # A blocking wait, the timeout kept by a timer: `Popen.wait(timeout=...)` polls
            # with sleeps of up to 50 ms, which rounded every run up to the next step of the
            # poll (a 0.14 s run measured 0.164 or 0.215 s).
            expired = threading.Event()

            def expire() -> None:
                expired.set()
                os.killpg(proc.pid, signal.SIGKILL)

            timer = threading.Timer(timeout, expire)
            timer.start()
            try:
                rc = proc.wait()
            finally:
                timer.cancel()
            seconds = perf_counter() - start
            if expired.is_set():
                return Measurement(error=f"timeout ({timeout:.0f} s)")
        stdout = out_path.read_text(errors="replace")
        stderr = err_path.read_text(errors="replace")
        if rc != 0:
            return Measurement(error=f"exit {rc}: {_tail(stderr)}", output=stdout)
        usage = rss_file.read_text() if rss_file.exists() else ""
        found = _MAXRSS.search(usage)
        peak_mb = int(found.group(1)) / 1024 if found else None
        cpu = [float(v) for v in _CPU.findall(usage)]
        return Measurement(seconds, peak_mb, output=stdout, cpu_seconds=sum(cpu) if cpu else None)


def repeat(run: Callable[[], Measurement], times: int) -> Measurement:
    """Median time and peak of `times` runs; the first failure is returned as it is."""
    runs = []
    for _ in range(times):
        result = run()
        if not result.ok:
            return result
        runs.append(result)
    runs.sort(key=lambda m: m.seconds or 0.0)
    mid = runs[len(runs) // 2]
    peaks = [m.peak_mb for m in runs if m.peak_mb is not None]
    spread = (runs[0].seconds or 0.0, runs[-1].seconds or 0.0)
    cpus = [m.cpu_seconds for m in runs if m.cpu_seconds is not None]
    return dataclasses.replace(
        mid,
        peak_mb=median(peaks) if peaks else None,
        spread=spread,
        cpu_seconds=median(cpus) if cpus else None,
    )


# ---- inputs ---------------------------------------------------------------------------------
def _generator_hash() -> str:
    return hashlib.sha256(Path(generate.__file__).read_bytes()).hexdigest()


def prepare(size: str) -> tuple[Path, generate.Summary]:
    """Generate `size` into .bench/ unless an identical generator already did."""
    outdir = BENCH / size
    stamp = BENCH / f"{size}.json"
    digest = _generator_hash()
    if stamp.exists() and outdir.is_dir():
        saved = json.loads(stamp.read_text())
        if saved.get("generator") == digest:
            return outdir, generate.Summary(**saved["summary"])
    summary = generate.generate(size, outdir)
    stamp.write_text(json.dumps({"generator": digest, "summary": dataclasses.asdict(summary)}))
    print(f"  generated {summary.line()}", flush=True)
    return outdir, summary


# ---- the tools ------------------------------------------------------------------------------
def netviz_command() -> tuple[list[str], str]:
    """The console script, or the module it runs when the venv predates the install."""
    script = PYTHON.parent / "netviz"
    if script.exists():
        return [str(script)], "netviz"
    # Same code path minus the entry-point shim; `make install` puts the script in place.
    return [str(PYTHON), "-m", "policies.engine.cli"], "python -m policies.engine.cli"


def ensure_nca() -> tuple[Path | None, str]:
    """Install NCA into a venv of its own; return (nca executable, version or error)."""
    nca = NCA_VENV / "bin" / "nca"
    version = _nca_version(nca)
    if version:
        return nca, version
    print(f"  installing {NCA_PACKAGE} into {NCA_VENV.relative_to(ROOT)} ...", flush=True)
    # NCA 2.1.0 declares Python >= 3.9 and its pinned dependencies (lxml 5.3.0, networkx
    # 3.2.1) have 3.13 wheels, so it shares the interpreter .venv is built on.
    steps = [
        [str(PYTHON), "-m", "venv", "--clear", str(NCA_VENV)],
        [str(NCA_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", NCA_PACKAGE],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=TIMEOUT_INSTALL)
        except subprocess.TimeoutExpired:
            return None, f"install timed out after {TIMEOUT_INSTALL} s"
        if done.returncode != 0:
            return None, f"install failed: {_tail(done.stderr)}"
    version = _nca_version(nca)
    return (nca, version) if version else (None, "installed, but `nca --version` failed")


def _nca_version(nca: Path) -> str | None:
    if not nca.exists():
        return None
    try:
        done = subprocess.run([nca, "--version"], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None
    found = re.search(r"\d+(\.\d+)+", done.stdout + done.stderr)
    if done.returncode != 0 or not found:
        return None
    python = (NCA_VENV / "pyvenv.cfg").read_text()
    py_version = re.search(r"^version(?:_info)?\s*=\s*(\S+)", python, re.M)
    return f"{found.group(0)} (Python {py_version.group(1) if py_version else '?'})"


def nca_command(nca: Path, cluster: Path) -> list[str]:
    """NCA's connectivity query over a directory of manifests.

    The directory is also given as the namespace and pod list: NCA then reads namespaces in
    a first pass. With a single `--resource_list DIR` it reads files in directory order and a
    pod read before its Namespace object keeps a label-less namespace, which silently changes
    what namespaceSelectors match. `txt_no_fw_rules` lists allowed workload pairs, the output
    closest to ours (the default `txt` also minimises them into firewall rules: ~2x slower).
    """
    return [
        str(nca),
        "--connectivity",
        str(cluster),
        "--ns_list",
        str(cluster),
        "--pod_list",
        str(cluster),
        "--output_format",
        "txt_no_fw_rules",
        "--file_out",
        os.devnull,
    ]


# ---- one size -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Row:
    """Everything measured for one size."""

    size: str
    summary: generate.Summary
    e2e: Measurement
    engine: Measurement  # seconds: evaluate + flows only; peak: the probe process's
    flows: int | None
    reeval: str
    nca: Measurement | None  # None: not run at this size


def bench_engine(
    cluster: Path, edited: Path | None, repeats: int
) -> tuple[Measurement, dict | None]:
    """Run the engine probe `repeats` times; the median engine time and peak, and its report."""
    # The probe imports `policies` from the work tree, installed or not.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [str(PYTHON), str(PROBE), str(cluster), *([str(edited)] if edited else [])]
    reports = []
    for _ in range(repeats):
        run = measure(command, TIMEOUT_OURS, env=env)
        if not run.ok:
            return run, None
        reports.append(json.loads(run.output.strip().splitlines()[-1]))
    reports.sort(key=lambda r: r["engine_s"])
    mid = reports[len(reports) // 2]
    # The probe's own peak, read before its re-evaluation hook ran: /usr/bin/time's would
    # include the edited cluster's second snapshot.
    peak_mb = median(r["peak_kb"] for r in reports) / 1024
    spread = (reports[0]["engine_s"], reports[-1]["engine_s"])
    return Measurement(mid["engine_s"], peak_mb, spread=spread), mid


def bench_phases(cluster: Path, repeats: int) -> dict[str, float] | str:
    """benchmarks/phase_probe.py `repeats` times: the median CPU ms of each phase."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    reports = []
    for _ in range(repeats):
        run = measure([str(PYTHON), str(PHASE_PROBE), str(cluster)], TIMEOUT_OURS, env=env)
        if not run.ok:
            return run.error or "failed"
        reports.append(json.loads(run.output.strip().splitlines()[-1]))
    return {
        key: median(r[key] for r in reports) if key != "reader" else reports[0][key]
        for key in reports[0]
    }


def bench_size(size: str, nca: Path | None, repeats: int, nca_repeats: int) -> Row:
    """Generate one size and measure netviz (and NCA where it applies) on it."""
    cluster, summary = prepare(size)
    edited: Path | None = BENCH / f"{size}-edited"
    try:
        edited_policy = generate.edit_one_policy(cluster, edited)
    except ValueError:  # an open cluster has no policy to edit
        edited, edited_policy = None, "no policy"
    command, _ = netviz_command()

    e2e_cmd = [*command, "analyze", str(cluster), "--format", "json", "-o", os.devnull]
    e2e = repeat(lambda: measure(e2e_cmd, TIMEOUT_OURS), repeats)
    print(f"  {size} e2e: {_fmt_spread(e2e)} s, {_fmt_mb(e2e)} MB", flush=True)

    engine, probe = bench_engine(cluster, edited, repeats)
    flows = probe["flows"] if probe else None
    reeval = "—"
    if probe is not None:
        reeval = f"{probe['reeval_s']:.3f}" if probe["reeval_s"] is not None else probe["reeval"]
    print(
        f"  {size} engine: {_fmt_s(engine)} s, {_fmt_mb(engine)} MB, {flows} flows; "
        f"re-eval ({edited_policy} edited): {reeval}",
        flush=True,
    )
    if engine.error:
        print(f"  {size} engine probe failed: {engine.error}", flush=True)
    if e2e.error:
        print(f"  {size} e2e failed: {e2e.error}", flush=True)

    nca_result = None
    if nca is not None and size in NCA_SIZES:
        nca_result = repeat(lambda: measure(nca_command(nca, cluster), TIMEOUT_NCA), nca_repeats)
        print(f"  {size} NCA: {_fmt_s(nca_result)} s, {_fmt_mb(nca_result)} MB", flush=True)
        if nca_result.error:
            print(f"  {size} NCA failed: {nca_result.error}", flush=True)
    return Row(size, summary, e2e, engine, flows, reeval, nca_result)


# ---- targets and the table ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Target:
    """A goal for one number of one size."""

    label: str
    value: Callable[[Row], float | None]
    limit: float
    at_least: bool = False  # True: value >= limit is the goal (speed-ups)

    def verdict(self, row: Row) -> str:
        value = self.value(row)
        if value is None:
            return f"{self.label} ?"
        met = value >= self.limit if self.at_least else value <= self.limit
        return f"{self.label} {'✓' if met else '✗'}"


def _cpu_speedup(row: Row) -> float | None:
    if row.nca is None or not row.nca.cpu_seconds or not row.e2e.cpu_seconds:
        return None
    return row.nca.cpu_seconds / row.e2e.cpu_seconds


def _speedup(row: Row) -> float | None:
    if row.nca is None or not row.nca.ok or not row.e2e.ok or not row.e2e.seconds:
        return None
    return (row.nca.seconds or 0.0) / row.e2e.seconds


TARGETS: dict[str, tuple[Target, ...]] = {
    "M": (
        Target("≥200x faster than NCA", _speedup, 200, at_least=True),
        Target("stretch ≥300x", _speedup, 300, at_least=True),
    ),
    "L": (
        Target("e2e ≤1.2 s", lambda r: r.e2e.seconds, 1.2),
        Target("e2e ≤150 MB", lambda r: r.e2e.peak_mb, 150),
        Target("engine ≤1 s", lambda r: r.engine.seconds, 1),
    ),
    "L-unique": (Target("engine ≤5 s", lambda r: r.engine.seconds, 5),),
    "XL": (
        Target("e2e ≤9 s", lambda r: r.e2e.seconds, 9),
        Target("e2e ≤600 MB", lambda r: r.e2e.peak_mb, 600),
    ),
}


def _fmt(value: float | None, digits: int, error: str | None = None) -> str:
    if error:
        return "timeout" if error.startswith("timeout") else "error"
    return "—" if value is None else f"{value:.{digits}f}"


def _fmt_s(m: Measurement) -> str:
    return _fmt(m.seconds, 3, m.error)


def _fmt_spread(m: Measurement) -> str:
    """The median, then the fastest and slowest run: `0.153 (0.149-0.171)`."""
    if m.error or m.spread is None or m.spread[0] == m.spread[1]:
        return _fmt_s(m)
    return f"{_fmt_s(m)} ({m.spread[0]:.3f}-{m.spread[1]:.3f})"


def _fmt_mb(m: Measurement) -> str:
    return _fmt(m.peak_mb, 0, m.error)


HEADER = (
    "size",
    "pods",
    "policies",
    "e2e s",
    "e2e CPU s",
    "e2e MB",
    "engine s",
    "engine MB",
    "flows",
    "re-eval s",
    "NCA s",
    "NCA ÷ e2e",
    "CPU ratio",
    "targets",
)


def table_rows(rows: Sequence[Row]) -> list[tuple[str, ...]]:
    """The cells of the results table, one tuple per size."""
    cells = []
    for row in rows:
        speedup = _speedup(row)
        cpu_speedup = _cpu_speedup(row)
        targets = ", ".join(t.verdict(row) for t in TARGETS.get(row.size, ()))
        cells.append(
            (
                row.size,
                f"{row.summary.pods:,}",
                f"{row.summary.policies:,}",
                _fmt_spread(row.e2e),
                _fmt(row.e2e.cpu_seconds, 3, row.e2e.error),
                _fmt_mb(row.e2e),
                _fmt_spread(row.engine),
                _fmt_mb(row.engine),
                "—" if row.flows is None else f"{row.flows:,}",
                row.reeval,
                "not run" if row.nca is None else _nca_cell(row.nca),
                "—" if speedup is None else f"{speedup:,.0f}x",
                "—" if cpu_speedup is None else f"{cpu_speedup:,.0f}x",
                targets or "—",
            )
        )
    return cells


def _nca_cell(m: Measurement) -> str:
    text = _fmt(m.seconds, 1, m.error)
    if not m.error and m.spread is not None and m.spread[0] != m.spread[1]:
        text += f" ({m.spread[0]:.1f}-{m.spread[1]:.1f})"
    return text


def plain_table(rows: Sequence[tuple[str, ...]]) -> str:
    """Aligned columns for the terminal."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# ---- the machine and the report -------------------------------------------------------------
def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem_kb = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
    return {
        "cpus": str(os.process_cpu_count() or os.cpu_count()),
        "model": model.group(1).strip() if model else platform.processor() or "unknown",
        "ram": f"{int(mem_kb.group(1)) / 1024**2:.1f} GiB" if mem_kb else "unknown",
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def info_cpus() -> str:
    return str(os.process_cpu_count() or os.cpu_count())


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if done.returncode != 0:
        return "no commit yet"
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True
    ).stdout.strip()
    return done.stdout.strip() + (" + uncommitted changes" if dirty else "")


PHASES = (
    ("interpreter_ms", "interpreter start-up"),
    ("imports_ms", "imports"),
    ("yaml_ms", "YAML"),
    ("validate_ms", "read files, validate, lint"),
    ("evaluate_ms", "evaluate"),
    ("json_ms", "flows + JSON"),
    ("total_ms", "total CPU"),
)


def phases_report(phases: dict[str, dict | str]) -> str:
    """The profile section: CPU ms per phase of `analyze`, per size."""
    if not phases:
        return ""
    sizes = list(phases)
    rows = []
    for key, label in PHASES:
        cells = []
        for size in sizes:
            p = phases[size]
            cells.append(p if isinstance(p, str) else f"{p[key]:.0f}")
        rows.append((label, *cells))
    readers = {p["reader"] for p in phases.values() if isinstance(p, dict)}
    return f"""
## Where the time goes

`benchmarks/phase_probe.py DIR`: one `analyze --format json` in a fresh process, as the console
script runs it (collector off), timed by phase in CPU milliseconds (medians of the runs; YAML
reader: {", ".join(sorted(readers))}). "interpreter start-up" is the CPU the process had used
before the probe's first line.

{markdown_table(("phase", *(f"{s} CPU ms" for s in sizes)), rows)}
"""


def _notes(path: Path) -> str:
    """The hand-written "## Notes" section of an existing report, kept across runs."""
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8")
    at = text.find("\n## Notes")
    return text[at:].rstrip() + "\n" if at >= 0 else ""


def report(
    rows: Sequence[Row],
    argv: Sequence[str],
    nca_info: str,
    netviz_how: str,
    load: str = "",
    repeats: int = 3,
) -> str:
    """BENCHMARKS.md: the table, the machine, the method."""
    info = machine()
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    inputs = [
        (
            s.size,
            f"{s.namespaces:,}",
            f"{s.workloads:,}",
            f"{s.pods:,}",
            f"{s.policies:,}",
            f"{s.files:,}",
        )
        for s in (row.summary for row in rows)
    ]
    targets = [f"- **{size}**: " + ", ".join(t.label for t in ts) for size, ts in TARGETS.items()]
    command = " ".join([".venv/bin/python benchmarks/run.py", *argv])
    return f"""# Benchmarks

Written by `make bench` (here: `{command}`) on {when}, at commit {_commit()}.

**Machine:** {info["cpus"]} CPUs ({info["model"]}), {info["ram"]} RAM, {info["os"]},
Python {info["python"]}. **NCA:** {nca_info}. **Load:** {load}.

{markdown_table(HEADER, table_rows(rows))}

Times are wall-clock seconds: the median of {repeats} runs, then (fastest-slowest); MB is
peak resident memory. "NCA ÷ e2e" is how many times faster netviz is end to end than NCA on
the same files, measured side by side in this run (median over median, wall clock; the
targets use it). "e2e CPU s" is the process's user + system time (median), and "CPU ratio"
NCA's over ours: on a machine busy with other work, wall clock stretches with the load and CPU
time much less. ✓/✗: a target met or missed, ?: not measured.

## Targets
{chr(10).join(targets)}

## What is measured
- **e2e**: `{netviz_how} analyze DIR --format json -o /dev/null`, a fresh process: start-up,
  parsing every file, evaluation and the JSON writer. Peak RSS via `/usr/bin/time -v`.
- **engine**: `benchmarks/engine_probe.py` loads the snapshot untimed, then times
  `evaluate(snapshot)` plus making every flow of `conn.flows()`, one at a time as the
  writers take them, none kept (before 2026-12-01 10:30 they were kept in a list: at
  L-open-pods that alone was 10 GB); memory is that process's peak RSS. "flows" is how many
  flows it made.
- **re-eval**: what the editor's impact preview costs after one policy gained a port
  (`generate.edit_one_policy`): `reevaluate(conn, snapshot_after)` with the unchanged policies
  kept as the same objects, plus `diff(conn, after)`, the impact it shows.
- **NCA**: network-config-analyzer in its own venv (`.bench/nca-venv`),
  `nca --connectivity DIR --ns_list DIR --pod_list DIR --output_format txt_no_fw_rules
  --file_out /dev/null`, one run, at S and M only: it allots at most 10,000 pod peers (two
  per workload) and its time grows steeply with size (~30 s at M already).
- Timeouts: {TIMEOUT_OURS} s for netviz, {TIMEOUT_NCA} s for NCA; a timeout is reported, not fatal.

## Inputs
`benchmarks/generate.py SIZE DIR` writes them, deterministically (seeded by the size name):
namespaces with team/env labels, apps in tiers (web, api, worker, db, cache, queue) with
named ports, a default deny and DNS egress per namespace, one policy per app (matchExpressions,
endPort ranges, egress ipBlocks with except, cross-namespace peers). L-unique makes every pod
a bare Pod with a unique label (no two pods share a class); L-open leaves a fifth of the
namespaces without any policy.

{markdown_table(("size", "namespaces", "workloads", "pods", "policies", "files"), inputs)}
"""


WEB_SIZES = ("L", "L-open-pods", "XL")
EDIT_RUNS = 15  # edits of each kind in benchmarks/edit_probe.py
WEB_TARGETS = {
    "L": (
        ("upload_s", 2.0, "upload through the API answered ≤2 s"),
        ("analysed_s", 5.0, "graph ready ≤5 s after the answer (worker)"),
        ("graph_first_s", 1.0, "aggregated graph JSON ≤1 s (first fetch)"),
        ("graph_bytes", 2_000_000, "graph JSON ≤2 MB"),
        ("page_interactive_s", 2.0, "cluster page interactive ≤2 s"),
        ("page_bytes", 300_000, "cluster page HTML ≤300 KB"),
        ("expand_s", 0.5, "expand a namespace ≤0.5 s"),
        ("explain_s", 0.5, "explain a pair ≤0.5 s"),
        ("save_beyond_preview_s", 0.5, "editor save ≤0.5 s beyond its preview"),
        ("put_beyond_preview_s", 0.5, "API PUT ≤0.5 s beyond the preview (as the save)"),
        ("history_s", 0.3, "history page with 30 revisions ≤0.3 s"),
    ),
    "L-open-pods": (
        ("upload_s", 2.0, "upload through the API answered ≤2 s"),
        ("analysed_s", 15.0, "analysis done ≤15 s after the answer (worker)"),
        ("server_peak_mb", 1000, "server and worker peak RSS ≤1 GB"),
        ("graph_first_s", 1.0, "graph JSON ≤1 s (first fetch)"),
        ("graph_bytes", 2_000_000, "graph JSON ≤2 MB"),
        ("stream_rss_mb", 300, "server RSS while streaming the connections ≤300 MB"),
    ),
    "XL": (
        ("analysed_s", 60.0, "analysed ≤60 s after the answer (worker)"),
        ("page_interactive_s", 3.0, "cluster page interactive ≤3 s after"),
    ),
}
# What the web probe measures beyond a size's targets, shown without a verdict.
WEB_FIGURES = (
    ("upload_s", "upload answered (s)"),
    ("graph_first_s", "graph JSON, first fetch (s)"),
    ("graph_bytes", "graph JSON (bytes)"),
    ("page_bytes", "cluster page HTML (bytes)"),
    ("expand_s", "expand a namespace (s)"),
    ("explain_s", "explain a pair (s)"),
    ("save_beyond_preview_s", "editor save beyond its preview (s)"),
    ("history_s", "history page (s)"),
    ("server_peak_mb", "server and worker peak RSS (MB)"),
)


def _probe(cmd: Sequence[str], timeout: float) -> dict | str:
    """A probe's JSON (its last line of output), or why there is none."""
    try:
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    if out.returncode != 0:
        return f"failed: {_tail(out.stderr)}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_web(cluster: Path) -> dict | str:
    """benchmarks/web_probe.py on one generated cluster: its JSON, or why it failed."""
    timeout = 1200 if cluster.name == "XL" else 600
    return _probe([str(PYTHON), str(ROOT / "benchmarks" / "web_probe.py"), str(cluster)], timeout)


SOAK_UPLOADS = 500
SOAK_GROWTH_MB = 10.0  # the target, after the first 50 uploads


def bench_soak(route: str, uploads: int) -> dict | str:
    """benchmarks/upload_soak.py through real processes on one route: its JSON, or why not."""
    cmd = [str(PYTHON), str(ROOT / "benchmarks" / "upload_soak.py"), str(uploads),
           f"--route={route}"]  # fmt: skip
    return _probe(cmd, timeout=max(600, uploads * 3))


def soak_summary(soak: dict | str) -> str:
    if isinstance(soak, str):
        return soak
    return (
        f"{soak['uploads']} uploads in {soak['seconds']:.0f} s; gunicorn worker"
        f" {soak['web_after_50_mb']:.1f} → {soak['web_end_mb']:.1f} MB"
        f" ({soak['web_growth_mb']:+.1f}), db_worker {soak['worker_after_50_mb']:.1f} →"
        f" {soak['worker_end_mb']:.1f} MB ({soak['worker_growth_mb']:+.1f})"
    )


def soak_report(soaks: dict[str, dict | str], uploads: int, load: str) -> str:
    """The soak section of BENCHMARKS.md: RSS growth of the real processes, per route."""
    rows = []
    for route, soak in soaks.items():
        if isinstance(soak, str):
            rows.append((route, "—", "—", "—", "—", f"not measured: {soak}"))
            continue
        for who, key in (("gunicorn worker", "web"), ("db_worker", "worker")):
            growth = soak[f"{key}_growth_mb"]
            rows.append(
                (
                    route,
                    who,
                    f"{soak[f'{key}_after_50_mb']:.1f}",
                    f"{soak[f'{key}_end_mb']:.1f}",
                    f"{growth:+.2f}",
                    "✓" if growth <= SOAK_GROWTH_MB else "✗",
                )
            )
    series = "; ".join(
        f"{route}: "
        + ", ".join(f"{m['upload']}: {m['web_mb']:.1f}/{m['worker_mb']:.1f}" for m in s["series"])
        for route, s in soaks.items()
        if not isinstance(s, str)
    )
    header = ("route", "process", "RSS after 50 (MB)", "RSS at the end (MB)", "growth (MB)",
              f"≤{SOAK_GROWTH_MB:g} MB")  # fmt: skip
    return f"""
## Soak: {uploads} sequential uploads of S

`benchmarks/upload_soak.py`: gunicorn (`netviz.wsgi`, as `make serve` runs it, with one
worker so that every upload lands in the same process, and without `max_requests`, whose
recycling would hide a leak) and the analysis worker (`manage.py db_worker`) on a throwaway
SQLite database. The uploads go one after the other through `POST /api/clusters/<id>/uploads`
as revisions of one cluster, each waiting for its answer and, on the worker route, for its
analysis. Route `inline`: S as it is, analysed in the request (the db_worker idles); route
`worker`: every upload analysed by the db_worker. Resident memory (VmRSS) of each process
after upload 50 and after the last; the target is the growth between them. {load}.

{markdown_table(header, rows)}

RSS along the way (upload: gunicorn worker/db_worker MB): {series}.
"""


def _peaks(web: dict) -> str:
    """Which process the peak was: gunicorn's or the db_worker's (probes since they are told)."""
    if "web_peak_mb" not in web:
        return ""
    return f" (gunicorn {web['web_peak_mb']:.0f}, db_worker {web['worker_peak_mb']:.0f})"


def web_summary(web: dict | str) -> str:
    if isinstance(web, str):
        return web
    text = (
        f"upload {web['upload_s']:.2f} s, analysed {web['analysed_s']:.2f} s after,"
        f" graph JSON {web['graph_first_s']:.2f} s first /"
        f" {web['graph_s']:.3f} s then, {web['graph_bytes'] / 1e6:.2f} MB ({web['graph_mode']}),"
        f" page interactive {web['page_interactive_s']:.2f} s, page {web['page_bytes']:,} bytes,"
        f" server peak {web['server_peak_mb']:.0f} MB{_peaks(web)}; connections streamed"
        f" {web['stream_mb']:.0f} MB in {web['stream_s']:.1f} s at ≤{web['stream_rss_mb']:.0f} MB"
    )
    if "edit_save_s" in web:
        text += (
            f"; edit preview {web['edit_preview_s']:.3f} s, save {web['edit_save_s']:.3f} s,"
            f" API PUT {web['api_put_s']:.3f} s (medians of {EDIT_RUNS}), history of"
            f" {web['history_revisions']} revisions {web['history_s']:.3f} s"
        )
    return text


def web_report(size: str, web: dict | str) -> str:
    """The web section of BENCHMARKS.md for one size."""
    if isinstance(web, str):
        return f"\n## Web at {size}\n\nNot measured: {web}\n"

    def shown(key: str) -> str:
        value = web.get(key)
        if value is None:
            return "—"
        return f"{value:,}" if key.endswith("_bytes") else f"{value:,.3f}"

    rows = [
        (label, shown(key), "✓" if web.get(key) is not None and web[key] <= limit else "✗")
        for key, limit, label in WEB_TARGETS[size]
    ]
    targeted = {key for key, _, _ in WEB_TARGETS[size]}
    rows += [(label, shown(key), "") for key, label in WEB_FIGURES if key not in targeted]
    return f"""
## Web at {size}

`benchmarks/web_probe.py`: gunicorn (one worker) and the analysis worker (`db_worker`) on a
throwaway SQLite database; the upload of every file through `POST /api/clusters/` (token
auth) until it is answered (the manifests parsed and stored), then until the worker has
stored its graph (the cluster list says `ready`); the graph JSON fetched twice (the first
fetch builds the view from the stored graph, the second comes from the process's memo); the
cluster page in Debian's chromium, from navigation to the graph's `netviz:ready` event, and
its HTML size; a namespace expanded and a pair explained; the connections API read for
{STREAM_SECONDS} s while the server's memory is watched; peak memory of the server and the
worker. With policies, `edit_probe.py`: one policy edited {EDIT_RUNS} times through the
editor (its impact preview, then its save) and {EDIT_RUNS} times through `PUT` with
`If-Match`, each adding a port; the history page once those revisions exist. Times are seen
from the client over loopback. {web_summary(web)}.

{markdown_table(("target", "measured", "met"), rows)}
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the benchmarks, print the table, write BENCHMARKS.md."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default=",".join(DEFAULT_SIZES),
        help=f"comma-separated sizes out of {', '.join(generate.SIZES)} (default: all)",
    )
    parser.add_argument("--skip-nca", action="store_true", help="do not install or run NCA")
    parser.add_argument(
        "--skip-web", action="store_true", help="do not run the web probe (server + chromium)"
    )
    parser.add_argument(
        "--skip-soak", action="store_true", help="do not run the upload soak (real processes)"
    )
    parser.add_argument(
        "--soak-uploads", type=int, default=SOAK_UPLOADS, help="uploads of S in the soak"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per netviz measurement (median reported)"
    )
    parser.add_argument(
        "--nca-repeat", type=int, default=1, help="runs of NCA per size (median reported)"
    )
    parser.add_argument(
        "--output", type=Path, default=ROOT / "BENCHMARKS.md", help="report file to write"
    )
    args = parser.parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in generate.SIZES]
    if unknown:
        parser.error(
            f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(generate.SIZES)}"
        )
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    BENCH.mkdir(exist_ok=True)
    nca, nca_info = None, "skipped (--skip-nca)"
    if not args.skip_nca and any(s in NCA_SIZES for s in sizes):
        nca, nca_info = ensure_nca()
        if nca is None:
            print(f"  NCA unavailable: {nca_info}", flush=True)
            nca_info = f"unavailable ({nca_info})"
    netviz_how = netviz_command()[1]
    if netviz_how != "netviz":
        print(f"  note: no console script in {PYTHON.parent}; running `{netviz_how}`", flush=True)

    load_before = os.getloadavg()
    rows = []
    phases: dict[str, dict | str] = {}
    for size in sizes:
        print(f"[{size}]", flush=True)
        rows.append(bench_size(size, nca, args.repeat, max(1, args.nca_repeat)))
        shutil.rmtree(BENCH / f"{size}-edited", ignore_errors=True)
        if size in PHASE_SIZES:
            phases[size] = bench_phases(BENCH / size, max(args.repeat, 3))
            print(f"  {size} phases (CPU ms): {phases[size]}", flush=True)
    load_after = os.getloadavg()
    load = (
        f"1-minute load average {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end"
        f" of the runs ({info_cpus()} CPUs; other work on the machine shows as a higher load)"
    )

    webs: dict[str, dict | str] = {}
    for size in WEB_SIZES if not args.skip_web else ():
        if size in sizes:
            print(f"[web at {size}]", flush=True)
            webs[size] = bench_web(BENCH / size)
            print(f"  {web_summary(webs[size])}", flush=True)

    soaks: dict[str, dict | str] = {}
    soak_load = ""
    if not args.skip_soak:
        before = os.getloadavg()[0]
        for route in ("inline", "worker"):
            print(f"[soak: {args.soak_uploads} uploads of S, {route}]", flush=True)
            soaks[route] = bench_soak(route, args.soak_uploads)
            print(f"  {soak_summary(soaks[route])}", flush=True)
        soak_load = (
            f"1-minute load average {before:.1f} before the soak, {os.getloadavg()[0]:.1f} after"
        )

    print()
    print(plain_table(table_rows(rows)))
    text = report(rows, argv, nca_info, netviz_how, load, args.repeat)
    text += phases_report(phases)
    for size, web in webs.items():
        text += web_report(size, web)
    if soaks:
        text += soak_report(soaks, args.soak_uploads, soak_load)
    text += _notes(args.output)
    args.output.write_text(text, encoding="utf-8")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
