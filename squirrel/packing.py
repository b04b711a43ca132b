"""Plain data out of and into a VM in one call each (``VM.pack``, ``VM.unpack`` and their
one-slot forms): what a host keeps of a script between runs (an imp's ``nv`` table) crosses as
bytes, not value by value. A part of :class:`squirrel.VM`, kept apart from vm.py's value
conversions and call paths."""

from __future__ import annotations

from typing import Any

from ._squirrel import ffi, lib
from . import proxies as _p

ERROR, NOT_A_TABLE = lib.SQPY_ERROR, lib.SQPY_NOT_A_TABLE
_pack_slot, _unpack_slot = lib.sqpy_pack_slot, lib.sqpy_unpack_slot


class Packing:
    """The pack/unpack methods of :class:`squirrel.VM` (which provides ``_live`` and ``_raise``)."""

    _live: Any
    _raise: Any
    _ptr: Any
    _closed: bool

    def pack(self, value: "_p.SquirrelObject", max_depth: int = 64) -> tuple[bytes, int, int] | None:
        """The plain data in a table or array, copied out in one call: the packed bytes, their
        serialised size and how many parts that are not plain data were left out (see
        ``sqpy_pack``). None when values nest deeper than ``max_depth`` (a cycle, say) or pass
        1 MiB serialised. ``unpack`` makes the value again, in any VM."""
        if not isinstance(value, (_p.Table, _p.Array)) or value._vm is not self:
            raise TypeError("pack takes a table or an array of this VM")
        data, out = ffi.new("const char **"), ffi.new("long long[2]")
        return self._packed(lib.sqpy_pack(self._live(), value._live(), max_depth, data, out, out + 1), data, out)

    def _packed(self, n: int, data: Any, out: Any) -> tuple[bytes, int, int] | None:
        if n == -lib.SQPY_BADARG:
            return None
        if n < 0:
            self._raise(-n)
        return ffi.unpack(data[0], n), out[0], out[1]

    def unpack(self, packed: bytes) -> "_p.SquirrelObject":
        """A new table or array from what ``pack`` returned."""
        out = ffi.new("sqpy_value *")
        self._unpacked(lib.sqpy_unpack(self._live(), packed, len(packed), out))
        return _p.make_proxy(self, out.i, out.type)

    def _unpacked(self, rc: int) -> None:
        if rc == lib.SQPY_BADARG:
            raise ValueError("not a packed Squirrel value")
        if rc:
            self._raise(rc)

    def pack_slot(self, table: "_p.Table", key: str, max_depth: int = 64) -> "tuple[bytes, int, int] | None | bool":
        """``pack(table.get(key))`` in one call: False when the slot is missing or holds no table."""
        k, data, out = key.encode(), ffi.new("const char **"), ffi.new("long long[2]")
        # The checks _live() makes, inline: a device's nv crosses at nearly every boot, and each
        # Python call less is ~200 machine instructions (callgrind).
        ref = table._ref if table._ref >= 0 and not table._vm._closed else table._live()
        n = _pack_slot(self._ptr if not self._closed else self._live(), ref, k, len(k), max_depth, data, out, out + 1)
        if n >= 0:  # _packed's result, inline
            return ffi.unpack(data[0], n), out[0], out[1]
        return False if n == -NOT_A_TABLE or n == -ERROR else self._packed(n, data, out)

    def unpack_slot(self, table: "_p.Table", key: str, packed: bytes) -> None:
        """``table[key] = unpack(packed)`` in one call."""
        k = key.encode()
        ref = table._ref if table._ref >= 0 and not table._vm._closed else table._live()  # as in pack_slot
        rc = _unpack_slot(self._ptr if not self._closed else self._live(), ref, k, len(k), packed, len(packed))
        if rc:
            self._unpacked(rc)
