"""`netviz analyze` starts lean: the native reader, no PyYAML, no explain or diff.

And the console script, which leaves with os._exit once its output is flushed, still writes
all of it and exits with main()'s code.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from policies.engine import yamlio
from policies.engine.cli import main

REPO = Path(__file__).resolve().parents[2]
POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {app: a}}\nspec: {containers: []}\n"


def _run(code: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _console(*args: str) -> subprocess.CompletedProcess:
    return _run("from policies.engine.cli import console\nconsole()", *args)


@pytest.mark.skipif(yamlio.READER != "native", reason="the pure-Python reader needs PyYAML")
def test_analyze_loads_neither_pyyaml_nor_explain_nor_diff(tmp_path: Path) -> None:
    (tmp_path / "pods.yaml").write_text(POD + "---\n" + POD.replace("name: a", "name: b"))
    probe = (
        "import sys, io\n"
        "from policies.engine.cli import main\n"
        "out = io.StringIO()\n"
        "sys.stdout = out\n"
        "main(['analyze', sys.argv[1], '--format', 'json'])\n"
        "sys.stdout = sys.__stdout__\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    done = _run(probe, str(tmp_path))
    assert done.returncode == 0, done.stderr
    modules = set(done.stdout.split())
    assert "policies.engine._fastyaml" in modules
    for unwanted in ("yaml", "policies.engine.explain", "policies.engine.diff"):
        assert unwanted not in modules, unwanted


def test_the_console_script_writes_everything_before_it_leaves(tmp_path: Path) -> None:
    pods = "---\n".join(
        POD.replace("name: a", f"name: p{i}").replace("app: a", f"app: p{i}") for i in range(60)
    )
    (tmp_path / "pods.yaml").write_text(pods)
    done = _console("analyze", str(tmp_path), "--format", "json")
    assert done.returncode == 0, done.stderr
    in_process = io.StringIO()
    with contextlib.redirect_stdout(in_process):
        assert main(["analyze", str(tmp_path), "--format", "json"]) == 0
    assert done.stdout == in_process.getvalue()
    assert len(json.loads(done.stdout)["connections"]) > 60 * 59


def test_the_console_script_exits_2_on_input_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("a: [\n")
    done = _console("analyze", str(tmp_path))
    assert done.returncode == 2
    assert f"{tmp_path / 'bad.yaml'}:2: invalid YAML" in done.stderr


def test_the_console_script_keeps_the_collector_off_to_the_end(tmp_path: Path) -> None:
    (tmp_path / "pods.yaml").write_text(POD)
    code = (
        "import atexit, gc, sys\n"
        "from policies.engine import cli\n"
        "real_main = cli.main\n"
        "def main():\n"
        "    code = real_main()\n"
        "    print('gc enabled:', gc.isenabled(), file=sys.stderr)\n"
        "    return code\n"
        "cli.main = main\n"
        "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
        "cli.console()\n"
    )
    done = _run(code, "analyze", str(tmp_path), "-q")
    assert done.returncode == 0
    assert "gc enabled: False" in done.stderr
    assert "atexit ran" not in done.stderr  # left with os._exit: no teardown
