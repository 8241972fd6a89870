"""Turning what a browser or a script sent into (filename, bytes) pairs for the engine.

Files may be plain manifests or `.zip` / `.tar.gz` archives of them. Archives are read in
memory, never extracted to disk, and treated as hostile: entries with absolute or `..` paths,
links and device files are rejected, and the total number of bytes unpacked is capped while
reading (declared sizes in archive headers can lie, so the bytes actually read are counted).
YAML-level bombs (aliases, depth) are the engine's to reject when it parses.
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

from .errors import located
from .models import Policy

__all__ = [
    "MANIFEST_SUFFIXES",
    "Unpacked",
    "UploadError",
    "UploadErrors",
    "content_length_error",
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


def _entry_kind(archive: str, entry: str, result: Unpacked) -> bool:
    """Whether an archive entry should be read as a manifest; warns about the ones skipped."""
    if JUNK.search(entry):
        return False
    lower = entry.lower()
    if lower.endswith(MANIFEST_SUFFIXES):
        return True
    reason = "nested archives are not unpacked" if _is_archive(lower) else "not a YAML or JSON file"
    result.warnings.append(
        {
            "severity": "warning",
            "file": f"{archive}/{entry}",
            "line": 0,
            "path": "",
            "message": f"skipped: {reason}",
            "subject": "",
        }
    )
    return False


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
                    result.files.append((label, budget.read(member, name)))
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
                        result.files.append((label, budget.read(content, name)))
    except (tarfile.TarError, zlib.error, OSError, EOFError) as exc:
        raise UploadErrors([UploadError(f"not a readable tar archive ({exc})", file=name)]) from exc
    if errors:
        raise UploadErrors(errors)


def unpack(
    uploads: Iterable[tuple[str, IO[bytes]]], pasted: str = "", pasted_name: str = "pasted.yaml"
) -> Unpacked:
    """Read uploaded files (expanding archives) and pasted text into engine input.

    Raises UploadErrors with every problem found; a file the user chose directly is passed on
    whatever its name, while archive entries that are not `.yaml`, `.yml` or `.json` are
    skipped with a warning (as the CLI does for a directory).
    """
    budget = _Budget()
    result = Unpacked()
    errors: list[UploadError] = []
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
    return result
