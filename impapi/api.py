"""How imp API objects register their natives.

Each imp API object (``server``, ``imp``, ``hardware``, ...) is one module holding an :class:`Api`;
a native is one function in it, decorated with the sides it exists on. A native receives the
running :class:`~impapi.host.ScriptHost` first, then the Squirrel arguments; Squirrel's
paramscheck is derived once from its signature (without the host). Installing an object into a
fresh VM is one C call (:func:`impapi.natives.install`: a :class:`squirrel.NativeSet` of every
object, prepared once per side and module)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import squirrel

DEVICE, AGENT = "device", "agent"
BOTH = (DEVICE, AGENT)


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
               available: Callable[[Any], bool] | None = None) -> Callable[[Callable], Callable]:
        """Register ``func(host, *args)`` as ``<table>.<name>`` on ``sides``. ``available(host)``
        decides per module profile (e.g. no deep sleep on imp005)."""

        def register(func: Callable) -> Callable:
            self.natives[name or func.__name__.rstrip("_")] = Native(func, sides, available)
            return func

        return register

    def functions(self, host: Any) -> dict[str, Callable]:
        """The members that exist for ``host``: its side, and what ``available`` says for its
        module."""
        side = host.side
        return {name: n.func for name, n in self.natives.items()
                if side in n.sides and (n.available is None or n.available(host))}


class ImpError(squirrel.ScriptError):
    """Raised by a native to throw a Squirrel runtime error with exactly this text."""
