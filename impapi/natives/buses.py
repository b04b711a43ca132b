"""``hardware.i2cXX``, ``hardware.spiXXXX`` and ``hardware.uartXXXX`` (docs/imp-model/hardware.md).

Each transfer asks the board what is attached; with nothing attached an I2C address is not
acknowledged (``read()`` gives null, ``readerror()`` the module's code), SPI reads the idle
line and a UART receives nothing. Every transfer is recorded (kinds ``i2c``, ``spi``, ``uart``)
with its bytes as lowercase hex, and takes the time its bits need at the configured rate when
``Config.bus_timing`` is on."""

from __future__ import annotations

from typing import Any

from .. import constants as C
from ..api import DEVICE, Blob, Callback, ImpError
from ..peripherals.base import I2C_NOT_ENABLED
from .objects import I2C, SPI, UART, bad_type, need_bytes, need_count, need_number, objects, run_of, wrong_count


def _bus(host: Any, oid: int, base: int, names: tuple, make: Any) -> Any:
    run = run_of(host)
    state = run.buses.get(oid)
    if state is None:
        if not 0 <= oid - base < len(names):
            raise ImpError("this is not a bus of this imp")
        state = run.buses[oid] = make(run, names[oid - base])
    return state


def enable(host: Any, name: str) -> None:
    """``hardware.configure()``'s "enable hardware.<name>": the bus as its ``configure()`` leaves
    it with the documented defaults where there are any (SPI: mode 0, MSB first) and otherwise
    the slowest common settings [UNCONFIRMED]: I2C at 100 kHz, SPI at 117 kHz, UART 9600 8N1."""
    mux = run_of(host).mux
    if name in mux.i2c:
        _i2c(host, I2C + mux.i2c.index(name)).speed = C.CLOCK_SPEED_100_KHZ
    elif name in mux.spi:
        spi_configure(host, SPI + mux.spi.index(name), 0, 117)
    else:
        uarts = [u.name for u in mux.uart]
        uart_configure(host, UART + uarts.index(name), 9600, 8, C.PARITY_NONE, 1, C.NO_CTSRTS)


# --- I2C -------------------------------------------------------------------------------------------

class I2CState:
    __slots__ = ("run", "name", "speed", "error")

    def __init__(self, run: Any, name: str) -> None:
        self.run, self.name = run, name
        self.speed: int | None = None  # None: not configured (or disabled)
        self.error = 0

    def spend(self, nbytes: int) -> None:
        # A start, the bytes (8 bits and an acknowledge each) and a stop.
        if self.speed:
            self.run.spend(int(round((9 * nbytes + 2) * 1e6 / self.speed)))


def _i2c(host: Any, oid: int) -> I2CState:
    return _bus(host, oid, I2C, run_of(host).mux.i2c, I2CState)


@objects.native((DEVICE,), this=True)
def i2c_configure(host: Any, oid: int, speed: int) -> None:
    bus = _i2c(host, oid)
    if speed <= 0:
        raise ImpError("the I2C clock speed must be greater than zero")
    bus.speed = speed


@objects.native((DEVICE,), this=True)
def i2c_disable(host: Any, oid: int) -> None:
    _i2c(host, oid).speed = None


@objects.native((DEVICE,), this=True)
def i2c_readerror(host: Any, oid: int) -> int:
    return _i2c(host, oid).error


@objects.native((DEVICE,), this=True)
def i2c_read(host: Any, oid: int, address: int, register: str, count: int) -> Any:
    bus = _i2c(host, oid)
    register = need_bytes(2, register, blob=False)
    count = need_count(3, count, host)
    run = bus.run
    if bus.speed is None:
        bus.error = I2C_NOT_ENABLED
        run.record("i2c", bus=bus.name, address=address, write=register.hex(), read=None, error=bus.error)
        return None
    device = run.board.i2c_device(bus.name, address)
    if device is None:
        result: bytes | int = run.board.i2c_nack(run.mux.name, read_phase=not register)
    else:
        result = device.i2c_read(register, count, host.clock.now_us)
    if isinstance(result, int):
        bus.error = result
        run.record("i2c", bus=bus.name, address=address, write=register.hex(), read=None, error=result)
        bus.spend(1 + len(register))
        return None
    data = bytes(result)
    if len(data) != count:
        raise ValueError(f"I2C model at 0x{address:02X} on {bus.name} returned {len(data)} bytes for a "
                         f"{count}-byte read")
    bus.error = 0
    run.record("i2c", bus=bus.name, address=address, write=register.hex(), read=data.hex(), error=0)
    bus.spend(2 + len(register) + len(data))
    return data


