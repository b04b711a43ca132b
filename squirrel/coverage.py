"""Line coverage, the methods of :class:`squirrel.VM` that switch it on and read it.

Coverage changes nothing a script sees: the code is compiled and runs exactly as with coverage
off (the same instructions, the same instruction counts, the same memory). The VM counts each
instruction it runs, by its index in its function, outside the script's memory, and turns the
counts into lines through the function's line table when they are read (``csrc/sqpy_cov.cpp``).
"""

from __future__ import annotations

from typing import Any

from ._squirrel import ffi, lib

WRONG_THREAD = lib.SQPY_WRONG_THREAD


class Coverage:
    """The coverage methods of :class:`squirrel.VM` (which provides the rest)."""

    _coverage: bool
    _coverage_used: bool
    _covered: set[str]
    _linemaps: dict
    _live: Any
    _raise: Any
    _map: Any

    def set_coverage(self, on: bool = True) -> None:
        """Count the lines executed from now on of the code compiled while coverage is on (by its
        file name; see :meth:`coverage`). Takes effect for the calls into the VM made after it."""
        if lib.sqpy_set_coverage(self._live(), 1 if on else 0):
            self._raise(WRONG_THREAD)
        self._coverage = bool(on)
        self._coverage_used = self._coverage_used or self._coverage

    def coverage(self) -> dict[str, dict[int, int]]:
        """{file: {line: hits}} for the lines executed while coverage was on. A line's hits: the
        times execution entered it at its first instruction (a loop's line counts each pass
        that starts there)."""
        ptr = self._live()
        if not self._coverage_used:
            return {}
        n = lib.sqpy_coverage_count(ptr)
        src, line, hits = ffi.new("const char **"), ffi.new("long long *"), ffi.new("long long *")
        out: dict[str, dict[int, int]] = {}
        names: dict[bytes, str | None] = {}
        for i in range(n):
            lib.sqpy_coverage_item(ptr, i, src, line, hits)
            raw = ffi.string(src[0])
            if raw not in names:
                name = raw.decode("utf-8", "replace")
                names[raw] = name if name in self._covered else None
            name = names[raw]
            if name is None:  # code compiled before coverage was switched on (a host's prelude)
                continue
            file, mapped = self._map(name, line[0]) if name in self._linemaps else (name, line[0])
            d = out.setdefault(file, {})
            d[mapped] = d.get(mapped, 0) + hits[0]
        return out
