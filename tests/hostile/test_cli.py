"""Every hostile manifest through the CLI (`netviz analyze`), in a child process under a time
and memory limit: exit 0, or exit 2 with each error located; never a traceback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.hostile.cases import manifest_cases
from tests.hostile.conftest import loader_survives, run_bounded

NETVIZ = Path(sys.executable).with_name("netviz")

# No database here: the PostgreSQL pass of `make test` leaves it to the SQLite pass.
pytestmark = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="no database involved"
)

CASES = [pytest.param(c, id=c.name) for c in manifest_cases()]


@pytest.mark.parametrize("case", CASES)
def test_the_cli_answers_a_hostile_manifest_with_located_errors_or_a_result(
    case, tmp_path, tmp_path_factory
):
    if case.yamlio_guard and not loader_survives(case, tmp_path_factory):
        pytest.fail("loading this bomb outlived 10 s or 1 GiB: the YAML reader's guard missed it")
    for name, content in case.files:
        (tmp_path / name).write_bytes(content)
    result = run_bounded([str(NETVIZ), "analyze", str(tmp_path), "--format", "json", "-q"])
    assert result is not None, "the CLI outlived its time limit"
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode in (0, 2), result.stderr[-2000:]
    if result.returncode == 2:
        lines = result.stderr.strip().splitlines()
        assert lines[-1].endswith("error(s); nothing analysed")
        errors = [line for line in lines[:-1] if line.startswith("error: ")]
        assert errors
        for line in errors:
            # error: <file>[:<line>][ <path>]: <message> (a message may run on over lines)
            assert line.startswith(f"error: {tmp_path}/"), line[:300]
