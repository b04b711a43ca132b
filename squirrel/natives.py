"""Python functions as Squirrel natives: how Squirrel calls them (:func:`native`), what those
that ask for it receive first (:class:`CallContext`), and batches of them prepared once for
many VMs (:class:`NativeSet`)."""

from __future__ import annotations

import functools
import inspect
import re
from types import MethodType
from typing import Any, Callable

from ._squirrel import ffi
from .errors import ScriptError
from .kinds import VMLike


class CallContext:
    """What a native declared with ``pass_context=True`` receives first: the VM, the raw
    ``HSQUIRRELVM`` of the calling thread (a coroutine's own when called from one) and ``this``."""

    __slots__ = ("vm", "handle", "this")

    def __init__(self, vm: VMLike, handle: Any, this: Any) -> None:
        self.vm, self.handle, self.this = vm, handle, this


_NO_OPTIONS = (False, False, None, None, None)  # what native() records: see there
# Squirrel's typemask grammar (CompileTypemask): per parameter a letter, letters joined by "|",
# or "." for any type; spaces are ignored.
_TYPEMASK = re.compile(r"(?:[oifnstaucbgpvxyr](?:\|[oifnstaucbgpvxyr])*|\.| )*")


class _Native:
    __slots__ = ("func", "pass_this", "pass_context", "name", "nparams", "maxargs", "bound", "typemask")

    def __init__(self, func: Callable, pass_this: bool, pass_context: bool, name: str | None,
                 params: int | None, typemask: str | None = None) -> None:
        self.func = func
        self.typemask = typemask
        self.pass_this = pass_this
        self.pass_context = pass_context
        self.bound = False  # a NativeSet member: receives its install's context first
        self.name = name or getattr(func, "__name__", None) or "<python>"
        if params is not None:
            self.nparams, self.maxargs = params, None
        else:
            self.nparams = _paramscheck(func, pass_this or pass_context)
            self.maxargs = _maxargs(func, pass_this or pass_context) if self.nparams < 0 else None


def _direct_for(nat: _Native, context: Any) -> Callable | None:
    """What the fast dispatch calls with just a native's arguments; None for natives that take
    ``this`` or a context (they need the calling thread, see ``VM._fargs_special``)."""
    if nat.pass_this or nat.pass_context:
        return None
    # A bound method rather than functools.partial where it can be (not for a None context):
    # CPython calls a bound method without copying its arguments (29 ns against 82 ns a call,
    # measured) and makes one faster, which matters to a host that rebinds for every short script.
    if not nat.bound:
        f = nat.func
    elif context is not None:
        f = MethodType(nat.func, context)
    else:
        f = functools.partial(nat.func, None)
    if nat.maxargs is None:
        return f
    return _bounded(f, nat.maxargs - 1)  # maxargs counts Squirrel's `this`


def _bounded(f: Callable, most: int) -> Callable:
    # A function of its own: a closure made in _direct_for would turn f into a cell at every call
    # of it, bound or not (a host rebinding at every boot calls it for each native it used).
    def bounded(*args: Any) -> Any:
        if len(args) > most:
            raise ScriptError("wrong number of parameters")  # what Squirrel says itself
        return f(*args)

    return bounded


def _maxargs(func: Callable, takes_first: bool) -> int | None:
    """How many arguments (with ``this``) a signature with defaults takes at most: Squirrel's
    paramscheck can only say "at least", so the trampoline checks the upper bound. None: no bound."""
    sig = inspect.signature(func)
    n = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            n += 1
    return n if takes_first else n + 1


def _paramscheck(func: Callable, takes_first: bool) -> int:
    """Squirrel's paramscheck for a Python signature: n+1 exact, -(n+1) "at least n", 0 unchecked.
    The +1 is Squirrel's implicit ``this``."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return 0
    required = optional = 0
    varargs = False
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.default is p.empty:
                required += 1
            else:
                optional += 1
        elif p.kind is p.VAR_POSITIONAL:
            varargs = True
    if takes_first:
        required -= 1
        if required < 0:
            return 0
    if varargs or optional:
        return -(required + 1)
    return required + 1


def _bound_paramscheck(func: Callable, pass_this: bool) -> int:
    """The paramscheck of a NativeSet member: its first parameter is the install's context; with
    ``pass_this`` the next one is Squirrel's ``this``, which the check counts already."""
    params = _paramscheck(func, True)
    if not pass_this or params == 0:
        return params
    return params - 1 if params > 0 else params + 1


