"""Squirrel 3.1 embedded in Python.

    >>> import squirrel
    >>> with squirrel.VM() as vm:
    ...     vm.root["twice"] = lambda x: 2 * x
    ...     vm.run("return twice(21)")
    42

``squirrel`` knows nothing of the Electric Imp beyond its integer dialect; ``impapi`` builds the
imp on top of it."""

try:
    from ._squirrel import ffi as _ffi  # the VM, compiled by build.py
except ModuleNotFoundError as _e:  # a source tree that was never built: say how to build it
    import os as _os

    raise ImportError(
        f"No module named 'squirrel._squirrel': the squirrel package in {_os.path.dirname(__file__)} has "
        "no compiled VM. In a clone of impsim, build it in place with `pip install -e .` (or "
        "`python build.py`); if impsim is installed elsewhere, run Python outside the clone so that "
        "the installed copy is imported.", name=_e.name) from None
del _ffi

from .errors import (CompileError, Frame, MemoryLimitError, ScriptError, SquirrelError,
                     TimeLimitError, Uncatchable)
from .proxies import (Array, Blob, BoundFunction, Class, Function, Generator, Instance,
                      NativeFunction, SquirrelObject, Table, Thread, UserData, WeakRef, to_python)
from .natives import CallContext, NativeSet, native
from .vm import DIALECTS, VM

SQUIRREL_VERSION = "3.1"


def _package_version() -> str:
    """The installed distribution's version: the one source of truth is its metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("impsim")
    except PackageNotFoundError:  # a source tree on sys.path that was never installed
        return "0+unknown"


__version__ = _package_version()

__all__ = [
    "VM", "native", "NativeSet", "CallContext", "DIALECTS", "SQUIRREL_VERSION", "__version__", "to_python",
    "SquirrelError", "CompileError", "ScriptError", "MemoryLimitError", "TimeLimitError",
    "Uncatchable", "Frame",
    "SquirrelObject", "Table", "Array", "Function", "NativeFunction", "BoundFunction", "Class",
    "Instance", "Blob", "Generator", "WeakRef", "Thread", "UserData",
]
