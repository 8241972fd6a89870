"""The web's one error family: located problems with what a user sent, and nothing stored.

Every error, whether the engine found it in a manifest, the upload code in an archive, or a
change in a request, is a dict with `file`, `line`, `path` and `message` (the engine's
`Diagnostic.as_dict()` shape, which also carries `severity` and `subject`). Pages render those
dicts; the API and the editor send `as_json()`, the shape the API documents.
"""

from __future__ import annotations

from collections.abc import Iterable

from .engine import ManifestErrors

__all__ = ["JSON_KEYS", "InputErrors", "located", "storable"]

JSON_KEYS = ("file", "line", "path", "message")


def located(message: str, file: str = "", line: int = 0, path: str = "") -> dict[str, object]:
    """One error in the shape of the engine's diagnostics."""
    return {
        "severity": "error",
        "file": file,
        "line": line,
        "path": path,
        "message": message,
        "subject": "",
    }


def storable(value: object) -> object:
    """`value` (text, or JSON-like data) with every NUL character replaced by U+FFFD.

    Messages quote what the user wrote, and PostgreSQL holds no NUL in a text or jsonb column;
    the names and values the loader accepts never carry one, but a diagnostic may quote
    anything (the kind of an object it does not analyse, a file name).
    """
    if isinstance(value, str):
        return value.replace("\0", "\ufffd")
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    return value


def _describe(error: dict[str, object]) -> str:
    where = f"{error.get('file', '')}:{error['line']}" if error.get("line") else error.get("file")
    path = f" {error['path']}" if error.get("path") else ""
    return f"{where}{path}: {error['message']}"


def _in_reading_order(errors: list[dict[str, object]]) -> list[dict[str, object]]:
    """Errors file by file (in the order the files came) and by line, as a person reads them."""
    files: dict[object, int] = {}
    for error in errors:
        files.setdefault(error["file"], len(files))
    return sorted(errors, key=lambda e: (files[e["file"]], e["line"] or 0))


class InputErrors(Exception):
    """Located problems with what a user sent; raised only when there is at least one."""

    def __init__(self, errors: Iterable[dict[str, object]]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(_describe(e) for e in self.errors))

    @classmethod
    def single(cls, message: str, file: str = "", line: int = 0, path: str = "") -> InputErrors:
        return cls([located(message, file, line, path)])

    @classmethod
    def from_manifests(cls, exc: ManifestErrors) -> InputErrors:
        """The engine's errors of one load, in reading order."""
        return cls(_in_reading_order(exc.as_dicts()))

    def as_json(self) -> list[dict[str, object]]:
        """Every error as `{"file", "line", "path", "message"}`."""
        return [{key: error.get(key, "") for key in JSON_KEYS} for error in self.errors]
