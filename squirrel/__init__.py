"""Squirrel 3.1 embedded in Python.

    >>> import squirrel
    >>> with squirrel.VM() as vm:
    ...     vm.root["twice"] = lambda x: 2 * x
    ...     vm.run("return twice(21)")
    42

``squirrel`` knows nothing of the Electric Imp beyond its integer dialect; ``impapi`` builds the
imp on top of it."""

from .errors import (CompileError, Frame, MemoryLimitError, ScriptError, SquirrelError,
                     TimeLimitError, Uncatchable)
from .proxies import (Array, Blob, BoundFunction, Class, Function, Generator, Instance,
                      NativeFunction, SquirrelObject, Table, Thread, UserData, WeakRef, to_python)
from .vm import DIALECTS, VM, CallContext, NativeSet, native

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
