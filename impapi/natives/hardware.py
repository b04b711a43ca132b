"""The ``hardware`` object and ``hardware.spiflash`` (imp-api.md §5, §7)."""

from __future__ import annotations

from typing import Any

import squirrel

from .. import constants as C
from ..api import DEVICE, Api, Blob, ImpError
from ..flash import FlashError
from ..pinmux import module_hardware

hardware = Api("hardware")
spiflash = Api("spiflash")
INT32 = 1 << 32


def _wrap32(v: int) -> int:
    v %= INT32
    return v - INT32 if v >= 1 << 31 else v


# hardware.configure(SPI_257, I2C_89, ...): the imp001's and imp002's first way to enable a bus,
# deprecated but still documented (D:api/hardware/configure); apps of that time follow it with
# the bus's own configure() or use it as it is.
_LEGACY_BUSES = {C.SPI_257: "spi257", C.SPI_189: "spi189", C.UART_1289: "uart1289", C.UART_57: "uart57",
                 C.UART_12: "uart12", C.I2C_89: "i2c89", C.I2C_12: "i2c12"}


@hardware.native((DEVICE,), available=lambda host: host.owner.profile.name in ("imp001", "imp002"))
def configure(host: Any, *peripherals: Any) -> None:
    from .buses import enable

    for i, p in enumerate(peripherals, start=1):
        if isinstance(p, bool) or p not in _LEGACY_BUSES:
            raise ImpError(f"hardware.configure: parameter {i} is not a peripheral constant (SPI_257, I2C_89, ...)")
    for p in peripherals:
        enable(host, _LEGACY_BUSES[p])


@hardware.native((DEVICE,))
def wakereason(host: Any) -> int:
    return host.owner.wakereason


@hardware.native((DEVICE,))
def millis(host: Any) -> int:
    return _wrap32(host.owner.millis())  # signed 32-bit, wraps after 24.8 days (§5.2)


@hardware.native((DEVICE,))
def micros(host: Any) -> int:
    return _wrap32(host.owner.micros())


@hardware.native((DEVICE,))
def getdeviceid(host: Any) -> str:
    return host.owner.id


@hardware.native((DEVICE,), available=lambda host: host.owner.profile.has_impeeid)
def getimpeeid(host: Any) -> str:
    return host.owner.id


@hardware.native((DEVICE,))
def voltage(host: Any) -> float:
    return float(host.env.config.supply_voltage)


@hardware.native((DEVICE,), available=lambda host: module_hardware(host.owner.profile.name).vbat)
def vbat(host: Any) -> float:
    return float(host.env.config.vbat_voltage)


@hardware.native((DEVICE,), available=lambda host: module_hardware(host.owner.profile.name).lightlevel)
def lightlevel(host: Any) -> int:
    return max(0, min(65535, int(host.env.config.light_level)))


def _flash(host: Any) -> Any:
    return host.owner.flash


def _do(op: Any, *args: Any) -> Any:
    try:
        return op(*args)
    except FlashError as e:
        raise ImpError(str(e)) from None


def _has_flash(host: Any) -> bool:
    return host.side == DEVICE and host.owner.flash is not None


@spiflash.native((DEVICE,))
def enable(host: Any) -> None:
    _flash(host).enable()


@spiflash.native((DEVICE,))
def disable(host: Any) -> None:
    _flash(host).disable()


@spiflash.native((DEVICE,))
def read(host: Any, address: int, length: int) -> Any:
    return host.vm.new_blob(_do(_flash(host).read, address, length))


@spiflash.native((DEVICE,))
def readintoblob(host: Any, address: int, target: Blob, length: int) -> None:
    data = _do(_flash(host).read, address, length)
    target.writeblob(host.vm.new_blob(data))


@spiflash.native((DEVICE,))
def write(host: Any, address: int, source: Blob | str, flags: int = 0, start: int | None = None,
          end: int | None = None) -> int:
    data = source.encode("utf-8") if isinstance(source, str) else bytes(source)
    return _do(_flash(host).write, address, data, flags, start, end)


@spiflash.native((DEVICE,))
def erasesector(host: Any, address: int) -> None:
    _do(_flash(host).erasesector, address)


@spiflash.native((DEVICE,))
def size(host: Any) -> int:
    return _flash(host).size


@spiflash.native((DEVICE,))
def chipid(host: Any) -> int:
    return _flash(host).chipid


@spiflash.native((DEVICE,), available=lambda host: host.owner.profile.spiflash_speeds is not None)
def setspeed(host: Any, hz: float) -> int:
    return _do(_flash(host).setspeed, hz)


@spiflash.native((DEVICE,), available=lambda host: host.owner.profile.has_spiflash_info)
def info(host: Any) -> dict:
    return {"size": _flash(host).size, "max_write_size": 256, "fast_read_freq": 50_000_000,
            "normal_read_freq": 25_000_000, "supports_fast_read": True, "supports_quad_read": False,
            "fast_dummy_cycles": 8}
