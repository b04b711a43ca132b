"""What a build reports: :class:`BuildError` (it stops), :class:`BuildWarning` (it goes on), and
the nesting limit that turns an include or ``#require`` cycle into an error instead of a hang."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_DEPTH", "BuildError", "BuildWarning"]

# Builder's own limit; a deeper include chain is almost certainly a cycle.
MAX_DEPTH = 256


class BuildError(Exception):
    """A preprocessing failure, located at ``file:line`` of the original source when known."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class BuildWarning:
    """An ``@warning`` message and where it was issued."""

    message: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"
