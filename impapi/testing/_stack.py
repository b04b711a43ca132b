"""The Squirrel call stack of a running thread, read from inside a native.

Used by the impUnit session to say where an assertion failed: ImpTestCase calls a native just
before it throws, and the native reads the frames of the calling thread (``CallContext.handle``)
with the binding's ``sqpy_stack_frame``. Setting ``IMPSIM_NO_STACK`` switches locations off (the
runner then reports failures without file:line, as on a build that could not read the stack).

Level 0 is the innermost frame (the native itself, source ``"NATIVE"``); lines are those of the
compiled chunk, before ``#line`` mapping.
"""

from __future__ import annotations

import os
from typing import Any

from squirrel._squirrel import ffi, lib

__all__ = ["Frame", "available", "frames", "why_unavailable"]

Frame = tuple[str, str, int]  #: (function, source chunk, line)
MAX_FRAMES = 64

_out = (ffi.new("const char **"), ffi.new("const char **"), ffi.new("long long *"))


def available() -> bool:
    """Whether locations are read (not switched off with ``IMPSIM_NO_STACK``)."""
    return not os.environ.get("IMPSIM_NO_STACK")


def why_unavailable() -> str:
    return "" if available() else "IMPSIM_NO_STACK is set"


def frames(handle: Any) -> list[Frame]:
    """The frames of the thread ``handle`` (a ``CallContext.handle``), innermost first; empty
    when locations are switched off."""
    if not available():
        return []
    func, src, line = _out
    out: list[Frame] = []
    for level in range(MAX_FRAMES):
        if not lib.sqpy_stack_frame(handle, level, func, src, line):
            break
        out.append((_text(func[0]), _text(src[0]), int(line[0])))
    return out


def _text(p: Any) -> str:
    return "" if p == ffi.NULL else ffi.string(p).decode("utf-8", "replace")
