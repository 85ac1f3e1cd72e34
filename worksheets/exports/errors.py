"""The one error an export raises."""

from __future__ import annotations


class ExportError(ValueError):
    """A format that does not exist, or a set an export cannot be made from. `path`
    names the field at fault ("format", "sheets[2]"), as ProblemSetError's does."""

    def __init__(self, message: str, *, path: str = "format"):
        super().__init__(f"{path}: {message}")
        self.message = message
        self.path = path
