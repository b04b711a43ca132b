"""What escapes a Python callback the C side calls: cffi's onerror handlers.

An exception escapes a callback itself when its own error handling fails (an exception whose
__str__ raises, Python's recursion limit reached in the except clause or by the call into the
callback). cffi then returns the callback's declared error value instead of a result: for the
natives' dispatch that is SQPY_CB_ESCAPED, on which the trampoline stops the script
(uncatchable) rather than hand it whatever is in the argument slots."""

from __future__ import annotations

import threading
from typing import Any

ESCAPED_TEXT = "a Python function failed inside the binding"  # throw_escaped's in sqpy.cpp
escape = threading.local()  # what escaped a callback of this thread, for the boundary to raise


def escaped(_type: type, exc: BaseException, _tb: Any) -> None:
    """onerror for the callbacks that return a code: keep the exception; the innermost call into
    Squirrel of this thread (the one the stop unwinds) raises it (VM._error). Runs at the
    callback's recursion depth, maybe without its frame: no Python calls, no lookups."""
    escape.exc = exc


def escaped_later(_type: type, exc: BaseException, tb: Any) -> None:
    """onerror for the callbacks that return nothing (print, forget): the exception reaches the
    caller of the outermost call, as a print target's does. Those callbacks name their VM ``vm``:
    it is found among the failed frame's locals."""
    try:
        vm = tb.tb_frame.f_locals["vm"]
    except (AttributeError, KeyError):  # not even the callback's frame: cffi prints it
        raise exc from None
    vm._callback_exc = exc
    vm._dirty = True
