"""The interfaces a peripheral model implements. Times are virtual microseconds since the start of
the simulation (``t_us``); byte strings are ``bytes``.

A model is plain Python: it keeps its own state (registers, buffers) across the imp's boots, as
a real chip on the board would. It must be deterministic: the same calls at the same times give
the same answers (no wall clock, no unseeded randomness).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

# The imp's I2C error codes (i2c.write() results and i2c.readerror() values; see
# docs/imp-model/hardware.md). A model returns one of these to make a transfer fail.
I2C_OK = 0
I2C_MASTER_SELECT_ERROR = -1  # the bus is held low: no start condition
I2C_TRANSMIT_SELECT_ERROR = -2  # the address was not acknowledged (write phase)
I2C_TRANSMIT_ERROR = -3  # a data byte was not acknowledged
I2C_ADDR_CLEAR_ERROR = -6  # the address was not acknowledged (read phase)
I2C_SLAVE_NACKED_ERROR = -9  # the imp005's code for (almost) every failure
I2C_NOT_ENABLED = -13  # the bus was not configured


@runtime_checkable
class I2CDevice(Protocol):
    """A device answering one address on an I2C bus.

    ``i2c_write(data)``: the imp wrote ``data`` (register address and payload, as
    ``i2c.write()`` gives them). Return 0, or an I2C error code to fail the transfer.

    ``i2c_read(register, count)``: the imp wrote ``register`` (b"" for no sub-address phase),
    then read ``count`` bytes after a repeated start. Return exactly ``count`` bytes, or an I2C
    error code."""

    def i2c_write(self, data: bytes, t_us: int) -> int: ...

    def i2c_read(self, register: bytes, count: int, t_us: int) -> bytes | int: ...


@runtime_checkable
class SPIDevice(Protocol):
    """A device on an SPI bus. ``spi_select(True/False)`` follows its chip-select line (its CS
    pin going low/high, or ``spi.chipselect()``); ``spi_transfer(mosi)`` is one full-duplex
    transfer while it is selected and returns the same number of MISO bytes."""

    def spi_select(self, selected: bool, t_us: int) -> None: ...

    def spi_transfer(self, mosi: bytes, t_us: int) -> bytes: ...


class UARTLine:
    """The peer's end of a UART: what it sends the imp arrives through :meth:`send`;
    :meth:`after` runs a function of the peer's later (its own timer)."""

    def __init__(self, bus: str, deliver: Callable[[str, bytes, int], None], now: Callable[[], int],
                 schedule: Callable[[int, Callable[[], None]], Any] | None = None) -> None:
        self.bus = bus
        self._deliver = deliver
        self._now = now
        self._schedule = schedule

    def send(self, data: bytes, delay_us: int = 0) -> None:
        """The peer transmits ``data`` to the imp, starting ``delay_us`` from now. The bytes
        reach the imp's receive FIFO as the line would carry them at the configured baud rate
        when bus timing is on (``Config.bus_timing``), at once otherwise."""
        if delay_us < 0:
            raise ValueError("a UART peer cannot send in the past")
        self._deliver(self.bus, bytes(data), self._now() + int(delay_us))

    def after(self, delay_us: int, fn: Callable[[], None]) -> None:
        """Call ``fn()`` ``delay_us`` from now, in virtual time."""
        if delay_us < 0:
            raise ValueError("a UART peer cannot act in the past")
        if self._schedule is None:
            raise RuntimeError(f"the UART line {self.bus} is not part of a running simulation")
        self._schedule(int(delay_us), fn)


class ModelPins:
    """The imp pins a model's own output pins (its interrupt lines) are wired to. The model
    drives them by its own names for them (``drdy``, ``int1``); one that nothing is wired to is
    ignored. A model that has output pins lists their names in ``OUTPUT_PINS`` and is handed
    its ``ModelPins`` once, by ``pins_attached(pins)``."""

    def __init__(self, board: Any, wired: dict[str, str]) -> None:
        self._board = board
        self.wired = dict(wired)  # model's pin name -> the imp's pin
        self._levels: dict[str, int | None] = {}

    def __bool__(self) -> bool:
        return bool(self.wired)

    def set(self, name: str, level: int | None) -> None:
        """Drive the imp pin wired to output ``name`` to ``level`` (0, 1; None: released)."""
        pin = self.wired.get(name)
        if pin is None or (name in self._levels and self._levels[name] == level):
            return
        self._levels[name] = level
        self._board.drive(pin, level)

    def now(self) -> int:
        return self._board._now()

    def after(self, delay_us: int, fn: Callable[[], None]) -> None:
        """Call ``fn()`` ``delay_us`` from now, in virtual time (a sample the chip takes)."""
        self._board._after(max(0, int(delay_us)), fn)


@runtime_checkable
class UARTPeer(Protocol):
    """What is at the other end of a UART. ``uart_attached(line)`` hands it its end of the wire
    once; ``uart_receive(data)`` gives it the bytes the imp sent."""

    def uart_attached(self, line: UARTLine) -> None: ...

    def uart_receive(self, data: bytes, t_us: int) -> None: ...


# An analog input: the voltage on the pin as a fraction of the supply (0.0-1.0) at a time.
AnalogSource = Callable[[int], float]
