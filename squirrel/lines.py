"""``#line N "file"`` directives: mapping compiled lines back to the files they came from.

Squirrel reads ``#`` as a comment, so the directives stay in the compiled text (line numbers do
not move) and the mapping is applied to every location the VM reports."""

from __future__ import annotations

import bisect
import re

_DIRECTIVE = re.compile(r'^[ \t]*#line[ \t]+(\d+)(?:[ \t]+"([^"]*)")?[ \t]*\r?$', re.M)


class LineMap:
    """Piecewise map from a line of the compiled chunk to (file, line)."""

    __slots__ = ("_starts", "_targets")

    def __init__(self, starts: list[int], targets: list[tuple[str, int]]) -> None:
        self._starts = starts
        self._targets = targets

    @classmethod
    def scan(cls, source: str, filename: str) -> "LineMap | None":
        if "#line" not in source:
            return None
        starts: list[int] = []
        targets: list[tuple[str, int]] = []
        current = filename
        for m in _DIRECTIVE.finditer(source):
            line_of_directive = source.count("\n", 0, m.start()) + 1
            current = m.group(2) if m.group(2) is not None else current
            starts.append(line_of_directive + 1)
            targets.append((current, int(m.group(1))))
        return cls(starts, targets) if starts else None

    def map(self, line: int, filename: str) -> tuple[str, int]:
        i = bisect.bisect_right(self._starts, line) - 1
        if i < 0:
            return filename, line
        file, first = self._targets[i]
        return file, first + (line - self._starts[i])
