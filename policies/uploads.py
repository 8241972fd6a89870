"""Turning what a browser or a script sent into (filename, bytes) pairs for the engine.

Files may be plain manifests or `.zip` / `.tar.gz` archives of them. Archives are read in
memory, never extracted to disk, and treated as hostile: entries with absolute or `..` paths,
links and device files are rejected, and the total number of bytes unpacked is capped while
reading (declared sizes in archive headers can lie, so the bytes actually read are counted).
YAML-level bombs (aliases, depth) are the engine's to reject when it parses.

A folder (a browser's folder upload, or the folders inside an archive) keeps its relative
paths, so that errors name `catalog/deployment.yaml:12`. A tree that holds a kustomization is
rendered by the engine (`engine/kustomize.py`); its other files (`Kustomization`, generator
inputs) are kept beside the manifests for that.
"""

from __future__ import annotations

import posixpath
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

from django.conf import settings

from .engine.kustomize import KUSTOMIZATION_NAMES, find_kustomizations, prepare_tree
from .errors import located
from .models import Policy

__all__ = [
    "MANIFEST_SUFFIXES",
    "Unpacked",
    "UploadError",
    "UploadErrors",
    "content_length_error",
    "render",
    "unpack",
]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
CHUNK = 64 * 1024
# Metadata that archivers add beside the real files; nobody wants a warning per entry for it.
JUNK = re.compile(r"(^|/)(__MACOSX/|\._|\.DS_Store$)")
WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
# Rows keep `<archive>/<entry>` as the file they came from; the archive's own name is at most
# 255 characters (Django shortens uploaded file names to that).
MAX_ENTRY_PATH = Policy._meta.get_field("source_file").max_length - 256


class UploadError(Exception):
    """A located problem with an uploaded file or archive entry (before any YAML is parsed)."""

    def __init__(self, message: str, file: str = "", line: int = 0, path: str = "") -> None:
        super().__init__(f"{file}: {message}" if file else message)
        self.message = message
        self.file = file
        self.line = line
        self.path = path

    def as_dict(self) -> dict[str, object]:
        """The web's one error shape (see policies.errors)."""
        return located(self.message, self.file, self.line, self.path)


