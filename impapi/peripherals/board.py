"""The board: what is wired to each pin and bus of one device, and the levels nothing-attached
pins and buses show. It outlives the imp's boots (the wiring does not change when Squirrel
restarts); the per-boot state of the imp's side (modes, callbacks, FIFOs) is in the natives."""

from __future__ import annotations

from typing import Any, Callable

from .base import I2C_ADDR_CLEAR_ERROR, I2C_SLAVE_NACKED_ERROR, I2C_TRANSMIT_SELECT_ERROR, AnalogSource, UARTLine


class PinLine:
    """One pin's wire: what drives it from outside (a level, or None when nothing does), an
    analog source, and who wants to know when the outside level changes (the imp's input
    callbacks; part of a run, so they are dropped when it ends)."""

    __slots__ = ("name", "driven", "analog", "listeners", "output")

    def __init__(self, name: str) -> None:
        self.name = name
        self.driven: int | None = None
        self.analog: AnalogSource | None = None
        self.listeners: list[Callable[[int], None]] = []
        self.output: int | None = None  # the last level the imp drove (models may look)


class Board:
    """The wiring of one device. See :mod:`impapi.peripherals` for how to attach models."""

    def __init__(self, config: Any) -> None:
        """``config``: the simulation's :class:`~impapi.Config`, for what nothing attached shows
        (``floating_input``, ``analog_input``, ``spi_idle_byte``, ``i2c_nack_error``) and the
        I/O record's switches."""
        self.config = config
        self.i2c: dict[tuple[str, int], Any] = {}
        self.spi: dict[str, list[tuple[str | None, Any]]] = {}
        self.uart: dict[str, Any] = {}
        self.lines: dict[str, PinLine] = {}
        self.recorded = 0  # I/O events recorded so far (Config.record_io_limit)
        # The DIGITAL_IN_WAKEUP pins of the run that ended last: what a pin change may wake a
        # deep-sleeping imp with (WAKEREASON_PIN) when the device acts on it.
        self.wake_armed: frozenset[str] = frozenset()
        # Set by the device: deliver UART bytes to the running imp, and the clock's now.
        self._uart_sink: Callable[[str, bytes, int], None] = lambda bus, data, at: None
        self._now: Callable[[], int] = lambda: 0

    def bind(self, now: Callable[[], int], uart_sink: Callable[[str, bytes, int], None]) -> None:
        """The device this board belongs to: its clock, and where UART bytes for it go."""
        self._now = now
        self._uart_sink = uart_sink

    # --- attaching models ----------------------------------------------------------------------

    def attach_i2c(self, bus: str, address: int, device: Any) -> None:
        """``device`` (an :class:`~impapi.peripherals.I2CDevice`) answers ``address`` on ``bus``.
        The address is the imp API's 8-bit form (the 7-bit datasheet address shifted left)."""
        if not 0 <= address <= 0xFF:
            raise ValueError(f"I2C address {address!r} is not an 8-bit address")
        self.i2c[(bus, address & 0xFE)] = device

    def attach_spi(self, bus: str, device: Any, cs: str | None = None) -> None:
        """``device`` (an :class:`~impapi.peripherals.SPIDevice`) on ``bus``, selected while the
        pin ``cs`` is low (None: always selected)."""
        self.spi.setdefault(bus, []).append((cs, device))

    def attach_uart(self, bus: str, peer: Any) -> None:
        """``peer`` (an :class:`~impapi.peripherals.UARTPeer`) at the other end of ``bus``."""
        self.uart[bus] = peer
        peer.uart_attached(UARTLine(bus, self._deliver_uart, lambda: self._now()))

    def drive(self, pin: str, level: int | None) -> None:
        """From now on something outside drives ``pin`` to ``level`` (0/1), or stops driving it
        (None). Input callbacks of the running imp see the change."""
        line = self.line(pin)
        old = line.driven
        line.driven = None if level is None else (1 if level else 0)
        if line.driven != old:
            for listener in list(line.listeners):
                listener(line.driven if line.driven is not None else -1)

    def analog(self, pin: str, source: AnalogSource | float | None) -> None:
        """The voltage on ``pin`` (a fraction of the supply): a constant, a function of virtual
        time, or None for nothing attached."""
        if source is None or callable(source):
            self.line(pin).analog = source
        else:
            value = float(source)
            self.line(pin).analog = lambda t_us: value

    # --- what the imp's objects ask -------------------------------------------------------------

    def line(self, pin: str) -> PinLine:
        line = self.lines.get(pin)
        if line is None:
            line = self.lines[pin] = PinLine(pin)
        return line

    def input_level(self, pin: str, pull: int | None) -> int:
        """The digital level an input sees: what drives it, else its pull, else floating."""
        line = self.lines.get(pin)
        if line is not None and line.driven is not None:
            return line.driven
        if pull is not None:
            return pull
        return 1 if self.config.floating_input else 0

    def analog_level(self, pin: str, t_us: int) -> float:
        line = self.lines.get(pin)
        if line is not None and line.analog is not None:
            return min(1.0, max(0.0, float(line.analog(t_us))))
        if line is not None and line.driven is not None:
            return float(line.driven)
        return min(1.0, max(0.0, float(self.config.analog_input)))

    def i2c_device(self, bus: str, address: int) -> Any:
        return self.i2c.get((bus, address & 0xFE))

    def i2c_nack(self, module: str, read_phase: bool) -> int:
        """The error an unacknowledged address gives on ``module``."""
        if self.config.i2c_nack_error is not None:
            return self.config.i2c_nack_error
        if module == "imp005":
            return I2C_SLAVE_NACKED_ERROR
        return I2C_ADDR_CLEAR_ERROR if read_phase else I2C_TRANSMIT_SELECT_ERROR

    def spi_selected(self, bus: str, pin_levels: Callable[[str], int | None]) -> list[Any]:
        """The devices on ``bus`` whose chip select is asserted now."""
        out = []
        for cs, device in self.spi.get(bus, ()):
            if cs is None or pin_levels(cs) == 0:
                out.append(device)
        return out

    def output(self, pin: str, level: int | None, t_us: int) -> None:
        """The imp drives ``pin`` to ``level`` (None: it stopped driving it). SPI devices whose
        chip select it is see the edge."""
        line = self.line(pin)
        if level == line.output:
            return
        was_selected = line.output == 0
        line.output = level
        if (level == 0) != was_selected:
            for bus_devices in self.spi.values():
                for cs, device in bus_devices:
                    if cs == pin:
                        device.spi_select(level == 0, t_us)

    def _deliver_uart(self, bus: str, data: bytes, at_us: int) -> None:
        self._uart_sink(bus, data, at_us)
