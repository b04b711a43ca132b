"""A device that is a file of 8-bit registers, on I2C or SPI: the shape of most sensor chips.

:class:`RegisterDevice` speaks both bus protocols the way register-based chips do:

- I2C: a write's first byte is the register address and the rest are stored from there; a read
  with a sub-address reads from that register, a bare read from where the last transfer left
  off;
- SPI: within one chip selection the first byte is the command (the register address, with
  ``spi_read_bit`` set for a read) and each later byte is read from, or written to, the next
  register. MISO is ``fill`` while the command byte goes out.

Successive bytes go to successive registers when ``auto_increment`` is True, stay on one
register when it is False, and, when it is a bit mask (``0x80``, as ST's chips do on I2C), only
when the address byte has that bit set (the bit is not part of the address). On SPI
``spi_increment_bit`` does the same (ST: ``0x40``).

A register holds a byte the imp can change where ``writable`` has bits (read-only bits keep their
value), or *follows* a signal (:mod:`.signals`): a ``width``-byte integer, ``raw = round(value
* scale + offset)``, in ``order`` byte order, computed for the time of the read. Registers not
defined read ``fill`` and store what is written.

Chip models subclass it, define their register map in ``__init__`` and override :meth:`read`
and :meth:`write` for registers that do something (self-clearing bits, status flags).
"""

from __future__ import annotations

from typing import Any

from .signals import Signal, signal

__all__ = ["Field", "RegisterDevice"]


class Field:
    """A ``width``-byte register group that follows a signal."""

    __slots__ = ("start", "width", "order", "signed", "scale", "offset", "source")

    def __init__(self, start: int, source: Signal, width: int = 1, order: str = "little", signed: bool = False,
                 scale: float = 1.0, offset: float = 0.0) -> None:
        if width not in (1, 2, 3, 4):
            raise ValueError(f"a register field is 1 to 4 bytes wide, not {width!r}")
        if order not in ("little", "big"):
            raise ValueError(f"byte order is \"little\" or \"big\", not {order!r}")
        self.start, self.width, self.order, self.signed = start, width, order, signed
        self.scale, self.offset, self.source = float(scale), float(offset), source

    def raw(self, t_us: int) -> int:
        """The integer the registers hold at ``t_us``, clamped to what ``width`` bytes can hold."""
        bits = 8 * self.width
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if self.signed else (0, (1 << bits) - 1)
        value = float(self.source(t_us)) * self.scale + self.offset
        if value != value:  # NaN: the signal gave nothing usable; read the lowest code
            return lo
        return min(hi, max(lo, int(round(value))))

    def byte(self, index: int, t_us: int) -> int:
        data = (self.raw(t_us) & ((1 << (8 * self.width)) - 1)).to_bytes(self.width, self.order)
        return data[index]