class UploadErrors(Exception):
    """Every problem found in one upload; raised only when there is at least one."""

    def __init__(self, errors: list[UploadError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors

    def as_dicts(self) -> list[dict[str, object]]:
        return [e.as_dict() for e in self.errors]


class BudgetSpent(UploadErrors):
    """The cap on unpacked bytes was reached: reading stops at once."""


@dataclass
class Unpacked:
    """The files to hand to the engine, and warnings about entries that were left out."""

    files: list[tuple[str, bytes]] = field(default_factory=list)
    warnings: list[dict[str, object]] = field(default_factory=list)
    # Other files of archives and folders: what a kustomization may read besides manifests.
    support: list[tuple[str, bytes]] = field(default_factory=list)


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def content_length_error(content_length: str | int | None) -> UploadError | None:
    """An error when a request declares a body larger than NETVIZ_MAX_UPLOAD_BYTES.

    Checked from the declared length before the form reads any file, so an oversized upload is
    neither unpacked nor parsed. (Django spools large files to disk rather than memory while
    parsing the body; a reverse proxy in front should cap the body size as well.)
    """
    try:
        size = int(content_length or 0)
    except ValueError:
        return None
    limit = _limit("NETVIZ_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
    if size > limit:
        return UploadError(
            f"the upload is {_megabytes(size)}; the limit is {_megabytes(limit)}", file="upload"
        )
    return None


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _is_archive(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(ZIP_SUFFIXES + TAR_SUFFIXES)


class _Budget:
    """Counts the bytes unpacked so far against the cap on the whole upload."""

    def __init__(self) -> None:
        self.limit = _limit(
            "NETVIZ_MAX_UNPACKED_BYTES", 4 * _limit("NETVIZ_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
        )
        self.max_entries = _limit("NETVIZ_MAX_ARCHIVE_ENTRIES", 10_000)
        self.used = 0
        self.entries = 0

    def exceeded(self, file: str) -> BudgetSpent:
        return BudgetSpent(
            [
                UploadError(
                    f"unpacks to more than {_megabytes(self.limit)} in total (the limit on "
                    "unpacked manifests); is it an archive bomb?",
                    file=file,
                )
            ]
        )

    def count_entry(self, file: str) -> None:
        self.entries += 1
        if self.entries > self.max_entries:
            raise UploadErrors(
                [UploadError(f"holds more than {self.max_entries} entries", file=file)]
            )

    def read(self, stream: IO[bytes], file: str) -> bytes:
        """Read `stream` to its end, failing as soon as the budget is spent."""
        parts = []
        while chunk := stream.read(CHUNK):
            self.used += len(chunk)
            if self.used > self.limit:
                raise self.exceeded(file)
            parts.append(chunk)
        return b"".join(parts)


def _unsafe_entry(name: str) -> str | None:
    """Why an archive entry name is unsafe, or None when it stays inside the archive (and its
    path, prefixed with the archive's name, fits where rows keep the file they came from)."""
    if len(name) > MAX_ENTRY_PATH:
        return f"has a path longer than {MAX_ENTRY_PATH} characters"
    if "\0" in name:
        return "has a NUL character in its path"
    normal = name.replace("\\", "/")
    if normal.startswith("/") or WINDOWS_DRIVE.match(normal):
        return "has an absolute path"
    if ".." in normal.split("/"):
        return "has a '..' path that leaves the archive"
    return None


def _skipped(file: str, reason: str) -> dict[str, object]:
    return {
        "severity": "warning",
        "file": file,
        "line": 0,
        "path": "",
        "message": f"skipped: {reason}",
        "subject": "",
    }


def _entry_kind(archive: str, entry: str, result: Unpacked) -> bool:
    """Whether an archive entry should be read; warns about the ones skipped.

    Files that are not manifests are read too (a kustomization may need them); unpack() says
    which of them nobody used.
    """
    if JUNK.search(entry):
        return False
    if _is_archive(entry.lower()):
        result.warnings.append(_skipped(f"{archive}/{entry}", "nested archives are not unpacked"))
        return False
    return True


def _keep(label: str, content: bytes, result: Unpacked) -> None:
    """A manifest goes to `files`, anything else (a `Kustomization`, a generator's input) to
    `support`."""
    lower = label.lower()
    if lower.endswith(MANIFEST_SUFFIXES) and posixpath.basename(label) not in KUSTOMIZATION_NAMES:
        result.files.append((label, content))
    else:
        result.support.append((label, content))


def _unpack_zip(name: str, stream: IO[bytes], budget: _Budget, result: Unpacked) -> None:
    errors: list[UploadError] = []
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise UploadErrors([UploadError(f"not a readable zip archive ({exc})", file=name)]) from exc
    with archive:
        infos = archive.infolist()
        # Check every name before reading any content: one bad entry rejects the archive.
        for info in infos:
            budget.count_entry(name)
            if why := _unsafe_entry(info.filename):
                errors.append(UploadError(f"entry {info.filename!r} {why}", file=name))
            elif stat.S_ISLNK(info.external_attr >> 16):
                errors.append(UploadError(f"entry {info.filename!r} is a symbolic link", file=name))
            elif info.flag_bits & 0x1:
                errors.append(UploadError(f"entry {info.filename!r} is encrypted", file=name))
        if errors:
            raise UploadErrors(errors)
        for info in infos:
            if info.is_dir() or not _entry_kind(name, info.filename, result):
                continue
            if budget.used + info.file_size > budget.limit:
                raise budget.exceeded(name)
            label = f"{name}/{info.filename}"
            try:
                with archive.open(info) as member:
                    _keep(label, budget.read(member, name), result)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as exc:
                raise UploadErrors([UploadError(f"cannot be read ({exc})", file=label)]) from exc


def _unpack_tar(name: str, stream: IO[bytes], budget: _Budget, result: Unpacked) -> None:
    errors: list[UploadError] = []
    try:
        with tarfile.open(fileobj=stream, mode="r:*") as archive:
            # tarfile reads headers lazily, so the checks run as the archive is walked; nothing
            # is kept unless every entry passes.
            for member in archive:
                budget.count_entry(name)
                if why := _unsafe_entry(member.name):
                    errors.append(UploadError(f"entry {member.name!r} {why}", file=name))
                elif member.issym() or member.islnk():
                    errors.append(UploadError(f"entry {member.name!r} is a link", file=name))
                elif not (member.isfile() or member.isdir()):
                    errors.append(
                        UploadError(f"entry {member.name!r} is a device or special file", file=name)
                    )
                elif member.isfile() and _entry_kind(name, member.name, result):
                    if budget.used + member.size > budget.limit:
                        raise budget.exceeded(name)
                    if not errors:
                        label = f"{name}/{member.name}"
                        content = archive.extractfile(member)
                        assert content is not None  # a regular file always has content
                        _keep(label, budget.read(content, name), result)
    except (tarfile.TarError, zlib.error, OSError, EOFError) as exc:
        raise UploadErrors([UploadError(f"not a readable tar archive ({exc})", file=name)]) from exc
    if errors:
        raise UploadErrors(errors)


def unpack(
    uploads: Iterable[tuple[str, IO[bytes]]],
    pasted: str = "",
    pasted_name: str = "pasted.yaml",
    folder: Iterable[tuple[str, IO[bytes]]] = (),
) -> Unpacked:
    """Read uploaded files (expanding archives), a folder's files and pasted text into engine
    input.

    Raises UploadErrors with every problem found; a file the user chose directly is passed on
    whatever its name, while archive and folder entries that are not `.yaml`, `.yml` or
    `.json` are skipped with a warning (as the CLI does for a directory) unless a
    kustomization is there to use them. `folder` holds (relative path, content) pairs: the
    paths are kept, and checked like an archive's.
    """
    budget = _Budget()
    result = Unpacked()
    errors: list[UploadError] = []
    for raw_path, stream in folder:
        path = raw_path.replace("\\", "/").removeprefix("./")
        try:
            budget.count_entry("folder")
            if why := _unsafe_entry(path):
                errors.append(UploadError(f"{why}", file=path))
            elif JUNK.search(path):
                continue
            elif _is_archive(path.lower()):
                result.warnings.append(_skipped(path, "archives inside a folder are not unpacked"))
            else:
                _keep(path, budget.read(stream, path), result)
        except BudgetSpent as exc:
            errors.extend(exc.errors)
            break
        except UploadErrors as exc:
            errors.extend(exc.errors)
    for raw_name, stream in uploads:
        name = posixpath.basename(raw_name.replace("\\", "/")) or "upload"
        lower = name.lower()
        try:
            if lower.endswith(ZIP_SUFFIXES):
                _unpack_zip(name, stream, budget, result)
            elif lower.endswith(TAR_SUFFIXES):
                _unpack_tar(name, stream, budget, result)
            else:
                result.files.append((name, budget.read(stream, name)))
        except BudgetSpent as exc:
            errors.extend(exc.errors)
            break  # the remaining files cannot be read anyway
        except UploadErrors as exc:
            errors.extend(exc.errors)
    if pasted.strip():
        data = pasted.encode()
        budget.used += len(data)
        if budget.used > budget.limit:
            errors.extend(budget.exceeded(pasted_name).errors)
        result.files.append((pasted_name, data))
    if errors:
        raise UploadErrors(errors)
    used_by = find_kustomizations(label for label, _ in result.support)
    result.warnings += [
        _skipped(label, "not a YAML or JSON file")
        for label, _ in result.support
        if not label.lower().endswith(MANIFEST_SUFFIXES)
        and posixpath.basename(label) not in KUSTOMIZATION_NAMES
        and not any(_within(label, k) for k in used_by)
    ]
    return result


def _within(label: str, folder: str) -> bool:
    return folder == "." or label.startswith(folder + "/")


def render(unpacked: Unpacked, choose: Iterable[str] = ()) -> tuple[list, list]:
    """The files to parse and the warnings to add: a tree with kustomizations rendered.

    Raises the engine's ManifestErrors (KustomizeChoiceNeeded when several top-level
    kustomizations need a choice). Limits: NETVIZ_KUSTOMIZE_TIMEOUT (seconds, 30) and
    NETVIZ_KUSTOMIZE_MAX_OUTPUT (bytes, 50 MB), read here with those defaults.
    """
    if not unpacked.support or not find_kustomizations(label for label, _ in unpacked.support):
        # No kustomization: a Helm chart is still refused, the rest passes as it is.
        tree = prepare_tree([*unpacked.files, *unpacked.support])
        manifests = {label for label, _ in unpacked.files}
        return [f for f in tree.files if f[0] in manifests], []
    tree = prepare_tree(
        [*unpacked.files, *unpacked.support],
        list(choose),
        timeout=float(getattr(settings, "NETVIZ_KUSTOMIZE_TIMEOUT", 30)),
        max_output=_limit("NETVIZ_KUSTOMIZE_MAX_OUTPUT", 50 * 1024 * 1024),
    )
    manifests = {label for label, _ in unpacked.files}
    files = [f for f in tree.files if f[0] in manifests] + list(tree.objects)
    warnings = [d.as_dict() for d in tree.diagnostics]
    warnings += [
        {
            "severity": "info",
            "file": folder,
            "line": 0,
            "path": "",
            "message": "rendered with kubectl kustomize",
            "subject": "",
        }
        for folder in tree.rendered
    ]
    return files, warnings
