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

    def coverage(self) -> dict[str, dict[int, int]]:
        """{file: {line: hits}} for the lines executed while coverage was on (since the last
        :meth:`take_coverage`). A line's hits: the times execution entered it at its first
        instruction (a loop's line counts each pass that starts there)."""
        return self._read_coverage(False)

    def take_coverage(self) -> dict[str, dict[int, int]]:
        """:meth:`coverage`, and forget it: the next read has only what runs from now on (a
        reader that reads at every boot and again at the end counts nothing twice)."""
        return self._read_coverage(True)

    def _read_coverage(self, take: bool) -> dict[str, dict[int, int]]:
        ptr = self._live()
        if not self._covered:  # nothing compiled while coverage was on: nothing to report
            return {}
        n = lib.sqpy_coverage_count(ptr)
        if not n:
            return {}
        # One call for all the items (one call an item cost more than the counting itself).
        lines, hits = ffi.new("long long[]", n), ffi.new("long long[]", n)
        names, first = ffi.new("const char *[]", n), ffi.new("int[]", n + 1)
        k = lib.sqpy_coverage_items(ptr, n, lines, hits, names, first)
        first[k] = n
        all_lines, all_hits = ffi.unpack(lines, n), ffi.unpack(hits, n)
        sources = [ffi.string(names[j]).decode("utf-8", "replace") for j in range(k)]
        if take:  # after the names are copied: they point into the items it frees
            lib.sqpy_coverage_clear(ptr)
        out: dict[str, dict[int, int]] = {}
        for j in range(k):
            name = sources[j]
            if name not in self._covered:  # compiled before coverage was switched on (a prelude)
                continue
            a, b = first[j], first[j + 1]
            if name not in self._linemaps and name not in out:
                out[name] = dict(zip(all_lines[a:b], all_hits[a:b]))
                continue
            for line, n_hits in zip(all_lines[a:b], all_hits[a:b]):
                file, mapped = self._map(name, line) if name in self._linemaps else (name, line)
                d = out.setdefault(file, {})
                d[mapped] = d.get(mapped, 0) + n_hits
        return out
