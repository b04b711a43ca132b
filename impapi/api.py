"""How imp API objects register their natives.

Each imp API object (``server``, ``imp``, ``hardware``, ...) is one module holding an :class:`Api`;
a native is one function in it, decorated with the sides it exists on. A native receives the
running :class:`~impapi.host.ScriptHost` first, then the Squirrel arguments. Installing an
object into a fresh VM is one C call (:func:`impapi.natives.install`: a
:class:`squirrel.NativeSet` of every object, prepared once per side and module).

Arguments are checked where the imp checks them, before the native runs. Each parameter after
the host is annotated with the Squirrel type it takes (the annotation vocabulary is below), and
registration turns the signature into Squirrel's own checks: the count (paramscheck: too few or
too many arguments is ``wrong number of parameters``) and the types (typemask: ``parameter 2 has
an invalid type 'integer' ; expected: 'function'``), the texts the imp's natives give since they
are Squirrel natives too. So a native's body only ever sees values of the types it declared,
and checks values (ranges, names), not types:

    @imp.native(BOTH)
    def wakeup(host, interval: float, callback: Callback, name: str | None = None) -> Any: ...

===================  ========================  =========================================
annotation           Squirrel type             what the native receives
===================  ========================  =========================================
``int``              integer                   int
``float``            integer or float          int or float
``bool``             bool                      bool
``str``              string                    str (bytes when not valid UTF-8)
``None``             null                      None
``Callback``         function (closure/native) squirrel.Function
``Table``            table                     squirrel.Table
``Array``            array                     squirrel.Array
``Blob``             blob                      squirrel.Blob
``Instance``         class instance            squirrel.Instance (a blob too)
``Any``              anything                  any of the above
===================  ========================  =========================================

``A | B`` accepts either; a parameter with a ``None`` default must include ``None``. A native
whose arguments vary by form (``pin.configure(mode, ...)``) takes ``*args: Any`` after its
fixed parameters and checks those itself in the same words. A hardware object's method passes
the object's id as Squirrel's ``this`` (``Api.native(..., this=True)``: the parameter after the
host receives it), so that errors number the arguments as the script counts them. A native
whose parameter is not annotated, or annotated with something else, fails at import with the
reason, so a new native cannot skip the checks. A blob is an instance to Squirrel's typemask;
registration adds the one check Squirrel cannot make (that an instance is a blob) with the same
wording."""

from __future__ import annotations

import functools
import inspect
import sys
import types
import typing
from typing import Any, Callable, Iterable, Union

import squirrel
from squirrel import Array, Blob, Instance, Table

DEVICE, AGENT = "device", "agent"
BOTH = (DEVICE, AGENT)

__all__ = ["Api", "ImpError", "DEVICE", "AGENT", "BOTH", "Callback", "Table", "Array", "Blob", "Instance",
           "typemask", "function"]


class Callback:
    """Annotation for a parameter that takes a Squirrel function (a closure or a native)."""


# Annotation -> (typemask letter, Squirrel's name for the type in error texts).
_LETTERS: dict[Any, tuple[str, str]] = {
    int: ("i", "integer"), float: ("n", "integer|float"), bool: ("b", "bool"), str: ("s", "string"),
    type(None): ("o", "null"), Callback: ("c", "function"), Table: ("t", "table"), Array: ("a", "array"),
    Blob: ("x", "blob"), Instance: ("x", "instance"),
}


class ImpError(squirrel.ScriptError):
    """Raised by a native to throw a Squirrel runtime error with exactly this text."""


