"""Limits and accounting of a VM (``memory_limit``, ``time_limit``, ``instruction_limit``,
``call_instructions``, ``memory_used``, ``work``...): a part of :class:`squirrel.VM`, kept apart
from vm.py's value conversions and call paths."""

from __future__ import annotations

from typing import Any

from ._squirrel import lib

WRONG_THREAD = lib.SQPY_WRONG_THREAD
# Read several times a boot by a host that reuses its VM: module globals, no lookup in lib.
_set_limits, _set_headroom = lib.sqpy_set_limits, lib.sqpy_set_memory_headroom
_work, _memory_used = lib.sqpy_work, lib.sqpy_memory_used


class Limits:
    """The limit and accounting members of :class:`squirrel.VM` (which provides the rest)."""

    _ptr: Any
    _closed: bool
    _memory_limit: int | None
    _time_limit: float | None
    _instruction_limit: int | None
    _call_instructions: int
    _live: Any
    _raise: Any

    def _apply_limits(self) -> None:
        memory, seconds, instructions = self._memory_limit, self._time_limit, self._instruction_limit
        if ((memory is not None and memory <= 0) or (seconds is not None and seconds <= 0)
                or (instructions is not None and instructions <= 0)):
            for name, v in (("memory_limit", memory), ("time_limit", seconds), ("instruction_limit", instructions)):
                if v is not None and v <= 0:
                    raise ValueError(f"{name} must be positive or None, got {v!r}")
        if self._closed:
            self._live()  # raises
        # (a host sets the memory limit twice per run of a reused VM: no _live() call, no
        # tuple-building setter, ~0.25 us less each, timeit)
        if _set_limits(self._ptr, memory or 0, instructions or 0, float(seconds or 0)):
            self._raise(WRONG_THREAD)

    def _set_memory_limit(self, v: int | None) -> None:
        self._memory_limit = v
        self._apply_limits()

    def _set_time_limit(self, v: float | None) -> None:
        self._time_limit = v
        self._apply_limits()

    def _set_instruction_limit(self, v: int | None) -> None:
        self._instruction_limit = v
        self._apply_limits()

    def set_memory_headroom(self, headroom: int) -> int:
        """Set :attr:`memory_limit` to :attr:`memory_used` + ``headroom`` bytes and return it (one
        C call: a host sets it so twice per script, ~1 us less than reading and setting, timeit)."""
        if headroom <= 0:
            raise ValueError(f"headroom must be positive, got {headroom!r}")
        if self._closed:
            self._live()  # raises
        limit = _set_headroom(self._ptr, headroom)
        if limit < 0:
            self._raise(WRONG_THREAD)
        self._memory_limit = limit
        return limit

    memory_limit = property(lambda self: self._memory_limit, _set_memory_limit,
                            doc="Bytes the VM may hold (None: no limit).")
    time_limit = property(lambda self: self._time_limit, _set_time_limit,
                          doc="Wall-clock seconds per call from Python (None: no limit).")
    instruction_limit = property(lambda self: self._instruction_limit, _set_instruction_limit,
                                 doc="VM instructions per call from Python (None: no limit).")

    @property
    def call_instructions(self) -> int:
        """Instructions each call of a Python function counts toward ``instruction_limit``
        (0, the default: none). A host's function costs far more than an instruction, so a
        loop that calls one runs a thousand times longer within the same limit without this."""
        return self._call_instructions

    @call_instructions.setter
    def call_instructions(self, n: int) -> None:
        if n < 0:
            raise ValueError(f"call_instructions must be 0 or more, got {n!r}")
        if lib.sqpy_set_call_cost(self._live(), int(n)):
            self._raise(WRONG_THREAD)
        self._call_instructions = int(n)

    @property
    def memory_used(self) -> int:
        """Bytes the VM holds now (contents in full, the rest times ``overhead_scale``)."""
        if self._closed:
            self._live()  # raises
        return _memory_used(self._ptr)

    @property
    def memory_peak(self) -> int:
        return lib.sqpy_memory_peak(self._live())

    @property
    def work(self) -> int:
        """The work the VM has done since it was made, in instructions: every instruction run plus
        what natives charged (the units ``instruction_limit`` counts), exact at any moment,
        inside a call (from a native) or between calls. It is never reset: take differences."""
        return _work(self._live())

    def read_work(self) -> int:  # ``work`` without a Python call: an attribute bound in C shadows
        return _work(self._live())  # this while the VM is open (a host reads it at every native)
