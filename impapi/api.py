"""How imp API objects register their natives.

Each imp API object (``server``, ``imp``, ``hardware``, ...) is one module holding an :class:`Api`;
a native is one function in it, decorated with the sides it exists on. A native receives the
running :class:`~impapi.host.ScriptHost` first, then the Squirrel arguments; Squirrel's
paramscheck is derived once from its signature (without the host)."""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Iterable

import squirrel
from squirrel.vm import _paramscheck

DEVICE, AGENT = "device", "agent"
BOTH = (DEVICE, AGENT)


class Native:
    __slots__ = ("func", "name", "sides", "params", "available")

    def __init__(self, func: Callable, name: str, sides: Iterable[str], params: int | None,
                 available: Callable[[Any], bool] | None) -> None:
        self.func = func
        self.name = name
        self.sides = frozenset(sides)
        self.params = params if params is not None else _paramscheck(func, True)
        self.available = available


class Api:
    """The natives of one imp API object (``table`` is its root-table name, or None for globals)."""

    def __init__(self, table: str | None) -> None:
        self.table = table
        self.natives: dict[str, Native] = {}
        self.values: dict[str, tuple[Any, frozenset[str]]] = {}

    def native(self, sides: Iterable[str] = BOTH, *, name: str | None = None, params: int | None = None,
               available: Callable[[Any], bool] | None = None) -> Callable[[Callable], Callable]:
        """Register ``func(host, *args)`` as ``<table>.<name>`` on ``sides``. ``available(host)``
        decides per module profile (e.g. no deep sleep on imp005)."""

        def register(func: Callable) -> Callable:
            n = name or func.__name__.rstrip("_")
            self.natives[n] = Native(func, n, sides, params, available)
            return func

        return register

    def constant(self, name: str, value: Any, sides: Iterable[str] = BOTH) -> None:
        self.values[name] = (value, frozenset(sides))

    def build(self, host: Any) -> dict[str, Any]:
        """The members for ``host``'s side, natives bound to it."""
        members: dict[str, Any] = {}
        side = host.side
        for n, nat in self.natives.items():
            if side in nat.sides and (nat.available is None or nat.available(host)):
                f = partial(nat.func, host)
                f.__squirrel_native__ = (False, False, f"{self.table}.{n}" if self.table else n, nat.params)  # type: ignore[attr-defined]
                members[n] = f
        for n, (value, sides) in self.values.items():
            if side in sides:
                members[n] = value
        return members

    def install(self, host: Any) -> squirrel.Table | None:
        """Put the members into the root table (as ``<table>`` or as globals)."""
        members = self.build(host)
        if not members:
            return None  # an object of the other side does not exist here
        root = host.vm.root
        if self.table is None:
            for k, v in members.items():
                root[k] = v
            return None
        existing = root.get(self.table)
        if isinstance(existing, squirrel.Table):
            for k, v in members.items():
                existing[k] = v
            return existing
        table = host.vm.to_squirrel(members)
        root[self.table] = table
        return table


class ImpError(squirrel.ScriptError):
    """Raised by a native to throw a Squirrel runtime error with exactly this text."""