def native(func: Callable | None = None, *, pass_this: bool = False, pass_context: bool = False,
           name: str | None = None, params: int | None = None, typemask: str | None = None):
    """Mark a Python callable with options for how Squirrel calls it.

    ``pass_this``: the first parameter receives Squirrel's ``this``. ``pass_context``: it receives a
    :class:`CallContext` (VM, raw thread handle, this). ``params``: Squirrel paramscheck
    (counting ``this``), derived from the signature by default. ``typemask``: Squirrel's
    (``sq_setparamscheck``), one letter group per parameter starting with ``this``, e.g.
    ``".s|oc"`` (``this`` any, a string or null, a function): Squirrel checks the types before
    the native runs and throws ``parameter 1 has an invalid type ...`` itself."""
    if typemask is not None and not _TYPEMASK.fullmatch(typemask):
        raise ValueError(f"not a Squirrel typemask: {typemask!r} (letters: o i f n s t a u c b g p v x y r . |)")

    def mark(f: Callable) -> Callable:
        f.__squirrel_native__ = (pass_this, pass_context, name, params, typemask)  # type: ignore[attr-defined]
        return f

    return mark(func) if func is not None else mark


class NativeSet:
    """Python functions and integer constants to put into the tables of many VMs, prepared once:
    names and paramschecks become C arrays here, so :meth:`VM.install` is one C call however
    many tables they fill. Each function receives the install's context first, then the
    Squirrel arguments.

    ``tables``: nested sets, each installed into the table of its name (made if missing).
    ``readers``: for functions ``f(context, offset, length)`` that return bytes of a buffer as a
    new blob (a flash chip's read), ``name -> view(context)`` giving ``(buffer, gate)`` per
    install: C then answers the plain calls itself, without calling Python (``sqpy_reader`` in
    ``sqpy.h``): while ``gate[0]`` is nonzero (``gate``: a writable one-byte buffer, or None for
    always) and both arguments are integers naming a non-empty range of ``buffer``. Every other
    call goes to the function, which defines the errors and must agree with the buffer on the
    plain case. Buffers stay exported (so cannot be resized) until the VM closes."""

    def __init__(self, functions: dict[str, Callable] | None = None, integers: dict[str, int] | None = None,
                 *, tables: dict[str, "NativeSet"] | None = None,
                 readers: dict[str, Callable[[Any], tuple[Any, Any]]] | None = None) -> None:
        self.natives: list[_Native] = []  # in function-id order
        self._readers: list[tuple[int, Callable]] = []
        parents: list[int] = [-1]
        gnames: list[Any] = [ffi.NULL]
        names: list[Any] = []
        groups: list[int] = []
        int_names: list[Any] = []
        ints: list[int] = []
        int_groups: list[int] = []
        self._keep: list[Any] = []

        def cstr(text: str) -> Any:
            c = ffi.new("char[]", text.encode("utf-8"))
            self._keep.append(c)
            return c

        def walk(ns: "NativeSet", group: int) -> None:
            functions, integers, readers, tables = ns._spec
            for name, f in functions.items():
                opts = getattr(f, "__squirrel_native__", _NO_OPTIONS)
                params = opts[3] if opts[3] is not None else _bound_paramscheck(f, opts[0])
                nat = _Native(f, opts[0], False, name, params, opts[4])
                if opts[3] is None and params < 0:
                    most = _maxargs(f, True)
                    nat.maxargs = most - 1 if most is not None and opts[0] else most
                nat.bound = True
                if name in readers:
                    self._readers.append((len(self.natives), readers[name]))
                self.natives.append(nat)
                names.append(cstr(name))
                groups.append(group)
            for name, value in integers.items():
                int_names.append(cstr(name))
                ints.append(value)
                int_groups.append(group)
            for tname, sub in tables.items():
                parents.append(group)
                gnames.append(cstr(tname))
                walk(sub, len(parents) - 1)

        self._spec = (dict(functions or {}), dict(integers or {}), dict(readers or {}), dict(tables or {}))
        unknown = set(self._spec[2]) - set(self._spec[0])
        if unknown:
            raise ValueError(f"readers for functions that are not in the set: {sorted(unknown)}")
        walk(self, 0)
        c = ffi.new("sqpy_natives *")
        arrays = dict(parent=ffi.new("int[]", parents), group_names=ffi.new("const char *[]", gnames),
                      names=ffi.new("const char *[]", names or [ffi.NULL]),
                      nparams=ffi.new("long long[]", [n.nparams for n in self.natives] or [0]),
                      typemasks=ffi.new("const char *[]", [cstr(n.typemask) if n.typemask else ffi.NULL
                                                           for n in self.natives] or [ffi.NULL]),
                      group=ffi.new("int[]", groups or [0]),
                      int_names=ffi.new("const char *[]", int_names or [ffi.NULL]),
                      ints=ffi.new("long long[]", ints or [0]), int_group=ffi.new("int[]", int_groups or [0]))
        for k, v in arrays.items():
            setattr(c, k, v)
        c.ngroups, c.n, c.nints = len(parents), len(self.natives), len(ints)
        self._keep.append(arrays)
        self._c = c