class RegisterDevice:
    """An I2C and SPI device over 256 8-bit registers (see the module docstring)."""

    auto_increment: bool | int = True
    spi_read_bit: int = 0x80
    spi_increment_bit: int | None = None  # None: as auto_increment
    fill: int = 0x00
    OUTPUT_PINS: tuple[str, ...] = ()  # the chip's own output pins (interrupt lines) a wiring may connect

    def __init__(self, *, auto_increment: bool | int | None = None, spi_read_bit: int | None = None,
                 spi_increment_bit: int | None = None, fill: int | None = None, name: str | None = None) -> None:
        if auto_increment is not None:
            self.auto_increment = auto_increment
        if spi_read_bit is not None:
            self.spi_read_bit = spi_read_bit
        if spi_increment_bit is not None:
            self.spi_increment_bit = spi_increment_bit
        if fill is not None:
            self.fill = fill & 0xFF
        self.name = name or type(self).__name__
        self.regs = bytearray([self.fill]) * 256
        self.writable = bytearray([0xFF]) * 256
        self.fields: dict[int, tuple[Field, int]] = {}  # register -> (field, byte index)
        self.pointer = 0  # where a bare I2C read starts
        self._increment = self.auto_increment is True  # whether the last addressing asked for it
        self._spi: list[Any] | None = None  # [register, reading, increment] within a selection
        self._selected = False
        self.pins: Any = None  # a ModelPins once output pins are wired (pins_attached)

    def pins_attached(self, pins: Any) -> None:
        """The board wired some of ``OUTPUT_PINS`` to the imp (a :class:`~.base.ModelPins`)."""
        self.pins = pins

    # --- defining the map -----------------------------------------------------------------------

    def define(self, register: int, value: int = 0, writable: int = 0xFF) -> None:
        """``register`` holds ``value``; the imp can change the bits set in ``writable``."""
        self._check(register)
        self.fields.pop(register, None)
        self.regs[register] = value & 0xFF
        self.writable[register] = writable & 0xFF

    def follow(self, register: int, source: Any, *, width: int = 1, order: str = "little", signed: bool = False,
               scale: float = 1.0, offset: float = 0.0) -> Field:
        """``width`` registers from ``register`` hold ``round(source(t) * scale + offset)``."""
        field = Field(register, signal(source), width, order, signed, scale, offset)
        for i in range(width):
            self._check(register + i)
            self.fields[register + i] = (field, i)
            self.writable[register + i] = 0x00
        return field

    @staticmethod
    def _check(register: int) -> None:
        if not isinstance(register, int) or isinstance(register, bool) or not 0 <= register <= 0xFF:
            raise ValueError(f"a register address is 0-255 (0x00-0xFF), not {register!r}")

    # --- what a register does (chip models override these) -------------------------------------

    def read(self, register: int, t_us: int) -> int:
        """The byte the imp reads from ``register`` at ``t_us``."""
        entry = self.fields.get(register)
        if entry is not None:
            return entry[0].byte(entry[1], t_us)
        return self.regs[register]

    def write(self, register: int, value: int, t_us: int) -> None:
        """The imp writes ``value`` to ``register``: only its writable bits change."""
        mask = self.writable[register]
        self.regs[register] = (self.regs[register] & ~mask & 0xFF) | (value & mask)

    def get(self, register: int) -> int:
        """The byte stored in ``register`` (for tests and models; no side effects)."""
        return self.regs[register]

    # --- addressing -----------------------------------------------------------------------------

    def _address(self, byte: int, increment: bool | int) -> tuple[int, bool]:
        if isinstance(increment, bool):
            return byte, increment
        return byte & ~increment & 0xFF, bool(byte & increment)

    def _read_block(self, start: int, count: int, increment: bool, t_us: int) -> bytes:
        out = bytearray()
        register = start
        for _ in range(count):
            out.append(self.read(register, t_us) & 0xFF)
            if increment:
                register = (register + 1) & 0xFF
        self.pointer = register
        self._increment = increment
        return bytes(out)

    # --- I2C (impapi.peripherals.I2CDevice) -----------------------------------------------------

    def i2c_write(self, data: bytes, t_us: int) -> int:
        if not data:
            return 0  # an address-only write (a probe): acknowledged
        register, increment = self._address(data[0], self.auto_increment)
        for value in data[1:]:
            self.write(register, value, t_us)
            if increment:
                register = (register + 1) & 0xFF
        self.pointer = register
        self._increment = increment
        return 0

    def i2c_read(self, register: bytes, count: int, t_us: int) -> bytes | int:
        if register:
            start, increment = self._address(register[0], self.auto_increment)
        else:
            start, increment = self.pointer, self._increment
        return self._read_block(start, count, increment, t_us)

    # --- SPI (impapi.peripherals.SPIDevice) -----------------------------------------------------

    def spi_select(self, selected: bool, t_us: int) -> None:
        self._selected = selected
        self._spi = None

    def spi_transfer(self, mosi: bytes, t_us: int) -> bytes:
        if not self._selected:
            self._spi = None  # no chip-select line: each transfer is a whole transaction
        inc_bit = self.spi_increment_bit if self.spi_increment_bit is not None else self.auto_increment
        out = bytearray()
        for byte in mosi:
            state = self._spi
            if state is None:
                reading = bool(byte & self.spi_read_bit)
                register, increment = self._address(byte & ~self.spi_read_bit & 0xFF, inc_bit)
                self._spi = [register, reading, increment]
                out.append(self.fill)
                continue
            register, reading, increment = state
            if reading:
                out.append(self.read(register, t_us) & 0xFF)
            else:
                self.write(register, byte, t_us)
                out.append(self.fill)
            if increment:
                state[0] = (register + 1) & 0xFF
        if not self._selected:
            self._spi = None
        return bytes(out)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
