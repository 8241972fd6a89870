"""Kustomize trees → the objects `kubectl kustomize` renders, safely, with located refusals.

A folder holding a `kustomization.yaml` (`.yml`, or `Kustomization`) is what kubectl would
apply only after rendering: its raw files are patches and bases, not objects. This module
finds the kustomizations of a tree (uploaded files, an archive's entries, a CLI folder), works
out which are top-level (not included by another), checks each before kubectl runs (no remote
resources, no Helm charts: rendering must never reach the network) and renders the chosen
ones with `kubectl kustomize --load-restrictor LoadRestrictionsRootOnly`, in a temporary
directory holding only the tree, under a time and an output-size limit.

Each rendered object is handed on as its own text, named after the kustomization that
rendered it and, where kustomize says so (`config.kubernetes.io/origin`, asked for through a
temporary copy of the kustomization with `buildMetadata: [originAnnotations]`), the file it
came from; the annotation itself is removed again, since the user never wrote it.

A folder with a `Chart.yaml` is a Helm chart: its templates are not manifests until
`helm template` renders them, and no Helm binary is assumed, so it is refused.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ManifestError, ManifestErrors
from .model import Diagnostic, Location

if TYPE_CHECKING:
    from pathlib import Path  # imported where used: a plain folder's `analyze` needs none

__all__ = [
    "KUSTOMIZATION_NAMES",
    "KustomizeChoiceNeeded",
    "Tree",
    "find_kustomizations",
    "prepare_folder",
    "prepare_kustomization",
    "prepare_tree",
    "read_folder",
]

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ORIGIN = "config.kubernetes.io/origin"
DEFAULT_TIMEOUT = 30.0  # seconds per `kubectl kustomize`
DEFAULT_MAX_OUTPUT = 50 * 1024 * 1024  # bytes of rendered YAML per kustomization
# Keys whose entries kustomize may fetch over the network when they are URLs.
_REFERENCE_KEYS = ("resources", "bases", "components", "crds")
_HELM_KEYS = ("helmCharts", "helmChartInflationGenerator", "helmGlobals")
_REMOTE_PREFIXES = ("http://", "https://", "git@", "ssh://", "git::", "github.com/", "gitlab.com/")


class KustomizeChoiceNeeded(ManifestErrors):
    """Several top-level kustomizations and no choice among them: `choices` lists them."""

    def __init__(self, errors: list[ManifestError], choices: tuple[str, ...]) -> None:
        super().__init__(errors)
        self.choices = choices


@dataclass(frozen=True, slots=True)
class Tree:
    """What to load from a tree: plain files as they are, rendered objects one text each."""

    files: tuple[tuple[str, bytes], ...]  # outside every kustomization and chart
    objects: tuple[tuple[str, str], ...] = ()  # rendered, one object each
    diagnostics: tuple[Diagnostic, ...] = ()
    rendered: tuple[str, ...] = ()  # the kustomization folders rendered


@dataclass(frozen=True, slots=True)
class _Kustomization:
    folder: str  # "" for the tree's root
    file: str  # its path in the tree
    includes: tuple[str, ...]  # folders it names in resources/bases/components
    refusals: tuple[ManifestError, ...]


def _folder(path: str) -> str:
    return posixpath.dirname(path)


def _under(path: str, folder: str) -> bool:
    return folder == "" or path == folder or path.startswith(folder + "/")


def _label(folder: str, name: str = "") -> str:
    """A folder as users write it: `overlays/prod`, or `.` for the root."""
    joined = posixpath.join(folder, name) if name else folder
    return joined or "."


def _is_remote(entry: str) -> bool:
    lower = entry.strip().lower()
    return lower.startswith(_REMOTE_PREFIXES) or "://" in lower or "?ref=" in lower


def _read_kustomization(path: str, content: bytes) -> _Kustomization:
    """The folders a kustomization includes and why it may not be rendered here."""
    import yaml  # on first use: `netviz analyze` of plain files never needs PyYAML

    folder = _folder(path)
    refusals: list[ManifestError] = []
    includes: list[str] = []
    try:
        node = yaml.compose(content.decode("utf-8-sig"), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", -1) + 1
        refusals.append(ManifestError(f"is not valid YAML ({exc})", Location(path, line)))
        return _Kustomization(folder, path, (), tuple(refusals))
    if not isinstance(node, yaml.MappingNode):
        return _Kustomization(folder, path, (), ())
    for key_node, value in node.value:
        key = key_node.value
        line = key_node.start_mark.line + 1
        if key in _HELM_KEYS:
            refusals.append(
                ManifestError(
                    "Helm charts are not rendered here (kubectl would need Helm and the "
                    "network): render the chart with `helm template` and upload its output",
                    Location(path, line, key),
                )
            )
        if key not in _REFERENCE_KEYS or not isinstance(value, yaml.SequenceNode):
            continue
        for i, item in enumerate(value.value):
            if not isinstance(item, yaml.ScalarNode):
                continue
            entry = str(item.value)
            if _is_remote(entry):
                refusals.append(
                    ManifestError(
                        f"remote {key} entry {entry!r} is refused: netviz renders without "
                        "network access; vendor it into the tree or upload the output of "
                        "`kubectl kustomize`",
                        Location(path, item.start_mark.line + 1, f"{key}[{i}]"),
                    )
                )
            else:
                includes.append(posixpath.normpath(posixpath.join(folder, entry)))
    return _Kustomization(folder, path, tuple(includes), tuple(refusals))


def find_kustomizations(paths: Iterable[str]) -> tuple[str, ...]:
    """The folders of a tree that hold a kustomization (`.` for the root), sorted."""
    return tuple(
        sorted({_label(_folder(p)) for p in paths if posixpath.basename(p) in KUSTOMIZATION_NAMES})
    )


def _top_level(kustomizations: dict[str, _Kustomization]) -> list[str]:
    included = {i for k in kustomizations.values() for i in k.includes}
    return sorted(f for f in kustomizations if f not in included)


def prepare_tree(
    files: Sequence[tuple[str, bytes]],
    choose: Sequence[str] = (),
    *,
    render_all: bool = False,
    kubectl: str = "kubectl",
    timeout: float = DEFAULT_TIMEOUT,
    max_output: int = DEFAULT_MAX_OUTPUT,
    env: dict[str, str] | None = None,
) -> Tree:
    """Plain files pass through; kustomizations are rendered; Helm charts are refused.

    `files` are (path in the tree, content) pairs. With several top-level kustomizations,
    `choose` names the folders to render (`overlays/prod`); without a choice `render_all`
    renders every top-level one, else KustomizeChoiceNeeded lists them. Raises ManifestErrors
    with every refusal, located, before kubectl runs.
    """
    by_path = dict(files)
    charts = sorted(_folder(p) for p in by_path if posixpath.basename(p) == "Chart.yaml")
    errors = [
        ManifestError(
            "is a Helm chart: its templates are not manifests until rendered; run "
            "`helm template` on it and upload (or analyse) the output",
            Location(_label(c, "Chart.yaml")),
        )
        for c in charts
    ]
    kustomizations = {
        _folder(p): _read_kustomization(p, by_path[p])
        for p in sorted(by_path)
        if posixpath.basename(p) in KUSTOMIZATION_NAMES and not any(_under(p, c) for c in charts)
    }
    if not kustomizations:
        if errors:
            raise ManifestErrors(errors)
        return Tree(tuple(files))
    top = _top_level(kustomizations)
    wanted = [posixpath.normpath(c).strip("/") for c in choose if c.strip()]
    wanted = [_resolve("" if w == "." else w, kustomizations) for w in wanted]
    for w in wanted:
        if w not in kustomizations:
            known = ", ".join(_label(k) for k in sorted(kustomizations))
            errors.append(
                ManifestError(
                    f"no kustomization in {_label(w)!r}; the tree has: {known}",
                    Location(_label(w)),
                    "kustomize",
                )
            )
    notes: list[Diagnostic] = []
    if not wanted and len(top) > 1 and not render_all:
        choices = tuple(_label(t) for t in top)
        raise KustomizeChoiceNeeded(
            [
                *errors,
                ManifestError(
                    f"{len(top)} top-level kustomizations ({', '.join(choices)}): choose the "
                    "one(s) to render",
                    Location(_label(top[0], "")),
                    "kustomize",
                ),
            ],
            choices,
        )
    targets = wanted or top
    if not wanted and len(top) > 1:
        notes.append(
            Diagnostic(
                "warning",
                f"{len(top)} top-level kustomizations, each rendered: "
                f"{', '.join(_label(t) for t in top)} (choose with --kustomize)",
                Location("."),
            )
        )
    for t in targets:
        if t in kustomizations:
            errors.extend(_refusals(t, kustomizations))
    kfolders = list(kustomizations)
    if errors:
        raise ManifestErrors(errors)
    import shutil  # here, not at the top: a tree without kustomizations never needs it

    if shutil.which(kubectl, path=(env or os.environ).get("PATH")) is None:
        raise ManifestErrors(
            [
                ManifestError(
                    "kubectl is not installed here, and this Kustomize folder must be rendered "
                    "with it: install kubectl (it ships Kustomize), or upload the output of "
                    f"`kubectl kustomize {_label(t)}` instead",
                    Location(kustomizations[t].file),
                )
                for t in targets
            ]
        )
    plain = [
        (p, c)
        for p, c in files
        if not any(_under(p, k) for k in kfolders) and not any(_under(p, c) for c in charts)
    ]
    skipped = sorted(set(top) - set(targets))
    notes += [
        Diagnostic("warning", "kustomization not rendered (not chosen)", Location(_label(s)))
        for s in skipped
    ]
    rendered: list[tuple[str, str]] = []
    for t in targets:
        rendered += _render(by_path, kustomizations[t], kubectl, timeout, max_output, env)
    return Tree(
        tuple(plain),
        tuple(rendered),
        tuple(notes),
        tuple(_label(t) for t in targets),
    )


def _resolve(wanted: str, kustomizations: dict[str, _Kustomization]) -> str:
    """A chosen folder as the tree names it: `overlays/prod` also names
    `shop.tar.gz/shop/overlays/prod` when that is the only folder it can mean."""
    if wanted in kustomizations:
        return wanted
    ends = [k for k in kustomizations if k.endswith("/" + wanted)]
    return ends[0] if len(ends) == 1 else wanted


def _refusals(folder: str, kustomizations: dict[str, _Kustomization]) -> list[ManifestError]:
    """The refusals of a kustomization and of every kustomization it includes."""
    seen: set[str] = set()
    out: list[ManifestError] = []
    todo = [folder]
    while todo:
        current = todo.pop()
        if current in seen or current not in kustomizations:
            continue
        seen.add(current)
        out.extend(kustomizations[current].refusals)
        todo.extend(kustomizations[current].includes)
    return out


def _clean_message(text: str, root: str) -> str:
    """What kustomize said, with our temporary directory taken out of its paths."""
    text = text.replace(root + "/", "").replace(root, ".")
    lines = [line for line in text.strip().splitlines() if not line.startswith("# Warning:")]
    return " ".join(lines)[:2000] or "kubectl kustomize failed"


def _render(
    by_path: dict[str, bytes],
    k: _Kustomization,
    kubectl: str,
    timeout: float,
    max_output: int,
    env: dict[str, str] | None,
) -> list[tuple[str, str]]:
    import tempfile  # rendering only: `netviz analyze` of plain folders never imports it

    with tempfile.TemporaryDirectory(prefix="netviz-kustomize-") as tmp:
        from pathlib import Path

        root = Path(tmp).resolve()
        tree = root / "tree"
        for path, content in by_path.items():
            target = tree / path
            if tree not in target.resolve().parents:  # callers check paths; this is the backstop
                raise ManifestErrors([ManifestError("path leaves the tree", Location(path))])
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            except OSError as exc:  # a file and a folder of the same name, say
                raise ManifestErrors(
                    [
                        ManifestError(
                            f"cannot be laid out for kustomize ({exc.strerror})", Location(path)
                        )
                    ]
                ) from exc
        _ask_for_origins(tree / k.file, by_path[k.file])
        out = _run(
            [
                kubectl,
                "kustomize",
                "--load-restrictor",
                "LoadRestrictionsRootOnly",
                str(tree / k.folder),
            ],
            str(root),
            timeout,
            max_output,
            env,
            k.file,
            str(tree),
        )
    return _split(out, k)


def _ask_for_origins(path: Path, content: bytes) -> None:
    """Rewrite the temporary copy of a kustomization so kustomize notes each object's file."""
    import yaml  # on first use: `netviz analyze` of plain files never needs PyYAML

    try:
        data = yaml.safe_load(content.decode("utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return  # kustomize will say what is wrong with it
    if not isinstance(data, dict):
        return
    metadata = data.get("buildMetadata")
    metadata = list(metadata) if isinstance(metadata, list) else []
    if "originAnnotations" not in metadata:
        data["buildMetadata"] = [*metadata, "originAnnotations"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _run(
    command: list[str],
    cwd: str,
    timeout: float,
    max_output: int,
    env: dict[str, str] | None,
    file: str,
    tree: str,
) -> str:
    """Run kubectl with no network to speak of and limits on time and output."""
    import subprocess  # rendering only, as tempfile above (together ~8 ms of start-up)
    import threading

    base = dict(env if env is not None else os.environ)
    run_env = {
        "PATH": base.get("PATH", os.defpath),
        "HOME": cwd,  # no user config, no credentials: the render needs neither
        "KUBECONFIG": os.devnull,
        # Remote references are refused before this runs; any fetch that slipped through
        # would go to a proxy that is not there.
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
        "GIT_ALLOW_PROTOCOL": "file",
    }
    try:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=run_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise ManifestErrors(
            [ManifestError(f"kubectl could not be started ({exc})", Location(file))]
        ) from exc
    chunks: list[bytes] = []
    errs: list[bytes] = []
    state = {"size": 0, "over": False}

    def read_out() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(65536):
            state["size"] += len(chunk)
            if state["size"] > max_output:
                state["over"] = True
                proc.kill()
                return
            chunks.append(chunk)

    def read_err() -> None:
        assert proc.stderr is not None
        errs.append(proc.stderr.read(1024 * 1024))

    readers = [threading.Thread(target=read_out), threading.Thread(target=read_err)]
    for r in readers:
        r.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        for r in readers:
            r.join()
        raise ManifestErrors(
            [ManifestError(f"kubectl kustomize took longer than {timeout:g} s", Location(file))]
        ) from None
    for r in readers:
        r.join()
    if state["over"]:
        raise ManifestErrors(
            [
                ManifestError(
                    f"kubectl kustomize rendered more than {max_output / 1048576:.1f} MB",
                    Location(file),
                )
            ]
        )
    if proc.returncode != 0:
        said = _clean_message(b"".join(errs).decode("utf-8", "replace"), tree)
        raise ManifestErrors([ManifestError(f"kustomize: {said}", Location(file))])
    return b"".join(chunks).decode("utf-8", "replace")


def _split(output: str, k: _Kustomization) -> list[tuple[str, str]]:
    """One text per rendered object, named after its kustomization and origin file."""
    import yaml  # on first use: `netviz analyze` of plain files never needs PyYAML

    out = []
    try:
        docs = [d for d in yaml.safe_load_all(output) if d is not None]
    except yaml.YAMLError as exc:  # kustomize writes plain YAML; this would be its bug
        raise ManifestErrors(
            [ManifestError(f"kustomize output is not YAML ({exc})", Location(k.file))]
        ) from exc
    for i, doc in enumerate(docs):
        source = _origin(doc, k.folder)
        name = f"{source} (via {k.file})" if source else f"{k.file} (object {i + 1})"
        out.append((name, yaml.safe_dump(doc, sort_keys=False)))
    return out


def _origin(doc: object, folder: str) -> str:
    """The file an object came from (relative to the tree), taking our annotation out."""
    import yaml  # on first use: `netviz analyze` of plain files never needs PyYAML

    if not isinstance(doc, dict):
        return ""
    meta = doc.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(annotations, dict) or ORIGIN not in annotations:
        return ""
    raw = annotations.pop(ORIGIN)
    if not annotations:
        del meta["annotations"]
    try:
        origin = yaml.safe_load(raw) if isinstance(raw, str) else None
    except yaml.YAMLError:
        return ""
    path = origin.get("path") if isinstance(origin, dict) else None
    if not isinstance(path, str):
        return ""
    return posixpath.normpath(posixpath.join(folder, path))


def prepare_folder(root: Path, shown: str, choose: Sequence[str] = (), **options: object) -> Tree:
    """prepare_tree() on a folder on disk, every name shown under `shown` (as the user typed
    it). `choose` holds folders on disk; those outside `root` are ignored."""
    from pathlib import Path

    base = root.resolve()
    wanted = []
    for c in choose:
        target = Path(c).resolve()
        if target == base or base in target.parents:
            wanted.append(target.relative_to(base).as_posix())
    return _shown_tree(read_folder(root), shown, wanted, options)


def prepare_kustomization(folder: Path, **options: object) -> Tree:
    """prepare_tree() on one kustomization folder on disk and the folders it includes (a
    `../../base` beside an overlay), named from the working directory."""
    from pathlib import Path

    folder = folder.resolve()
    reached = _reached(folder)
    root = Path(os.path.commonpath([str(f) for f in reached]))
    files: dict[str, bytes] = {}
    for f in sorted(reached):
        for rel, content in read_folder(f):
            files[(f / rel).relative_to(root).as_posix()] = content
    wanted = folder.relative_to(root).as_posix()
    try:
        shown = os.path.relpath(root)
    except ValueError:  # another drive
        shown = str(root)
    if shown.startswith(".."):
        shown = str(root)
    return _shown_tree(sorted(files.items()), shown, [wanted], options)


def _reached(folder: Path) -> set[Path]:
    """A kustomization folder and every folder it includes, transitively."""
    seen: set[Path] = set()
    todo = [folder]
    while todo:
        current = todo.pop()
        if current in seen or not current.is_dir():
            continue
        seen.add(current)
        for name in KUSTOMIZATION_NAMES:
            if (current / name).is_file():
                k = _read_kustomization(name, (current / name).read_bytes())
                todo += [(current / i).resolve() for i in k.includes]
                break
    return seen


def _shown_tree(
    files: Sequence[tuple[str, bytes]], shown: str, wanted: list[str], options: dict
) -> Tree:
    try:
        tree = prepare_tree(files, wanted, **options)
    except ManifestErrors as exc:
        errors = [_shown_error(e, shown) for e in exc.errors]
        if isinstance(exc, KustomizeChoiceNeeded):
            raise KustomizeChoiceNeeded(errors, exc.choices) from exc
        raise ManifestErrors(errors, exc.diagnostics) from exc
    return Tree(
        tuple((_join(shown, name), content) for name, content in tree.files),
        tuple((_join(shown, name), text) for name, text in tree.objects),
        tuple(
            Diagnostic(d.severity, d.message, _shown(d.location, shown), d.subject)
            for d in tree.diagnostics
        ),
        tuple(_join(shown, r) for r in tree.rendered),
    )


def _join(shown: str, name: str) -> str:
    if name == ".":
        return shown
    head, via, tail = name.partition(" (via ")
    joined = posixpath.normpath(posixpath.join(shown, head))
    return joined + via + (posixpath.join(shown, tail) if via else "")


def _shown(location: Location, shown: str) -> Location:
    return Location(_join(shown, location.file), location.line, location.path)


def _shown_error(error: ManifestError, shown: str) -> ManifestError:
    return ManifestError(error.message, _shown(error.location, shown), error.subject)


def read_folder(root: Path) -> list[tuple[str, bytes]]:
    """Every regular file under a folder, as (path relative to it, content), sorted.

    Symbolic links are not followed: a tree names what it holds.
    """
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            rel = path.relative_to(root).as_posix()
            if not any(part.startswith(".git") for part in rel.split("/")):
                found.append((rel, path.read_bytes()))
    return found
