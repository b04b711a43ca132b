"""The board: what is wired to each pin and bus of one device, and the levels nothing-attached
pins and buses show. It outlives the imp's boots (the wiring does not change when Squirrel
restarts); the per-boot state of the imp's side (modes, callbacks, FIFOs) is in the natives."""

from __future__ import annotations

import bisect
from typing import Any, Callable

from .base import (I2C_ADDR_CLEAR_ERROR, I2C_SLAVE_NACKED_ERROR, I2C_TRANSMIT_SELECT_ERROR, AnalogSource, ModelPins,
                   UARTLine)


class PinLine:
    """One pin's wire: what drives it from outside (a level, or None when nothing does), the
    changes planned for later, an analog source, and who wants to know when the outside level
    changes (the imp's input callbacks; part of a run, so they are dropped when it ends)."""

    __slots__ = ("name", "driven", "analog", "listeners", "output", "planned")

    def __init__(self, name: str) -> None:
        self.name = name
        self.driven: int | None = None
        self.analog: AnalogSource | None = None
        self.listeners: list[Callable[[int], None]] = []
        self.output: int | None = None  # the last level the imp drove (models may look)
        self.planned: list[tuple[int, int, int | None]] = []  # (time, order, level) not applied yet


class Board:
    """The wiring of one device. See :mod:`impapi.peripherals` for how to attach models."""

    def __init__(self, config: Any) -> None:
        """``config``: the simulation's :class:`~impapi.Config`, for what nothing attached shows
        (``floating_input``, ``analog_input``, ``spi_idle_byte``, ``i2c_nack_error``) and the
        I/O record's switches."""
        self.config = config
        self.i2c: dict[tuple[str, int], Any] = {}
        self.i2c_any: dict[str, Callable[[int], Any]] = {}  # bus -> makes a device for any address
        self.spi: dict[str, list[tuple[str | None, Any]]] = {}
        self.uart: dict[str, Any] = {}
        self.lines: dict[str, PinLine] = {}
        self.models: dict[str, Any] = {}  # the attached models by name (wiring files name them)
        self.recorded = 0  # I/O events recorded so far (Config.record_io_limit)
        # The DIGITAL_IN_WAKEUP pins of the run that ended last: what a pin change may wake a
        # deep-sleeping imp with (WAKEREASON_PIN) when the device acts on it.
        self.wake_armed: frozenset[str] = frozenset()
        # Who hears that a pin's outside level changed, besides the running imp (the device:
        # a wake-up pin going high while it sleeps).
        self.on_change: Callable[[str], None] | None = None
        self._uart_free: dict[str, int] = {}  # bus -> when the line to the imp is free again
        self._seq = 0
        # Set by the device: deliver UART bytes to the running imp, the clock, the record.
        self._uart_sink: Callable[[str, bytes, int], None] = lambda bus, data, at: None
        self._now: Callable[[], int] = lambda: 0
        self._schedule: Callable[..., Any] | None = None
        self._record: Callable[..., None] | None = None
        self._log: Callable[[str], None] | None = None

    def bind(self, now: Callable[[], int], uart_sink: Callable[[str, bytes, int], None],
             schedule: Callable[..., Any] | None = None, record: Callable[..., None] | None = None,
             log: Callable[[str], None] | None = None) -> None:
        """The device this board belongs to: its clock (``now``, ``schedule(delay_us, fn,
        *args)``), where UART bytes for it go, the event record and the log (an impsim line)."""
        self._now = now
        self._uart_sink = uart_sink
        self._schedule = schedule
        self._record = record
        self._log = log

    def record(self, kind: str, **data: Any) -> None:
        """A pin or bus event for the structured record, within ``Config.record_io_limit``."""
        if not self.config.record_io or self._record is None:
            return
        limit = self.config.record_io_limit
        if limit is not None and self.recorded >= limit:
            if self.recorded == limit:
                self.recorded += 1
                if self._log is not None:
                    self._log(f"{limit} pin and bus events recorded: later ones are not (Config.record_io_limit)")
            return
        self.recorded += 1
        self._record(kind, **data)

    # --- attaching models ----------------------------------------------------------------------

    def attach_i2c(self, bus: str, address: int | None, device: Any, name: str | None = None,
                   pins: dict[str, str] | None = None) -> None:
        """``device`` (an :class:`~impapi.peripherals.I2CDevice`) answers ``address`` on ``bus``.
        The address is the imp API's 8-bit form (the 7-bit datasheet address shifted left).
        ``address`` None: ``device`` is a function of the address making a device for every
        address nothing else answers. ``pins``: the device's output pins (interrupt lines, by
        the names in its ``OUTPUT_PINS``) and the imp pins they are wired to."""
        if address is None:
            if not callable(device):
                raise TypeError("attach_i2c(bus, None, make): make(address) builds the device of each address")
            self.i2c_any[bus] = device
            return
        if isinstance(address, bool) or not isinstance(address, int) or not 0 <= address <= 0xFF:
            raise ValueError(f"I2C address {address!r} is not an 8-bit address")
        self.i2c[(bus, address & 0xFE)] = device
        self._name(name, device)
        self._wire_outputs(device, pins)

    def attach_spi(self, bus: str, device: Any, cs: str | None = None, name: str | None = None,
                   pins: dict[str, str] | None = None) -> None:
        """``device`` (an :class:`~impapi.peripherals.SPIDevice`) on ``bus``, selected while the
        pin ``cs`` is low (None: always selected, and by ``spi.chipselect()``); ``pins`` as
        for :meth:`attach_i2c`."""
        self.spi.setdefault(bus, []).append((cs, device))
        self._name(name, device)
        self._wire_outputs(device, pins)

    def _wire_outputs(self, device: Any, pins: dict[str, str] | None) -> None:
        if not pins:
            return
        outputs = tuple(getattr(device, "OUTPUT_PINS", ()))
        for output in pins:
            if output not in outputs:
                raise ValueError(f"{type(device).__name__} has no output pin {output!r}; its output pins: "
                                 f"{', '.join(outputs) or 'none'}")
        device.pins_attached(ModelPins(self, pins))

    def attach_uart(self, bus: str, peer: Any, name: str | None = None) -> None:
        """``peer`` (an :class:`~impapi.peripherals.UARTPeer`) at the other end of ``bus``."""
        self.uart[bus] = peer
        self._name(name, peer)
        peer.uart_attached(UARTLine(bus, self._deliver_uart, lambda: self._now(), self._after))

    def _name(self, name: str | None, model: Any) -> None:
        if name is not None:
            if name in self.models and self.models[name] is not model:
                raise ValueError(f"two models are named {name!r}: give each its own name")
            self.models[name] = model

    def _after(self, delay_us: int, fn: Callable[[], None]) -> None:
        if self._schedule is None:
            raise RuntimeError("this board is not part of a simulation")
        self._schedule(delay_us, fn)

    # --- what drives the pins from outside -----------------------------------------------------

    def drive(self, pin: str, level: int | None) -> None:
        """From now on something outside drives ``pin`` to ``level`` (0/1), or stops driving it
        (None). Input callbacks of the running imp, and the device, see the change."""
        line = self.line(pin)
        old = line.driven
        line.driven = None if level is None else (1 if level else 0)
        if line.driven != old:
            self.record("pin-in", pin=pin, level=line.driven)
            for listener in list(line.listeners):
                listener(line.driven if line.driven is not None else -1)
            if self.on_change is not None:
                self.on_change(pin)

    def plan(self, pin: str, at_us: int, level: int | None, then: Callable[[], None] | None = None) -> None:
        """``pin`` will be driven to ``level`` at ``at_us`` (not in the past), and ``then()``
        called just before. Known ahead, so a pulse counter counting over that time sees it."""
        if self._schedule is None:
            raise RuntimeError("this board is not part of a simulation")
        now = self._now()
        if at_us < now:
            raise ValueError(f"cannot drive {pin} in the past ({at_us}us < {now}us)")
        level = None if level is None else (1 if level else 0)
        self._seq += 1
        entry = (at_us, self._seq, level)
        bisect.insort(self.line(pin).planned, entry)
        self._schedule(at_us - now, self._apply_planned, pin, entry, then)

    def _apply_planned(self, pin: str, entry: tuple[int, int, int | None], then: Callable[[], None] | None) -> None:
        line = self.line(pin)
        if entry in line.planned:
            line.planned.remove(entry)
        if then is not None:
            then()
        self.drive(pin, entry[2])

    def level_planned(self, pin: str, at_us: int) -> int | None:
        """What will drive ``pin`` just before ``at_us``, as planned now."""
        line = self.line(pin)
        level = line.driven
        for t, _, planned in line.planned:
            if t >= at_us:
                break
            level = planned
        return level

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

    def driven_now(self, line: PinLine) -> int | None:
        """What drives ``line`` at the current time: its level, updated by planned changes whose
        time has passed (their events run late after a blocking call such as ``imp.sleep``); a
        change due at this very instant happens when its event runs, in order."""
        level = line.driven
        if line.planned:
            now = self._now()
            for t, _, planned in line.planned:
                if t >= now:
                    break
                level = planned
        return level

    def input_level(self, pin: str, pull: int | None) -> int:
        """The digital level an input sees: what drives it, else its pull, else floating."""
        line = self.lines.get(pin)
        driven = self.driven_now(line) if line is not None else None
        if driven is not None:
            return driven
        if pull is not None:
            return pull
        return 1 if self.config.floating_input else 0

    def rising_edges(self, pin: str, pull: int | None, start_us: int, end_us: int) -> int:
        """How many times the level ``pin`` reads goes from 0 to 1 in [start_us, end_us), from
        what drives it now and the changes planned for that time (a pulse counter's count)."""
        line = self.lines.get(pin)
        if line is None:
            return 0
        level = self.input_level(pin, pull)
        count = 0
        for at, _, driven in line.planned:
            if at >= end_us:
                break
            if at < start_us:
                continue
            new = driven if driven is not None else (pull if pull is not None else (1 if self.config.floating_input
                                                                                   else 0))
            if new == 1 and level == 0:
                count += 1
            level = new
        return count

    def analog_level(self, pin: str, t_us: int) -> float:
        line = self.lines.get(pin)
        if line is not None and line.analog is not None:
            return min(1.0, max(0.0, float(line.analog(t_us))))
        driven = self.driven_now(line) if line is not None else None
        if driven is not None:
            return float(driven)
        return min(1.0, max(0.0, float(self.config.analog_input)))

    def i2c_device(self, bus: str, address: int) -> Any:
        device = self.i2c.get((bus, address & 0xFE))
        if device is None:
            make = self.i2c_any.get(bus)
            if make is not None:
                device = self.i2c[(bus, address & 0xFE)] = make(address & 0xFE)
        return device

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

    def spi_chipselect(self, bus: str, selected: bool, t_us: int) -> None:
        """``spi.chipselect()``: the bus's own select line, seen by devices without a CS pin."""
        for cs, device in self.spi.get(bus, ()):
            if cs is None:
                device.spi_select(selected, t_us)

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

    # --- UART ----------------------------------------------------------------------------------

    def _deliver_uart(self, bus: str, data: bytes, at_us: int) -> None:
        self._uart_sink(bus, data, at_us)

    def uart_line_free(self, bus: str, start_us: int, duration_us: int) -> int:
        """Bytes from the peer start on ``bus``'s line at ``start_us`` (or once what it sent
        before is through) and take ``duration_us``: when the last one has arrived."""
        start = max(start_us, self._uart_free.get(bus, 0))
        self._uart_free[bus] = end = start + duration_us
        return end
