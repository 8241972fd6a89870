"""The web layer's imports run one way: views → (changes, graph read models, queries) →
revisions → analysis → snapshots → models → engine. No circle, no module reaching into
another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import policies

PACKAGE = Path(policies.__file__).parent

# Top to bottom; a module may import only what stands below it (or within its own package).
LAYERS = [
    ("management", "admin", "urls", "apps", "middleware"),
    ("views",),
    ("forms",),
    ("changes", "graphs", "queries"),
    ("revisions",),
    ("tasks",),
    ("analysis",),
    ("snapshots",),
    ("permissions", "tokens", "uploads"),
    ("errors",),
    ("models",),
    ("engine",),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import of `policies.*` in a file."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names = [alias.name for alias in node.names]
            if target.startswith("policies"):
                # `from . import engine` names a module, not an attribute
                for name in names:
                    if (PACKAGE.parent / (target + "." + name).replace(".", "/")).exists() or (
                        PACKAGE.parent / ((target + "." + name).replace(".", "/") + ".py")
                    ).exists():
                        found.append((f"{target}.{name}", []))
                    else:
                        found.append((target, [name]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("policies")]
    return found


def _graph() -> dict[str, list[tuple[str, list[str]]]]:
    return {
        _module_name(path): _imports(path)
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts and "engine" not in path.relative_to(PACKAGE).parts
    }


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_the_import_graph_has_no_circle():
    imports = _graph()
    graph = {m: sorted({t for t, _ in edges if t in imports}) for m, edges in imports.items()}
    done, stack = set(), []

    def visit(module: str) -> None:
        if module in stack:
            cycle = [*stack[stack.index(module) :], module]
            raise AssertionError("import circle: " + " -> ".join(cycle))
        if module in done:
            return
        stack.append(module)
        for target in graph.get(module, ()):
            visit(target)
        stack.pop()
        done.add(module)

    for module in graph:
        visit(module)


def test_imports_run_down_the_layers():
    wrong = []
    for module, edges in _graph().items():
        here = _layer(module)
        if here not in RANK:
            continue
        for target, _ in edges:
            there = _layer(target)
            if there == here or there not in RANK:
                continue
            if RANK[there] <= RANK[here]:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_no_module_imports_another_ones_private_names():
    private = [
        f"{module} takes {name} from {target}"
        for module, edges in _graph().items()
        for target, names in edges
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert private == []


def test_the_checker_sees_a_circle_and_a_layer_breach(tmp_path, monkeypatch):
    # The checks above must be able to fail: feed them a package with both faults.
    pkg = tmp_path / "policies"
    (pkg / "views").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "views" / "__init__.py").write_text("")
    (pkg / "revisions.py").write_text("from .views import x\nfrom .analysis import _y\n")
    (pkg / "analysis.py").write_text("from . import revisions\n")
    (pkg / "views" / "x.py").write_text("from ..revisions import z\n")
    monkeypatch.setitem(globals(), "PACKAGE", pkg)
    with pytest.raises(AssertionError, match="import circle"):
        test_the_import_graph_has_no_circle()
    with pytest.raises(AssertionError, match=r"revisions imports policies\.views"):
        test_imports_run_down_the_layers()
    with pytest.raises(AssertionError, match=r"takes _y from policies\.analysis"):
        test_no_module_imports_another_ones_private_names()