@objects.native((DEVICE,), this=True)
def i2c_write(host: Any, oid: int, address: int, data: str) -> int:
    bus = _i2c(host, oid)
    data = need_bytes(2, data, blob=False)
    run = bus.run
    if bus.speed is None:
        code = I2C_NOT_ENABLED
    else:
        device = run.board.i2c_device(bus.name, address)
        code = (run.board.i2c_nack(run.mux.name, read_phase=False) if device is None
                else int(device.i2c_write(data, host.clock.now_us)))
        bus.spend(1 + (len(data) if code == 0 else 0))
    run.record("i2c", bus=bus.name, address=address, write=data.hex(), read=None, error=code)
    return code


# --- SPI -------------------------------------------------------------------------------------------

class SPIState:
    __slots__ = ("run", "name", "flags", "rate_khz")

    def __init__(self, run: Any, name: str) -> None:
        self.run, self.name = run, name
        self.flags = 0
        self.rate_khz: float | None = None

    def transfer(self, mosi: bytes) -> bytes:
        run = self.run
        now = run.clock.now_us
        board = run.board
        devices = board.spi_selected(self.name, lambda pin: board.line(pin).output)
        if not devices:
            miso = bytes([board.config.spi_idle_byte & 0xFF]) * len(mosi)
        else:
            miso = b""
            for device in devices:  # several selected at once: the line is their wired AND
                out = bytes(device.spi_transfer(mosi, now))
                if len(out) != len(mosi):
                    raise ValueError(f"SPI model on {self.name} returned {len(out)} bytes for a "
                                     f"{len(mosi)}-byte transfer")
                miso = out if not miso else bytes(a & b for a, b in zip(miso, out))
        run.record("spi", bus=self.name, write=mosi.hex(), read=miso.hex())
        if self.rate_khz:
            run.spend(int(round(8 * len(mosi) * 1e3 / self.rate_khz)))
        return miso


def _spi(host: Any, oid: int) -> SPIState:
    return _bus(host, oid, SPI, run_of(host).mux.spi, SPIState)


@objects.native((DEVICE,), this=True)
def spi_configure(host: Any, oid: int, flags: int, rate: float) -> int:
    bus = _spi(host, oid)
    bus.flags = flags
    wanted = need_number(2, rate)
    rates = bus.run.mux.spi_rates_khz
    # The fastest rate not above the one asked for; below the slowest, the slowest.
    bus.rate_khz = next((r for r in rates if r <= wanted), rates[-1])
    return int(bus.rate_khz)


@objects.native((DEVICE,), this=True)
def spi_disable(host: Any, oid: int) -> None:
    _spi(host, oid).rate_khz = None


@objects.native((DEVICE,), this=True)
def spi_write(host: Any, oid: int, data: str | Blob) -> int:
    # The number of bytes written, as documented: drivers check it (`spi.write(b) == b.len()`).
    return len(_spi(host, oid).transfer(need_bytes(1, data)))


@objects.native((DEVICE,), this=True)
def spi_writeread(host: Any, oid: int, data: str | Blob) -> Any:
    miso = _spi(host, oid).transfer(need_bytes(1, data))
    return host.vm.new_blob(miso) if not isinstance(data, (str, bytes)) else miso


@objects.native((DEVICE,), this=True)
def spi_readstring(host: Any, oid: int, count: int) -> bytes:
    return _spi(host, oid).transfer(bytes(need_count(1, count, host)))


@objects.native((DEVICE,), this=True)
def spi_readblob(host: Any, oid: int, count: int) -> Any:
    return host.vm.new_blob(_spi(host, oid).transfer(bytes(need_count(1, count, host))))


@objects.native((DEVICE,), this=True)
def spi_chipselect(host: Any, oid: int, level: int = 1) -> None:
    bus = _spi(host, oid)
    bus.run.record("spi", bus=bus.name, chipselect=1 if level else 0)
    bus.run.board.spi_chipselect(bus.name, bool(level), host.clock.now_us)


