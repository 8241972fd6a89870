"""A short run of benchmarks/load.py: gunicorn as `make serve` runs it, on a throwaway SQLite
file, with concurrent API writers (the full run is 8 writers for 30 s, by hand)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LOAD = Path(__file__).resolve().parents[2] / "benchmarks" / "load.py"


# It always runs on a SQLite file of its own: the PostgreSQL pass of `make test` skips it.
pytestmark = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="SQLite only"
)


def test_concurrent_api_writers_against_gunicorn_on_sqlite_get_no_server_error():
    result = subprocess.run(
        [sys.executable, str(LOAD), "--writers", "4", "--seconds", "3", "--workers", "2",
         "--database", "sqlite"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert result.returncode == 0, report
    assert report["server_errors"] == report["failed_connections"] == 0
    assert report["tracebacks_in_log"] == 0
    assert report["requests"] > 4
    assert set(report["by_status"]) <= {"200", "201", "409"}
