"""The imp's data serialisation, for messages, ``nv`` and ``server.save`` (imp-api.md §3.6;
D:resources/serialisablesquirrel).

A value leaves one VM as a *wire value* (plain Python data: None, bool, int, float, str, Blob,
list, dict) and enters another as a deep copy. Safe strings (valid UTF-8, no NUL) travel as
strings; any other string, and every blob, arrives as a blob. A table is serialisable when its
keys are safe strings; functions, classes, instances other than blob, generators, threads and
weak references are not serialisable.

What happens to the parts that cannot be serialised differs by side:

* the device leaves them out of the copy -- a table entry whose key is not a safe string, a table
  value or array member that cannot be serialised -- without raising (the documented rule;
  ``agent.send`` then logs an error, as MessageManager's tests quote it); ``on_drop`` hears of each;
* the agent (the impCloud) refuses the whole value with a Squirrel error at the call: libraries
  whose agent-side tests pass on hardware rely on ``device.send`` raising for a function inside
  the data (``on_drop`` None).

A value that cannot be serialised at the top (an instance passed to ``agent.send``, say) is
refused with an error on both sides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import squirrel


class Blob(bytes):
    """Blob contents on the wire (so bytes from a non-UTF-8 string and a blob look alike)."""


class Packed(bytes):
    """A table or array its VM packed in one call (``squirrel.VM.pack``): the wire value
    ``to_wire`` would make of it, kept packed until ``from_wire`` unpacks it in the receiving VM."""


class SerialisationError(ValueError):
    """The value cannot be serialised; the message is what the app sees."""


_KIND_NAMES = {
    squirrel.Function: "function", squirrel.NativeFunction: "function", squirrel.Class: "class",
    squirrel.Instance: "instance", squirrel.Generator: "generator", squirrel.Thread: "thread",
    squirrel.WeakRef: "weakref", squirrel.UserData: "userdata",
}

_SCALARS = (type(None), bool, int, float)

MAX_DEPTH = 64  # values nested deeper are refused (a table that holds itself, say)


class _Unserialisable(Exception):
    def __init__(self, kind: str) -> None:
        self.kind = kind


def is_safe_string(value: Any) -> bool:
    """A safe string: text (the binding gives other strings as bytes) with no NUL character."""
    return type(value) is str and "\x00" not in value


# No serialised value the imp takes comes near this (messages about 256 KB, server.save 64 KB,
# nv a few KB); the copy stops here, so a table that holds the same table twice at every level
# (2^depth copies) is refused at once instead of being expanded for minutes.
WIRE_LIMIT = 1 << 20


def to_wire(value: Any, what: str = "value", on_drop: Callable[[str], Any] | None = None) -> Any:
    """Deep-copy a Squirrel value out of its VM, enforcing the imp's rules. With ``on_drop`` the
    parts inside tables and arrays that cannot be serialised are left out and ``on_drop(reason)``
    is called for each (the device's way); without it they raise :class:`SerialisationError`
    (the agent's). A copy over :data:`WIRE_LIMIT` bytes serialised (``wire_size``) is refused.

    A table or array met again (the imp's format has no references: the receiver gets a copy at
    each place) is charged in full again but its copy is reused, so a value that shares tables
    costs what its distinct tables do and is refused as soon as it passes the limit. The wire
    value may therefore share lists and dicts; nothing changes a wire value in place."""
    if type(value) in _SCALARS:
        return value  # what the copier makes of it, without making one (a message's usual data)
    try:
        return _Copier(what, on_drop).copy(value, 0)[0]
    except _Unserialisable as e:
        raise SerialisationError(f"cannot serialise {what}: it is a {e.kind}") from None


def to_wire_packed(value: Any, vm: squirrel.VM, what: str = "value",
                   on_drop: Callable[[str], Any] | None = None) -> Any:
    """``to_wire`` for a value of ``vm``, in one call into the VM when it is a table or array of
    plain data only (the common case); otherwise ``to_wire`` itself, which names each part it
    leaves out or refuses."""
    if type(value) in _SCALARS:
        return value  # as to_wire gives it, without the checks and the call (a message's usual data)
    if isinstance(value, (squirrel.Table, squirrel.Array)):
        packed = vm.pack(value, MAX_DEPTH)
        if packed is not None and not packed[2]:
            return Packed(packed[0])
    return to_wire(value, what, on_drop)


class _Copier:
    def __init__(self, what: str, on_drop: Callable[[str], Any] | None) -> None:
        self.what = what
        self.on_drop = on_drop
        self.budget = WIRE_LIMIT
        self.drops = 0
        # container -> (its copy, what it was charged, its height), for copies that left
        # nothing out (a copy that did is made again, so each place reports what it drops).
        # Keyed by the container's address (its hash), not its proxy: holding every proxy would
        # grow the VM's table of references, which a script sees as memory. The address stays
        # the container's while the copy runs, as the value being copied holds it.
        self.done: dict[int, tuple[Any, int, int]] = {}

    def charge(self, n: int) -> None:
        self.budget -= n
        if self.budget < 0:
            raise SerialisationError(too_large(self.what))

    def left_out(self, part: str) -> None:
        self.drops += 1
        _left_out(self.on_drop, self.what, part)

    def copy(self, value: Any, depth: int) -> tuple[Any, int]:
        """The copy of value and its height: how much deeper than value its deepest part is."""
        if depth > MAX_DEPTH:
            raise SerialisationError(too_deep(self.what))
        t = type(value)
        # What wire_size counts for the value itself (its contents are counted as they are copied).
        self.charge(len(value) + 5 if t in (str, bytes) else 5)
        if t in _SCALARS:
            return value, 0
        if t is str:
            return (Blob(value.encode("utf-8")) if "\x00" in value else value), 0
        if t is bytes:
            return Blob(value), 0
        if isinstance(value, squirrel.Blob):
            return Blob(bytes(value)), 0
        if not isinstance(value, (squirrel.Array, squirrel.Table)):
            raise _Unserialisable(_kind(value))
        key = hash(value)
        seen = self.done.get(key)
        if seen is not None:
            out, cost, height = seen
            self.charge(cost - 5)
            if depth + height > MAX_DEPTH:
                raise SerialisationError(too_deep(self.what))
            return out, height
        start, drops = self.budget, self.drops
        height = -1
        if isinstance(value, squirrel.Array):
            out_list = []
            for v in value:
                try:
                    v, h = self.copy(v, depth + 1)
                except _Unserialisable as e:
                    self.left_out(f"a {e.kind}")
                    continue
                out_list.append(v)
                height = max(height, h)
            out: Any = out_list
        else:
            out = {}
            for k, v in value.items():
                if not is_safe_string(k):
                    self.left_out(f"a table key that is not a safe string (a {_kind(k)})")
                    continue
                try:
                    self.charge(len(k) + 3)
                    out[k], h = self.copy(v, depth + 1)
                except _Unserialisable as e:
                    self.left_out(f"a {e.kind}")
                    continue
                height = max(height, h)
        if self.drops == drops:
            self.done[key] = (out, start - self.budget + 5, height + 1)
        return out, height + 1


def too_deep(what: str) -> str:
    return f"cannot serialise {what}: nested too deeply (a cycle?)"


def too_large(what: str) -> str:
    return (f"cannot serialise {what}: it is over {WIRE_LIMIT >> 20} MB serialised, "
            "far over what the imp sends or stores")


def _left_out(on_drop: Callable[[str], Any] | None, what: str, part: str) -> None:
    if on_drop is None:
        raise SerialisationError(f"cannot serialise {what}: it contains {part}")
    on_drop(part)


def _kind(value: Any) -> str:
    t = type(value)
    if t is str:
        return "string with a NUL character"
    if t is bytes:
        return "string that is not UTF-8"
    if t in _SCALARS:
        return "null" if value is None else t.__name__.replace("int", "integer")
    return _KIND_NAMES.get(t, getattr(value, "kind", t.__name__))


def python_to_wire(value: Any, what: str = "value") -> Any:
    """A wire value from plain Python data (what a scenario or a test sends)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return Blob(value.encode("utf-8")) if "\x00" in value else value
    if isinstance(value, (bytes, bytearray)):
        return Blob(bytes(value))
    if isinstance(value, (list, tuple)):
        return [python_to_wire(v, what) for v in value]
    if isinstance(value, dict):
        return {k: python_to_wire(v, what) for k, v in value.items() if is_safe_string(k)}
    if isinstance(value, squirrel.SquirrelObject):
        return to_wire(value, what)
    raise SerialisationError(f"cannot serialise {what}: a Python {type(value).__name__}")


def from_wire(vm: squirrel.VM, value: Any) -> Any:
    """Materialise a wire value in ``vm`` (blobs become Squirrel blobs)."""
    if type(value) in _SCALARS:
        return value  # as it is, without the checks below (a message's usual data)
    if type(value) is Packed:
        return vm.unpack(value)
    if isinstance(value, Blob):
        return vm.new_blob(value)
    if isinstance(value, (list, dict)):
        return vm.to_squirrel(_with_blobs(vm, value))
    return value


def _with_blobs(vm: squirrel.VM, value: Any) -> Any:
    """The structure with its Blobs made Squirrel blobs (keys are safe strings); the rest is
    converted by the binding in one pass."""
    if type(value) is list:
        return [_with_blobs(vm, v) if type(v) in _NESTED else v for v in value]
    if type(value) is dict:
        return {k: (_with_blobs(vm, v) if type(v) in _NESTED else v) for k, v in value.items()}
    return vm.new_blob(value)


_NESTED = frozenset({list, dict, Blob})


def wire_size(value: Any) -> int:
    """Bytes the value takes in the imp's serialised form, approximated: one tag byte per value,
    4 bytes per number, a length plus the bytes for strings and blobs."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, (int, float)):
        return 5
    if isinstance(value, str):
        return 3 + len(value.encode("utf-8"))
    if isinstance(value, bytes):
        return 5 + len(value)
    if isinstance(value, list):
        return 5 + sum(wire_size(v) for v in value)
    if isinstance(value, dict):
        return 5 + sum(wire_size(k) + wire_size(v) for k, v in value.items())
    raise TypeError(type(value).__name__)
