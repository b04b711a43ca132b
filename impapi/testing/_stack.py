"""The Squirrel call stack of a running thread, read from inside a native.

Used by the impUnit session to say where an assertion failed: ImpTestCase calls a native just
before it throws, and the native reads the frames of the calling thread (``CallContext.handle``).

The binding's C API (``squirrel/csrc/sqpy.h``) has no call for the live stack yet, so this module
uses, in order:

1. ``lib.sqpy_stack_frame(HSQUIRRELVM v, int level, const char **func, const char **src,
   long long *line)`` -- 1 when the frame exists, 0 past the last one -- if the binding has it
   (the call requested from squirrel/; a thin wrapper over ``sq_stackinfos``);
2. otherwise Squirrel's own ``sq_stackinfos``, which the extension module exports as a dynamic
   symbol, called through :mod:`ctypes` (``SQInteger`` is 64-bit: the build defines ``_SQ64``);
3. otherwise nothing: :func:`available` is False and locations are not recorded.

Level 0 is the innermost frame (the native itself, source ``"NATIVE"``); lines are those of the
compiled chunk, before ``#line`` mapping.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from typing import Any

__all__ = ["Frame", "available", "frames", "why_unavailable"]

Frame = tuple[str, str, int]  #: (function, source chunk, line)
MAX_FRAMES = 64

_reader: Callable[[Any], list[Frame]] | None = None
_reason = ""
_loaded = False


def _load() -> None:
    global _reader, _reason, _loaded
    _loaded = True
    if os.environ.get("IMPSIM_NO_STACK"):
        _reason = "IMPSIM_NO_STACK is set"
        return
    try:
        from squirrel import _squirrel
    except ImportError as e:  # pragma: no cover - the extension is always built here
        _reason = f"the squirrel extension is not built ({e})"
        return
    ffi, lib = _squirrel.ffi, _squirrel.lib
    if hasattr(lib, "sqpy_stack_frame"):
        func, src, line = ffi.new("const char **"), ffi.new("const char **"), ffi.new("long long *")

        def read_c(handle: Any) -> list[Frame]:
            out: list[Frame] = []
            for level in range(MAX_FRAMES):
                if not lib.sqpy_stack_frame(handle, level, func, src, line):
                    break
                out.append((_text(ffi, func[0]), _text(ffi, src[0]), int(line[0])))
            return out

        _reader = read_c
        return
    try:
        dll = ctypes.CDLL(_squirrel.__file__)
        stackinfos = dll.sq_stackinfos
    except (OSError, AttributeError) as e:
        _reason = f"the squirrel extension exports neither sqpy_stack_frame nor sq_stackinfos ({e})"
        return

    class StackInfos(ctypes.Structure):
        _fields_ = [("funcname", ctypes.c_char_p), ("source", ctypes.c_char_p), ("line", ctypes.c_longlong)]

    stackinfos.argtypes = [ctypes.c_void_p, ctypes.c_longlong, ctypes.POINTER(StackInfos)]
    stackinfos.restype = ctypes.c_longlong
    info = StackInfos()
    ref = ctypes.byref(info)

    def read_ctypes(handle: Any) -> list[Frame]:
        v = int(ffi.cast("uintptr_t", handle))
        out: list[Frame] = []
        for level in range(MAX_FRAMES):
            if stackinfos(v, level, ref) < 0:  # SQ_ERROR: past the outermost frame
                break
            out.append(((info.funcname or b"").decode("utf-8", "replace"),
                        (info.source or b"").decode("utf-8", "replace"), int(info.line)))
        return out

    _reader = read_ctypes


def _text(ffi: Any, p: Any) -> str:
    return "" if p == ffi.NULL else ffi.string(p).decode("utf-8", "replace")


def available() -> bool:
    """Whether the live stack can be read in this build."""
    if not _loaded:
        _load()
    return _reader is not None


def why_unavailable() -> str:
    available()
    return _reason


def frames(handle: Any) -> list[Frame]:
    """The frames of the thread ``handle`` (a ``CallContext.handle``), innermost first; empty
    when the stack cannot be read."""
    if not available():
        return []
    assert _reader is not None
    return _reader(handle)
