"""Questions about a run's pin and bus activity, answered from its structured events.

``sim.io`` is an :class:`IORecord` over the simulation's events::

    assert sim.io.writes("pin9") == [0, 1, 0]          # the levels the app drove, in order
    assert sim.io.sent("uart57") == b"AT\\r"            # bytes the app sent
    reads = sim.io.i2c("i2c89", address=0xBE)          # transfers, with what was read
    recent = sim.io.since(sim.clock.now_us)            # only what happens from now on

It reads the events the natives record (kinds ``pin``, ``pin-in``, ``i2c``, ``spi``, ``uart``,
``uart-rx``: :mod:`impapi.events`), so it sees what ``Config.record_io`` and
``record_io_limit`` let through.
"""

from __future__ import annotations

from typing import Any, Iterable, NamedTuple

__all__ = ["I2CTransfer", "IORecord", "SPITransfer"]


class I2CTransfer(NamedTuple):
    time_us: int
    bus: str
    address: int  # 8-bit, as the imp API writes it
    write: bytes  # the register address and data written
    read: bytes | None  # what was read (None: a write, or a read that failed)
    error: int  # 0, or the imp's I2C error code


class SPITransfer(NamedTuple):
    time_us: int
    bus: str
    write: bytes
    read: bytes


class IORecord:
    """A view of the I/O events in ``events`` from ``since_us`` on."""

    def __init__(self, events: Iterable[Any], since_us: int = 0) -> None:
        self._events = events
        self.since_us = since_us

    def since(self, time_us: int) -> "IORecord":
        """Only what happened at or after ``time_us``."""
        return IORecord(self._events, time_us)

    def _of(self, kind: str, key: str | None = None, value: Any = None) -> list[Any]:
        return [e for e in self._events if e.kind == kind and e.time_us >= self.since_us
                and (key is None or e.data.get(key) == value)]

    # --- pins -------------------------------------------------------------------------------------

    def changes(self, pin: str) -> list[tuple[int, int | float]]:
        """(time, value) for each write to ``pin``: a digital level, a DAC level or a PWM duty."""
        out = []
        for e in self._of("pin", "pin", pin):
            value = e.data.get("value", e.data.get("duty"))
            if value is not None:
                out.append((e.time_us, value))
        return out

    def writes(self, pin: str) -> list[int | float]:
        """The values written to ``pin``, in order (see :meth:`changes`)."""
        return [v for _, v in self.changes(pin)]

    def inputs(self, pin: str) -> list[tuple[int, int | None]]:
        """(time, level) each time something outside changed what drives ``pin`` (None: released)."""
        return [(e.time_us, e.data["level"]) for e in self._of("pin-in", "pin", pin)]

    # --- buses ------------------------------------------------------------------------------------

    def sent(self, bus: str) -> bytes:
        """Every byte the app sent on UART ``bus``, in order."""
        return b"".join(bytes.fromhex(e.data["data"]) for e in self._of("uart", "bus", bus))

    def received(self, bus: str) -> bytes:
        """Every byte that reached the app's receive FIFO on UART ``bus``."""
        return b"".join(bytes.fromhex(e.data["data"]) for e in self._of("uart-rx", "bus", bus))

    def i2c(self, bus: str | None = None, address: int | None = None) -> list[I2CTransfer]:
        """I2C transfers, on ``bus`` and to ``address`` (8-bit) if given."""
        out = []
        for e in self._of("i2c"):
            d = e.data
            if (bus is None or d["bus"] == bus) and (address is None or d["address"] & 0xFE == address & 0xFE):
                out.append(I2CTransfer(e.time_us, d["bus"], d["address"], bytes.fromhex(d["write"] or ""),
                                       None if d["read"] is None else bytes.fromhex(d["read"]), d["error"]))
        return out

    def spi(self, bus: str | None = None) -> list[SPITransfer]:
        """SPI transfers (not chip-select changes), on ``bus`` if given."""
        return [SPITransfer(e.time_us, e.data["bus"], bytes.fromhex(e.data["write"]), bytes.fromhex(e.data["read"]))
                for e in self._of("spi") if "write" in e.data and (bus is None or e.data["bus"] == bus)]

    def used(self) -> list[str]:
        """The pins and buses with any recorded activity, sorted by name."""
        names = set()
        for e in self._events:
            if e.time_us >= self.since_us and e.kind in ("pin", "pin-in"):
                names.add(e.data["pin"])
            elif e.time_us >= self.since_us and e.kind in ("i2c", "spi", "uart", "uart-rx"):
                names.add(e.data["bus"])
        return sorted(names)
