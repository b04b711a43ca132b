"""What squirrel.vm and squirrel.proxies share: the kinds of values that cross between Python
and C, and what a proxy needs of the VM it belongs to (:class:`VMLike`, which
:class:`squirrel.VM` is). Both modules import this one; neither imports the other's names at
import time, so the VM can make proxies and proxies can call back into their VM."""

from __future__ import annotations

from typing import Any, Protocol

from ._squirrel import lib

# Value kinds (sqpy.h): the scalars travel by value, the rest as handles.
NULL, INTEGER, FLOAT, BOOL, STRING = lib.SQPY_NULL, lib.SQPY_INTEGER, lib.SQPY_FLOAT, lib.SQPY_BOOL, lib.SQPY_STRING
TABLE, ARRAY = lib.SQPY_TABLE, lib.SQPY_ARRAY
TEXT = lib.SQPY_TEXT  # strings up to this many bytes cross in the slot buffer's text area


class VMLike(Protocol):
    """The parts of a VM its proxies use: its C handle and slot buffer, conversions both ways,
    calls, and raising its errors. Leading underscores: this is the binding's inside."""

    _ptr: Any
    _gen: int  # the generation of the VM's handles (see VM._set_root)
    _closed: bool
    _dirty: bool
    _home: int
    _bt: Any
    _bi: Any
    _bf: Any
    _tbuf: Any

    @property
    def closed(self) -> bool: ...

    def _live(self) -> Any: ...

    def _raise(self, rc: int) -> None: ...

    def _from(self, v: Any) -> Any: ...

    def _to(self, value: Any, slot: Any, temps: list) -> None: ...

    def _call(self, ref: int, this: Any, args: tuple, has_this: bool) -> Any: ...

    def _result(self, rc: int, args: tuple = ()) -> Any: ...

    def _after_call(self) -> None: ...

    def _helper(self, name: str, source: str) -> Any: ...
