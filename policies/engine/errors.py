"""The engine's one error family: every error carries its location."""

from __future__ import annotations

from .model import Diagnostic, Location

__all__ = ["ManifestError", "ManifestErrors", "NetvizError"]


class NetvizError(Exception):
    """Base of every error the engine raises on purpose."""


class ManifestError(NetvizError):
    """One located problem in the input: `file:line path: message`."""

    def __init__(self, message: str, location: Location, subject: str = "") -> None:
        super().__init__(f"{location}: {message}")
        self.message = message
        self.location = location
        self.subject = subject

    def as_diagnostic(self) -> Diagnostic:
        return Diagnostic("error", self.message, self.location, self.subject)


class ManifestErrors(NetvizError):
    """All errors of one load, collected; raised only when at least one exists."""

    def __init__(self, errors: list[ManifestError], diagnostics: tuple[Diagnostic, ...] = ()):
        self.errors = errors
        self.diagnostics = diagnostics  # warnings gathered before the load failed
        super().__init__("\n".join(str(e) for e in errors))

    def as_dicts(self) -> list[dict[str, object]]:
        return [e.as_diagnostic().as_dict() for e in self.errors]
