"""Which lines of the app's ``.nut`` files the explored runs executed.

Executed lines come from the binding's line coverage, which changes nothing the app sees: a
simulation whose ``coverage`` is a :class:`CoverageCollector` switches it on for each boot's
code the collector wants, and hands the collector every VM before it closes (:mod:`impapi.host`);
:func:`collect_live` takes the VMs still running when a run ends.

The lines that *could* run are the line table of the compiled bytecode (every function's
``SQLineInfo`` records), read from ``sqpy_dump``'s output.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["CoverageCollector", "CoverageReport", "collect_live", "executable_lines"]


class CoverageCollector:
    """Accumulates {file: Counter(line -> hits)} over VMs (and over runs, if shared)."""

    def __init__(self) -> None:
        self.hits: dict[str, Counter] = {}
        # Files whose every executable line has run: their VMs need no line hook any more (it
        # costs ~10% of a run of a busy app).
        self.done: set[str] = set()

    def wants(self, filename: str) -> bool:
        return filename not in self.done

    def mark_done(self, sources: dict[str, str]) -> None:
        """Stop counting the files of ``sources`` ({filename: text}) that are fully covered."""
        for name, text in sources.items():
            if name not in self.done and executable_lines(text, name) <= set(self.hits.get(name, ())):
                self.done.add(name)

    def collect(self, vm: Any) -> None:
        if vm.closed:
            return
        # Taken, not read: a VM handed over at a run's end and again as it closes counts once.
        for file, lines in vm.take_coverage().items():
            counts = self.hits.get(file)
            if counts is None:  # not setdefault: that would make a Counter at every boot
                self.hits[file] = counts = Counter()
            counts.update(lines)

    def merge(self, other: "CoverageCollector | dict") -> None:
        hits = other.hits if isinstance(other, CoverageCollector) else other
        for file, lines in hits.items():
            self.hits.setdefault(file, Counter()).update(lines)


def collect_live(sim: Any) -> None:
    """Take the coverage of the VMs still running at the end of a run."""
    sim.collect_coverage()


# --- the lines that can run ------------------------------------------------------------------

_OT_NULL, _OT_INTEGER, _OT_FLOAT, _OT_BOOL, _OT_STRING = 0x01, 0x02, 0x04, 0x08, 0x10


class _Reader:
    def __init__(self, data: bytes, int_size: int, float_size: int) -> None:
        self.data, self.pos = data, 0
        self.int_fmt = "<q" if int_size == 8 else "<i"
        self.int_size = int_size
        self.float_size = float_size

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos:self.pos + n]
        if len(chunk) != n:
            raise ValueError("truncated bytecode")
        self.pos += n
        return chunk

    def integer(self) -> int:
        return struct.unpack(self.int_fmt, self.take(self.int_size))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def tag(self) -> None:
        if self.take(4) != b"TRAP":
            raise ValueError("unexpected bytecode layout")

    def obj(self) -> None:
        kind = self.u32() & 0xFF
        if kind == _OT_STRING:
            self.take(self.integer())
        elif kind in (_OT_INTEGER, _OT_BOOL):
            self.integer()
        elif kind == _OT_FLOAT:
            self.take(self.float_size)
        elif kind != _OT_NULL:
            raise ValueError(f"unexpected literal type {kind:#x}")

    def proto(self, lines: set[int]) -> None:
        self.tag()
        self.obj()  # source name
        self.obj()  # function name
        self.tag()
        (nliterals, nparameters, noutervalues, nlocalvarinfos, nlineinfos, ndefaultparams,
         ninstructions, nfunctions) = (self.integer() for _ in range(8))
        self.tag()
        for _ in range(nliterals):
            self.obj()
        self.tag()
        for _ in range(nparameters):
            self.obj()
        self.tag()
        for _ in range(noutervalues):
            self.integer()
            self.obj()
            self.obj()
        self.tag()
        for _ in range(nlocalvarinfos):
            self.obj()
            self.take(3 * self.int_size)
        self.tag()
        for _ in range(nlineinfos):
            line, _op = self.integer(), self.integer()
            if line > 0:
                lines.add(line)
        self.tag()
        self.take(ndefaultparams * self.int_size)
        self.tag()
        self.take(ninstructions * 8)
        self.tag()
        for _ in range(nfunctions):
            self.proto(lines)
        self.integer()  # stack size
        self.take(1)  # is a generator
        self.integer()  # varparams


def _bytecode(source: str, filename: str) -> bytes | None:
    import squirrel
    from squirrel.vm import ffi, lib

    with squirrel.VM("imp") as vm:
        try:
            fn = vm.compile(source, filename)
        except squirrel.CompileError:
            return None
        size = lib.sqpy_dump(vm._ptr, fn._ref, ffi.NULL, 0)
        if size <= 0:
            return None
        buf = ffi.new("char[]", size)
        lib.sqpy_dump(vm._ptr, fn._ref, buf, size)
        return ffi.buffer(buf)[:]


@lru_cache(maxsize=64)
def executable_lines(source: str, filename: str) -> frozenset[int]:
    """Lines of ``source`` that hold statements: the compiled line table, less the lines that
    are only a closing brace (a function's implicit return, never reached by a function that
    ends in a deep sleep) or lie past the end (the script's own implicit return). If the
    bytecode cannot be read: the lines that are not blank, comments or braces.

    Built code (with ``#line`` directives, from Builder or ``#require``) counts the lines of the
    file ``filename`` itself, by their numbers in that file; included files are not counted."""
    from squirrel.lines import LineMap

    lines = _executable_lines(source, filename)
    linemap = LineMap.scan(source, filename)
    if linemap is None:
        return lines
    mapped = (linemap.map(line, filename) for line in lines)
    return frozenset(line for file, line in mapped if file == filename)


def _executable_lines(source: str, filename: str) -> frozenset[int]:
    from .source import blank_comments_and_strings

    code = blank_comments_and_strings(source).splitlines()
    statements = frozenset(i for i, text in enumerate(code, 1) if text.strip(" \t{}();,"))
    try:
        data = _bytecode(source, filename)
        if data is None:
            raise ValueError("no bytecode")
        r = _Reader(data, 8, 4)
        r.take(2)  # stream tag
        if r.take(4) != b"RIQS":
            raise ValueError("not a closure stream")
        r.u32()
        r.int_size = r.u32()
        r.int_fmt = "<q" if r.int_size == 8 else "<i"
        r.float_size = r.u32()
        lines: set[int] = set()
        r.proto(lines)
        return frozenset(lines) & statements
    except (ValueError, struct.error, ImportError, AttributeError):
        return statements


@dataclass
class FileCoverage:
    file: str
    executable: frozenset[int]
    hits: Counter = field(default_factory=Counter)

    @property
    def covered(self) -> set[int]:
        return {line for line, n in self.hits.items() if n and line in self.executable}

    @property
    def missed(self) -> list[int]:
        return sorted(self.executable - self.covered)

    def summary(self) -> str:
        total = len(self.executable)
        n = len(self.covered)
        pct = 100.0 * n / total if total else 100.0
        text = f"{Path(self.file).name} {n}/{total} lines ({pct:.0f}%)"
        if self.missed:
            text += "; not reached: " + _ranges(self.missed)
        return text


@dataclass
class CoverageReport:
    files: list[FileCoverage]

    @classmethod
    def of(cls, collector: CoverageCollector, sources: dict[str, str]) -> "CoverageReport":
        """``sources``: {filename as compiled: source text}."""
        return cls([FileCoverage(name, executable_lines(text, name), collector.hits.get(name, Counter()))
                    for name, text in sources.items()])

    @property
    def covered(self) -> int:
        return sum(len(f.covered) for f in self.files)

    @property
    def total(self) -> int:
        return sum(len(f.executable) for f in self.files)

    def summary(self) -> str:
        return "; ".join(f.summary() for f in self.files)


def _ranges(lines: list[int]) -> str:
    out, start, prev = [], None, None
    for n in lines + [None]:  # type: ignore[list-item]
        if start is not None and (n is None or n != prev + 1):
            out.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if n is not None and start is None:
            start = n
        prev = n
    return ", ".join(out)
