"""Fixtures of the hostile suite: a user with a stored cluster, and a guard that loads a case
in a separate process under a time and memory limit before anything runs it in this one."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.cases import Case

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "web"
MEMORY_LIMIT = 1024 * 1024 * 1024  # bytes of address space for a child that loads a case
TIME_LIMIT = 20  # seconds: a guard against hangs, not a measure (the machine is shared)


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_bounded(
    args: list[str], seconds: float = TIME_LIMIT, **kwargs
) -> subprocess.CompletedProcess | None:
    """Run a child under the memory limit; None when it outlives the time limit."""
    try:
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=seconds,
            preexec_fn=limit_memory,
            cwd=ROOT,
            **kwargs,
        )
    except subprocess.TimeoutExpired:
        return None


_LOADER = """
import sys
from pathlib import Path
from policies.engine import ManifestErrors, load_documents
files = [(p.name, p.read_bytes()) for p in sorted(Path(sys.argv[1]).iterdir())]
try:
    load_documents(files)
except ManifestErrors:
    pass
print("survived")
"""

_survivors: dict[str, bool] = {}


def loader_survives(case: Case, tmp_path_factory: pytest.TempPathFactory) -> bool:
    """Whether the engine loads the case (or refuses it) within the limits, in a child."""
    if case.name not in _survivors:
        folder = tmp_path_factory.mktemp(case.name)
        for name, content in case.files:
            (folder / name).write_bytes(content)
        # Only the cases flagged for the YAML reader's guard come here: they load in well
        # under a second once it is in, and hang until the memory limit before.
        result = run_bounded([sys.executable, "-c", _LOADER, str(folder)], seconds=10)
        _survivors[case.name] = result is not None and "survived" in result.stdout
    return _survivors[case.name]


@pytest.fixture
def guard(tmp_path_factory):
    """Call with a case: fails it at once when loading it alone would hang or exhaust memory
    (probed in a bounded child process first, so that the suite itself never hangs)."""

    def check(case: Case) -> None:
        if case.yamlio_guard and not loader_survives(case, tmp_path_factory):
            pytest.fail(
                "loading this bomb outlived 10 s or 1 GiB: the YAML reader's guard missed it"
            )

    return check


@pytest.fixture
def owner(django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return django_user_model.objects.create_user(username="hostile", password="unused-0")


@pytest.fixture
def cluster(owner):
    from policies import revisions, snapshots

    files = [(n, (DATA / n).read_bytes()) for n in ("shop.yaml", "shop-policies.yaml")]
    return revisions.create_cluster(owner, "shop", snapshots.parse_manifests(files))