# --- UART ------------------------------------------------------------------------------------------

FIFO_DEFAULT = 80  # bytes, each way [UNCONFIRMED]: see hardware.md
GAP_MAX_US = 0x7FFFFF  # TIMING_ENABLED: the longest interval uart.read() reports (8.388607 s)


class UARTState:
    __slots__ = ("run", "spec", "name", "baud", "bits", "flags", "callback", "rx", "rx_size", "tx_size",
                 "events", "tx_done_us", "rx_gaps", "last_rx_us")

    def __init__(self, run: Any, spec: Any) -> None:
        self.run, self.spec, self.name = run, spec, spec.name
        self.baud: int | None = None
        self.bits = 10  # per character on the line: start + data + parity + stop
        self.flags = 0
        self.callback: Any = None
        self.rx = bytearray()
        self.rx_size = FIFO_DEFAULT
        self.tx_size = FIFO_DEFAULT
        self.events = 0
        self.tx_done_us = 0
        self.rx_gaps: list[int] = []  # TIMING_ENABLED: each FIFO byte's interval from the one before
        self.last_rx_us: int | None = None  # when the last byte arrived (None: none since configure)

    def clear_rx(self) -> None:
        self.rx = bytearray()
        self.rx_gaps = []
        self.last_rx_us = None

    def take(self, n: int) -> bytes:
        out = bytes(self.rx[:n])
        del self.rx[:n]
        del self.rx_gaps[:n]
        return out

    def line_us(self, nbytes: int) -> int:
        return int(round(nbytes * self.bits * 1e6 / self.baud)) if self.baud else 0

    def arrive(self, data: bytes) -> None:
        """Bytes from the peer reach the receive FIFO now."""
        if self.baud is None or self.flags & C.NO_RX:
            return
        room = self.rx_size - len(self.rx)
        lost = 0
        if len(data) > room:
            self.events |= C.OVERRUN_ERROR
            lost = len(data) - max(0, room)
            data = data[:max(0, room)]
        self.rx += data
        # Each byte arrived as its last bit did: one character time apart on the line with bus
        # timing (the chunk's last byte now), all at once without.
        now, char_us = self.run.clock.now_us, self.line_us(1) if self.run.config.bus_timing else 0
        for i in range(len(data)):
            at = now - (len(data) - 1 - i) * char_us
            self.rx_gaps.append(GAP_MAX_US if self.last_rx_us is None else min(GAP_MAX_US, at - self.last_rx_us))
            self.last_rx_us = at
        self.run.record("uart-rx", bus=self.name, data=data.hex(), lost=lost)
        self.events |= C.READ_READY
        if self.callback is not None:
            self.run.schedule(0, self.callback, self.events)


def _uart(host: Any, oid: int) -> UARTState:
    return _bus(host, oid, UART, run_of(host).mux.uart, UARTState)


@objects.native((DEVICE,), this=True)
def uart_configure(host: Any, oid: int, baud: int, word: int, parity: int, stop: int, flags: int,
                   callback: Callback | None = None) -> int:
    bus = _uart(host, oid)
    if word not in (7, 8):
        raise ImpError("the UART word size must be 7 or 8")
    if parity not in (C.PARITY_NONE, C.PARITY_EVEN, C.PARITY_ODD):
        raise ImpError("invalid UART parity")
    if stop not in (1, 2):
        raise ImpError("the UART stop bits must be 1 or 2")
    if baud <= 0:
        raise ImpError("the UART baud rate must be greater than zero")
    spec = bus.spec
    bus.baud = min(spec.max_baud, max(spec.min_baud, baud))
    bus.bits = 1 + word + (parity != C.PARITY_NONE) + stop
    bus.flags = flags
    bus.callback = callback
    bus.clear_rx()
    bus.events = 0
    return bus.baud


@objects.native((DEVICE,), this=True)
def uart_disable(host: Any, oid: int) -> None:
    bus = _uart(host, oid)
    bus.baud = None
    bus.callback = None
    bus.clear_rx()