def _members(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def typemask(func: Callable, what: str, skip: int = 1, this: bool = False) -> tuple[str, list[tuple[int, str]]]:
    """Squirrel's typemask for ``func`` (its first ``skip`` parameters are not Squirrel's: the
    host; with ``this``, the next one receives Squirrel's ``this``), and the parameters (1-based,
    as the script counts them) that take a blob but not any instance, with their expected-types
    text."""
    module = sys.modules.get(func.__module__)
    namespace = dict(vars(module)) if module else {}
    namespace.update(Callback=Callback, Table=Table, Array=Array, Blob=Blob, Instance=Instance, Any=Any)
    try:
        hints = typing.get_type_hints(func, globalns=namespace)
    except Exception as e:  # noqa: BLE001 - an annotation that does not evaluate
        raise TypeError(f"{what}: cannot read the parameter annotations: {e}") from None
    params = list(inspect.signature(func).parameters.values())[skip:]
    letters = ["."]  # this
    blobs: list[tuple[int, str]] = []
    if this:
        if not params or params[0].kind is params[0].VAR_POSITIONAL:
            raise TypeError(f"{what}: a native that takes this needs a parameter for it")
        letters[0], blob = _letter(params.pop(0), hints, what)
        if blob:
            raise TypeError(f"{what}: this cannot be a blob parameter")
    for n, p in enumerate(params, 1):
        if p.kind is p.VAR_POSITIONAL:
            break
        letter, blob = _letter(p, hints, what)
        letters.append(letter)
        if blob:
            blobs.append((n, blob))
    while len(letters) > 1 and letters[-1] == ".":
        letters.pop()
    return "".join(letters) if len(letters) > 1 or letters[0] != "." else "", blobs


def _letter(p: inspect.Parameter, hints: dict, what: str) -> tuple[str, str | None]:
    """One parameter's typemask letters, and its expected-types text if it takes a blob but not
    any instance."""
    if p.kind is not p.POSITIONAL_OR_KEYWORD and p.kind is not p.POSITIONAL_ONLY:
        raise TypeError(f"{what}: parameter {p.name!r} must be positional (Squirrel passes arguments by position)")
    if p.name not in hints:
        raise TypeError(f"{what}: annotate parameter {p.name!r} with the Squirrel type it takes "
                        "(int, float, bool, str, None, Callback, Table, Array, Blob, Instance or Any; see impapi.api)")
    members = _members(hints[p.name])
    if Any in members:
        if len(members) > 1:
            raise TypeError(f"{what}: parameter {p.name!r}: Any already includes every type")
        return ".", None
    unknown = [m for m in members if m not in _LETTERS]
    if unknown:
        raise TypeError(f"{what}: parameter {p.name!r}: {unknown[0]!r} is not a Squirrel type "
                        "(use int, float, bool, str, None, Callback, Table, Array, Blob, Instance or Any)")
    if p.default is None and type(None) not in members:
        raise TypeError(f"{what}: parameter {p.name!r} defaults to null, so its type must include None")
    letter = "|".join(dict.fromkeys(_LETTERS[m][0] for m in members))
    blob = "|".join(_LETTERS[m][1] for m in members) if Blob in members and Instance not in members else None
    return letter, blob


def _squirrel_type(value: Any) -> str:
    return "instance" if isinstance(value, Instance) else type(value).__name__


def _with_blob_checks(func: Callable, blobs: list[tuple[int, str]], skip: int) -> Callable:
    """``func`` that first refuses an instance that is not a blob where it takes a blob."""

    @functools.wraps(func)
    def checked(*args: Any) -> Any:
        for n, expected in blobs:
            if n + skip <= len(args):
                v = args[n + skip - 1]
                if isinstance(v, Instance) and not isinstance(v, Blob):
                    raise ImpError(f"parameter {n} has an invalid type 'instance' ; expected: '{expected}'")
        return func(*args)

    return checked


def function(func: Callable) -> Callable:
    """A Python function handed to Squirrel as a value (an HTTP response's ``send``): its
    arguments are checked from its annotations like a native's, with no host parameter."""
    mask, blobs = typemask(func, getattr(func, "__qualname__", "function"), skip=0)
    if blobs:
        checked = _with_blob_checks(func, blobs, 0)
    elif inspect.ismethod(func):  # the binding marks the function it is given: a bound method cannot be
        def checked(*args: Any) -> Any:
            return func(*args)
    else:
        checked = func
    return squirrel.native(checked, typemask=mask or None)


class Native:
    __slots__ = ("func", "sides", "available")

    def __init__(self, func: Callable, sides: Iterable[str], available: Callable[[Any], bool] | None) -> None:
        self.func = func
        self.sides = frozenset(sides)
        self.available = available


class Api:
    """The natives of one imp API object (``table`` is its root-table name, or None for globals)."""

    def __init__(self, table: str | None) -> None:
        self.table = table
        self.natives: dict[str, Native] = {}

    def native(self, sides: Iterable[str] = BOTH, *, name: str | None = None,
               available: Callable[[Any], bool] | None = None, this: bool = False) -> Callable[[Callable], Callable]:
        """Register ``func(host, *args)`` as ``<table>.<name>`` on ``sides``, its arguments
        checked as its annotations say (see the module's docstring). ``available(host)``
        decides per module profile (e.g. no deep sleep on imp005). ``this``: ``func(host,
        this, *args)`` receives Squirrel's ``this`` too (a hardware object's id, which its
        method passes as ``this`` so that errors number the arguments as the script does)."""

        def register(func: Callable) -> Callable:
            member = name or func.__name__.rstrip("_")
            mask, blobs = typemask(func, f"{self.table}.{member}" if self.table else member, this=this)
            squirrel_func = _with_blob_checks(func, blobs, 2 if this else 1) if blobs else func
            squirrel.native(squirrel_func, typemask=mask or None, pass_this=this)
            self.natives[member] = Native(squirrel_func, sides, available)
            return func

        return register

    def functions(self, host: Any) -> dict[str, Callable]:
        """The members that exist for ``host``: its side, and what ``available`` says for its
        module."""
        side = host.side
        return {name: n.func for name, n in self.natives.items()
                if side in n.sides and (n.available is None or n.available(host))}
