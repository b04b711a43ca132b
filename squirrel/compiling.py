"""Source code into a VM (``VM.compile``): a part of :class:`squirrel.VM`, kept apart from vm.py's
value conversions and call paths.

A VM only ever *loads* code, as bytecode. A source not compiled before is compiled in a VM of
its own (same dialect, constants and debug information), whose bytecode is kept and loaded. The
compiler leaves things behind in the VM it runs in (strings it interned, a grown string table,
memory it did not give back); loading leaves what the code itself holds. So what a VM holds
after ``compile`` (its memory figures, above all) is the same whether this process compiled the
source earlier or not: a host that reports a script's free memory gives the same figure in a
fresh process and in one that has run the script before."""

from __future__ import annotations

from typing import Any

from ._squirrel import ffi, lib
from .errors import CompileError
from .kinds import TABLE
from .lines import LineMap
from . import proxies as _p

OK, COMPILE_ERROR = lib.SQPY_OK, lib.SQPY_COMPILE_ERROR
_digest, _load = lib.sqpy_consts_digest, lib.sqpy_load  # every boot of a reused VM: no lookup in lib
# (source, filename, dialect, consts digest) -> (line map, bytecode, constants it defines)
_BYTECODE: dict[tuple, tuple[Any, bytes, dict]] = {}
_BYTECODE_ENTRIES = 64


class Compiling:
    """The compile methods of :class:`squirrel.VM` (which provides the rest)."""

    dialect: str
    _coverage: bool
    _covered: set[str]
    _linemaps: dict[str, LineMap]
    _out: Any
    _live: Any
    _raise: Any
    _ptr: Any
    _closed: bool
    _from: Any
    _map: Any

    def compile(self, source: str | bytes, filename: str = "<script>") -> "_p.Function":
        """Compile a script into a function; calling it runs the script with ``this`` = root.

        The bytecode of recent compiles is kept, so a source loaded into many VMs is compiled
        once. Compiled code has the constants (``const``, ``enum``) it saw written into it, so
        the key includes the VM's constants (a digest of the const table), and loading cached
        bytecode defines the constants the source defines, as compiling it would have. The
        compiling itself happens in a VM of its own (see the module's doc)."""
        if self._closed:  # _live()'s check inline: a reused VM loads its code at every boot
            self._live()
        ptr = self._ptr
        # The source itself in the key (a str keeps its hash: no encoding, no hashing of the text
        # at every boot). Coverage compiles nothing differently (squirrel/coverage.py).
        if self._coverage:
            self._covered.add(filename)
        key = (source if isinstance(source, (str, bytes)) else bytes(source), filename, self.dialect,
               _digest(ptr))
        cached = _BYTECODE.get(key) or self._compile_apart(source, filename, key)
        if cached is None:
            return self._compile_here(source, filename, key)
        linemap, code, consts = cached
        # What _use_linemap does, and the loaded function's proxy made directly (a load makes a
        # closure): a reused VM loads its code at every boot, and each Python call less is
        # ~500 machine instructions (callgrind).
        if linemap:
            self._linemaps[filename] = linemap
        else:
            self._linemaps.pop(filename, None)
        out = self._out
        if _load(ptr, code, len(code), out) != OK:
            # What stops a load (the memory limit) stops the compiler too: it says so as it would
            return self._compile_here(source, filename, key)
        fn = _p.Function(self, out.i, out.type)
        if consts:
            table = self._consts()
            for name, value in consts.items():
                table[name] = value
        return fn

    def _compile_apart(self, source: str | bytes, filename: str, key: tuple) -> tuple | None:
        """The bytecode cache's entry for ``key``, made by compiling in a new VM with this one's
        constants; a compile error is raised as compiling here would raise it. None when the
        other VM cannot stand in for this one (its constants come out different): compile here."""
        other = type(self)(self.dialect)  # type: ignore[call-arg]
        try:
            table = other._consts()
            for name, value in self._consts().items():
                table[name] = _p.to_python(value)
            if lib.sqpy_consts_digest(other._live()) != key[-1]:
                return None
            other._compile_here(source, filename, key)
        finally:
            other.close()  # type: ignore[attr-defined]
        return _BYTECODE.get(key)

    def _compile_here(self, source: str | bytes, filename: str, key: tuple) -> "_p.Function":
        """Compile in this VM, keeping the bytecode under ``key``."""
        ptr = self._live()
        data = source.encode("utf-8") if isinstance(source, str) else bytes(source)
        text = data.decode("utf-8", "replace")
        nul = text.find("\0")
        if nul >= 0:  # Squirrel's lexer takes it for the end of the source and ignores the rest
            start = text.rfind("\n", 0, nul) + 1
            end = text.find("\n", nul)
            file, mapped = self._map(filename, text.count("\n", 0, nul) + 1)
            raise CompileError("a NUL byte (code 0) in the source: Squirrel would stop reading there; "
                               "remove it (in a string, write \\x00)", file, mapped, nul - start + 1,
                               text[start:end if end >= 0 else None].replace("\0", " "))
        linemap = LineMap.scan(text, filename)
        self._use_linemap(filename, linemap)
        before = set(self._consts().keys())
        rc = lib.sqpy_compile(ptr, data, len(data), filename.encode("utf-8"), self._out)
        if rc == OK:
            fn = self._from(self._out)
            size = lib.sqpy_dump(ptr, fn._ref, ffi.NULL, 0)
            if size > 0:
                buf = ffi.new("char[]", size)
                lib.sqpy_dump(ptr, fn._ref, buf, size)
                if len(_BYTECODE) >= _BYTECODE_ENTRIES:
                    _BYTECODE.pop(next(iter(_BYTECODE)))
                consts = {k: _p.to_python(v) for k, v in self._consts().items() if k not in before}
                _BYTECODE[key] = (linemap, ffi.buffer(buf)[:], consts)
            return fn
        if rc == COMPILE_ERROR:
            msg = ffi.string(lib.sqpy_error_message(ptr)).decode("utf-8", "replace")
            line, col = lib.sqpy_error_line(ptr), lib.sqpy_error_column(ptr)
            lines = text.splitlines()
            offending = lines[line - 1] if 0 < line <= len(lines) else None
            file, mapped = self._map(filename, line)
            raise CompileError(msg, file, mapped, col, offending)
        self._raise(rc)
        return self._from(self._out)  # pragma: no cover - _raise raises

    def _use_linemap(self, filename: str, linemap: LineMap | None) -> None:
        """Errors in ``filename`` are mapped through ``linemap`` (its ``#line`` directives), or not at all."""
        if linemap:
            self._linemaps[filename] = linemap
        else:
            self._linemaps.pop(filename, None)

    def _consts(self) -> "_p.Table":
        """The const table (``const`` and ``enum`` definitions land there)."""
        ref = lib.sqpy_ref_consts(self._live())
        if ref < 0:
            self._raise(lib.SQPY_WRONG_THREAD)
        return _p.Table(self, ref, TABLE)