@objects.native((DEVICE,), this=True)
def uart_write(host: Any, oid: int, data: int | str | Blob) -> None:
    bus = _uart(host, oid)
    if isinstance(data, int) and not isinstance(data, bool):
        data = bytes([data & 0xFF])
    else:
        data = need_bytes(1, data)
    if bus.baud is None or bus.flags & C.NO_TX or not data:
        return
    run = bus.run
    now = host.clock.now_us
    run.record("uart", bus=bus.name, data=data.hex())
    # The write returns once the bytes fit the transmit FIFO; they finish on the line later.
    start = max(now, bus.tx_done_us)
    bus.tx_done_us = start + bus.line_us(len(data))
    if run.config.bus_timing:
        run.spend(max(0, bus.tx_done_us - bus.line_us(bus.tx_size) - now))
    peer = run.board.uart.get(bus.name)
    if peer is not None:
        # The peer has the bytes once they are through the line (at once without bus timing).
        done = bus.tx_done_us if run.config.bus_timing else host.clock.now_us
        if done > host.clock.now_us:
            host.clock.schedule_at(done, peer.uart_receive, data, done)
        else:
            peer.uart_receive(data, host.clock.now_us)


@objects.native((DEVICE,), this=True)
def uart_flush(host: Any, oid: int) -> None:
    bus = _uart(host, oid)
    if bus.run.config.bus_timing:
        bus.run.spend(bus.tx_done_us - host.clock.now_us)


@objects.native((DEVICE,), this=True)
def uart_read(host: Any, oid: int) -> int:
    bus = _uart(host, oid)
    if not bus.rx:
        return -1
    gap = bus.rx_gaps[0]
    byte = bus.take(1)[0]
    if bus.flags & C.TIMING_ENABLED:
        return gap << 8 | byte  # bits 30-8: microseconds since the byte before
    return byte


def _take(bus: UARTState, count: int | None) -> bytes:
    return bus.take(len(bus.rx) if count is None else max(0, count))


@objects.native((DEVICE,), this=True)
def uart_readstring(host: Any, oid: int, count: int | None = None) -> bytes:
    return _take(_uart(host, oid), count)


@objects.native((DEVICE,), this=True)
def uart_readblob(host: Any, oid: int, count: int | None = None) -> Any:
    return host.vm.new_blob(_take(_uart(host, oid), count))


@objects.native((DEVICE,), this=True)
def uart_setrxfifosize(host: Any, oid: int, size: int) -> None:
    bus = _uart(host, oid)
    bus.rx_size = max(1, size)
    del bus.rx[bus.rx_size:]


@objects.native((DEVICE,), this=True)
def uart_settxfifosize(host: Any, oid: int, size: int) -> None:
    _uart(host, oid).tx_size = max(1, size)


@objects.native((DEVICE,), this=True)
def uart_flags(host: Any, oid: int) -> int:
    bus = _uart(host, oid)
    events, bus.events = bus.events, 0
    return events


@objects.native((DEVICE,), this=True)
def uart_settxactive(host: Any, oid: int, pin: int, polarity: float, predelay: float | None = None,
                     postdelay: float | None = None) -> None:
    _uart(host, oid)
    if pin == -1:  # the method passes the pin's id, -1 for anything that is not a pin
        raise bad_type(1, pin, "pin")
    if (predelay is None) != (postdelay is None):
        raise wrong_count()
    for i, a in enumerate((polarity, predelay, postdelay)):
        if a is not None:
            need_number(i + 2, a)


def uart_line_us(device: Any, bus: str, nbytes: int) -> int:
    """How long ``nbytes`` take on ``bus`` at the rate and frame the imp configured (0: not
    configured)."""
    host = device.host
    run = host.hardware if host is not None and host.alive else None
    if run is None:
        return 0
    for oid, spec in enumerate(run.mux.uart, UART):
        if spec.name == bus:
            state = run.buses.get(oid)
            return state.line_us(nbytes) if state is not None else 0
    return 0


def uart_arrive(device: Any, bus: str, data: bytes) -> None:
    """Bytes a peer sent reach ``bus`` of ``device`` now (dropped when no run listens)."""
    host = device.host
    run = host.hardware if host is not None and host.alive else None
    if run is None:
        return
    for oid, spec in enumerate(run.mux.uart, UART):
        if spec.name == bus:
            state = run.buses.get(oid)
            if state is not None:
                state.arrive(data)
            return
