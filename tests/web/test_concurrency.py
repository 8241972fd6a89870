"""Concurrent writers on the default database (SQLite, file-backed) queue instead of failing:
the conflict check still answers 409 where two saves touch the same policy, and nothing
answers 500 "database is locked"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("concurrent_writes.py")


# It always runs on a SQLite file of its own: the PostgreSQL pass of `make test` skips it.
pytestmark = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="SQLite only"
)


def test_concurrent_saves_and_uploads_on_sqlite_queue_without_errors(tmp_path):
    rounds = 5
    result = subprocess.run(
        [sys.executable, str(PROBE), str(tmp_path / "db.sqlite3"), str(rounds)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    statuses = json.loads(result.stdout.strip().splitlines()[-1])
    # Two saves of one policy from the same base: one lands, the other is told of it.
    assert statuses["same"] == [[200, 409]] * rounds
    # Two saves of different policies from the same base: both land.
    assert statuses["different"] == [[200, 200]] * rounds
    # Three uploads at once: each becomes a revision.
    assert statuses["uploads"] == [[302, 302, 302]] * rounds
    assert "Internal Server Error" not in result.stderr
    assert "database is locked" not in result.stderr
