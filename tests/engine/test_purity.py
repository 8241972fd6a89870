"""The engine never imports Django (nor networkx on the analyze path)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def test_the_engine_imports_no_django_module() -> None:
    modules = _loaded_after("import policies.engine, policies.engine.cli, policies.engine.explain")
    assert not {m for m in modules if m == "django" or m.startswith("django.")}


def test_the_analyze_path_imports_no_networkx() -> None:
    modules = _loaded_after("from policies.engine.cli import main")
    assert "networkx" not in modules
