"""The imp's data serialisation, for messages and for nv (imp-api.md §3.6).

A value leaves one VM as a *wire value* (plain Python data: None, bool, int, float, str, Blob,
list, dict) and enters another as a deep copy. Safe strings (valid UTF-8, no NUL) travel as
strings; any other string, and every blob, arrives as a blob. Functions, classes, instances
(other than blob), generators, threads and weak references are refused with a Squirrel error at
the call that tried to send them."""

from __future__ import annotations

from typing import Any

import squirrel


class Blob(bytes):
    """Blob contents on the wire (so bytes from a non-UTF-8 string and a blob look alike)."""


class SerialisationError(ValueError):
    """The value cannot be serialised; the message is what the app sees."""


_KIND_NAMES = {
    squirrel.Function: "function", squirrel.NativeFunction: "function", squirrel.Class: "class",
    squirrel.Instance: "instance", squirrel.Generator: "generator", squirrel.Thread: "thread",
    squirrel.WeakRef: "weakref", squirrel.UserData: "userdata",
}


def to_wire(value: Any, what: str = "value", _depth: int = 0) -> Any:
    """Deep-copy a Squirrel value out of its VM, enforcing the imp's rules."""
    if _depth > 64:
        raise SerialisationError(f"cannot serialise {what}: nested too deeply (a cycle?)")
    t = type(value)
    if value is None or t in (bool, int, float):
        return value
    if t is str:
        return Blob(value.encode("utf-8")) if "\x00" in value else value
    if t is bytes:
        return Blob(value)
    if isinstance(value, squirrel.Blob):
        return Blob(bytes(value))
    if isinstance(value, squirrel.Array):
        return [to_wire(v, what, _depth + 1) for v in value]
    if isinstance(value, squirrel.Table):
        out = {}
        for k, v in value.items():
            if isinstance(k, squirrel.SquirrelObject):
                raise SerialisationError(f"cannot serialise {what}: a table key is a {k.kind}")
            out[to_wire(k, what, _depth + 1)] = to_wire(v, what, _depth + 1)
        return out
    kind = _KIND_NAMES.get(t, getattr(value, "kind", t.__name__))
    raise SerialisationError(f"cannot serialise {what}: it contains a {kind}")


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
        return {python_to_wire(k, what): python_to_wire(v, what) for k, v in value.items()}
    if isinstance(value, squirrel.SquirrelObject):
        return to_wire(value, what)
    raise SerialisationError(f"cannot serialise {what}: a Python {type(value).__name__}")


def from_wire(vm: squirrel.VM, value: Any) -> Any:
    """Materialise a wire value in ``vm`` (blobs become Squirrel blobs)."""
    if isinstance(value, Blob):
        return vm.new_blob(value)
    if isinstance(value, (list, dict)):
        return vm.to_squirrel(_with_blobs(vm, value))
    return value


def _with_blobs(vm: squirrel.VM, value: Any) -> Any:
    """The structure with its Blobs made Squirrel blobs (and blob keys plain bytes); the rest is
    converted by the binding in one pass."""
    if type(value) is list:
        return [_with_blobs(vm, v) if type(v) in _NESTED else v for v in value]
    if type(value) is dict:
        return {(bytes(k) if type(k) is Blob else k): (_with_blobs(vm, v) if type(v) in _NESTED else v)
                for k, v in value.items()}
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
