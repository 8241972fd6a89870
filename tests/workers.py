"""Running the real analysis worker (django-tasks-db's `db_worker`) from tests.

`run_worker()` processes every task waiting in the database, then returns: as a separate
`manage.py db_worker --batch` process when the test database is one that another process can
open (PostgreSQL), otherwise with the same worker loop in a thread of this process (the
SQLite test database lives in this process's memory). Either way the worker claims tasks
from the database, as in production; tests that use it need `transactional_db`, so that it
sees what they committed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote

from django.db import connection, connections
from django_tasks_db.management.commands.db_worker import Worker

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 300


def _database_url() -> str:
    settings = connection.settings_dict
    auth = quote(settings["USER"] or "")
    if settings.get("PASSWORD"):
        auth += ":" + quote(settings["PASSWORD"])
    host = settings["HOST"] or "localhost"
    port = f":{settings['PORT']}" if settings["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{settings['NAME']}"


def run_worker_process() -> subprocess.CompletedProcess:
    """`manage.py db_worker --batch` against the test database, until no task is left."""
    env = {**os.environ, "DATABASE_URL": _database_url()}
    command = [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay"]
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=True
    )


def run_worker_thread() -> None:
    """The same worker loop in a thread with its own database connection, until no task is
    left (signals are only for a process's main thread, so it is started without them)."""
    failure: list[BaseException] = []

    def work() -> None:
        try:
            Worker(
                queue_names=["default"],
                interval=0,
                batch=True,
                backend_name="default",
                startup_delay=False,
                max_tasks=None,
                worker_id="test-worker",
                excluded_queue_names=[],
            ).run()
        except BaseException as exc:  # reported in the test's thread
            failure.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work, name="db-worker")
    thread.start()
    thread.join(TIMEOUT)
    assert not thread.is_alive(), "the worker did not finish"
    if failure:
        raise failure[0]


def run_worker() -> None:
    """Process every waiting task with a real worker: its own process where it can."""
    if connection.vendor == "postgresql":
        run_worker_process()
    else:
        run_worker_thread()
